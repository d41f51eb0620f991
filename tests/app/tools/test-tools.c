/* test-tools.c — built-in tools and the registry's limits.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include <glib/gstdio.h>

#include "kestrel-calc.h"
#include "kestrel-calculator-tool.h"
#include "kestrel-datetime-tool.h"
#include "kestrel-history-tool.h"
#include "kestrel-read-file-tool.h"
#include "kestrel-tool-prompt.h"
#include "kestrel-tool-registry.h"
#include "kestrel-unit-tool.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* A thread-run tool's GTask may drop its last reference in the worker thread a moment after
 * the result reached the main loop; wait for that before checking that @object finalizes. */
static void
await_sole_ref (gpointer object)
{
  for (int i = 0; i < 2000 && G_OBJECT (object)->ref_count > 1; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (1000);
    }
}

static void
result_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* Runs a call through the registry (all limits applied) and waits for it. */
static char *
invoke (KestrelToolRegistry *registry,
        KestrelToolCall     *call,
        GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  kestrel_tool_registry_invoke_async (registry, call, NULL, result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return kestrel_tool_registry_invoke_finish (registry, result, error);
}

static KestrelToolCall *
call_new (const char *name,
          const char *args_json)
{
  g_autoptr(JsonNode) node = json_from_string (args_json, NULL);

  g_assert_nonnull (node);
  return kestrel_tool_call_new (name, json_node_get_object (node));
}

/* Calls made here count as approved by the user (approval itself is UI work). */
static char *
invoke_json (KestrelToolRegistry *registry,
             const char          *name,
             const char          *args_json,
             GError             **error)
{
  g_autoptr(KestrelToolCall) call = call_new (name, args_json);

  kestrel_tool_call_set_approved (call, TRUE);
  return invoke (registry, call, error);
}

/* ---- calculator -------------------------------------------------------------------------- */

static void
test_calc_values (void)
{
  static const struct { const char *expr; double value; } cases[] = {
    { "1 + 2 * 3", 7 }, { "(1 + 2) * 3", 9 }, { "2 ^ 3 ^ 2", 512 }, { "2 ** 10", 1024 },
    { "-2 ^ 2", -4 }, { "(-2) ^ 2", 4 }, { "2 ^ -1", 0.5 }, { "10 - 4 - 3", 3 }, { "64 / 4 / 2", 8 },
    { "7 % 3", 1 }, { "-7 % 3", -1 }, { "--3", 3 }, { "+4", 4 }, { ".5 + 1.5e1", 15.5 },
    { "sqrt(16) + abs(-2)", 6 }, { "log(1000)", 3 }, { "ln(e)", 1 }, { "log2(8)", 3 },
    { "floor(2.7) + ceil(2.1) + round(2.5)", 8 }, { "2 * pi", 2 * G_PI }, { " 3\t*\n2 ", 6 },
    { "1e308 / 10", 1e307 }, { "0.1 + 0.2", 0.1 + 0.2 }, { "-0", 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      double v = -12345;

      g_test_message ("%s", cases[i].expr);
      g_assert_true (kestrel_calc_evaluate (cases[i].expr, &v, &error));
      g_assert_no_error (error);
      g_assert_cmpfloat_with_epsilon (v, cases[i].value, 1e-12 * MAX (1, fabs (cases[i].value)));
    }
}

static void
test_calc_errors (void)
{
  static const struct { const char *expr; int code; } cases[] = {
    { "1 / 0", KESTREL_CALC_ERROR_DIVISION_BY_ZERO }, { "5 % 0", KESTREL_CALC_ERROR_DIVISION_BY_ZERO },
    { "1 / (2 - 2)", KESTREL_CALC_ERROR_DIVISION_BY_ZERO }, { "0 ^ -1", KESTREL_CALC_ERROR_DIVISION_BY_ZERO },
    { "1e308 * 10", KESTREL_CALC_ERROR_OVERFLOW }, { "10 ^ 400", KESTREL_CALC_ERROR_OVERFLOW },
    { "exp(1000)", KESTREL_CALC_ERROR_OVERFLOW }, { "1e999", KESTREL_CALC_ERROR_OVERFLOW },
    { "-1e308 - 1e308", KESTREL_CALC_ERROR_OVERFLOW },
    { "sqrt(-1)", KESTREL_CALC_ERROR_DOMAIN }, { "ln(-1)", KESTREL_CALC_ERROR_DOMAIN },
    { "ln(0)", KESTREL_CALC_ERROR_OVERFLOW }, { "(-8) ^ (1/3)", KESTREL_CALC_ERROR_DOMAIN },
    { "", KESTREL_CALC_ERROR_SYNTAX }, { "1 +", KESTREL_CALC_ERROR_SYNTAX }, { "(1", KESTREL_CALC_ERROR_SYNTAX },
    { "1)", KESTREL_CALC_ERROR_SYNTAX }, { "2 3", KESTREL_CALC_ERROR_SYNTAX }, { "x + 1", KESTREL_CALC_ERROR_SYNTAX },
    { "__import__('os')", KESTREL_CALC_ERROR_SYNTAX }, { "sqrt 4", KESTREL_CALC_ERROR_SYNTAX },
    { "1,000", KESTREL_CALC_ERROR_SYNTAX }, { "1.2.3", KESTREL_CALC_ERROR_SYNTAX }, { "2 ** * 3", KESTREL_CALC_ERROR_SYNTAX },
    { "1 == 1", KESTREL_CALC_ERROR_SYNTAX },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      double v;

      g_test_message ("%s", cases[i].expr);
      g_assert_false (kestrel_calc_evaluate (cases[i].expr, &v, &error));
      g_assert_error (error, KESTREL_CALC_ERROR, cases[i].code);
      g_test_message ("  -> %s", error->message);
    }
}

static void
test_calc_limits (void)
{
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autoptr(GString) longer = g_string_new ("1");
  g_autoptr(GError) error = NULL;
  double v;

  for (int i = 0; i < 200; i++)
    g_string_append_c (deep, '(');
  g_string_append_c (deep, '1');
  for (int i = 0; i < 200; i++)
    g_string_append_c (deep, ')');
  g_assert_false (kestrel_calc_evaluate (deep->str, &v, &error));
  g_assert_error (error, KESTREL_CALC_ERROR, KESTREL_CALC_ERROR_TOO_COMPLEX);
  g_clear_error (&error);

  for (int i = 0; i < 10000; i++)
    g_string_append_c (deep, '-');
  g_assert_false (kestrel_calc_evaluate (deep->str + 400, &v, &error));
  g_clear_error (&error);

  while (longer->len <= KESTREL_CALC_MAX_LENGTH)
    g_string_append (longer, "+1");
  g_assert_false (kestrel_calc_evaluate (longer->str, &v, &error));
  g_assert_error (error, KESTREL_CALC_ERROR, KESTREL_CALC_ERROR_TOO_COMPLEX);
}

static void
test_calculator_tool (void)
{
  g_autoptr(KestrelToolRegistry) registry = kestrel_tool_registry_new ();
  g_autoptr(KestrelTool) tool = kestrel_calculator_tool_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *r1 = NULL;
  g_autofree char *r2 = NULL;
  g_autofree char *r3 = NULL;
  g_autofree char *r4 = NULL;

  g_assert_true (kestrel_tool_registry_add (registry, tool, NULL));
  /* every call is shown and asked for, harmless ones too (the user may "always allow") */
  g_assert_true (kestrel_tool_get_requires_approval (tool));

  r1 = invoke_json (registry, "calculator", "{\"expression\": \"2 * (3 + 4)\"}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r1, ==, "{\"expression\": \"2 * (3 + 4)\", \"result\": 14}");
  r2 = invoke_json (registry, "calculator", "{\"expression\": \"1 / 8\"}", &error);
  g_assert_cmpstr (r2, ==, "{\"expression\": \"1 / 8\", \"result\": 0.125}");
  r3 = invoke_json (registry, "calculator", "{\"expression\": \"1 / 0\"}", &error);
  g_assert_null (r3);
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "Division by zero");
  g_clear_error (&error);
  /* Arguments are checked against the schema by the registry. */
  r4 = invoke_json (registry, "calculator", "{\"expression\": 5}", &error);
  g_assert_null (r4);
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_INVALID_ARGUMENTS);
  g_clear_error (&error);
  g_assert_null (invoke_json (registry, "calculator", "{}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_INVALID_ARGUMENTS);
  g_clear_error (&error);
  g_assert_null (invoke_json (registry, "calculator", "{\"expression\": \"1\", \"extra\": 1}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_INVALID_ARGUMENTS);

  g_clear_object (&tool);
  await_sole_ref (registry);
  g_assert_finalize_object (g_steal_pointer (&registry));
}

/* ---- unit converter ---------------------------------------------------------------------- */

static void
test_units (void)
{
  static const struct { double v; const char *from, *to; double expected; } cases[] = {
    { 10, "km", "mi", 6.21371192237 }, { 1, "mile", "m", 1609.344 }, { 100, "°C", "°F", 212 },
    { 32, "F", "C", 0 }, { 0, "K", "celsius", -273.15 }, { -40, "degC", "degF", -40 },
    { 1, "lb", "g", 453.59237 }, { 1, "gal", "L", 3.785411784 }, { 90, "min", "h", 1.5 },
    { 100, "km/h", "m/s", 27.7777777778 }, { 1, "GiB", "MB", 1073.741824 }, { 8, "bits", "B", 1 },
    { 1, "kWh", "kJ", 3600 }, { 1, "atm", "kPa", 101.325 }, { 1, "acre", "m2", 4046.8564224 },
    { 12, "INCHES", "ft", 1 }, { 2.5, "Kilometers", "meters", 2500 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      double r = 0;

      g_assert_true (kestrel_unit_convert (cases[i].v, cases[i].from, cases[i].to, &r, &error));
      g_assert_no_error (error);
      g_assert_cmpfloat_with_epsilon (r, cases[i].expected, 1e-9 * MAX (1, fabs (cases[i].expected)));
    }
}

static void
test_unit_tool (void)
{
  g_autoptr(KestrelToolRegistry) registry = kestrel_tool_registry_new ();
  g_autoptr(KestrelTool) tool = kestrel_unit_tool_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *r1 = NULL;

  g_assert_true (kestrel_tool_registry_add (registry, tool, NULL));
  r1 = invoke_json (registry, "convert_units", "{\"value\": 5, \"from_unit\": \"mi\", \"to_unit\": \"km\"}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r1, ==, "{\"value\": 5, \"from_unit\": \"mi\", \"to_unit\": \"km\", \"result\": 8.04672}");

  g_assert_null (invoke_json (registry, "convert_units", "{\"value\": 5, \"from_unit\": \"km\", \"to_unit\": \"kg\"}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "Cannot convert km (length) to kg (mass)");
  g_clear_error (&error);
  g_assert_null (invoke_json (registry, "convert_units", "{\"value\": 5, \"from_unit\": \"furlong\", \"to_unit\": \"m\"}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "Unknown unit “furlong”"));
  g_clear_error (&error);
  g_assert_null (invoke_json (registry, "convert_units", "{\"value\": -500, \"from_unit\": \"C\", \"to_unit\": \"K\"}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (invoke_json (registry, "convert_units", "{\"value\": \"5\", \"from_unit\": \"m\", \"to_unit\": \"km\"}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_INVALID_ARGUMENTS);

  g_clear_object (&tool);
  await_sole_ref (registry);
  g_assert_finalize_object (g_steal_pointer (&registry));
}

/* ---- date and time ----------------------------------------------------------------------- */

static GDateTime *
fixed_clock (gpointer user_data)
{
  /* 2026-03-29 00:30:00 UTC: 01:30 CET, half an hour before the EU switch to summer time. */
  return g_date_time_new_utc (2026, 3, 29, 0, 30, 0);
}

static void
test_datetime_tool (void)
{
  g_autoptr(KestrelToolRegistry) registry = kestrel_tool_registry_new ();
  g_autoptr(KestrelTool) tool = kestrel_datetime_tool_new (fixed_clock, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *local = NULL;
  g_autofree char *tokyo = NULL;
  g_autofree char *paris = NULL;
  g_autofree char *ny = NULL;

  g_assert_cmpstr (g_getenv ("TZ"), ==, "UTC");  /* set by tests/app/tools/meson.build */
  g_assert_true (kestrel_tool_registry_add (registry, tool, NULL));

  local = invoke_json (registry, "get_current_datetime", "{}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (local, ==, "{\"datetime\": \"2026-03-29T00:30:00+00:00\", \"date\": \"2026-03-29\", "
                              "\"time\": \"00:30:00\", \"weekday\": \"Sunday\", \"timezone\": \"UTC\", "
                              "\"abbreviation\": \"UTC\", \"utc_offset\": \"+00:00\"}");
  tokyo = invoke_json (registry, "get_current_datetime", "{\"timezone\": \"Asia/Tokyo\"}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tokyo, ==, "{\"datetime\": \"2026-03-29T09:30:00+09:00\", \"date\": \"2026-03-29\", "
                              "\"time\": \"09:30:00\", \"weekday\": \"Sunday\", \"timezone\": \"Asia/Tokyo\", "
                              "\"abbreviation\": \"JST\", \"utc_offset\": \"+09:00\"}");
  paris = invoke_json (registry, "get_current_datetime", "{\"timezone\": \"Europe/Paris\"}", &error);
  g_assert_no_error (error);
  g_assert_true (strstr (paris, "\"datetime\": \"2026-03-29T01:30:00+01:00\"") != NULL);
  ny = invoke_json (registry, "get_current_datetime", "{\"timezone\": \"America/New_York\"}", &error);
  g_assert_no_error (error);
  g_assert_true (strstr (ny, "\"datetime\": \"2026-03-28T20:30:00-04:00\"") != NULL);
  g_assert_true (strstr (ny, "\"weekday\": \"Saturday\"") != NULL);

  g_assert_null (invoke_json (registry, "get_current_datetime", "{\"timezone\": \"Mars/Olympus\"}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);

  g_clear_object (&tool);
  await_sole_ref (registry);
  g_assert_finalize_object (g_steal_pointer (&registry));
}

/* ---- history search ---------------------------------------------------------------------- */

#define TEST_TYPE_HISTORY (test_history_get_type ())
G_DECLARE_FINAL_TYPE (TestHistory, test_history, TEST, HISTORY, GObject)

struct _TestHistory
{
  GObject parent_instance;
  char   *last_query;
  guint   last_limit;
};

static JsonArray *
test_history_search (KestrelHistorySource  *source,
                     const char            *query,
                     guint                  limit,
                     GCancellable          *cancellable,
                     GError               **error)
{
  TestHistory *self = TEST_HISTORY (source);
  JsonArray *results;

  g_free (self->last_query);
  self->last_query = g_strdup (query);
  self->last_limit = limit;
  if (g_str_equal (query, "broken"))
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED, "The index is corrupt");
      return NULL;
    }
  results = json_array_new ();
  for (guint i = 0; i < 30; i++)  /* more than asked: the tool must cut */
    {
      JsonObject *hit = json_object_new ();
      g_autofree char *text = g_strdup_printf ("snippet %u about %s", i, query);

      json_object_set_string_member (hit, "text", text);
      json_array_add_object_element (results, hit);
    }
  return results;
}

static void
test_history_iface_init (KestrelHistorySourceInterface *iface)
{
  iface->search = test_history_search;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestHistory, test_history, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (KESTREL_TYPE_HISTORY_SOURCE, test_history_iface_init))

static void
test_history_finalize (GObject *object)
{
  g_free (TEST_HISTORY (object)->last_query);
  G_OBJECT_CLASS (test_history_parent_class)->finalize (object);
}

static void
test_history_class_init (TestHistoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_history_finalize;
}

static void
test_history_init (TestHistory *self)
{
}

static void
test_history_tool (void)
{
  g_autoptr(KestrelToolRegistry) registry = kestrel_tool_registry_new ();
  g_autoptr(TestHistory) source = g_object_new (TEST_TYPE_HISTORY, NULL);
  g_autoptr(KestrelTool) tool = kestrel_history_tool_new (KESTREL_HISTORY_SOURCE (source));
  g_autoptr(GError) error = NULL;
  g_autofree char *r = NULL;
  g_autoptr(JsonNode) node = NULL;

  g_assert_true (kestrel_tool_get_requires_approval (tool));
  g_assert_true (kestrel_tool_registry_add (registry, tool, NULL));
  r = invoke_json (registry, "search_history", "{\"query\": \"pelicans\", \"limit\": 3}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (source->last_query, ==, "pelicans");
  g_assert_cmpuint (source->last_limit, ==, 3);
  node = json_from_string (r, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (node), "results")), ==, 3);
  g_assert_true (g_str_has_prefix (r, "{\"query\": \"pelicans\", \"results\": [{\"text\": \"snippet 0 about pelicans\"}"));

  g_free (g_steal_pointer (&r));
  r = invoke_json (registry, "search_history", "{\"query\": \"x\"}", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (source->last_limit, ==, 5);

  g_assert_null (invoke_json (registry, "search_history", "{\"query\": \"x\", \"limit\": 50}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_INVALID_ARGUMENTS);
  g_clear_error (&error);
  g_assert_null (invoke_json (registry, "search_history", "{\"query\": \"\"}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_INVALID_ARGUMENTS);
  g_clear_error (&error);
  g_assert_null (invoke_json (registry, "search_history", "{\"query\": \"broken\"}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "The index is corrupt");

  g_clear_object (&tool);
  await_sole_ref (registry);
  g_assert_finalize_object (g_steal_pointer (&registry));
  await_sole_ref (source);
  g_assert_finalize_object (g_steal_pointer (&source));
}

/* ---- read a picked file ------------------------------------------------------------------ */

static void
test_read_file_tool (void)
{
  g_autoptr(KestrelToolRegistry) registry = kestrel_tool_registry_new ();
  g_autoptr(KestrelTool) tool = kestrel_read_file_tool_new (64);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("kestrel-read-file-XXXXXX", &error);
  g_autofree char *text_path = g_build_filename (dir, "notes.txt", NULL);
  g_autofree char *big_path = g_build_filename (dir, "big.txt", NULL);
  g_autofree char *bin_path = g_build_filename (dir, "data.bin", NULL);
  g_autoptr(KestrelToolCall) call = call_new ("read_file", "{\"purpose\": \"summarise\"}");
  g_autoptr(GFile) text_file = g_file_new_for_path (text_path);
  g_autoptr(GFile) big_file = g_file_new_for_path (big_path);
  g_autoptr(GFile) bin_file = g_file_new_for_path (bin_path);
  g_autoptr(GFile) dir_file = g_file_new_for_path (dir);
  g_autofree char *r = NULL;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (text_path, "Hello ✓\n\"quoted\"\n", -1, NULL));
  g_assert_true (g_file_set_contents (big_path, "0123456789012345678901234567890123456789012345678901234567890123456789", -1, NULL));
  g_assert_true (g_file_set_contents_full (bin_path, "a\0b", 3, 0, 0600, NULL));
  g_assert_true (kestrel_tool_get_requires_approval (tool));
  g_assert_true (kestrel_tool_registry_add (registry, tool, NULL));

  /* The model cannot name a path: the schema has no such argument. */
  g_assert_null (invoke_json (registry, "read_file", "{\"purpose\": \"x\", \"path\": \"/etc/passwd\"}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_INVALID_ARGUMENTS);
  g_clear_error (&error);

  /* Not approved: refused before anything runs. */
  kestrel_tool_call_set_user_file (call, text_file);
  g_assert_null (invoke (registry, call, &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_NOT_APPROVED);
  g_clear_error (&error);
  kestrel_tool_call_set_approved (call, TRUE);
  kestrel_tool_call_set_user_file (call, NULL);

  g_assert_null (invoke (registry, call, &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_NO_FILE);
  g_clear_error (&error);

  kestrel_tool_call_set_user_file (call, text_file);
  r = invoke (registry, call, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r, ==, "{\"file\": \"notes.txt\", \"bytes\": 19, \"content\": \"Hello ✓\\n\\\"quoted\\\"\\n\"}");

  kestrel_tool_call_set_user_file (call, big_file);
  g_assert_null (invoke (registry, call, &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_RESULT_TOO_LARGE);
  g_clear_error (&error);
  kestrel_tool_call_set_user_file (call, bin_file);
  g_assert_null (invoke (registry, call, &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
  g_clear_error (&error);
  kestrel_tool_call_set_user_file (call, dir_file);
  g_assert_null (invoke (registry, call, &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
  g_clear_error (&error);

  g_unlink (text_path);
  g_unlink (big_path);
  g_unlink (bin_path);
  g_rmdir (dir);
  g_clear_object (&tool);
  await_sole_ref (registry);
  g_assert_finalize_object (g_steal_pointer (&registry));
}

/* ---- registry and limits ----------------------------------------------------------------- */

#define TEST_TYPE_SLOW_TOOL (test_slow_tool_get_type ())
G_DECLARE_FINAL_TYPE (TestSlowTool, test_slow_tool, TEST, SLOW_TOOL, KestrelTool)

struct _TestSlowTool
{
  KestrelTool parent_instance;
};

G_DEFINE_FINAL_TYPE (TestSlowTool, test_slow_tool, KESTREL_TYPE_TOOL)

/* "sleep": waits up to 10 s for cancellation; "size": returns a string of that many bytes. */
static JsonNode *
test_slow_tool_run (KestrelTool      *tool,
                    KestrelToolCall  *call,
                    GCancellable     *cancellable,
                    GError          **error)
{
  gint64 size = json_object_get_int_member_with_default (call->arguments, "size", -1);

  if (size >= 0)
    {
      g_autofree char *s = g_strnfill (size, 'x');
      return json_node_init_string (json_node_alloc (), s);
    }
  for (int i = 0; i < 1000 && !g_cancellable_is_cancelled (cancellable); i++)
    g_usleep (10000);
  return json_node_init_string (json_node_alloc (), "late");
}

static void
test_slow_tool_class_init (TestSlowToolClass *klass)
{
  KESTREL_TOOL_CLASS (klass)->run = test_slow_tool_run;
}

static void
test_slow_tool_init (TestSlowTool *self)
{
}

static void
test_registry (void)
{
  g_autoptr(KestrelToolRegistry) registry = kestrel_tool_registry_new ();
  g_autoptr(KestrelTool) calc = kestrel_calculator_tool_new ();
  g_autoptr(KestrelTool) again = kestrel_calculator_tool_new ();
  g_autoptr(KestrelTool) units = kestrel_unit_tool_new ();
  g_autoptr(KestrelTool) bad_name = g_object_new (TEST_TYPE_SLOW_TOOL, "name", "rm -rf", NULL);
  g_autoptr(JsonArray) declarations = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *prompt = NULL;
  g_autofree char *json = NULL;

  g_assert_true (kestrel_tool_registry_add (registry, calc, &error));
  g_assert_true (kestrel_tool_registry_add (registry, units, &error));
  g_assert_false (kestrel_tool_registry_add (registry, again, &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_false (kestrel_tool_registry_add (registry, bad_name, &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (registry)), ==, 2);
  g_assert_true (kestrel_tool_registry_lookup (registry, "convert_units") == units);
  g_assert_null (kestrel_tool_registry_lookup (registry, "nope"));

  /* Declarations: enabled tools only, in order, in the Gemma guide's form. */
  kestrel_tool_set_enabled (units, FALSE);
  declarations = kestrel_tool_registry_dup_declarations (registry);
  g_assert_cmpuint (json_array_get_length (declarations), ==, 1);
  node = json_node_init_array (json_node_alloc (), declarations);
  json = kestrel_tool_prompt_json_dumps (node, FALSE);
  g_assert_true (g_str_has_prefix (json, "[{\"name\": \"calculator\", \"description\": \"Evaluates"));
  prompt = kestrel_tool_prompt_declarations (declarations);
  g_assert_true (g_str_has_prefix (prompt, "Tools (functions) are available."));

  g_assert_null (invoke_json (registry, "convert_units", "{\"value\": 1, \"from_unit\": \"m\", \"to_unit\": \"km\"}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_DISABLED);
  g_clear_error (&error);
  g_assert_null (invoke_json (registry, "nope", "{}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_UNKNOWN_TOOL);
  g_clear_error (&error);

  /* Rounds per reply. */
  kestrel_tool_registry_set_max_rounds (registry, 2);
  g_assert_true (kestrel_tool_registry_check_round (registry, 0, NULL));
  g_assert_true (kestrel_tool_registry_check_round (registry, 1, NULL));
  g_assert_false (kestrel_tool_registry_check_round (registry, 2, &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_TOO_MANY_ROUNDS);
  g_assert_cmpstr (error->message, ==, "Stopped calling tools: this reply has already used 2 rounds of tool calls (the limit is 2)");
  {
    g_autofree char *for_model = kestrel_tool_result_for_error (error);
    g_assert_cmpstr (for_model, ==, "{\"error\": \"Stopped calling tools: this reply has already used 2 rounds of tool calls (the limit is 2)\"}");
  }

  g_clear_object (&calc);
  g_clear_object (&units);
  await_sole_ref (registry);
  g_assert_finalize_object (g_steal_pointer (&registry));
}

static void
test_timeout_and_size_limits (void)
{
  g_autoptr(KestrelToolRegistry) registry = kestrel_tool_registry_new ();
  g_autoptr(KestrelTool) slow = g_object_new (TEST_TYPE_SLOW_TOOL, "name", "slow", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *small = NULL;
  gint64 start;

  g_assert_true (kestrel_tool_registry_add (registry, slow, NULL));
  kestrel_tool_registry_set_timeout_seconds (registry, 1);
  kestrel_tool_registry_set_max_result_bytes (registry, 100);

  start = g_get_monotonic_time ();
  g_assert_null (invoke_json (registry, "slow", "{}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==, "The tool “slow” did not finish within 1 seconds and was stopped");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_clear_error (&error);

  small = invoke_json (registry, "slow", "{\"size\": 98}", &error);  /* 98 + 2 quotes = 100 */
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (small), ==, 100);
  g_assert_null (invoke_json (registry, "slow", "{\"size\": 99}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_RESULT_TOO_LARGE);
  g_assert_cmpstr (error->message, ==, "The result of “slow” is 101 bytes, more than the limit of 100 bytes");

  g_clear_object (&slow);
  await_sole_ref (registry);
  g_assert_finalize_object (g_steal_pointer (&registry));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tools/calc/values", test_calc_values);
  g_test_add_func ("/tools/calc/errors", test_calc_errors);
  g_test_add_func ("/tools/calc/limits", test_calc_limits);
  g_test_add_func ("/tools/calculator", test_calculator_tool);
  g_test_add_func ("/tools/units/convert", test_units);
  g_test_add_func ("/tools/units/tool", test_unit_tool);
  g_test_add_func ("/tools/datetime", test_datetime_tool);
  g_test_add_func ("/tools/history", test_history_tool);
  g_test_add_func ("/tools/read-file", test_read_file_tool);
  g_test_add_func ("/tools/registry", test_registry);
  g_test_add_func ("/tools/registry/limits", test_timeout_and_size_limits);

  return g_test_run ();
}
