/* kestrel-tool-call-syntax.c — the call forms: pythonic lists, bare calls, JSON objects.
 *
 *   list  := '[' call (',' call)* ','? ']'
 *   call  := name '(' (name '=' value (',' name '=' value)* ','?)? ')'
 *   bare  := call ((',' | whitespace) call)*            (inside a ```tool_code fence)
 *   json  := {"name": "…", "parameters"|"arguments": {…}} | '[' json (',' json)* ']'
 *
 * Names are Python identifiers; values are Python literals (kestrel-pylit.c).  Keyword
 * arguments only; a repeated argument, an empty list or more than KESTREL_TOOL_CALLS_MAX
 * calls is an error.  The JSON forms are parsed by json-glib.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include "kestrel-pylit.h"
#include "kestrel-tool-call-syntax.h"

typedef struct
{
  const char *start;
  const char *p;
  const char *end;
} Cursor;

static void
set_error (Cursor     *c,
           GError    **error,
           const char *what)
{
  g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE,
               "%s at offset %" G_GSIZE_FORMAT, what, (gsize) (c->p - c->start));
}

static void
skip_ws (Cursor *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static gboolean
peek_is (Cursor *c,
         char    ch)
{
  return c->p < c->end && *c->p == ch;
}

/* name(kw=value, ...) */
static KestrelToolCall *
parse_call (Cursor  *c,
            GError **error)
{
  g_autoptr(JsonObject) args = json_object_new ();
  g_autofree char *name = NULL;
  const char *start = c->p;

  if (c->p >= c->end || !kestrel_pylit_is_ident_start (*c->p))
    {
      set_error (c, error, "Expected a function name");
      return NULL;
    }
  while (c->p < c->end && kestrel_pylit_is_ident_char (*c->p))
    c->p++;
  name = g_strndup (start, c->p - start);
  skip_ws (c);
  if (!peek_is (c, '('))
    {
      set_error (c, error, "Expected '(' after the function name");
      return NULL;
    }
  c->p++;
  skip_ws (c);

  while (!peek_is (c, ')'))
    {
      g_autofree char *key = NULL;
      const char *key_start = c->p;
      JsonNode *value;

      if (c->p >= c->end || !kestrel_pylit_is_ident_start (*c->p))
        {
          set_error (c, error, "Expected a keyword argument (name=value); positional arguments are not allowed");
          return NULL;
        }
      while (c->p < c->end && kestrel_pylit_is_ident_char (*c->p))
        c->p++;
      key = g_strndup (key_start, c->p - key_start);
      skip_ws (c);
      if (!peek_is (c, '=') || (c->p + 1 < c->end && c->p[1] == '='))
        {
          set_error (c, error, "Expected '=' after the argument name; positional arguments are not allowed");
          return NULL;
        }
      c->p++;
      if (json_object_has_member (args, key))
        {
          set_error (c, error, "Argument given twice");
          return NULL;
        }
      value = kestrel_pylit_parse_value_at (c->start, &c->p, c->end, error);
      if (value == NULL)
        return NULL;
      json_object_set_member (args, key, value);
      skip_ws (c);
      if (peek_is (c, ','))
        {
          c->p++;
          skip_ws (c);
        }
      else if (!peek_is (c, ')'))
        {
          set_error (c, error, "Expected ',' or ')'");
          return NULL;
        }
    }
  c->p++;

  return kestrel_tool_call_new (name, args);
}

static gboolean
add_call (GPtrArray        *calls,
          KestrelToolCall  *call,
          GError          **error)
{
  if (calls->len >= KESTREL_TOOL_CALLS_MAX)
    {
      kestrel_tool_call_unref (call);
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_TOO_MANY_CALLS,
                   "More than %d tool calls in one reply", KESTREL_TOOL_CALLS_MAX);
      return FALSE;
    }
  g_ptr_array_add (calls, call);
  return TRUE;
}

/**
 * kestrel_tool_calls_parse_pythonic:
 *
 * Parses `[name(kw=value, ...), ...]` (surrounding whitespace allowed, nothing else).
 *
 * Returns: (transfer full) (element-type KestrelToolCall): the calls, at least one, or %NULL.
 */
