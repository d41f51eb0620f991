/* test-tool-prompt.c — the pythonic prompt format, byte-exact against jinja2 goldens.
 *
 * prompt-goldens/ were rendered once by gen-prompt-goldens.py (jinja2, transformers'
 * apply_chat_template environment) from prompt-cases.json and the reference template in
 * ../shared/gemma3/.  Here the same conversations are assembled from kestrel-tool-prompt.c's
 * pieces and must match those files byte for byte.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "kestrel-pylit.h"
#include "kestrel-tool-call-syntax.h"
#include "kestrel-tool-prompt.h"

static char *
source_path (const char *name)
{
  const char *dir = g_getenv ("KESTREL_SOURCE_DIR");

  g_assert_nonnull (dir);
  return g_build_filename (dir, "tests", "app", "tools", name, NULL);
}

static GPtrArray *
calls_from_messages (JsonObject *message)
{
  GPtrArray *calls = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_tool_call_unref);
  JsonArray *tool_calls = json_object_get_array_member (message, "tool_calls");

  for (guint i = 0; i < json_array_get_length (tool_calls); i++)
    {
      JsonObject *function = json_object_get_object_member (json_array_get_object_element (tool_calls, i),
                                                            "function");
      g_ptr_array_add (calls, kestrel_tool_call_new (json_object_get_string_member (function, "name"),
                                                     json_object_get_object_member (function, "arguments")));
    }
  return calls;
}

static char *
render_conversation (JsonObject *c)
{
  JsonArray *tools = json_object_get_array_member (c, "tools");
  JsonArray *messages = json_object_get_array_member (c, "messages");
  GString *out = g_string_new ("<bos>");
  const char *system = NULL;
  guint start = 0;

  if (g_str_equal (json_object_get_string_member (json_array_get_object_element (messages, 0), "role"), "system"))
    {
      system = json_object_get_string_member (json_array_get_object_element (messages, 0), "content");
      start = 1;
    }

  for (guint i = start; i < json_array_get_length (messages); i++)
    {
      JsonObject *message = json_array_get_object_element (messages, i);
      const char *role = json_object_get_string_member (message, "role");
      const char *content = json_object_get_string_member (message, "content");
      g_autofree char *turn = NULL;

      if (i == start)
        {
          g_assert_cmpstr (role, ==, "user");
          turn = kestrel_tool_prompt_first_user_turn (system, tools, content);
        }
      else if (json_object_has_member (message, "tool_calls"))
        {
          g_autoptr(GPtrArray) calls = calls_from_messages (message);
          turn = kestrel_tool_prompt_model_call_turn (calls, content, TRUE);
        }
      else if (g_str_equal (role, "tool"))
        turn = kestrel_tool_prompt_result_turn (content);
      else
        {
          g_autofree char *trimmed = kestrel_tool_prompt_strip (content);
          turn = g_strdup_printf ("<start_of_turn>%s\n%s<end_of_turn>\n",
                                  g_str_equal (role, "assistant") ? "model" : role, trimmed);
        }
      g_string_append (out, turn);
    }
  g_string_append (out, "<start_of_turn>model\n");
  return g_string_free (out, FALSE);
}

static void
test_goldens (void)
{
  g_autofree char *cases_path = source_path ("prompt-cases.json");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonArray *cases;

  json_parser_load_from_file (parser, cases_path, &error);
  g_assert_no_error (error);
  cases = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (cases), >=, 5);

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      g_autofree char *name = g_strconcat (json_object_get_string_member (c, "name"), ".txt", NULL);
      g_autofree char *golden_path = NULL;
      g_autofree char *golden = NULL;
      g_autofree char *rendered = render_conversation (c);
      gsize golden_len;

      golden_path = source_path ("prompt-goldens");
      {
        g_autofree char *dir = g_steal_pointer (&golden_path);
        golden_path = g_build_filename (dir, name, NULL);
      }
      g_file_get_contents (golden_path, &golden, &golden_len, &error);
      g_assert_no_error (error);
      g_test_message ("golden %s (%" G_GSIZE_FORMAT " bytes)", name, golden_len);
      g_assert_cmpuint (strlen (rendered), ==, golden_len);
      g_assert_cmpstr (rendered, ==, golden);
    }
}

static void
check_dumps (const char *json,
             gboolean    indent,
             const char *expected)
{
  g_autoptr(JsonNode) node = json_from_string (json, NULL);
  g_autofree char *out = NULL;

  g_assert_nonnull (node);
  out = kestrel_tool_prompt_json_dumps (node, indent);
  g_assert_cmpstr (out, ==, expected);
}

/* Expected strings are what CPython 3.11's json.dumps writes. */
static void
test_json_dumps (void)
{
  check_dumps ("[0.1, 1.0, 100.0, 1e16, 1e15, 123456789012345678.0, 0.0001, 0.00001, -2.5e-7, 1.7976931348623157e308, 5e-324, -0.0]",
               FALSE,
               "[0.1, 1.0, 100.0, 1e+16, 1000000000000000.0, 1.2345678901234568e+17, 0.0001, 1e-05, -2.5e-07, 1.7976931348623157e+308, 5e-324, -0.0]");
  check_dumps ("{\"b\": 1, \"a\": [true, false, null, \"\\u0001\\t\\\"\\\\/é😀<&>'\"]}", FALSE,
               "{\"b\": 1, \"a\": [true, false, null, \"\\u0001\\t\\\"\\\\/é😀<&>'\"]}");
  check_dumps ("{\"a\": {}, \"b\": [], \"c\": [1, {\"d\": 2}]}", TRUE,
               "{\n    \"a\": {},\n    \"b\": [],\n    \"c\": [\n        1,\n        {\n            \"d\": 2\n        }\n    ]\n}");
}

