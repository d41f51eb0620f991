/* kestrel-tool-call-parser.c — recognises tool calls in a reply while it streams.
 *
 * The engine worker feeds text deltas as they are detokenized and gets events back.  A
 * candidate call starts at the beginning of a line with one of:
 *
 *   [name(          a pythonic call list           → parsed by kestrel-pylit.c
 *   [{              a JSON list of call objects     → parsed by json-glib
 *   {"name":        a JSON call object              → parsed by json-glib
 *   ```tool_code    a fenced block holding either of the above or bare name(...) calls
 *
 * While a candidate is open its text is held back (not shown); a bracket/string-aware scanner
 * finds where it ends and announces each call's name as soon as `name(` appears.  When the
 * span ends it is parsed in full and every call is validated against its tool's schema; only
 * then is a CALLS event emitted.  Anything malformed, unknown, truncated or too long is given
 * back as ordinary text (after a CALL_INVALID event saying why).  Nothing is ever run from a
 * partial parse: the parser only reports; the caller runs the calls of a CALLS event.
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include <string.h>

#include "kestrel-json-schema.h"
#include "kestrel-pylit.h"
#include "kestrel-tool-call-syntax.h"
#include "kestrel-tool-call-parser.h"

#define MAX_SNIFF_IDENT 64
#define MAX_SNIFF_SPAN  256  /* a candidate must show what it is within this many bytes */
#define FENCE_OPEN "```tool_code"

typedef enum
{
  MODE_TEXT,
  MODE_SNIFF,   /* span holds the start of a possible candidate */
  MODE_LIST,    /* pythonic [name(...), ...] */
  MODE_JSON,    /* {"name": ...} or [{...}, ...] */
  MODE_FENCE,   /* ```tool_code ... ``` */
} Mode;

typedef enum { SNIFF_NO, SNIFF_MAYBE, SNIFF_LIST, SNIFF_JSON, SNIFF_FENCE } Sniff;

struct _KestrelToolCallParser
{
  GObject     parent_instance;

  JsonArray  *declarations;
  GPtrArray  *events;
  GString    *text_out;   /* text not yet put into an event */
  GString    *span;       /* the held-back candidate */
  Mode        mode;
  gboolean    line_start;

  /* Scanner state for MODE_LIST / MODE_JSON / MODE_FENCE bodies. */
  GString    *stack;      /* open brackets */
  char        quote;      /* inside a string: its quote character */
  gboolean    escape;
  GString    *ident;      /* identifier just read (pythonic) */
  gboolean    ident_closed;
  GString    *str_buf;    /* current JSON string's raw text (capped) */
  char       *json_key;   /* last JSON string that may be a key */
  gboolean    expect_name_value;
  gsize       json_base_depth;
  gsize       fence_body_start;
  gsize       fence_line_start;
};

G_DEFINE_FINAL_TYPE (KestrelToolCallParser, kestrel_tool_call_parser, G_TYPE_OBJECT)

void
kestrel_tool_call_event_free (KestrelToolCallEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->text);
  g_free (event->name);
  g_clear_pointer (&event->calls, g_ptr_array_unref);
  g_clear_error (&event->error);
  g_free (event);
}

static void
kestrel_tool_call_parser_finalize (GObject *object)
{
  KestrelToolCallParser *self = KESTREL_TOOL_CALL_PARSER (object);

  g_clear_pointer (&self->declarations, json_array_unref);
  g_clear_pointer (&self->events, g_ptr_array_unref);
  g_string_free (self->text_out, TRUE);
  g_string_free (self->span, TRUE);
  g_string_free (self->stack, TRUE);
  g_string_free (self->ident, TRUE);
  g_string_free (self->str_buf, TRUE);
  g_free (self->json_key);

  G_OBJECT_CLASS (kestrel_tool_call_parser_parent_class)->finalize (object);
}

static void
kestrel_tool_call_parser_class_init (KestrelToolCallParserClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kestrel_tool_call_parser_finalize;
}

static void
kestrel_tool_call_parser_init (KestrelToolCallParser *self)
{
  self->text_out = g_string_new (NULL);
  self->span = g_string_new (NULL);
  self->stack = g_string_new (NULL);
  self->ident = g_string_new (NULL);
  self->str_buf = g_string_new (NULL);
  self->mode = MODE_TEXT;
  self->line_start = TRUE;
}

