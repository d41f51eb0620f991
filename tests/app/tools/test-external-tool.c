/* test-external-tool.c — user-defined command tools: JSON in and out, limits, no shell.
 *
 * The command is external-tool-fixture (a small C program built beside this test; its path
 * comes in KESTREL_TOOL_FIXTURE).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <signal.h>

#include <glib/gstdio.h>

#include "kestrel-external-tool.h"
#include "kestrel-tool-registry.h"

typedef struct
{
  char                *fixture;
  char                *dir;
  KestrelToolRegistry *registry;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->fixture = g_strdup (g_getenv ("KESTREL_TOOL_FIXTURE"));
  g_assert_nonnull (f->fixture);
  g_assert_true (g_path_is_absolute (f->fixture));
  g_assert_true (g_file_test (f->fixture, G_FILE_TEST_IS_EXECUTABLE));
  f->dir = g_dir_make_tmp ("kestrel-external-tool-XXXXXX", &error);
  g_assert_no_error (error);
  f->registry = kestrel_tool_registry_new ();
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (f->dir);
  /* A call that timed out was answered at once; its command's I/O winds down afterwards. */
  for (int i = 0; i < 300 && G_OBJECT (f->registry)->ref_count > 1; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (10000);
    }
  g_assert_finalize_object (f->registry);
  g_free (f->fixture);
  g_free (f->dir);
}

/* Writes a tools file with one tool running the fixture in @mode, loads it, enables it. */
static KestrelTool *
load_tool (Fixture    *f,
           const char *mode,
           const char *extra_arg,
           int         timeout_seconds)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;
  g_autofree char *path = g_build_filename (f->dir, "tools.json", NULL);
  g_autofree char *name = g_strdup_printf ("fixture_%s", mode);
  g_autoptr(GError) error = NULL;
  KestrelTool *tool;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "tools");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "description");
  json_builder_add_string_value (builder, "test fixture");
  json_builder_set_member_name (builder, "parameters");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "object");
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "argv");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, f->fixture);
  json_builder_add_string_value (builder, mode);
  if (extra_arg != NULL)
    json_builder_add_string_value (builder, extra_arg);
  json_builder_end_array (builder);
  if (timeout_seconds > 0)
    {
      json_builder_set_member_name (builder, "timeout_seconds");
      json_builder_add_int_value (builder, timeout_seconds);
    }
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = json_to_string (root, TRUE);
  g_assert_true (g_file_set_contents (path, json, -1, NULL));

  g_assert_true (kestrel_tool_registry_load_external_tools (f->registry, path, &error));
  g_assert_no_error (error);
  tool = kestrel_tool_registry_lookup (f->registry, name);
  g_assert_nonnull (tool);
  /* User-defined tools start disabled and always need approval. */
  g_assert_false (kestrel_tool_get_enabled (tool));
  g_assert_true (kestrel_tool_get_requires_approval (tool));
  kestrel_tool_set_enabled (tool, TRUE);
  return tool;
}

