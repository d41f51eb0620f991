/* kestrel-tool-prompt.c — the Gemma 3 pythonic tool-calling prompt format.
 *
 * Produces, byte for byte, the text that vLLM's tool_chat_template_gemma3_pythonic.jinja
 * renders in Hugging Face transformers' apply_chat_template environment (where `tojson` is
 * Python's json.dumps with ensure_ascii=False, keys in insertion order, no HTML escaping):
 *
 *   first user turn:  <start_of_turn>user\n{system}\n\n{instructions}{tools as JSON, indent 4}\n\n{content}<end_of_turn>\n
 *   tool call turn:   <start_of_turn>model\n[name(key={json}, ...), ...]{content}<end_of_turn>\n
 *   tool result turn: <start_of_turn>user\n<tool_response>\n{result}</tool_response><end_of_turn>\n
 *
 * Content is trimmed as Jinja's `trim` (Python str.strip) does.  docs/tool-calling.md has
 * the details, and tests/app/tools checks against goldens rendered by jinja2 itself.
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel-tool-call.h"
#include "kestrel-tool-prompt.h"

static const char tool_instructions[] =
  "Tools (functions) are available. If you decide to invoke one or more of the tools, you must "
  "respond with a python list of the function calls.\n"
  "Example Format: [func_name1(params_name1=params_value1, params_name2=params_value2...), "
  "func_name2(params)] \n"
  "Do not use variables. DO NOT USE MARKDOWN SYNTAX. You SHOULD NOT include any other text in "
  "the response if you call a function. If none of the functions can be used, point it out. If "
  "you lack the parameters required by the function, also point it out.\n"
  "Here is a list of functions in JSON format that you can invoke.\n";

/* Python's repr(float): the shortest digits that round-trip, fixed notation for decimal
 * exponents in [-4, 16), scientific ("1e+16", "1.5e-05") otherwise, ".0" on integral values. */
static void
append_py_float (GString *out,
                 double   v)
{
  char buf[64];
  char digits[32];
  int exponent;
  int ndigits = 0;
  int decpt;

  if (isnan (v))
    {
      g_string_append (out, "NaN");
      return;
    }
  if (isinf (v))
    {
      g_string_append (out, v > 0 ? "Infinity" : "-Infinity");
      return;
    }
  if (v == 0)
    {
      g_string_append (out, signbit (v) ? "-0.0" : "0.0");
      return;
    }

  for (int precision = 0; precision <= 17; precision++)
    {
      g_snprintf (buf, sizeof buf, "%.*e", precision, v);
      if (g_ascii_strtod (buf, NULL) == v)
        break;
    }
  /* buf = [-]d[.ddd]e±XX */
  {
    const char *p = buf;
    char *e;

    if (*p == '-')
      {
        g_string_append_c (out, '-');
        p++;
      }
    for (; *p != 'e'; p++)
      if (*p != '.')
        digits[ndigits++] = *p;
    exponent = (int) strtol (p + 1, &e, 10);
  }
  while (ndigits > 1 && digits[ndigits - 1] == '0')
    ndigits--;
  decpt = exponent + 1;  /* digits d1d2... × 10^(decpt - ndigits) */

  if (decpt > -4 && decpt <= 16)
    {
      if (decpt <= 0)
        {
          g_string_append (out, "0.");
          for (int i = 0; i < -decpt; i++)
            g_string_append_c (out, '0');
          g_string_append_len (out, digits, ndigits);
        }
      else if (decpt >= ndigits)
        {
          g_string_append_len (out, digits, ndigits);
          for (int i = ndigits; i < decpt; i++)
            g_string_append_c (out, '0');
          g_string_append (out, ".0");
        }
      else
        {
          g_string_append_len (out, digits, decpt);
          g_string_append_c (out, '.');
          g_string_append_len (out, digits + decpt, ndigits - decpt);
        }
    }
  else
    {
      g_string_append_c (out, digits[0]);
      if (ndigits > 1)
        {
          g_string_append_c (out, '.');
          g_string_append_len (out, digits + 1, ndigits - 1);
        }
      g_string_append_printf (out, "e%c%02d", exponent < 0 ? '-' : '+', abs (exponent));
    }
}

