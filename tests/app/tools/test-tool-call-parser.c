/* test-tool-call-parser.c — the streaming tool-call parser over a corpus of model outputs.
 *
 * Every case is fed whole, one byte at a time and in random chunks; all three must give the
 * same text, the same announced names and the same calls.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "kestrel-pylit.h"
#include "kestrel-tool-call-syntax.h"
#include "kestrel-tool-call-parser.h"

static const char declarations_json[] =
  "[{\"name\": \"get_time\", \"description\": \"Current time\","
  "  \"parameters\": {\"type\": \"object\", \"properties\": {\"zone\": {\"type\": \"string\"}}}},"
  " {\"type\": \"function\", \"function\": {\"name\": \"add\", \"description\": \"a+b\","
  "  \"parameters\": {\"type\": \"object\", \"additionalProperties\": false,"
  "   \"properties\": {\"a\": {\"type\": \"number\"}, \"b\": {\"type\": \"number\"}},"
  "   \"required\": [\"a\", \"b\"]}}},"
  " {\"name\": \"echo\", \"description\": \"echo\","
  "  \"parameters\": {\"type\": \"object\", \"properties\": {\"value\": {}}, \"required\": [\"value\"]}}]";

typedef struct
{
  GString *text;
  GString *started;  /* names joined by ',' */
  GString *calls;    /* name + compact JSON arguments, joined by ';' */
  guint    invalid;
  guint    call_events;
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_string_free (o->text, TRUE);
  g_string_free (o->started, TRUE);
  g_string_free (o->calls, TRUE);
}

static JsonArray *
load_declarations (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, declarations_json, -1, &error);
  g_assert_no_error (error);
  return json_array_ref (json_node_get_array (json_parser_get_root (parser)));
}

static void
collect (Outcome   *o,
         GPtrArray *events)
{
  for (guint i = 0; i < events->len; i++)
    {
      KestrelToolCallEvent *event = g_ptr_array_index (events, i);

      switch (event->kind)
        {
        case KESTREL_TOOL_CALL_EVENT_TEXT:
          g_assert_nonnull (event->text);
          g_assert_cmpuint (strlen (event->text), >, 0);
          g_string_append (o->text, event->text);
          break;
        case KESTREL_TOOL_CALL_EVENT_CALL_STARTED:
          if (o->started->len > 0)
            g_string_append_c (o->started, ',');
          g_string_append (o->started, event->name);
          break;
        case KESTREL_TOOL_CALL_EVENT_CALLS:
          o->call_events++;
          for (guint j = 0; j < event->calls->len; j++)
            {
              KestrelToolCall *call = g_ptr_array_index (event->calls, j);
              g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), call->arguments);
              g_autofree char *json = json_to_string (node, FALSE);

              if (o->calls->len > 0)
                g_string_append_c (o->calls, ';');
              g_string_append_printf (o->calls, "%s%s", call->name, json);
            }
          break;
        case KESTREL_TOOL_CALL_EVENT_CALL_INVALID:
          g_assert_nonnull (event->error);
          g_test_message ("invalid: %s", event->error->message);
          o->invalid++;
          break;
        default:
          g_assert_not_reached ();
        }
    }
  g_ptr_array_unref (events);
}

/* chunk: 0 = whole, 1 = byte by byte, other = random chunks from that seed */
static Outcome
run_parser (const char *input,
            guint       chunk)
{
  g_autoptr(JsonArray) declarations = load_declarations ();
  KestrelToolCallParser *parser = kestrel_tool_call_parser_new (declarations);
  Outcome o = { g_string_new (NULL), g_string_new (NULL), g_string_new (NULL), 0, 0 };
  gsize len = strlen (input);
  g_autoptr(GRand) rand = g_rand_new_with_seed (chunk);

  for (gsize i = 0; i < len;)
    {
      gsize n = chunk == 0 ? len : chunk == 1 ? 1 : (gsize) g_rand_int_range (rand, 1, 8);

      n = MIN (n, len - i);
      collect (&o, kestrel_tool_call_parser_feed (parser, input + i, (gssize) n));
      i += n;
    }
  collect (&o, kestrel_tool_call_parser_finish (parser));
  g_assert_finalize_object (parser);
  return o;
}

