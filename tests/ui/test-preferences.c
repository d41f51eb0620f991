/* test-preferences.c — the preferences dialog's settings bindings and its clear-history
 * confirmation; the model status page's Hugging Face cache detection; labels on controls.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "kestrel-application.h"
#include "kestrel-chat-message.h"
#include "kestrel-model-status-page.h"
#include "kestrel-preferences-dialog.h"
#include "kestrel-window.h"
#include "ui-test-util.h"

static void
clear_history_cb (KestrelPreferencesDialog *dialog,
                  guint                    *count)
{
  (*count)++;
}

static AdwSpinRow *
spin_row_titled (GtkWidget  *root,
                 const char *title)
{
  if (ADW_IS_SPIN_ROW (root) &&
      g_str_equal (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (root)), title))
    return ADW_SPIN_ROW (root);

  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      AdwSpinRow *row = spin_row_titled (child, title);
      if (row != NULL)
        return row;
    }
  return NULL;
}

static AdwSwitchRow *
switch_row_titled (GtkWidget  *root,
                   const char *title)
{
  if (ADW_IS_SWITCH_ROW (root) &&
      g_str_equal (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (root)), title))
    return ADW_SWITCH_ROW (root);

  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      AdwSwitchRow *row = switch_row_titled (child, title);
      if (row != NULL)
        return row;
    }
  return NULL;
}

static void
test_preferences_bindings (void)
{
  g_autoptr(GSettings) settings = g_settings_new (KESTREL_SETTINGS_SCHEMA_ID);
  GtkWindow *window = GTK_WINDOW (adw_window_new ());
  AdwDialog *dialog;
  AdwSpinRow *row;
  AdwSwitchRow *tools;
  AdwAlertDialog *alert;
  guint n_cleared = 0;

  gtk_window_set_default_size (window, 800, 700);
  gtk_window_present (window);
  g_settings_set_double (settings, "temperature", 0.7);
  dialog = kestrel_preferences_dialog_new (settings);
  g_signal_connect (dialog, "clear-history", G_CALLBACK (clear_history_cb), &n_cleared);
  adw_dialog_present (dialog, GTK_WIDGET (window));
  iterate_for (100);

  /* settings → widgets */
  row = spin_row_titled (GTK_WIDGET (dialog), "Temperature");
  g_assert_nonnull (row);
  g_assert_cmpfloat_with_epsilon (adw_spin_row_get_value (row), 0.7, 1e-9);
  row = spin_row_titled (GTK_WIDGET (dialog), "Top-k");
  g_assert_cmpfloat (adw_spin_row_get_value (row), ==, 64);

  /* widgets → settings, integer keys included */
  adw_spin_row_set_value (row, 40);
  g_assert_cmpint (g_settings_get_int (settings, "top-k"), ==, 40);
  adw_spin_row_set_value (spin_row_titled (GTK_WIDGET (dialog), "Context Length"), 4096);
  g_assert_cmpint (g_settings_get_int (settings, "context-length"), ==, 4096);
  tools = find_descendant (GTK_WIDGET (dialog), ADW_TYPE_SWITCH_ROW);
  g_assert_nonnull (tools);
  adw_switch_row_set_active (tools, TRUE);
  g_assert_true (g_settings_get_boolean (settings, "tools-enabled"));
  /* images in detail (pan-and-scan): off by default, as in transformers */
  tools = switch_row_titled (GTK_WIDGET (dialog), "Read Images in Detail");
  g_assert_nonnull (tools);
  g_assert_false (adw_switch_row_get_active (tools));
  adw_switch_row_set_active (tools, TRUE);
  g_assert_true (g_settings_get_boolean (settings, "pan-and-scan"));
  g_settings_reset (settings, "pan-and-scan");
  g_assert_false (adw_switch_row_get_active (tools));

  /* clearing history asks first; cancelling does nothing */
  kestrel_preferences_dialog_confirm_clear_history (KESTREL_PREFERENCES_DIALOG (dialog));
  iterate_for (50);
  alert = ADW_ALERT_DIALOG (adw_window_get_visible_dialog (ADW_WINDOW (window)));
  g_assert_true (ADW_IS_ALERT_DIALOG (alert));
  g_assert_cmpstr (adw_alert_dialog_get_default_response (alert), ==, "cancel");
  g_signal_emit_by_name (alert, "response", "cancel");
  g_assert_cmpuint (n_cleared, ==, 0);
  adw_dialog_force_close (ADW_DIALOG (alert));
  iterate_for (50);

  kestrel_preferences_dialog_confirm_clear_history (KESTREL_PREFERENCES_DIALOG (dialog));
  iterate_for (50);
  alert = ADW_ALERT_DIALOG (adw_window_get_visible_dialog (ADW_WINDOW (window)));
  g_signal_emit_by_name (alert, "response", "clear");
  g_assert_cmpuint (n_cleared, ==, 1);
  adw_dialog_force_close (ADW_DIALOG (alert));

  adw_dialog_force_close (dialog);
  gtk_window_destroy (window);
  iterate_for (50);
}

