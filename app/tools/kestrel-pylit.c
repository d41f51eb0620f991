/* kestrel-pylit.c — Python literals (tool-call argument values) → JSON.
 *
 * The model writes calls as Python source: `[get_time(zone='Europe/Paris'), add(a=1, b=2.5)]`.
 * This is a recursive-descent parser for exactly the literal subset that the argument values
 * need (it is not JSON, so json-glib cannot parse it):
 *
 *   value   := string+ | number | True | False | None | true | false | null
 *            | '[' values ']' | '(' values ')' | '{' key ':' value, ... '}'
 *   string  := [uU]? ( '…' | "…" ) with Python escapes (\n \t \\ \' \" \xHH \uHHHH \UHHHHHHHH
 *              \ooo \a \b \f \v \r \<newline>); adjacent strings concatenate
 *   number  := [+-]? int | float   (underscores, 0x/0o/0b, exponents)
 *
 * The call syntax around the values (`[name(key=value, ...)]`) is kestrel-tool-call-syntax.c.
 *
 * `true/false/null` are accepted because the chat template writes earlier calls back into the
 * prompt with JSON-valued arguments, and the model imitates what it has seen.  Tuples become
 * lists.  Anything else — identifiers as values, f-strings, raw/bytes strings, sets, calls as
 * values, non-string keys, NUL characters, numbers out of range — is an error.
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "kestrel-pylit.h"
#include "kestrel-tool-call.h"

typedef struct
{
  const char *start;
  const char *p;
  const char *end;
  guint       depth;
} Cursor;

static void
set_error (Cursor     *c,
           GError    **error,
           const char *what)
{
  g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE,
               "%s at offset %" G_GSIZE_FORMAT, what, (gsize) (c->p - c->start));
}

gboolean
kestrel_pylit_is_ident_start (char c)
{
  return g_ascii_isalpha (c) || c == '_';
}

gboolean
kestrel_pylit_is_ident_char (char c)
{
  return g_ascii_isalnum (c) || c == '_';
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

static gboolean
keyword_at (Cursor     *c,
            const char *word)
{
  gsize n = strlen (word);

  if ((gsize) (c->end - c->p) < n || memcmp (c->p, word, n) != 0)
    return FALSE;
  if (c->p + n < c->end && kestrel_pylit_is_ident_char (c->p[n]))
    return FALSE;
  return TRUE;
}

static int
hex_value (char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

static gboolean
read_hex (Cursor   *c,
          guint     ndigits,
          gunichar *out)
{
  gunichar v = 0;

  if ((gsize) (c->end - c->p) < ndigits)
    return FALSE;
  for (guint i = 0; i < ndigits; i++)
    {
      int h = hex_value (c->p[i]);
      if (h < 0)
        return FALSE;
      v = (v << 4) | (gunichar) h;
    }
  c->p += ndigits;
  *out = v;
  return TRUE;
}

static gboolean
append_code_point (GString  *s,
                   gunichar  ch)
{
  /* NUL cannot live in a C string (json-glib strings), surrogates are not characters. */
  if (ch == 0 || ch > 0x10FFFF || (ch >= 0xD800 && ch <= 0xDFFF))
    return FALSE;
  g_string_append_unichar (s, ch);
  return TRUE;
}