typedef struct
{
  const char *input;
  const char *text;     /* shown text */
  const char *started;  /* announced names */
  const char *calls;    /* parsed calls */
  gboolean    invalid;  /* a CALL_INVALID event */
} Case;

static const Case corpus[] = {
  /* well-formed */
  { "[get_time(zone=\"Europe/Paris\")]", "", "get_time", "get_time{\"zone\":\"Europe/Paris\"}", FALSE },
  { "[get_time()]", "", "get_time", "get_time{}", FALSE },
  { "  [ get_time ( ) ]  ", "    ", "get_time", "get_time{}", FALSE },
  { "Let me check.\n\n[get_time()]", "Let me check.\n\n", "get_time", "get_time{}", FALSE },
  { "[get_time()]\nIt is noon.", "\nIt is noon.", "get_time", "get_time{}", FALSE },
  { "[add(a=1, b=2.5), get_time(zone='UTC')]", "", "add,get_time",
    "add{\"a\":1,\"b\":2.5};get_time{\"zone\":\"UTC\"}", FALSE },
  { "[add(a=1,b=2,),]", "", "add", "add{\"a\":1,\"b\":2}", FALSE },
  { "[add(a=-1_000, b=0x1F)]", "", "add", "add{\"a\":-1000,\"b\":31}", FALSE },
  { "[add(a=1e3, b=-.5)]", "", "add", "add{\"a\":1000.0,\"b\":-0.5}", FALSE },
  { "[echo(value={'a': [1, (2, 3), {\"b\": None}], 'c': True, 'd': ()})]", "", "echo",
    "echo{\"value\":{\"a\":[1,[2,3],{\"b\":null}],\"c\":true,\"d\":[]}}", FALSE },
  { "[echo(value={\"x\": true, \"y\": false, \"z\": null})]", "", "echo",
    "echo{\"value\":{\"x\":true,\"y\":false,\"z\":null}}", FALSE },
  { "[echo(value='it\\'s \"ok\"\\n\\t\\u00e9\\U0001F600 ✓ 日本')]", "", "echo",
    "echo{\"value\":\"it's \\\"ok\\\"\\n\\té😀 ✓ 日本\"}", FALSE },
  { "[echo(value=\"say \\\"hi\\\" and 'bye'\")]", "", "echo",
    "echo{\"value\":\"say \\\"hi\\\" and 'bye'\"}", FALSE },
  { "[echo(value=\"a)]b[(\")]", "", "echo", "echo{\"value\":\"a)]b[(\"}", FALSE },
  { "[echo(value='ab' \"cd\")]", "", "echo", "echo{\"value\":\"abcd\"}", FALSE },
  { "[echo(value=\"\\ud83d\\ude00\\x41\\101\")]", "", "echo", "echo{\"value\":\"😀AA\"}", FALSE },
  { "[echo(value=[\n  1,\n  2\n])]", "", "echo", "echo{\"value\":[1,2]}", FALSE },
  { "```tool_code\n[get_time()]\n```", "", "get_time", "get_time{}", FALSE },
  { "```tool_code\nget_time(zone=\"UTC\")\n```\n", "\n", "get_time", "get_time{\"zone\":\"UTC\"}", FALSE },
  { "Sure.\n```tool_code\nget_time()\nadd(a=1, b=2)\n```", "Sure.\n", "get_time,add",
    "get_time{};add{\"a\":1,\"b\":2}", FALSE },
  { "```tool_code\n[get_time()]", "", "get_time", "get_time{}", FALSE },  /* fence left open at the end */
  { "{\"name\": \"get_time\", \"parameters\": {\"zone\": \"UTC\"}}", "", "get_time",
    "get_time{\"zone\":\"UTC\"}", FALSE },
  { "{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}", "", "add", "add{\"a\":1,\"b\":2}", FALSE },
  { "[{\"name\": \"get_time\", \"parameters\": {}}, {\"name\": \"add\", \"parameters\": {\"a\": 1, \"b\": 2}}]",
    "", "get_time,add", "get_time{};add{\"a\":1,\"b\":2}", FALSE },
  { "```tool_code\n{\"name\": \"get_time\", \"parameters\": {}}\n```", "", "", "get_time{}", FALSE },
  { "[get_time()]\n[add(a=1, b=2)]", "\n", "get_time,add", "get_time{};add{\"a\":1,\"b\":2}", FALSE },

  { "Sure 😀.\r\n[get_time()]\r\n", "Sure 😀.\r\n\r\n", "get_time", "get_time{}", FALSE },
  { "[echo(value='He said \"it\\'s\" — ok')]", "", "echo", "echo{\"value\":\"He said \\\"it's\\\" — ok\"}", FALSE },
  { "[echo(value={'k': \"[x(y)]\", 'l': ['a\\\\', '\\'']})]", "", "echo",
    "echo{\"value\":{\"k\":\"[x(y)]\",\"l\":[\"a\\\\\",\"'\"]}}", FALSE },
  { "\t[get_time(zone='日本/東京')]", "\t", "get_time", "get_time{\"zone\":\"日本/東京\"}", FALSE },

  /* ordinary text that merely looks a bit like a call */
  { "[получить(x=1)]", "[получить(x=1)]", "", "", FALSE },
  { "Hello, world!", "Hello, world!", "", "", FALSE },
  { "see [1] and [get_time()] inline", "see [1] and [get_time()] inline", "", "", FALSE },
  { "[link](http://example.com)", "[link](http://example.com)", "", "", FALSE },
  { "[]", "[]", "", "", FALSE },
  { "[1, 2, 3]", "[1, 2, 3]", "", "", FALSE },
  { "{\"key\": 1}", "{\"key\": 1}", "", "", FALSE },
  { "```python\nprint(1)\n```", "```python\nprint(1)\n```", "", "", FALSE },
  { "`code`", "`code`", "", "", FALSE },
  { "- [ ] todo\n[x] done", "- [ ] todo\n[x] done", "", "", FALSE },

  /* malformed calls: shown as text, never run */
  { "[get_time(zone=\"Eur", "[get_time(zone=\"Eur", "get_time", "", TRUE },
  { "[get_time(", "[get_time(", "get_time", "", TRUE },
  { "[get_time(zone=Europe)]", "[get_time(zone=Europe)]", "get_time", "", TRUE },
  { "[rm(path=\"/\")]", "[rm(path=\"/\")]", "rm", "", TRUE },
  { "[add(a=\"x\", b=1)]", "[add(a=\"x\", b=1)]", "add", "", TRUE },
  { "[add(a=1)]", "[add(a=1)]", "add", "", TRUE },
  { "[add(a=1, b=2, c=3)]", "[add(a=1, b=2, c=3)]", "add", "", TRUE },
  { "[add(1, 2)]", "[add(1, 2)]", "add", "", TRUE },
  { "[add(a=1, a=2)]", "[add(a=1, a=2)]", "add", "", TRUE },
  { "[get_time(]", "[get_time(]", "get_time", "", TRUE },
  { "[get_time()) ]", "[get_time()) ]", "get_time", "", TRUE },
  { "[echo(value=f\"x\")]", "[echo(value=f\"x\")]", "echo", "", TRUE },
  { "[echo(value=r'x')]", "[echo(value=r'x')]", "echo", "", TRUE },
  { "[echo(value='''x''')]", "[echo(value='''x''')]", "echo", "", TRUE },
  { "[echo(value={1, 2})]", "[echo(value={1, 2})]", "echo", "", TRUE },
  { "[echo(value={1: 2})]", "[echo(value={1: 2})]", "echo", "", TRUE },
  { "[echo(value=get_time())]", "[echo(value=get_time())]", "echo", "", TRUE },
  { "[echo(value=1+2)]", "[echo(value=1+2)]", "echo", "", TRUE },
  { "[echo(value=007)]", "[echo(value=007)]", "echo", "", TRUE },
  { "[echo(value=1e999)]", "[echo(value=1e999)]", "echo", "", TRUE },
  { "[echo(value=99999999999999999999)]", "[echo(value=99999999999999999999)]", "echo", "", TRUE },
  { "[echo(value='\\x00')]", "[echo(value='\\x00')]", "echo", "", TRUE },
  { "[echo(value='\\ud800')]", "[echo(value='\\ud800')]", "echo", "", TRUE },
  { "[echo(value='a\nb')]", "[echo(value='a\nb')]", "echo", "", TRUE },
  { "[echo(value='\xff')]", "[echo(value='\xff')]", "echo", "", TRUE },
  { "[get_time() get_time()]", "[get_time() get_time()]", "get_time,get_time", "", TRUE },
  { "[get_time()] trailing", " trailing", "get_time", "get_time{}", FALSE },
  { "{\"name\": \"get_time\", \"parameters\": [1]}", "{\"name\": \"get_time\", \"parameters\": [1]}",
    "get_time", "", TRUE },
  { "{\"name\": \"get_time\", \"parameters\": {}", "{\"name\": \"get_time\", \"parameters\": {}",
    "get_time", "", TRUE },
  { "```tool_code\nprint('hi')\n```", "```tool_code\nprint('hi')\n```", "print", "", TRUE },
  { "```tool_code\n[get_time(\n```", "```tool_code\n[get_time(\n```", "get_time", "", TRUE },
};

