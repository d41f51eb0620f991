/* kestrel-datetime-tool.h — built-in tool: the current date and time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-tool.h"

G_BEGIN_DECLS

/* Returns the current instant (any zone); tests pass a fixed clock. */
typedef GDateTime *(*KestrelClockFunc) (gpointer user_data);

#define KESTREL_TYPE_DATETIME_TOOL (kestrel_datetime_tool_get_type ())

G_DECLARE_FINAL_TYPE (KestrelDatetimeTool, kestrel_datetime_tool, KESTREL, DATETIME_TOOL, KestrelTool)

KestrelTool *kestrel_datetime_tool_new (KestrelClockFunc clock,
                                        gpointer         clock_data);

G_END_DECLS