/**
 * kestrel_tool_call_parser_new:
 * @declarations: (nullable): the tool declarations offered to the model (objects with "name"
 *   and "parameters", optionally wrapped as {"type": "function", "function": {...}}); a call
 *   to a tool not in this list is invalid.
 */
KestrelToolCallParser *
kestrel_tool_call_parser_new (JsonArray *declarations)
{
  KestrelToolCallParser *self = g_object_new (KESTREL_TYPE_TOOL_CALL_PARSER, NULL);

  self->declarations = declarations != NULL ? json_array_ref (declarations) : json_array_new ();
  return self;
}

/* ---- validation ------------------------------------------------------------------------ */

static JsonObject *
find_declaration (JsonArray  *declarations,
                  const char *name)
{
  for (guint i = 0; i < json_array_get_length (declarations); i++)
    {
      JsonNode *node = json_array_get_element (declarations, i);
      JsonObject *decl;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      decl = json_node_get_object (node);
      if (json_object_has_member (decl, "function") &&
          JSON_NODE_HOLDS_OBJECT (json_object_get_member (decl, "function")))
        decl = json_object_get_object_member (decl, "function");
      if (g_strcmp0 (json_object_get_string_member_with_default (decl, "name", NULL), name) == 0)
        return decl;
    }
  return NULL;
}

/**
 * kestrel_tool_call_validate:
 *
 * Checks that @call names a declared tool and that its arguments satisfy that tool's
 * "parameters" schema.
 */
gboolean
kestrel_tool_call_validate (JsonArray        *declarations,
                            KestrelToolCall  *call,
                            GError          **error)
{
  g_autoptr(JsonNode) args = NULL;
  JsonObject *decl;
  JsonNode *schema;

  decl = find_declaration (declarations, call->name);
  if (decl == NULL)
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_UNKNOWN_TOOL,
                   "There is no tool called “%s”", call->name);
      return FALSE;
    }
  schema = json_object_get_member (decl, "parameters");
  if (schema == NULL || !JSON_NODE_HOLDS_OBJECT (schema))
    return TRUE;

  args = json_node_init_object (json_node_alloc (), call->arguments);
  return kestrel_json_schema_validate (args, json_node_get_object (schema), error);
}

/* ---- events ------------------------------------------------------------------------------ */

static KestrelToolCallEvent *
push_event (KestrelToolCallParser   *self,
            KestrelToolCallEventKind kind)
{
  KestrelToolCallEvent *event;

  /* Text that came before this event goes out first. */
  if (kind != KESTREL_TOOL_CALL_EVENT_TEXT && self->text_out->len > 0)
    {
      event = push_event (self, KESTREL_TOOL_CALL_EVENT_TEXT);
      event->text = g_strndup (self->text_out->str, self->text_out->len);
      g_string_truncate (self->text_out, 0);
    }
  event = g_new0 (KestrelToolCallEvent, 1);
  event->kind = kind;
  g_ptr_array_add (self->events, event);
  return event;
}

static void
flush_text (KestrelToolCallParser *self)
{
  if (self->text_out->len > 0)
    {
      KestrelToolCallEvent *event = push_event (self, KESTREL_TOOL_CALL_EVENT_TEXT);

      event->text = g_strndup (self->text_out->str, self->text_out->len);
      g_string_truncate (self->text_out, 0);
    }
}

static void
announce (KestrelToolCallParser *self,
          const char            *name)
{
  KestrelToolCallEvent *event = push_event (self, KESTREL_TOOL_CALL_EVENT_CALL_STARTED);

  event->name = g_strdup (name);
}

static void
reset_scanner (KestrelToolCallParser *self)
{
  g_string_truncate (self->stack, 0);
  g_string_truncate (self->ident, 0);
  g_string_truncate (self->str_buf, 0);
  g_clear_pointer (&self->json_key, g_free);
  self->quote = 0;
  self->escape = FALSE;
  self->ident_closed = FALSE;
  self->expect_name_value = FALSE;
}

static void
update_line_start (KestrelToolCallParser *self,
                   const char            *text,
                   gsize                  len)
{
  for (gsize i = 0; i < len; i++)
    {
      if (text[i] == '\n')
        self->line_start = TRUE;
      else if (text[i] != ' ' && text[i] != '\t')
        self->line_start = FALSE;
    }
}