static void
test_corpus (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (corpus); i++)
    {
      const Case *c = &corpus[i];
      guint chunkings[] = { 0, 1, 7, 42, 1234 };

      g_autofree char *escaped = g_strescape (c->input, NULL);

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, escaped);
      for (gsize k = 0; k < G_N_ELEMENTS (chunkings); k++)
        {
          Outcome o = run_parser (c->input, chunkings[k]);

          g_assert_cmpstr (o.text->str, ==, c->text);
          g_assert_cmpstr (o.started->str, ==, c->started);
          g_assert_cmpstr (o.calls->str, ==, c->calls);
          g_assert_cmpuint (o.invalid > 0, ==, c->invalid);
          outcome_clear (&o);
        }
    }
}

/* The held-back text plus the released text always equals the input, whatever it is. */
static void
test_text_is_never_lost (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261126);
  static const char *pieces[] = { "[", "]", "(", ")", "{", "}", "'", "\"", "\\", "\n", " ", "=",
                                  ",", ":", "get_time", "add", "a", "1", "```tool_code\n", "```",
                                  "\"name\"", "é", "True" };

  for (guint round = 0; round < 400; round++)
    {
      g_autoptr(GString) input = g_string_new (NULL);
      guint n = g_rand_int_range (rand, 1, 30);
      Outcome o;
      gboolean any_call;

      for (guint i = 0; i < n; i++)
        g_string_append (input, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);
      o = run_parser (input->str, 1 + round);
      any_call = o.call_events > 0;
      if (!any_call)
        g_assert_cmpstr (o.text->str, ==, input->str);
      else
        g_assert_cmpuint (o.text->len, <, input->len);
      outcome_clear (&o);
    }
}