/* One quoted string (after an optional u/U prefix); appends its value to @out. */
static gboolean
parse_string_piece (Cursor   *c,
                    GString  *out,
                    GError  **error)
{
  char quote;

  if (c->p < c->end && (*c->p == 'u' || *c->p == 'U'))
    c->p++;
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
    {
      set_error (c, error, "Expected a string");
      return FALSE;
    }
  quote = *c->p++;

  for (;;)
    {
      char ch;

      if (c->p >= c->end)
        {
          set_error (c, error, "Unterminated string");
          return FALSE;
        }
      ch = *c->p;
      if (ch == quote)
        {
          c->p++;
          return TRUE;
        }
      if (ch == '\n' || ch == '\r')
        {
          set_error (c, error, "Line break inside a string");
          return FALSE;
        }
      if (ch == '\0')
        {
          set_error (c, error, "NUL character inside a string");
          return FALSE;
        }
      if (ch != '\\')
        {
          g_string_append_c (out, ch);
          c->p++;
          continue;
        }

      /* Escape sequence. */
      c->p++;
      if (c->p >= c->end)
        {
          set_error (c, error, "Unterminated escape sequence");
          return FALSE;
        }
      ch = *c->p++;
      switch (ch)
        {
        case '\n': break;                       /* line continuation */
        case '\\': g_string_append_c (out, '\\'); break;
        case '\'': g_string_append_c (out, '\''); break;
        case '"':  g_string_append_c (out, '"'); break;
        case 'a':  g_string_append_c (out, '\a'); break;
        case 'b':  g_string_append_c (out, '\b'); break;
        case 'f':  g_string_append_c (out, '\f'); break;
        case 'n':  g_string_append_c (out, '\n'); break;
        case 'r':  g_string_append_c (out, '\r'); break;
        case 't':  g_string_append_c (out, '\t'); break;
        case 'v':  g_string_append_c (out, '\v'); break;
        case 'x':
        case 'u':
        case 'U':
          {
            gunichar cp;
            guint ndigits = ch == 'x' ? 2 : ch == 'u' ? 4 : 8;

            if (!read_hex (c, ndigits, &cp))
              {
                set_error (c, error, "Bad \\x, \\u or \\U escape");
                return FALSE;
              }
            /* A UTF-16 surrogate pair written as two \u escapes (as JSON does). */
            if (ch == 'u' && cp >= 0xD800 && cp <= 0xDBFF && c->end - c->p >= 6 &&
                c->p[0] == '\\' && c->p[1] == 'u')
              {
                gunichar low;
                Cursor save = *c;

                c->p += 2;
                if (read_hex (c, 4, &low) && low >= 0xDC00 && low <= 0xDFFF)
                  cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                else
                  *c = save;
              }
            if (!append_code_point (out, cp))
              {
                set_error (c, error, "Escape is not a valid character");
                return FALSE;
              }
          }
          break;
        case 'N':
          set_error (c, error, "\\N{…} escapes are not supported");
          return FALSE;
        default:
          if (ch >= '0' && ch <= '7')
            {
              gunichar cp = (gunichar) (ch - '0');

              for (guint i = 0; i < 2 && c->p < c->end && *c->p >= '0' && *c->p <= '7'; i++)
                cp = cp * 8 + (gunichar) (*c->p++ - '0');
              if (!append_code_point (out, cp))
                {
                  set_error (c, error, "Escape is not a valid character");
                  return FALSE;
                }
            }
          else
            {
              /* Python keeps unknown escapes verbatim (backslash included). */
              g_string_append_c (out, '\\');
              g_string_append_c (out, ch);
            }
          break;
        }
    }
}

static gboolean
at_string_start (Cursor *c)
{
  const char *q = c->p;

  if (q < c->end && (*q == 'u' || *q == 'U'))
    q++;
  return q < c->end && (*q == '\'' || *q == '"');
}

static JsonNode *
parse_string (Cursor  *c,
              GError **error)
{
  g_autoptr(GString) s = g_string_new (NULL);
  JsonNode *node;

  /* Triple-quoted strings are not part of the grammar: '''x''' would read as '' 'x' ''. */
  if (c->end - c->p >= 3 && (c->p[0] == '\'' || c->p[0] == '"') &&
      c->p[1] == c->p[0] && c->p[2] == c->p[0])
    {
      set_error (c, error, "Triple-quoted strings are not supported");
      return NULL;
    }

  do
    {
      if (!parse_string_piece (c, s, error))
        return NULL;
      skip_ws (c);
    }
  while (at_string_start (c));

  if (!g_utf8_validate_len (s->str, s->len, NULL))
    {
      set_error (c, error, "String is not valid UTF-8");
      return NULL;
    }

  node = json_node_new (JSON_NODE_VALUE);
  json_node_set_string (node, s->str);
  return node;
}