/* Gives the held-back span back as text, saying why it was not a call. */
static void
release_span (KestrelToolCallParser *self,
              GError                *error)
{
  if (error != NULL)
    {
      KestrelToolCallEvent *event = push_event (self, KESTREL_TOOL_CALL_EVENT_CALL_INVALID);
      event->error = error;
    }
  g_string_append_len (self->text_out, self->span->str, self->span->len);
  self->line_start = FALSE;
  update_line_start (self, self->span->str, self->span->len);
  g_string_truncate (self->span, 0);
  reset_scanner (self);
  self->mode = MODE_TEXT;
}

static GPtrArray *
parse_body (const char *text,
            gsize       len,
            gboolean    allow_bare,
            GError    **error)
{
  gsize i = 0;

  while (i < len && g_ascii_isspace (text[i]))
    i++;
  if (i < len && text[i] == '{')
    return kestrel_tool_calls_parse_json (text, len, error);
  if (i < len && text[i] == '[')
    {
      gsize j = i + 1;

      while (j < len && g_ascii_isspace (text[j]))
        j++;
      if (j < len && text[j] == '{')
        return kestrel_tool_calls_parse_json (text, len, error);
      return kestrel_tool_calls_parse_pythonic (text, len, error);
    }
  if (allow_bare)
    return kestrel_tool_calls_parse_bare (text, len, error);

  g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE, "Not a call list");
  return NULL;
}

/* The span is complete: parse, validate, emit CALLS or give it back as text. */
static void
complete_span (KestrelToolCallParser *self,
               const char            *body,
               gsize                  body_len,
               gboolean               allow_bare)
{
  g_autoptr(GPtrArray) calls = NULL;
  GError *error = NULL;
  KestrelToolCallEvent *event;

  calls = parse_body (body, body_len, allow_bare, &error);
  if (calls == NULL)
    {
      release_span (self, error);
      return;
    }
  for (guint i = 0; i < calls->len; i++)
    if (!kestrel_tool_call_validate (self->declarations, g_ptr_array_index (calls, i), &error))
      {
        release_span (self, error);
        return;
      }

  event = push_event (self, KESTREL_TOOL_CALL_EVENT_CALLS);
  event->calls = g_steal_pointer (&calls);
  g_string_truncate (self->span, 0);
  reset_scanner (self);
  self->mode = MODE_TEXT;
  self->line_start = FALSE;
}

/* ---- sniffing ---------------------------------------------------------------------------- */