static void
test_span_limit (void)
{
  g_autoptr(GString) input = g_string_new ("[echo(value='");
  Outcome o;

  while (input->len <= KESTREL_TOOL_CALL_PARSER_MAX_SPAN + 10)
    g_string_append (input, "xxxxxxxxxxxxxxxx");
  g_string_append (input, "')]");
  o = run_parser (input->str, 0);
  g_assert_cmpstr (o.text->str, ==, input->str);
  g_assert_cmpstr (o.calls->str, ==, "");
  g_assert_cmpuint (o.invalid, ==, 1);
  outcome_clear (&o);
}

/* A candidate that never shows what it is (whitespace after "[") is given up quickly. */
static void
test_sniff_limit (void)
{
  g_autoptr(GString) input = g_string_new ("[");
  gint64 start = g_get_monotonic_time ();
  Outcome o;

  for (int i = 0; i < 200000; i++)
    g_string_append_c (input, i % 2 ? ' ' : '\n');
  g_string_append (input, "get_time()]");
  o = run_parser (input->str, 1);
  g_assert_cmpstr (o.text->str, ==, input->str);
  g_assert_cmpstr (o.calls->str, ==, "");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  outcome_clear (&o);
}

static void
test_depth_and_count_limits (void)
{
  g_autoptr(GString) deep = g_string_new ("[echo(value=");
  g_autoptr(GString) many = g_string_new ("[");
  Outcome o;

  for (int i = 0; i < KESTREL_PYLIT_MAX_DEPTH + 5; i++)
    g_string_append_c (deep, '[');
  for (int i = 0; i < KESTREL_PYLIT_MAX_DEPTH + 5; i++)
    g_string_append_c (deep, ']');
  g_string_append (deep, ")]");
  o = run_parser (deep->str, 0);
  g_assert_cmpstr (o.calls->str, ==, "");
  g_assert_cmpstr (o.text->str, ==, deep->str);
  outcome_clear (&o);

  for (int i = 0; i <= KESTREL_TOOL_CALLS_MAX; i++)
    g_string_append (many, i == 0 ? "get_time()" : ", get_time()");
  g_string_append_c (many, ']');
  o = run_parser (many->str, 0);
  g_assert_cmpstr (o.calls->str, ==, "");
  g_assert_cmpuint (o.invalid, ==, 1);
  outcome_clear (&o);
}

