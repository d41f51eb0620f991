/* kestrel-unit-tool.h — built-in tool: unit conversion.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-tool.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_UNIT_TOOL (kestrel_unit_tool_get_type ())

G_DECLARE_FINAL_TYPE (KestrelUnitTool, kestrel_unit_tool, KESTREL, UNIT_TOOL, KestrelTool)

KestrelTool *kestrel_unit_tool_new     (void);
gboolean     kestrel_unit_convert      (double       value,
                                        const char  *from,
                                        const char  *to,
                                        double      *result,
                                        GError     **error);

G_END_DECLS