static Sniff
sniff (const char *s,
       gsize       len)
{
  gsize i = 1;

  if (s[0] == '`')
    {
      gsize n = MIN (len, strlen (FENCE_OPEN));

      if (memcmp (s, FENCE_OPEN, n) != 0)
        return SNIFF_NO;
      if (len <= strlen (FENCE_OPEN))
        return SNIFF_MAYBE;
      for (i = strlen (FENCE_OPEN); i < len; i++)
        {
          if (s[i] == '\n')
            return SNIFF_FENCE;
          if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return SNIFF_NO;
        }
      return SNIFF_MAYBE;
    }

  if (s[0] == '{')
    {
      static const char name_key[] = "\"name\"";
      gsize k = 0;

      while (i < len && g_ascii_isspace (s[i]))
        i++;
      while (i < len && k < strlen (name_key))
        {
          if (s[i] != name_key[k])
            return SNIFF_NO;
          i++, k++;
        }
      if (k < strlen (name_key))
        return SNIFF_MAYBE;
      while (i < len && g_ascii_isspace (s[i]))
        i++;
      if (i == len)
        return SNIFF_MAYBE;
      return s[i] == ':' ? SNIFF_JSON : SNIFF_NO;
    }

  /* s[0] == '[' */
  while (i < len && g_ascii_isspace (s[i]))
    i++;
  if (i == len)
    return SNIFF_MAYBE;
  if (s[i] == '{')
    return SNIFF_JSON;
  if (!kestrel_pylit_is_ident_start (s[i]))
    return SNIFF_NO;
  {
    gsize ident_start = i;

    while (i < len && kestrel_pylit_is_ident_char (s[i]))
      i++;
    if (i - ident_start > MAX_SNIFF_IDENT)
      return SNIFF_NO;
  }
  while (i < len && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if (i == len)
    return SNIFF_MAYBE;
  return s[i] == '(' ? SNIFF_LIST : SNIFF_NO;
}

/* ---- scanning ---------------------------------------------------------------------------- */

static gboolean
stack_has_call_or_dict (KestrelToolCallParser *self)
{
  return memchr (self->stack->str, '(', self->stack->len) != NULL ||
         memchr (self->stack->str, '{', self->stack->len) != NULL;
}

/* Feeds one byte to the bracket/string scanner.  Returns FALSE on a bracket mismatch. */
static gboolean
scan (KestrelToolCallParser *self,
      char                   ch,
      gboolean               json)
{
  if (self->quote != 0)
    {
      if (self->escape)
        self->escape = FALSE;
      else if (ch == '\\')
        self->escape = TRUE;
      else if (ch == self->quote)
        {
          self->quote = 0;
          if (json && self->stack->len == self->json_base_depth)
            {
              if (self->expect_name_value)
                {
                  self->expect_name_value = FALSE;
                  if (self->str_buf->len > 0 && self->str_buf->len < MAX_SNIFF_IDENT)
                    announce (self, self->str_buf->str);
                }
              else
                {
                  g_free (self->json_key);
                  self->json_key = g_strndup (self->str_buf->str, self->str_buf->len);
                }
            }
          return TRUE;
        }
      if (json && self->str_buf->len < MAX_SNIFF_IDENT)
        g_string_append_c (self->str_buf, ch);
      return TRUE;
    }

  if (json)
    {
      if (ch == ':' && g_strcmp0 (self->json_key, "name") == 0)
        self->expect_name_value = TRUE;
      else if (ch != '"' && !g_ascii_isspace (ch))
        self->expect_name_value = FALSE;
      if (ch != ':' && !g_ascii_isspace (ch))
        g_clear_pointer (&self->json_key, g_free);
    }
  else if (kestrel_pylit_is_ident_char (ch))
    {
      if (self->ident_closed)
        g_string_truncate (self->ident, 0);
      self->ident_closed = FALSE;
      if (self->ident->len < MAX_SNIFF_IDENT)
        g_string_append_c (self->ident, ch);
      return TRUE;
    }
  else if (ch == ' ' || ch == '\t')
    {
      self->ident_closed = TRUE;
      return TRUE;
    }
  else if (ch == '(' && self->ident->len > 0 && kestrel_pylit_is_ident_start (self->ident->str[0]) &&
           !stack_has_call_or_dict (self))
    announce (self, self->ident->str);

  if (!json && ch != '(')
    g_string_truncate (self->ident, 0);

  switch (ch)
    {
    case '"':
      self->quote = ch;
      g_string_truncate (self->str_buf, 0);
      break;
    case '\'':
      if (!json)
        self->quote = ch;
      break;
    case '[':
    case '(':
    case '{':
      g_string_append_c (self->stack, ch);
      break;
    case ']':
    case ')':
    case '}':
      {
        char open = ch == ']' ? '[' : ch == ')' ? '(' : '{';

        if (self->stack->len == 0 || self->stack->str[self->stack->len - 1] != open)
          return FALSE;
        g_string_truncate (self->stack, self->stack->len - 1);
      }
      break;
    default:
      break;
    }
  if (!json && ch == '(')
    g_string_truncate (self->ident, 0);
  return TRUE;
}

static void
enter_body (KestrelToolCallParser *self,
            Mode                   mode)
{
  self->mode = mode;
  reset_scanner (self);

  if (mode == MODE_FENCE)
    {
      self->fence_body_start = self->span->len;
      self->fence_line_start = self->span->len;
      return;
    }

  /* Re-scan what was sniffed so far. */
  self->json_base_depth = self->span->str[0] == '[' ? 2 : 1;
  for (gsize i = 0; i < self->span->len; i++)
    if (!scan (self, self->span->str[i], mode == MODE_JSON))
      {
        release_span (self, g_error_new_literal (KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE,
                                                 "Mismatched brackets"));
        return;
      }
}

static void
feed_char (KestrelToolCallParser *self,
           char                   ch)
{
  switch (self->mode)
    {
    case MODE_TEXT:
      if (self->line_start && (ch == '[' || ch == '{' || ch == '`'))
        {
          self->mode = MODE_SNIFF;
          g_string_append_c (self->span, ch);
          return;
        }
      g_string_append_c (self->text_out, ch);
      update_line_start (self, &ch, 1);
      return;

    case MODE_SNIFF:
      g_string_append_c (self->span, ch);
      /* sniff() rescans the span, so keep it short (no quadratic time on "[" + spaces). */
      switch (self->span->len > MAX_SNIFF_SPAN ? SNIFF_NO : sniff (self->span->str, self->span->len))
        {
        case SNIFF_NO:    release_span (self, NULL); break;
        case SNIFF_MAYBE: break;
        case SNIFF_LIST:  enter_body (self, MODE_LIST); break;
        case SNIFF_JSON:  enter_body (self, MODE_JSON); break;
        case SNIFF_FENCE: enter_body (self, MODE_FENCE); break;
        default:          g_assert_not_reached ();
        }
      return;

    case MODE_LIST:
    case MODE_JSON:
      g_string_append_c (self->span, ch);
      if (!scan (self, ch, self->mode == MODE_JSON))
        release_span (self, g_error_new_literal (KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE,
                                                 "Mismatched brackets"));
      else if (self->stack->len == 0 && self->quote == 0)
        complete_span (self, self->span->str, self->span->len, FALSE);
      return;

    case MODE_FENCE:
      g_string_append_c (self->span, ch);
      if (ch == '\n')
        {
          self->fence_line_start = self->span->len;
          return;
        }
      if (self->span->len - self->fence_line_start == 3 &&
          memcmp (self->span->str + self->fence_line_start, "```", 3) == 0)
        {
          complete_span (self, self->span->str + self->fence_body_start,
                         self->fence_line_start - self->fence_body_start, TRUE);
          return;
        }
      /* Announce names as they appear; a mismatch is judged by the full parse later. */
      (void) scan (self, ch, FALSE);
      return;

    default:
      g_assert_not_reached ();
    }
}

static GPtrArray *
take_events (KestrelToolCallParser *self)
{
  GPtrArray *events = g_steal_pointer (&self->events);

  self->events = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_tool_call_event_free);
  return events;
}