static void
test_strip (void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "  a b  ", "a b" }, { "\t\n\r\v\f x \x1c\x1f", "x" }, { "\u00a0\u3000x\u2009\u202f", "x" },
    { "", "" }, { " \n ", "" }, { "\u200bx\u200b", "\u200bx\u200b" },  /* ZWSP is not whitespace */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = kestrel_tool_prompt_strip (cases[i].in);
      g_assert_cmpstr (out, ==, cases[i].out);
    }
}

/* Without template_compat the call list is valid pythonic syntax that the parser reads back. */
static void
test_calls_round_trip (void)
{
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_tool_call_unref);
  g_autoptr(JsonNode) args = json_from_string ("{\"q\": \"it's \\\"x\\\" \\\\ é\\n\", \"n\": [1, 2.5, true, null], \"o\": {\"k\": false}}", NULL);
  g_autoptr(GPtrArray) parsed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *compat = NULL;
  g_autofree char *turn = NULL;

  g_ptr_array_add (calls, kestrel_tool_call_new ("search", json_node_get_object (args)));
  g_ptr_array_add (calls, kestrel_tool_call_new ("now", NULL));
  text = kestrel_tool_prompt_calls (calls, FALSE);
  g_assert_cmpstr (text, ==, "[search(q=\"it's \\\"x\\\" \\\\ é\\n\", n=[1, 2.5, true, null], o={\"k\": false}), now()]");
  compat = kestrel_tool_prompt_calls (calls, TRUE);
  g_assert_cmpstr (compat, ==, "[search(q=\"it's \\\"x\\\" \\\\ é\\n\"n=[1, 2.5, true, null]o={\"k\": false}), now()]");

  parsed = kestrel_tool_calls_parse_pythonic (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (parsed->len, ==, 2);
  g_assert_true (json_object_equal (((KestrelToolCall *) parsed->pdata[0])->arguments, json_node_get_object (args)));
  g_assert_cmpuint (json_object_get_size (((KestrelToolCall *) parsed->pdata[1])->arguments), ==, 0);

  turn = kestrel_tool_prompt_result_turn ("  {\"ok\": 1}\n");
  g_assert_cmpstr (turn, ==, "<start_of_turn>user\n<tool_response>\n{\"ok\": 1}</tool_response><end_of_turn>\n");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tools/prompt/goldens", test_goldens);
  g_test_add_func ("/tools/prompt/json-dumps", test_json_dumps);
  g_test_add_func ("/tools/prompt/strip", test_strip);
  g_test_add_func ("/tools/prompt/calls-round-trip", test_calls_round_trip);

  return g_test_run ();
}