static void
result_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static char *
invoke_approved (Fixture     *f,
                 KestrelTool *tool,
                 const char  *args_json,
                 gboolean     approved,
                 GError     **error)
{
  g_autoptr(JsonNode) args = json_from_string (args_json, NULL);
  g_autoptr(KestrelToolCall) call = kestrel_tool_call_new (kestrel_tool_get_name (tool), json_node_get_object (args));
  g_autoptr(GAsyncResult) result = NULL;

  kestrel_tool_call_set_approved (call, approved);
  kestrel_tool_registry_invoke_async (f->registry, call, NULL, result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return kestrel_tool_registry_invoke_finish (f->registry, result, error);
}

static char *
invoke (Fixture     *f,
        KestrelTool *tool,
        const char  *args_json,
        GError     **error)
{
  return invoke_approved (f, tool, args_json, TRUE, error);
}

static void
test_success_and_no_shell (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *marker = NULL;
  g_autofree char *trap = NULL;
  g_autofree char *r = NULL;
  g_autofree char *self_comm = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;
  KestrelTool *tool;

  marker = g_build_filename (f->dir, "pwned", NULL);
  /* Shell syntax in a configured argument and in the model's input must stay inert text. */
  trap = g_strdup_printf ("; touch %s $(touch %s) `touch %s`", marker, marker, marker);
  tool = load_tool (f, "echo", trap, 0);

  r = invoke (f, tool, "{\"q\": \"$(touch /tmp/kestrel-pwned) 'é' \\\"x\\\"\", \"n\": [1, 2.5, null]}", &error);
  g_assert_no_error (error);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_get_contents ("/proc/self/comm", &self_comm, NULL, NULL));
  g_strstrip (self_comm);
  /* The command's parent is this process itself: no shell in between. */
  expected = g_strdup_printf ("{\"args\": {\"q\": \"$(touch /tmp/kestrel-pwned) 'é' \\\"x\\\"\", \"n\": [1, 2.5, null]}, "
                              "\"argv\": [\"%s\"], \"ppid_comm\": \"%s\"}", trap, self_comm);
  g_assert_cmpstr (r, ==, expected);
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *pid_file = NULL;
  g_autofree char *pid_text = NULL;
  g_autoptr(GError) error = NULL;
  KestrelTool *tool;
  gint64 start;
  pid_t pid;
  gboolean gone = FALSE;

  pid_file = g_build_filename (f->dir, "pid", NULL);
  tool = load_tool (f, "sleep", pid_file, 1);
  g_assert_cmpuint (kestrel_tool_get_timeout_seconds (tool), ==, 1);

  start = g_get_monotonic_time ();
  g_assert_null (invoke (f, tool, "{}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==, "The tool “fixture_sleep” did not finish within 1 seconds and was stopped");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);

  /* The command was killed (and reaped), not left running. */
  g_assert_true (g_file_get_contents (pid_file, &pid_text, NULL, NULL));
  pid = (pid_t) g_ascii_strtoll (pid_text, NULL, 10);
  g_assert_cmpint (pid, >, 1);
  for (int i = 0; i < 300 && !gone; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      gone = kill (pid, 0) == -1 && errno == ESRCH;
      if (!gone)
        g_usleep (10000);
    }
  g_assert_true (gone);
}

static void
test_bad_json (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelTool *tool;

  tool = load_tool (f, "badjson", NULL, 0);
  g_assert_null (invoke (f, tool, "{}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_BAD_OUTPUT);
  g_assert_true (g_str_has_prefix (error->message, "The command of “fixture_badjson” did not write JSON"));
}

static void
test_failure (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelTool *tool;

  tool = load_tool (f, "fail", NULL, 0);
  g_assert_null (invoke (f, tool, "{}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "The command of “fixture_fail” failed with exit status 3: something went wrong");
}

static void
test_oversized_output (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelTool *tool;

  tool = load_tool (f, "big", NULL, 0);
  kestrel_external_tool_set_max_output (KESTREL_EXTERNAL_TOOL (tool), 1000);
  g_assert_null (invoke (f, tool, "{}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_RESULT_TOO_LARGE);
  g_assert_cmpstr (error->message, ==, "The command of “fixture_big” wrote more than 1000 bytes and was stopped");
  g_clear_error (&error);

  /* Within the command's cap but over the registry's result cap: also refused. */
  kestrel_external_tool_set_max_output (KESTREL_EXTERNAL_TOOL (tool), 4 * 1024 * 1024);
  kestrel_tool_registry_set_max_result_bytes (f->registry, 1000);
  g_assert_null (invoke (f, tool, "{}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_RESULT_TOO_LARGE);
}

static void
test_disabled_and_config_errors (Fixture       *f,
                                 gconstpointer  data)
{
  static const char *bad_files[] = {
    "not json",
    "{\"tools\": 3}",
    "{\"tools\": [{\"name\": \"x\"}]}",
    "{\"tools\": [{\"name\": \"x\", \"argv\": []}]}",
    "{\"tools\": [{\"name\": \"x\", \"argv\": [\"python3\", \"-c\", \"1\"]}]}",
    "{\"tools\": [{\"name\": \"x\", \"argv\": [\"/bin/true\", 3]}]}",
    "{\"tools\": [{\"name\": \"x\", \"argv\": [\"/bin/true\"], \"timeout_seconds\": 0}]}",
    "{\"tools\": [{\"name\": \"x\", \"argv\": [\"/bin/true\"], \"parameters\": []}]}",
    "{\"tools\": [{\"name\": \"ok\", \"argv\": [\"/bin/true\"]}, {\"name\": \"bad name\", \"argv\": [\"/bin/true\"]}]}",
    "{\"tools\": [{\"name\": \"x\", \"argv\": [\"/bin/true\"]}, {\"name\": \"x\", \"argv\": [\"/bin/true\"]}]}",
  };
  g_autofree char *path = g_build_filename (f->dir, "bad.json", NULL);
  g_autoptr(GError) error = NULL;
  KestrelTool *tool;

  for (gsize i = 0; i < G_N_ELEMENTS (bad_files); i++)
    {
      g_assert_true (g_file_set_contents (path, bad_files[i], -1, NULL));
      g_assert_false (kestrel_tool_registry_load_external_tools (f->registry, path, &error));
      g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED);
      g_test_message ("%s -> %s", bad_files[i], error->message);
      g_clear_error (&error);
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->registry)), ==, 0);
    }

  tool = load_tool (f, "noread", NULL, 0);
  kestrel_tool_set_enabled (tool, FALSE);
  g_assert_null (invoke (f, tool, "{}", &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_DISABLED);
  g_clear_error (&error);

  /* User-defined tools always need approval. */
  kestrel_tool_set_enabled (tool, TRUE);
  g_assert_null (invoke_approved (f, tool, "{}", FALSE, &error));
  g_assert_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_NOT_APPROVED);
  g_clear_error (&error);

  /* A command that never reads its input still works (no SIGPIPE, no hang). */
  {
    g_autofree char *r = invoke (f, tool, "{\"x\": 1}", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (r, ==, "{\"ok\": true}");
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/tools/external/success-no-shell", test_success_and_no_shell);
  ADD ("/tools/external/timeout", test_timeout);
  ADD ("/tools/external/bad-json", test_bad_json);
  ADD ("/tools/external/non-zero-exit", test_failure);
  ADD ("/tools/external/oversized-output", test_oversized_output);
  ADD ("/tools/external/disabled-and-config", test_disabled_and_config_errors);
#undef ADD

  return g_test_run ();
}
