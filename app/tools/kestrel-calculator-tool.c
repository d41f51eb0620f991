/* kestrel-calculator-tool.c — built-in tool: arithmetic, with kestrel-calc.c (no code runs).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include <math.h>

#include "kestrel-calc.h"
#include "kestrel-calculator-tool.h"

struct _KestrelCalculatorTool
{
  KestrelTool parent_instance;
};

G_DEFINE_FINAL_TYPE (KestrelCalculatorTool, kestrel_calculator_tool, KESTREL_TYPE_TOOL)

static const char schema[] =
  "{\"type\": \"object\","
  " \"properties\": {\"expression\": {\"type\": \"string\", \"description\":"
  "   \"Arithmetic with + - * / % ^ and parentheses; functions sqrt, abs, sin, cos, tan, asin, acos,"
  " atan, exp, ln, log (base 10), log2, floor, ceil, round; constants pi and e.\"}},"
  " \"required\": [\"expression\"], \"additionalProperties\": false}";

/**
 * kestrel_tool_number_node:
 *
 * Returns: (transfer full): @value as a JSON integer when it is a whole number that a double
 *   holds exactly, else as a JSON float.
 */
JsonNode *
kestrel_tool_number_node (double value)
{
  JsonNode *node = json_node_alloc ();

  if (value == floor (value) && fabs (value) <= 9007199254740992.0)
    return json_node_init_int (node, (gint64) value);
  return json_node_init_double (node, value);
}

static JsonNode *
kestrel_calculator_tool_run (KestrelTool      *tool,
                             KestrelToolCall  *call,
                             GCancellable     *cancellable,
                             GError          **error)
{
  const char *expression = json_object_get_string_member (call->arguments, "expression");
  g_autoptr(GError) calc_error = NULL;
  JsonObject *object;
  double value;

  if (!kestrel_calc_evaluate (expression, &value, &calc_error))
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED, calc_error->message);
      return NULL;
    }
  object = json_object_new ();
  json_object_set_string_member (object, "expression", expression);
  json_object_set_member (object, "result", kestrel_tool_number_node (value));
  {
    JsonNode *node = json_node_alloc ();

    json_node_init (node, JSON_NODE_OBJECT);
    json_node_take_object (node, object);
    return node;
  }
}

static void
kestrel_calculator_tool_class_init (KestrelCalculatorToolClass *klass)
{
  KESTREL_TOOL_CLASS (klass)->run = kestrel_calculator_tool_run;
}

static void
kestrel_calculator_tool_init (KestrelCalculatorTool *self)
{
}

KestrelTool *
kestrel_calculator_tool_new (void)
{
  g_autoptr(JsonObject) parameters = kestrel_tool_parse_schema (schema);

  return g_object_new (KESTREL_TYPE_CALCULATOR_TOOL,
                       "name", "calculator",
                       "description", "Evaluates an arithmetic expression exactly as written and returns the number.",
                       "parameters", parameters,
                       "requires-approval", TRUE,
                       NULL);
}