GPtrArray *
kestrel_tool_calls_parse_pythonic (const char  *text,
                               gsize        len,
                               GError     **error)
{
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_tool_call_unref);
  Cursor c = { text, text, text + len };

  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE, "Text is not valid UTF-8");
      return NULL;
    }

  skip_ws (&c);
  if (!peek_is (&c, '['))
    {
      set_error (&c, error, "Expected '[' to open the call list");
      return NULL;
    }
  c.p++;
  skip_ws (&c);
  while (!peek_is (&c, ']'))
    {
      KestrelToolCall *call = parse_call (&c, error);

      if (call == NULL || !add_call (calls, call, error))
        return NULL;
      skip_ws (&c);
      if (peek_is (&c, ','))
        {
          c.p++;
          skip_ws (&c);
        }
      else if (!peek_is (&c, ']'))
        {
          set_error (&c, error, "Expected ',' or ']' after a call");
          return NULL;
        }
    }
  c.p++;
  skip_ws (&c);
  if (c.p != c.end)
    {
      set_error (&c, error, "Unexpected text after the call list");
      return NULL;
    }
  if (calls->len == 0)
    {
      set_error (&c, error, "The call list is empty");
      return NULL;
    }
  return g_steal_pointer (&calls);
}

/**
 * kestrel_tool_calls_parse_bare:
 *
 * Parses one or more `name(...)` separated by whitespace or commas, without brackets, as the
 * model writes them inside a ```tool_code fence.
 */
GPtrArray *
kestrel_tool_calls_parse_bare (const char  *text,
                                gsize        len,
                                GError     **error)
{
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_tool_call_unref);
  Cursor c = { text, text, text + len };

  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE, "Text is not valid UTF-8");
      return NULL;
    }

  skip_ws (&c);
  do
    {
      KestrelToolCall *call = parse_call (&c, error);

      if (call == NULL || !add_call (calls, call, error))
        return NULL;
      skip_ws (&c);
      if (peek_is (&c, ','))
        {
          c.p++;
          skip_ws (&c);
        }
    }
  while (c.p < c.end);

  return g_steal_pointer (&calls);
}

static KestrelToolCall *
call_from_json_object (JsonObject  *object,
                       GError     **error)
{
  JsonNode *name_node;
  JsonNode *args_node;

  /* OpenAI-style {"type": "function", "function": {...}} wrapper. */
  if (json_object_has_member (object, "function") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (object, "function")))
    object = json_object_get_object_member (object, "function");

  name_node = json_object_get_member (object, "name");
  if (name_node == NULL || json_node_get_value_type (name_node) != G_TYPE_STRING)
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE,
                           "The call object has no \"name\" string");
      return NULL;
    }
  args_node = json_object_get_member (object, "parameters");
  if (args_node == NULL)
    args_node = json_object_get_member (object, "arguments");
  if (args_node != NULL && !JSON_NODE_HOLDS_OBJECT (args_node))
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE,
                           "The call's \"parameters\" must be an object");
      return NULL;
    }
  return kestrel_tool_call_new (json_node_get_string (name_node),
                                args_node != NULL ? json_node_get_object (args_node) : NULL);
}

/**
 * kestrel_tool_calls_parse_json:
 *
 * Parses the JSON call forms (with json-glib): `{"name": …, "parameters": {…}}` (or
 * `"arguments"`), or a JSON array of such objects.
 */
GPtrArray *
kestrel_tool_calls_parse_json (const char  *text,
                          gsize        len,
                          GError     **error)
{
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_tool_call_unref);
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser, text, (gssize) len, &local_error))
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE, "Invalid JSON call: %s",
                   local_error != NULL ? local_error->message : "too long");
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      KestrelToolCall *call = call_from_json_object (json_node_get_object (root), error);

      if (call == NULL)
        return NULL;
      g_ptr_array_add (calls, call);
    }
  else if (root != NULL && JSON_NODE_HOLDS_ARRAY (root))
    {
      JsonArray *array = json_node_get_array (root);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);
          KestrelToolCall *call;

          if (!JSON_NODE_HOLDS_OBJECT (element))
            {
              g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE,
                                   "A JSON call list must hold objects");
              return NULL;
            }
          call = call_from_json_object (json_node_get_object (element), error);
          if (call == NULL || !add_call (calls, call, error))
            return NULL;
        }
    }
  if (calls->len == 0)
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE,
                           "No call in the JSON text");
      return NULL;
    }
  return g_steal_pointer (&calls);
}