static AdwEntryRow *
entry_row_titled (GtkWidget  *root,
                  const char *title)
{
  if (ADW_IS_ENTRY_ROW (root) &&
      g_str_equal (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (root)), title))
    return ADW_ENTRY_ROW (root);

  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      AdwEntryRow *row = entry_row_titled (child, title);
      if (row != NULL)
        return row;
    }
  return NULL;
}

static void
assert_gpu_indices (GSettings *settings,
                    const int *want,
                    gsize      n_want)
{
  g_autoptr(GVariant) value = g_settings_get_value (settings, "gpu-indices");
  gsize n = 0;
  const gint32 *have = g_variant_get_fixed_array (value, &n, sizeof (gint32));

  g_assert_cmpmem (have, n * sizeof (gint32), want, n_want * sizeof (int));
}

/* The GPU row: one GPU or a set that shares the model (issue 13), validated on apply. */
static void
test_preferences_gpus (void)
{
  g_autoptr(GSettings) settings = g_settings_new (KESTREL_SETTINGS_SCHEMA_ID);
  GtkWindow *window = GTK_WINDOW (adw_window_new ());
  AdwDialog *dialog;
  AdwEntryRow *row;
  static const int two[] = { 0, 2 }, three[] = { 3 };

  g_settings_reset (settings, "gpu-indices");
  g_settings_set_int (settings, "gpu-index", 1);
  gtk_window_set_default_size (window, 800, 700);
  gtk_window_present (window);
  dialog = kestrel_preferences_dialog_new (settings);
  adw_dialog_present (dialog, GTK_WIDGET (window));
  iterate_for (100);

  /* no set chosen: the row shows the single GPU */
  row = entry_row_titled (GTK_WIDGET (dialog), "GPUs");
  g_assert_nonnull (row);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "1");

  /* a set: stored, and the first becomes the single GPU too */
  gtk_editable_set_text (GTK_EDITABLE (row), " 0, 2");
  g_signal_emit_by_name (row, "apply");
  assert_gpu_indices (settings, two, 2);
  g_assert_cmpint (g_settings_get_int (settings, "gpu-index"), ==, 0);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "0,2");
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (row), "error"));

  /* bad lists are refused, marked, and change nothing */
  const char *bad[] = { "0,0", "x", "0,,1", "64", "0,1,2,3,4,5,6,7,8,9" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gtk_editable_set_text (GTK_EDITABLE (row), bad[i]);
      g_signal_emit_by_name (row, "apply");
      g_test_message ("bad list \"%s\": text now \"%s\"", bad[i], gtk_editable_get_text (GTK_EDITABLE (row)));
      g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (row), "error"));
      assert_gpu_indices (settings, two, 2);
    }
  /* editing clears the mark */
  gtk_editable_set_text (GTK_EDITABLE (row), "3");
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (row), "error"));
  g_signal_emit_by_name (row, "apply");
  assert_gpu_indices (settings, three, 1);
  g_assert_cmpint (g_settings_get_int (settings, "gpu-index"), ==, 3);

  /* settings → row */
  g_settings_set_value (settings, "gpu-indices",
                        g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, two, 2, sizeof (gint32)));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "0,2");

  /* empty: back to the single GPU */
  gtk_editable_set_text (GTK_EDITABLE (row), "");
  g_signal_emit_by_name (row, "apply");
  assert_gpu_indices (settings, NULL, 0);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "3");

  adw_dialog_force_close (dialog);
  gtk_window_destroy (window);
  iterate_for (50);
}

