/* kestrel-tool.h — base class of everything the model can call.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "kestrel-tool-call.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_TOOL (kestrel_tool_get_type ())

G_DECLARE_DERIVABLE_TYPE (KestrelTool, kestrel_tool, KESTREL, TOOL, GObject)

struct _KestrelToolClass
{
  GObjectClass parent_class;

  /* Synchronous work, run in a worker thread by the default run_async.  Must honour
   * @cancellable where it can; returns the result value or NULL with @error set. */
  JsonNode *(*run)        (KestrelTool          *self,
                           KestrelToolCall      *call,
                           GCancellable         *cancellable,
                           GError              **error);
  /* Subclasses that are asynchronous by nature (processes) override these two. */
  void      (*run_async)  (KestrelTool          *self,
                           KestrelToolCall      *call,
                           GCancellable         *cancellable,
                           GAsyncReadyCallback   callback,
                           gpointer              user_data);
  JsonNode *(*run_finish) (KestrelTool          *self,
                           GAsyncResult         *result,
                           GError              **error);

  gpointer padding[8];
};

const char *kestrel_tool_get_name              (KestrelTool          *self);
const char *kestrel_tool_get_description       (KestrelTool          *self);
JsonObject *kestrel_tool_get_parameters        (KestrelTool          *self);
gboolean    kestrel_tool_get_requires_approval (KestrelTool          *self);
gboolean    kestrel_tool_get_enabled           (KestrelTool          *self);
void        kestrel_tool_set_enabled           (KestrelTool          *self,
                                                gboolean              enabled);
guint       kestrel_tool_get_timeout_seconds   (KestrelTool          *self);
JsonNode   *kestrel_tool_dup_declaration       (KestrelTool          *self);
void        kestrel_tool_run_async             (KestrelTool          *self,
                                                KestrelToolCall      *call,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
JsonNode   *kestrel_tool_run_finish            (KestrelTool          *self,
                                                GAsyncResult         *result,
                                                GError              **error);

/* Helpers for tools' schemas and arguments. */
JsonObject *kestrel_tool_parse_schema          (const char           *json);

G_END_DECLS
