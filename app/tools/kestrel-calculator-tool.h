/* kestrel-calculator-tool.h — built-in tool: arithmetic.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-tool.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_CALCULATOR_TOOL (kestrel_calculator_tool_get_type ())

G_DECLARE_FINAL_TYPE (KestrelCalculatorTool, kestrel_calculator_tool, KESTREL, CALCULATOR_TOOL, KestrelTool)

KestrelTool *kestrel_calculator_tool_new (void);
JsonNode    *kestrel_tool_number_node    (double value);

G_END_DECLS