/**
 * kestrel_tool_call_parser_feed:
 * @text: a piece of the reply (need not end on a token or call boundary)
 * @len: its length in bytes, or -1 if nul-terminated
 *
 * Returns: (transfer full) (element-type KestrelToolCallEvent): what became known, in order;
 *   possibly empty (text held back while a candidate call is open).
 */
GPtrArray *
kestrel_tool_call_parser_feed (KestrelToolCallParser *self,
                               const char            *text,
                               gssize                 len)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_PARSER (self), NULL);
  g_return_val_if_fail (text != NULL || len == 0, NULL);

  if (self->events == NULL)
    self->events = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_tool_call_event_free);
  if (len < 0)
    len = (gssize) strlen (text);

  for (gssize i = 0; i < len; i++)
    {
      feed_char (self, text[i]);
      if (self->mode != MODE_TEXT && self->span->len > KESTREL_TOOL_CALL_PARSER_MAX_SPAN)
        release_span (self, g_error_new (KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE,
                                         "The call is longer than %d bytes",
                                         KESTREL_TOOL_CALL_PARSER_MAX_SPAN));
    }
  flush_text (self);

  return take_events (self);
}

/**
 * kestrel_tool_call_parser_finish:
 *
 * Ends the reply: a candidate still open is given back as text (it was truncated), except a
 * ```tool_code block whose closing fence is missing but whose body is a complete, valid call
 * list.  The parser is then ready for a new reply.
 *
 * Returns: (transfer full) (element-type KestrelToolCallEvent): the final events.
 */
GPtrArray *
kestrel_tool_call_parser_finish (KestrelToolCallParser *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_PARSER (self), NULL);

  if (self->events == NULL)
    self->events = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_tool_call_event_free);

  if (self->mode == MODE_FENCE)
    complete_span (self, self->span->str + self->fence_body_start,
                   self->span->len - self->fence_body_start, TRUE);
  else if (self->mode == MODE_SNIFF)
    release_span (self, NULL);
  else if (self->mode != MODE_TEXT)
    release_span (self, g_error_new_literal (KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE,
                                             "The reply ended inside a call"));
  flush_text (self);

  self->line_start = TRUE;
  return take_events (self);
}
