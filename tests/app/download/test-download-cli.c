/* test-download-cli.c — `kestrel-cli download` against the test hub.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "test-download-util.h"

typedef struct
{
  GMainLoop *loop;
  char      *out;
  char      *err;
} CliRun;

static void
communicate_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  CliRun *run = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (object), result, &run->out, &run->err,
                                        &error);
  g_assert_no_error (error);
  g_main_loop_quit (run->loop);
}

/* Runs kestrel-cli with the hub as endpoint and no keyring; the hub answers from this
 * process, so the main loop runs meanwhile. */
static int
run_cli (const char  *stdin_text,
         char       **out,
         char       **err,
         ...)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  CliRun run = { g_main_loop_new (NULL, FALSE), NULL, NULL };
  const char *build_dir = g_getenv ("KESTREL_BUILD_DIR");
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, g_build_filename (build_dir, "app", "cli", "kestrel-cli", NULL));
  g_ptr_array_add (argv, g_strdup ("download"));
  va_start (ap, err);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "KESTREL_HF_ENDPOINT", test_hub_get_endpoint (hub),
                                TRUE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS",
                                "unix:path=/nonexistent/kestrel-test-bus", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "DISPLAY");
  g_subprocess_launcher_setenv (launcher, "G_MESSAGES_DEBUG", "all", TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, stdin_text ? stdin_text : "", NULL,
                                       communicate_cb, &run);
  g_main_loop_run (run.loop);
  g_main_loop_unref (run.loop);
  *out = run.out;
  *err = run.err;
  return g_subprocess_get_exit_status (process);
}

static void
test_cli (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autofree char *dir = g_file_get_path (destination);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *expected_out = g_strconcat (dir, "\n", NULL);
  int status;

  if (g_getenv ("KESTREL_BUILD_DIR") == NULL)
    {
      g_test_skip ("KESTREL_BUILD_DIR is not set (run through meson test)");
      return;
    }

  /* gated without a token: exit 1 and the explanation */
  status = run_cli (NULL, &out, &err, "kestrel-test/gated", "--dir", dir, NULL);
  g_test_message ("stderr: %s", err);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "This model is gated"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* with the token on stdin (no keyring here: used for this run only); not a terminal, so
   * plain progress lines; the folder on stdout */
  status = run_cli (TEST_HUB_TOKEN "\n", &out, &err, "kestrel-test/gated", "--dir", dir,
                    "--token-from-stdin", NULL);
  g_test_message ("stderr: %s", err);
  g_assert_cmpint (status, ==, 0);
  /* stdout ends with the folder (with G_MESSAGES_DEBUG=all, GLib's debug lines precede it:
   * all of them are checked for the token below) */
  g_assert_true (g_str_has_suffix (out, expected_out));
  g_assert_nonnull (strstr (err, "for this download only"));
  g_assert_nonnull (strstr (err, "100%"));
  g_assert_nonnull (strstr (err, "Done: 3 files"));
  g_assert_null (strchr (err, '\r'));
  g_assert_null (strstr (err, TEST_HUB_TOKEN));
  g_assert_null (strstr (out, TEST_HUB_TOKEN));
  assert_checkpoint (destination);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* usage errors */
  status = run_cli (NULL, &out, &err, "not a repo", NULL);
  g_assert_cmpint (status, ==, 2);

  cleanup_destination (destination);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  isolate_from_host_proxy ();
  g_test_init (&argc, &argv, NULL);

  hub = test_hub_new ();
  g_test_add_func ("/download/cli", test_cli);
  status = g_test_run ();
  test_hub_free (hub);
  return status;
}
