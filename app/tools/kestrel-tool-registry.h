/* kestrel-tool-registry.h — the set of tools, and the limits on running them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "kestrel-tool.h"

G_BEGIN_DECLS

#define KESTREL_TOOL_REGISTRY_DEFAULT_TIMEOUT_SECONDS  30
#define KESTREL_TOOL_REGISTRY_DEFAULT_MAX_RESULT_BYTES (16 * 1024)
#define KESTREL_TOOL_REGISTRY_DEFAULT_MAX_ROUNDS       4

#define KESTREL_TYPE_TOOL_REGISTRY (kestrel_tool_registry_get_type ())

G_DECLARE_FINAL_TYPE (KestrelToolRegistry, kestrel_tool_registry, KESTREL, TOOL_REGISTRY, GObject)

KestrelToolRegistry *kestrel_tool_registry_new                 (void);
gboolean             kestrel_tool_registry_add                 (KestrelToolRegistry  *self,
                                                                KestrelTool          *tool,
                                                                GError              **error);
KestrelTool         *kestrel_tool_registry_lookup              (KestrelToolRegistry  *self,
                                                                const char           *name);
JsonArray           *kestrel_tool_registry_dup_declarations    (KestrelToolRegistry  *self);
gboolean             kestrel_tool_registry_load_external_tools (KestrelToolRegistry  *self,
                                                                const char           *path,
                                                                GError              **error);
guint                kestrel_tool_registry_get_timeout_seconds (KestrelToolRegistry  *self);
void                 kestrel_tool_registry_set_timeout_seconds (KestrelToolRegistry  *self,
                                                                guint                 seconds);
gsize                kestrel_tool_registry_get_max_result_bytes (KestrelToolRegistry *self);
void                 kestrel_tool_registry_set_max_result_bytes (KestrelToolRegistry *self,
                                                                 gsize                max_bytes);
guint                kestrel_tool_registry_get_max_rounds      (KestrelToolRegistry  *self);
void                 kestrel_tool_registry_set_max_rounds      (KestrelToolRegistry  *self,
                                                                guint                 rounds);
gboolean             kestrel_tool_registry_check_round         (KestrelToolRegistry  *self,
                                                                guint                 rounds_done,
                                                                GError              **error);
void                 kestrel_tool_registry_invoke_async        (KestrelToolRegistry  *self,
                                                                KestrelToolCall      *call,
                                                                GCancellable         *cancellable,
                                                                GAsyncReadyCallback   callback,
                                                                gpointer              user_data);
char                *kestrel_tool_registry_invoke_finish       (KestrelToolRegistry  *self,
                                                                GAsyncResult         *result,
                                                                GError              **error);
char                *kestrel_tool_result_for_error             (const GError         *error);

G_END_DECLS