static void
append_py_string (GString    *out,
                  const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p++)
    {
      guchar ch = (guchar) *p;

      switch (ch)
        {
        case '"':  g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        default:
          if (ch < 0x20)
            g_string_append_printf (out, "\\u%04x", ch);
          else
            g_string_append_c (out, (char) ch);
          break;
        }
    }
  g_string_append_c (out, '"');
}

static void
append_newline_indent (GString *out,
                       int      level)
{
  g_string_append_c (out, '\n');
  for (int i = 0; i < level * 4; i++)
    g_string_append_c (out, ' ');
}

static void
append_node (GString  *out,
             JsonNode *node,
             gboolean  indent,
             int       level)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      break;

    case JSON_NODE_VALUE:
      {
        GType type = json_node_get_value_type (node);

        if (type == G_TYPE_STRING)
          append_py_string (out, json_node_get_string (node));
        else if (type == G_TYPE_BOOLEAN)
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
        else if (type == G_TYPE_INT64)
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
        else if (type == G_TYPE_DOUBLE)
          append_py_float (out, json_node_get_double (node));
        else
          g_string_append (out, "null");
      }
      break;

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        if (n == 0)
          {
            g_string_append (out, "[]");
            break;
          }
        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            if (indent)
              {
                if (i > 0)
                  g_string_append_c (out, ',');
                append_newline_indent (out, level + 1);
              }
            else if (i > 0)
              g_string_append (out, ", ");
            append_node (out, json_array_get_element (array, i), indent, level + 1);
          }
        if (indent)
          append_newline_indent (out, level);
        g_string_append_c (out, ']');
      }
      break;

    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        JsonObjectIter iter;
        const char *key;
        JsonNode *member;
        gboolean first = TRUE;

        if (json_object_get_size (object) == 0)
          {
            g_string_append (out, "{}");
            break;
          }
        g_string_append_c (out, '{');
        json_object_iter_init_ordered (&iter, object);
        while (json_object_iter_next_ordered (&iter, &key, &member))
          {
            if (indent)
              {
                if (!first)
                  g_string_append_c (out, ',');
                append_newline_indent (out, level + 1);
              }
            else if (!first)
              g_string_append (out, ", ");
            first = FALSE;
            append_py_string (out, key);
            g_string_append (out, ": ");
            append_node (out, member, indent, level + 1);
          }
        if (indent)
          append_newline_indent (out, level);
        g_string_append_c (out, '}');
      }
      break;

    default:
      g_assert_not_reached ();
    }
}

/**
 * kestrel_tool_prompt_json_dumps:
 * @indent: %TRUE for json.dumps(indent=4), %FALSE for the compact default (", ", ": ")
 *
 * Returns: (transfer full): @node as Python's json.dumps(ensure_ascii=False) writes it.
 */
char *
kestrel_tool_prompt_json_dumps (JsonNode *node,
                                gboolean  indent)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (node != NULL, NULL);

  append_node (out, node, indent, 0);
  return g_string_free (out, FALSE);
}

/* Python's str.isspace(): Unicode White_Space plus the ASCII separators 0x1C–0x1F. */
static gboolean
py_isspace (gunichar ch)
{
  switch (ch)
    {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return TRUE;
    default:
      return ch >= 0x2000 && ch <= 0x200A;
    }
}

/**
 * kestrel_tool_prompt_strip:
 *
 * Returns: (transfer full): @text without leading and trailing whitespace, as Jinja's
 *   `trim` filter (Python str.strip) removes it.  Invalid UTF-8 is only ASCII-trimmed.
 */
char *
kestrel_tool_prompt_strip (const char *text)
{
  const char *start = text;
  const char *end = text + strlen (text);

  if (!g_utf8_validate (text, -1, NULL))
    return g_strstrip (g_strdup (text));

  while (start < end && py_isspace (g_utf8_get_char (start)))
    start = g_utf8_next_char (start);
  while (end > start)
    {
      const char *prev = g_utf8_prev_char (end);

      if (!py_isspace (g_utf8_get_char (prev)))
        break;
      end = prev;
    }
  return g_strndup (start, end - start);
}