static void
folder_chosen_cb (KestrelModelStatusPage *page,
                  GFile                  *folder,
                  GFile                 **out)
{
  g_set_object (out, folder);
}

static void
count_cb (guint *count)
{
  (*count)++;
}

static void
test_model_status_page_detects_cache (void)
{
  g_autofree char *hub = g_dir_make_tmp ("kestrel-hub-XXXXXX", NULL);
  g_autofree char *snapshot = g_build_filename (hub, "models--BCCard--gemma-3-4b-it-FP8-Dynamic",
                                                "snapshots", "0123abcd", NULL);
  g_autofree char *refs = g_build_filename (hub, "models--BCCard--gemma-3-4b-it-FP8-Dynamic", "refs", NULL);
  g_autofree char *config = g_build_filename (snapshot, "config.json", NULL);
  g_autofree char *main_ref = g_build_filename (refs, "main", NULL);
  g_autoptr(GFile) found = NULL;
  g_autoptr(GFile) chosen = NULL;
  g_autofree char *found_path = NULL;
  KestrelModelStatusPage *page;

  g_setenv ("HF_HUB_CACHE", hub, TRUE);

  /* nothing there yet */
  g_assert_null (kestrel_model_status_page_find_cached_model ());
  page = g_object_ref_sink (KESTREL_MODEL_STATUS_PAGE (kestrel_model_status_page_new ()));
  g_assert_null (kestrel_model_status_page_get_detected_folder (page));
  g_object_unref (page);

  g_assert_cmpint (g_mkdir_with_parents (snapshot, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (refs, 0700), ==, 0);
  g_assert_true (g_file_set_contents (config, "{}", -1, NULL));
  g_assert_true (g_file_set_contents (main_ref, "0123abcd\n", -1, NULL));

  found = kestrel_model_status_page_find_cached_model ();
  g_assert_nonnull (found);
  found_path = g_file_get_path (found);
  g_assert_cmpstr (found_path, ==, snapshot);

  page = g_object_ref_sink (KESTREL_MODEL_STATUS_PAGE (kestrel_model_status_page_new ()));
  g_assert_true (g_file_equal (kestrel_model_status_page_get_detected_folder (page), found));
  g_assert_true (gtk_widget_get_visible (find_descendant_full (GTK_WIDGET (page), GTK_TYPE_LABEL, "caption")));

  /* accepting the detected copy chooses that folder */
  {
    GtkWidget *use = NULL;

    use = gtk_widget_get_first_child (gtk_widget_get_parent (find_descendant_full (GTK_WIDGET (page), GTK_TYPE_LABEL, "caption")));
    g_signal_connect (page, "folder-chosen", G_CALLBACK (folder_chosen_cb), &chosen);
    g_signal_emit_by_name (use, "clicked");
    g_assert_nonnull (chosen);
    g_assert_true (g_file_equal (chosen, found));
  }

  /* the download button shows only when someone can download */
  {
    guint n_requests = 0;
    GtkWidget *download = NULL;

    for (GtkWidget *w = find_descendant_full (GTK_WIDGET (page), GTK_TYPE_BUTTON, "pill"); w != NULL;
         w = gtk_widget_get_next_sibling (w))
      if (GTK_IS_BUTTON (w) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (w)), "_Download the Model…") == 0)
        download = w;
    g_assert_nonnull (download);
    g_assert_false (gtk_widget_get_visible (download));
    kestrel_model_status_page_set_can_download (page, TRUE);
    g_assert_true (gtk_widget_get_visible (download));
    g_signal_connect_swapped (page, "download-requested", G_CALLBACK (count_cb), &n_requests);
    g_signal_emit_by_name (download, "clicked");
    g_assert_cmpuint (n_requests, ==, 1);
  }
  g_object_unref (page);

  g_unsetenv ("HF_HUB_CACHE");
  g_unlink (config);
  g_unlink (main_ref);
  g_rmdir (snapshot);
  g_rmdir (refs);
  {
    g_autofree char *snapshots = g_path_get_dirname (snapshot);
    g_autofree char *repo = g_path_get_dirname (snapshots);
    g_rmdir (snapshots);
    g_rmdir (repo);
  }
  g_rmdir (hub);
}

/* Every button in our widgets has a name for assistive technologies: a text label or an
 * accessible label. */