static JsonNode *
parse_number (Cursor  *c,
              GError **error)
{
  g_autoptr(GString) digits = g_string_new (NULL);
  gboolean negative = FALSE;
  gboolean is_float = FALSE;
  int base = 10;
  JsonNode *node;

  if (peek_is (c, '+') || peek_is (c, '-'))
    {
      negative = *c->p == '-';
      c->p++;
      skip_ws (c);
    }

  if (c->end - c->p >= 2 && c->p[0] == '0' && strchr ("xXoObB", c->p[1]) != NULL && c->p[1] != '\0')
    {
      base = (c->p[1] == 'x' || c->p[1] == 'X') ? 16 : (c->p[1] == 'o' || c->p[1] == 'O') ? 8 : 2;
      c->p += 2;
      while (c->p < c->end && (g_ascii_isxdigit (*c->p) || *c->p == '_'))
        {
          if (*c->p != '_')
            g_string_append_c (digits, *c->p);
          c->p++;
        }
    }
  else
    {
      while (c->p < c->end)
        {
          char ch = *c->p;

          if (g_ascii_isdigit (ch))
            g_string_append_c (digits, ch);
          else if (ch == '_' && digits->len > 0 && g_ascii_isdigit (digits->str[digits->len - 1]) &&
                   c->p + 1 < c->end && g_ascii_isdigit (c->p[1]))
            ;
          else if (ch == '.' && !is_float)
            {
              is_float = TRUE;
              g_string_append_c (digits, ch);
            }
          else if ((ch == 'e' || ch == 'E') && digits->len > 0 && strchr (digits->str, 'e') == NULL)
            {
              is_float = TRUE;
              g_string_append_c (digits, 'e');
              if (c->p + 1 < c->end && (c->p[1] == '+' || c->p[1] == '-'))
                g_string_append_c (digits, *++c->p);
            }
          else
            break;
          c->p++;
        }
    }

  if (c->p < c->end && (kestrel_pylit_is_ident_char (*c->p) || *c->p == '.'))
    {
      set_error (c, error, "Malformed number");
      return NULL;
    }

  if (is_float)
    {
      char *endp = NULL;
      double v;
      const char *s = digits->str;
      gsize n = digits->len;

      /* Need at least one digit, and an exponent needs digits after it. */
      if (strspn (s, ".") == n || s[n - 1] == 'e' || s[n - 1] == '+' || s[n - 1] == '-' ||
          s[0] == 'e' || (s[0] == '.' && s[1] == 'e'))
        {
          set_error (c, error, "Malformed number");
          return NULL;
        }
      errno = 0;
      v = g_ascii_strtod (s, &endp);
      if (endp != s + n || !isfinite (v))
        {
          set_error (c, error, "Number out of range");
          return NULL;
        }
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_double (node, negative ? -v : v);
      return node;
    }
  else
    {
      guint64 v = 0;
      gint64 signed_v;

      if (digits->len == 0)
        {
          set_error (c, error, "Malformed number");
          return NULL;
        }
      /* Python forbids leading zeros in decimal literals (007), except for zero itself. */
      if (base == 10 && digits->len > 1 && digits->str[0] == '0' &&
          strspn (digits->str, "0") != digits->len)
        {
          set_error (c, error, "Leading zeros in a number");
          return NULL;
        }
      for (gsize i = 0; i < digits->len; i++)
        {
          int d = hex_value (digits->str[i]);

          if (d < 0 || d >= base)
            {
              set_error (c, error, "Malformed number");
              return NULL;
            }
          if (v > (G_MAXUINT64 - (guint64) d) / (guint64) base)
            {
              set_error (c, error, "Integer out of range");
              return NULL;
            }
          v = v * (guint64) base + (guint64) d;
        }
      if (negative ? v > (guint64) G_MAXINT64 + 1 : v > (guint64) G_MAXINT64)
        {
          set_error (c, error, "Integer out of range");
          return NULL;
        }
      signed_v = negative ? (gint64) (0 - v) : (gint64) v;
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_int (node, signed_v);
      return node;
    }
}

static JsonNode *parse_value (Cursor *c, GError **error);

/* Items up to @close; for '(' a single item without a comma is a parenthesised value. */
static JsonNode *
parse_sequence (Cursor  *c,
                char     close,
                GError **error)
{
  g_autoptr(JsonArray) array = json_array_new ();
  gboolean saw_comma = FALSE;
  JsonNode *node;

  c->p++;  /* opening bracket */
  skip_ws (c);
  while (!peek_is (c, close))
    {
      JsonNode *item = parse_value (c, error);

      if (item == NULL)
        return NULL;
      json_array_add_element (array, item);
      skip_ws (c);
      if (peek_is (c, ','))
        {
          saw_comma = TRUE;
          c->p++;
          skip_ws (c);
        }
      else if (!peek_is (c, close))
        {
          set_error (c, error, close == ']' ? "Expected ',' or ']'" : "Expected ',' or ')'");
          return NULL;
        }
    }
  c->p++;  /* closing bracket */

  if (close == ')' && json_array_get_length (array) == 1 && !saw_comma)
    return json_node_copy (json_array_get_element (array, 0));

  node = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (node, array);
  return node;
}

