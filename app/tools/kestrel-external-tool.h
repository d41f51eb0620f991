/* kestrel-external-tool.h — a user-defined tool that runs a command.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-tool.h"

G_BEGIN_DECLS

#define KESTREL_EXTERNAL_TOOL_DEFAULT_MAX_OUTPUT (1024 * 1024)

#define KESTREL_TYPE_EXTERNAL_TOOL (kestrel_external_tool_get_type ())

G_DECLARE_FINAL_TYPE (KestrelExternalTool, kestrel_external_tool, KESTREL, EXTERNAL_TOOL, KestrelTool)

KestrelExternalTool *kestrel_external_tool_new           (const char          *name,
                                                          const char          *description,
                                                          JsonObject          *parameters,
                                                          const char * const  *argv,
                                                          guint                timeout_seconds,
                                                          GError             **error);
KestrelExternalTool *kestrel_external_tool_new_from_json (JsonObject          *object,
                                                          GError             **error);
const char * const  *kestrel_external_tool_get_argv      (KestrelExternalTool *self);
void                 kestrel_external_tool_set_max_output (KestrelExternalTool *self,
                                                           gsize                max_bytes);

G_END_DECLS