static void
assert_buttons_labelled (GtkWidget *widget)
{
  if (GTK_IS_BUTTON (widget) || GTK_IS_MENU_BUTTON (widget))
    {
      const char *text = GTK_IS_BUTTON (widget) ? gtk_button_get_label (GTK_BUTTON (widget)) : NULL;
      gboolean has_label = (text != NULL && text[0] != '\0') ||
                           gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget),
                                                             GTK_ACCESSIBLE_PROPERTY_LABEL);

      if (!has_label)
        g_error ("%s %p (%s) has no label", G_OBJECT_TYPE_NAME (widget), widget,
                 gtk_widget_get_tooltip_text (widget) ?: "no tooltip");
      /* a menu button's inner toggle is its own business */
      if (GTK_IS_MENU_BUTTON (widget))
        return;
    }

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    assert_buttons_labelled (child);
}

static void
activate_cb (GApplication *app,
             gpointer      user_data)
{
  KestrelWindow *window = kestrel_window_new (KESTREL_APPLICATION (app));
  KestrelChatPage *page = kestrel_window_get_chat_page (window);
  g_autoptr(GListStore) store = g_list_store_new (KESTREL_TYPE_CHAT_MESSAGE);
  g_autoptr(KestrelChatMessage) question = kestrel_chat_message_new (KESTREL_ROLE_USER, "Hi");
  g_autoptr(KestrelChatMessage) answer = kestrel_chat_message_new (KESTREL_ROLE_MODEL,
                                                                    "Hello!\n\n```sh\nls\n```\n");
  guint8 pixel[3] = { 1, 2, 3 };
  g_autoptr(GBytes) bytes = g_bytes_new (pixel, 3);
  g_autoptr(KestrelImage) image = kestrel_image_new (bytes, 1, 1, 3, 3);
  GtkMenuButton *menu;

  kestrel_chat_message_add_image (question, image);
  kestrel_chat_message_set_branch (answer, 0, 2);
  g_list_store_append (store, question);
  g_list_store_append (store, answer);

  gtk_window_present (GTK_WINDOW (window));
  iterate_for (100);
  assert_buttons_labelled (GTK_WIDGET (kestrel_window_get_model_status_page (window)));

  kestrel_window_show_chat (window, TRUE);
  kestrel_chat_view_set_model (kestrel_chat_page_get_chat_view (page), G_LIST_MODEL (store));
  iterate_for (300);
  assert_buttons_labelled (GTK_WIDGET (page));

  /* the primary menu, its actions, and the shortcuts window from the resources */
  menu = find_descendant (GTK_WIDGET (window), GTK_TYPE_MENU_BUTTON);
  g_assert_nonnull (menu);
  assert_buttons_labelled (GTK_WIDGET (menu));
  g_assert_nonnull (gtk_menu_button_get_menu_model (menu));
  /* GtkApplication loaded gtk/help-overlay.ui from the resources and added the action */
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (window), "show-help-overlay"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.about", NULL));
  iterate_for (100);
  g_assert_true (ADW_IS_ABOUT_DIALOG (adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window))));
  adw_dialog_force_close (adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window)));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.preferences", NULL));
  iterate_for (100);
  g_assert_true (KESTREL_IS_PREFERENCES_DIALOG (adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window))));
  adw_dialog_force_close (adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window)));

  gtk_window_destroy (GTK_WINDOW (window));
  g_signal_stop_emission_by_name (app, "activate");
}

static GtkWindow *
create_window (KestrelApplication *application)
{
  return GTK_WINDOW (kestrel_window_new (application));
}

static void
test_window_menu_and_labels (void)
{
  KestrelApplication *app = kestrel_application_new (create_window);

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "activate", G_CALLBACK (activate_cb), NULL);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 0, NULL), ==, 0);
  g_assert_finalize_object (app);
}

int
main (int   argc,
      char *argv[])
{
  /* GTK's in-process test AT context records accessible properties (with "none", nothing
   * is recorded); it needs no accessibility bus */
  g_setenv ("GTK_A11Y", "test", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/kestrel/preferences/bindings", test_preferences_bindings);
  g_test_add_func ("/kestrel/preferences/gpus", test_preferences_gpus);
  g_test_add_func ("/kestrel/model-status-page/hf-cache", test_model_status_page_detects_cache);
  g_test_add_func ("/kestrel/window/menu-and-labels", test_window_menu_and_labels);

  return g_test_run ();
}