/* After finish() the parser starts a fresh reply (a call at the very start is recognised). */
static void
test_reuse_after_finish (void)
{
  g_autoptr(JsonArray) declarations = load_declarations ();
  KestrelToolCallParser *parser = kestrel_tool_call_parser_new (declarations);
  Outcome o = { g_string_new (NULL), g_string_new (NULL), g_string_new (NULL), 0, 0 };

  collect (&o, kestrel_tool_call_parser_feed (parser, "no call here", -1));
  collect (&o, kestrel_tool_call_parser_finish (parser));
  collect (&o, kestrel_tool_call_parser_feed (parser, "[get_time()]", -1));
  collect (&o, kestrel_tool_call_parser_finish (parser));
  g_assert_cmpstr (o.text->str, ==, "no call here");
  g_assert_cmpstr (o.calls->str, ==, "get_time{}");
  outcome_clear (&o);
  g_assert_finalize_object (parser);
}

static void
test_pylit_values (void)
{
  static const struct { const char *in; const char *out; } good[] = {
    { "0", "0" }, { "-0", "0" }, { "9223372036854775807", "9223372036854775807" },
    { "-9223372036854775808", "-9223372036854775808" }, { "0b101", "5" }, { "0o17", "15" },
    { "1.5", "1.5" }, { "5.", "5.0" }, { "1_000.5", "1000.5" }, { "'a' 'b'", "\"ab\"" },
    { "u'x'", "\"x\"" }, { "'\\q'", "\"\\\\q\"" }, { "(1,)", "[1]" }, { "(1)", "1" },
    { "[]", "[]" }, { "{}", "{}" }, { "None", "null" },
  };
  static const char *bad[] = { "", "9223372036854775808", "0x", "1.2.3", "1e", "abc", "'abc",
                               "[1,", "{'a' 1}", "{'a': }", "b'x'", "1 2", "--", ".", "'\\N{DASH}'",
                               "'\\x4'", "inf", "nan", "True1", "[1 2]" };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = kestrel_pylit_parse_value (good[i].in, strlen (good[i].in), &error);
      g_autofree char *json = NULL;

      g_assert_no_error (error);
      json = json_to_string (node, FALSE);
      g_assert_cmpstr (json, ==, good[i].out);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = kestrel_pylit_parse_value (bad[i], strlen (bad[i]), &error);

      g_test_message ("bad value: %s", bad[i]);
      g_assert_null (node);
      g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_PARSE);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tools/parser/corpus", test_corpus);
  g_test_add_func ("/tools/parser/text-is-never-lost", test_text_is_never_lost);
  g_test_add_func ("/tools/parser/span-limit", test_span_limit);
  g_test_add_func ("/tools/parser/limits", test_depth_and_count_limits);
  g_test_add_func ("/tools/parser/sniff-limit", test_sniff_limit);
  g_test_add_func ("/tools/parser/reuse", test_reuse_after_finish);
  g_test_add_func ("/tools/pylit/values", test_pylit_values);

  return g_test_run ();
}