static JsonNode *
parse_dict (Cursor  *c,
            GError **error)
{
  g_autoptr(JsonObject) object = json_object_new ();
  JsonNode *node;

  c->p++;  /* { */
  skip_ws (c);
  while (!peek_is (c, '}'))
    {
      g_autoptr(JsonNode) key = NULL;
      JsonNode *value;

      if (!at_string_start (c))
        {
          set_error (c, error, "Dictionary keys must be strings");
          return NULL;
        }
      key = parse_string (c, error);
      if (key == NULL)
        return NULL;
      skip_ws (c);
      if (!peek_is (c, ':'))
        {
          set_error (c, error, "Expected ':' in a dictionary");
          return NULL;
        }
      c->p++;
      skip_ws (c);
      value = parse_value (c, error);
      if (value == NULL)
        return NULL;
      json_object_set_member (object, json_node_get_string (key), value);
      skip_ws (c);
      if (peek_is (c, ','))
        {
          c->p++;
          skip_ws (c);
        }
      else if (!peek_is (c, '}'))
        {
          set_error (c, error, "Expected ',' or '}'");
          return NULL;
        }
    }
  c->p++;

  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, object);
  return node;
}

static JsonNode *
parse_value (Cursor  *c,
             GError **error)
{
  JsonNode *node = NULL;

  skip_ws (c);
  if (c->p >= c->end)
    {
      set_error (c, error, "Expected a value");
      return NULL;
    }
  if (c->depth >= KESTREL_PYLIT_MAX_DEPTH)
    {
      set_error (c, error, "Values nested too deeply");
      return NULL;
    }

  c->depth++;
  switch (*c->p)
    {
    case '[': node = parse_sequence (c, ']', error); break;
    case '(': node = parse_sequence (c, ')', error); break;
    case '{': node = parse_dict (c, error); break;
    case '\'':
    case '"': node = parse_string (c, error); break;
    default:
      if (at_string_start (c))
        node = parse_string (c, error);
      else if (g_ascii_isdigit (*c->p) || *c->p == '-' || *c->p == '+' || *c->p == '.')
        node = parse_number (c, error);
      else if (keyword_at (c, "True") || keyword_at (c, "true"))
        {
          c->p += 4;
          node = json_node_init_boolean (json_node_alloc (), TRUE);
        }
      else if (keyword_at (c, "False") || keyword_at (c, "false"))
        {
          c->p += 5;
          node = json_node_init_boolean (json_node_alloc (), FALSE);
        }
      else if (keyword_at (c, "None") || keyword_at (c, "null"))
        {
          c->p += 4;
          node = json_node_init_null (json_node_alloc ());
        }
      else
        set_error (c, error, "Expected a literal value (names, variables and expressions are not allowed)");
      break;
    }
  c->depth--;

  return node;
}

JsonNode *
kestrel_pylit_parse_value (const char  *text,
                           gsize        len,
                           GError     **error)
{
  Cursor c = { text, text, text + len, 0 };
  JsonNode *node;

  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE, "Text is not valid UTF-8");
      return NULL;
    }
  node = parse_value (&c, error);
  if (node == NULL)
    return NULL;
  skip_ws (&c);
  if (c.p != c.end)
    {
      set_error (&c, error, "Unexpected text after the value");
      json_node_unref (node);
      return NULL;
    }
  return node;
}

/**
 * kestrel_pylit_parse_value_at:
 * @start: the start of the whole text (for offsets in messages)
 * @pos: (inout): where the value starts (whitespace allowed); on success, just after it
 * @end: the end of the text
 *
 * Parses one value inside a larger text, without checking UTF-8 (the caller did).
 */
JsonNode *
kestrel_pylit_parse_value_at (const char   *start,
                              const char  **pos,
                              const char   *end,
                              GError      **error)
{
  Cursor c = { start, *pos, end, 0 };
  JsonNode *node = parse_value (&c, error);

  if (node != NULL)
    *pos = c.p;
  return node;
}