/**
 * kestrel_tool_prompt_declarations:
 * @tools: the tool declarations (what the registry's declarations() returns)
 *
 * Returns: (transfer full): the text the template puts into the first user turn, after the
 *   system prompt and before the user's words: instructions, the tools as indented JSON, and
 *   a blank line.
 */
char *
kestrel_tool_prompt_declarations (JsonArray *tools)
{
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *json = NULL;

  g_return_val_if_fail (tools != NULL, NULL);

  node = json_node_init_array (json_node_alloc (), tools);
  json = kestrel_tool_prompt_json_dumps (node, TRUE);
  return g_strconcat (tool_instructions, json, "\n\n", NULL);
}

/**
 * kestrel_tool_prompt_first_user_turn:
 * @system: (nullable): the system prompt (Gemma has no system role: it opens the first turn)
 * @tools: (nullable): the declarations, or %NULL when no tools are offered
 * @content: the user's first message
 *
 * Returns: (transfer full): the complete first user turn.
 */
char *
kestrel_tool_prompt_first_user_turn (const char *system,
                                     JsonArray  *tools,
                                     const char *content)
{
  GString *out = g_string_new ("<start_of_turn>user\n");
  g_autofree char *trimmed = kestrel_tool_prompt_strip (content);

  if (system != NULL)
    g_string_append_printf (out, "%s\n\n", system);
  if (tools != NULL)
    {
      g_autofree char *declarations = kestrel_tool_prompt_declarations (tools);
      g_string_append (out, declarations);
    }
  g_string_append (out, trimmed);
  g_string_append (out, "<end_of_turn>\n");
  return g_string_free (out, FALSE);
}

/**
 * kestrel_tool_prompt_calls:
 * @calls: (element-type KestrelToolCall): the calls the model made
 * @template_compat: reproduce the reference template's output exactly.  Its loop resets
 *   `first` on every iteration (Jinja scoping), so it writes no ", " between keyword
 *   arguments: `f(a=1b=2)`.  %FALSE writes `f(a=1, b=2)`, which is valid pythonic syntax.
 *
 * Returns: (transfer full): `[name(key=json, ...), ...]` with values as json.dumps writes them.
 */
char *
kestrel_tool_prompt_calls (GPtrArray *calls,
                           gboolean   template_compat)
{
  GString *out = g_string_new ("[");

  for (guint i = 0; i < calls->len; i++)
    {
      KestrelToolCall *call = g_ptr_array_index (calls, i);
      JsonObjectIter iter;
      const char *key;
      JsonNode *value;
      gboolean first = TRUE;

      if (i > 0)
        g_string_append (out, ", ");
      g_string_append_printf (out, "%s(", call->name);
      json_object_iter_init_ordered (&iter, call->arguments);
      while (json_object_iter_next_ordered (&iter, &key, &value))
        {
          if (!first && !template_compat)
            g_string_append (out, ", ");
          first = FALSE;
          g_string_append_printf (out, "%s=", key);
          append_node (out, value, FALSE, 0);
        }
      g_string_append_c (out, ')');
    }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

/**
 * kestrel_tool_prompt_model_call_turn:
 * @content: (nullable): text the model wrote with the calls
 *
 * Returns: (transfer full): the model turn that records the calls in the history.
 */
char *
kestrel_tool_prompt_model_call_turn (GPtrArray  *calls,
                                     const char *content,
                                     gboolean    template_compat)
{
  g_autofree char *list = kestrel_tool_prompt_calls (calls, template_compat);
  g_autofree char *trimmed = kestrel_tool_prompt_strip (content != NULL ? content : "");

  return g_strconcat ("<start_of_turn>model\n", list, trimmed, "<end_of_turn>\n", NULL);
}

/**
 * kestrel_tool_prompt_result_turn:
 * @result: one tool's result text (JSON, normally)
 *
 * Returns: (transfer full): the user turn that gives the result back to the model.  Each
 *   result is its own turn, in the order of the calls.
 */
char *
kestrel_tool_prompt_result_turn (const char *result)
{
  g_autofree char *trimmed = kestrel_tool_prompt_strip (result);

  return g_strconcat ("<start_of_turn>user\n<tool_response>\n", trimmed,
                      "</tool_response><end_of_turn>\n", NULL);
}
