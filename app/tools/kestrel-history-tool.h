/* kestrel-history-tool.h — built-in tool: search in conversation history.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-tool.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_HISTORY_SOURCE (kestrel_history_source_get_type ())

G_DECLARE_INTERFACE (KestrelHistorySource, kestrel_history_source, KESTREL, HISTORY_SOURCE, GObject)

struct _KestrelHistorySourceInterface
{
  GTypeInterface parent_iface;

  /* Full-text search; called in a worker thread, so implementations must be thread-safe.
   * Returns up to @limit objects, best first, e.g. {"conversation": "…", "role": "user",
   * "time": "2026-11-26T10:00:00Z", "text": "…snippet…"}. */
  JsonArray *(*search) (KestrelHistorySource  *self,
                        const char            *query,
                        guint                  limit,
                        GCancellable          *cancellable,
                        GError               **error);
};

JsonArray *kestrel_history_source_search (KestrelHistorySource  *self,
                                          const char            *query,
                                          guint                  limit,
                                          GCancellable          *cancellable,
                                          GError               **error);

#define KESTREL_TYPE_HISTORY_TOOL (kestrel_history_tool_get_type ())

G_DECLARE_FINAL_TYPE (KestrelHistoryTool, kestrel_history_tool, KESTREL, HISTORY_TOOL, KestrelTool)

KestrelTool *kestrel_history_tool_new (KestrelHistorySource *source);

G_END_DECLS
