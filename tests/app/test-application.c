/* test-application.c — KestrelApplication: identity, actions, accelerators, lifetime.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "kestrel-application.h"

static int windows_made;

static GtkWindow *
count_window_factory (KestrelApplication *application)
{
  windows_made++;
  return GTK_WINDOW (gtk_application_window_new (GTK_APPLICATION (application)));
}

static void
test_application_identity (void)
{
  KestrelApplication *app = kestrel_application_new (count_window_factory);

  g_assert_cmpstr (g_application_get_application_id (G_APPLICATION (app)), ==, APPLICATION_ID);
  g_assert_true (g_str_has_prefix (APPLICATION_ID, "io.github.kestrelchat.Kestrel"));
  g_assert_cmpstr (g_application_get_resource_base_path (G_APPLICATION (app)), ==,
                   "/io/github/kestrelchat/Kestrel");

  g_assert_finalize_object (app);
}

static void
check_actions_cb (GApplication *app,
                  gpointer      user_data)
{
  g_auto(GStrv) accels = NULL;
  gboolean *checked = user_data;
  GList *windows;

  /* startup has run: the actions and accelerators are installed */
  g_assert_true (g_action_map_lookup_action (G_ACTION_MAP (app), "quit") != NULL);
  g_assert_true (g_action_map_lookup_action (G_ACTION_MAP (app), "new-window") != NULL);

  accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "app.quit");
  g_assert_cmpuint (g_strv_length (accels), ==, 1);
  g_assert_cmpstr (accels[0], ==, "<Control>q");

  /* new-window goes through the factory the composition root handed in */
  windows_made = 0;
  g_action_group_activate_action (G_ACTION_GROUP (app), "new-window", NULL);
  g_assert_cmpint (windows_made, ==, 1);
  windows = gtk_application_get_windows (GTK_APPLICATION (app));
  g_assert_cmpuint (g_list_length (windows), ==, 1);

  /* the image setting reaches the one engine that every window shares */
  {
    KestrelApplication *self = KESTREL_APPLICATION (app);
    GSettings *settings = kestrel_application_get_settings (self);
    KestrelEngine *engine = kestrel_application_get_engine (self);

    g_assert_false (kestrel_engine_get_pan_and_scan (engine));
    g_settings_set_boolean (settings, "pan-and-scan", TRUE);
    g_assert_true (kestrel_engine_get_pan_and_scan (engine));
    g_settings_reset (settings, "pan-and-scan");
    g_assert_false (kestrel_engine_get_pan_and_scan (engine));
  }

  *checked = TRUE;
  /* closing the last window ends g_application_run(); the default handler (which would
   * open a main window) must not run after us */
  gtk_window_destroy (windows->data);
  g_signal_stop_emission_by_name (app, "activate");
}

static void
test_application_actions (void)
{
  KestrelApplication *app = kestrel_application_new (count_window_factory);
  gboolean checked = FALSE;

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "activate", G_CALLBACK (check_actions_cb), &checked);

  g_assert_cmpint (g_application_run (G_APPLICATION (app), 0, NULL), ==, 0);
  g_assert_true (checked);
  g_assert_finalize_object (app);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/kestrel/application/identity", test_application_identity);
  g_test_add_func ("/kestrel/application/actions", test_application_actions);

  return g_test_run ();
}
