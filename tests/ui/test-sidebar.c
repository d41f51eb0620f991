/* test-sidebar.c — KestrelSidebar on a real store in a temporary folder: date groups with
 * pinned first, search with highlighted snippets that opens the conversation, rename, pin,
 * delete with and without undo, and the keyboard (Ctrl+F in the real window, F2 / Delete on
 * a focused row).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "kestrel-application.h"
#include "kestrel-sidebar.h"
#include "kestrel-window.h"
#include "ui-test-util.h"

static char *tmp_root;

typedef struct
{
  char           *dir;
  KestrelStore   *store;
  AdwWindow      *window;
  KestrelSidebar *sidebar;
} Fixture;

static gint64
today_at (int days_back,
          int hour)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) today = g_date_time_new_local (g_date_time_get_year (now), g_date_time_get_month (now),
                                                      g_date_time_get_day_of_month (now), 0, 0, 0);
  g_autoptr(GDateTime) day = g_date_time_add_days (today, -days_back);
  g_autoptr(GDateTime) time = g_date_time_add_hours (day, hour);

  return g_date_time_to_unix_usec (time);
}

/* A conversation with a chosen update time, through the store's JSON import. */
static gint64
add_conversation (KestrelStore *store,
                  const char   *title,
                  gint64        updated_at,
                  gboolean      pinned,
                  const char   *content)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;
  g_autoptr(KestrelConversation) conversation = NULL;
  g_autoptr(GError) error = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "format");
  json_builder_add_string_value (builder, "kestrel-conversation");
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, 1);
  json_builder_set_member_name (builder, "title");
  json_builder_add_string_value (builder, title);
  json_builder_set_member_name (builder, "title_source");
  json_builder_add_string_value (builder, "user");
  json_builder_set_member_name (builder, "created_at");
  json_builder_add_int_value (builder, updated_at);
  json_builder_set_member_name (builder, "updated_at");
  json_builder_add_int_value (builder, updated_at);
  json_builder_set_member_name (builder, "pinned");
  json_builder_add_boolean_value (builder, pinned);
  json_builder_set_member_name (builder, "archived");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_set_member_name (builder, "system_prompt");
  json_builder_add_string_value (builder, "");
  json_builder_set_member_name (builder, "selected_root");
  json_builder_add_int_value (builder, content ? 1 : 0);
  json_builder_set_member_name (builder, "messages");
  json_builder_begin_array (builder);
  if (content != NULL)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_int_value (builder, 1);
      json_builder_set_member_name (builder, "parent");
      json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "role");
      json_builder_add_string_value (builder, "user");
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder, "complete");
      json_builder_set_member_name (builder, "content");
      json_builder_add_string_value (builder, content);
      json_builder_set_member_name (builder, "created_at");
      json_builder_add_int_value (builder, updated_at);
      json_builder_set_member_name (builder, "updated_at");
      json_builder_add_int_value (builder, updated_at);
      json_builder_set_member_name (builder, "selected_child");
      json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "attachments");
      json_builder_begin_array (builder);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "tool_calls");
      json_builder_begin_array (builder);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  conversation = kestrel_store_import_json (store, json, -1, &error);
  g_assert_no_error (error);
  return kestrel_conversation_get_id (conversation);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  GtkWidget *overlay;

  fixture->dir = g_build_filename (tmp_root, "store-XXXXXX", NULL);
  g_assert_nonnull (g_mkdtemp (fixture->dir));
  path = g_build_filename (fixture->dir, "kestrel.db", NULL);
  fixture->store = kestrel_store_new (path, &error);
  g_assert_no_error (error);

  fixture->window = ADW_WINDOW (adw_window_new ());
  gtk_window_set_default_size (GTK_WINDOW (fixture->window), 360, 640);
  overlay = adw_toast_overlay_new ();
  fixture->sidebar = KESTREL_SIDEBAR (kestrel_sidebar_new ());
  adw_toast_overlay_set_child (ADW_TOAST_OVERLAY (overlay), GTK_WIDGET (fixture->sidebar));
  adw_window_set_content (fixture->window, overlay);
  gtk_window_present (GTK_WINDOW (fixture->window));
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  gtk_window_destroy (GTK_WINDOW (fixture->window));
  iterate_for (50);
  /* the store's queued jobs hold it until their callbacks ran */
  kestrel_store_flush (fixture->store, NULL);
  iterate_for (50);
  g_assert_finalize_object (fixture->store);
  g_free (fixture->dir);
}

static GtkListBox *
page_list (KestrelSidebar *sidebar,
           const char     *page)
{
  GtkStack *stack = find_descendant (GTK_WIDGET (sidebar), GTK_TYPE_STACK);

  return find_descendant (gtk_stack_get_child_by_name (stack, page), GTK_TYPE_LIST_BOX);
}

static guint n_expected;

static gboolean
has_n_rows (gpointer sidebar)
{
  return g_list_model_get_n_items (kestrel_sidebar_get_conversations (sidebar)) == n_expected;
}

static void
wait_rows (Fixture *fixture,
           guint    n)
{
  n_expected = n;
  g_assert_true (iterate_until (has_n_rows, fixture->sidebar, 5));
  iterate_for (20);
}

static const char *
row_title (GtkListBoxRow *row)
{
  GtkLabel *label = find_descendant (GTK_WIDGET (row), GTK_TYPE_LABEL);

  return gtk_label_get_label (label);
}

static const char *
row_header (GtkListBoxRow *row)
{
  GtkWidget *header = gtk_list_box_row_get_header (row);

  return header ? gtk_label_get_label (GTK_LABEL (header)) : NULL;
}

static void
test_groups (Fixture       *fixture,
             gconstpointer  data)
{
  static const struct { const char *title; const char *header; } expected[] = {
    { "Pinned old", "Pinned" },
    { "Today A", "Today" },
    { "Today B", NULL },
    { "Yesterday", "Yesterday" },
    { "Four days ago", "Previous 7 Days" },
    { "Last month", "Older" },
  };
  GtkListBox *list;

  add_conversation (fixture->store, "Last month", today_at (30, 12), FALSE, NULL);
  add_conversation (fixture->store, "Four days ago", today_at (4, 12), FALSE, NULL);
  add_conversation (fixture->store, "Yesterday", today_at (1, 12), FALSE, NULL);
  add_conversation (fixture->store, "Today B", today_at (0, 0) + 1, FALSE, NULL);
  add_conversation (fixture->store, "Today A", g_get_real_time (), FALSE, NULL);
  add_conversation (fixture->store, "Pinned old", today_at (60, 12), TRUE, NULL);

  kestrel_sidebar_set_store (fixture->sidebar, fixture->store);
  wait_rows (fixture, G_N_ELEMENTS (expected));

  list = page_list (fixture->sidebar, "list");
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      GtkListBoxRow *row = gtk_list_box_get_row_at_index (list, (int) i);

      g_assert_nonnull (row);
      g_assert_cmpstr (row_title (row), ==, expected[i].title);
      g_assert_cmpstr (row_header (row), ==, expected[i].header);
    }
}

static gboolean
store_pinned (KestrelStore *store,
              gint64        id)
{
  g_autoptr(KestrelConversation) conversation = kestrel_store_get_conversation (store, id, NULL);

  return conversation != NULL && kestrel_conversation_get_pinned (conversation);
}

typedef struct
{
  Fixture *fixture;
  const char *want;
} FirstRow;

static gboolean
first_row_titled (gpointer data)
{
  FirstRow *check = data;
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (page_list (check->fixture->sidebar, "list"), 0);

  return row != NULL && g_strcmp0 (row_title (row), check->want) == 0;
}

static void
test_pin (Fixture       *fixture,
          gconstpointer  data)
{
  gint64 old = add_conversation (fixture->store, "Old", today_at (10, 12), FALSE, NULL);
  FirstRow check = { fixture, "Old" };
  GtkListBox *list;

  add_conversation (fixture->store, "New", g_get_real_time (), FALSE, NULL);
  kestrel_sidebar_set_store (fixture->sidebar, fixture->store);
  wait_rows (fixture, 2);
  list = page_list (fixture->sidebar, "list");
  g_assert_cmpstr (row_title (gtk_list_box_get_row_at_index (list, 0)), ==, "New");

  /* through the row's menu action */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->sidebar), "sidebar.toggle-pin", "x", old));
  g_assert_true (iterate_until (first_row_titled, &check, 5));
  g_assert_true (store_pinned (fixture->store, old));
  g_assert_cmpstr (row_header (gtk_list_box_get_row_at_index (list, 0)), ==, "Pinned");
  g_assert_cmpstr (row_header (gtk_list_box_get_row_at_index (list, 1)), ==, "Today");

  /* and back */
  check.want = "New";
  gtk_widget_activate_action (GTK_WIDGET (fixture->sidebar), "sidebar.toggle-pin", "x", old);
  g_assert_true (iterate_until (first_row_titled, &check, 5));
  g_assert_false (store_pinned (fixture->store, old));
  g_assert_cmpstr (row_header (gtk_list_box_get_row_at_index (list, 0)), ==, "Today");
  g_assert_cmpstr (row_header (gtk_list_box_get_row_at_index (list, 1)), ==, "Older");
}

static gboolean
results_shown (gpointer sidebar)
{
  GtkStack *stack = find_descendant (GTK_WIDGET (sidebar), GTK_TYPE_STACK);

  return g_strcmp0 (gtk_stack_get_visible_child_name (stack), "results") == 0 &&
         gtk_list_box_get_row_at_index (page_list (sidebar, "results"), 0) != NULL;
}

static void
activated_cb (KestrelSidebar *sidebar,
              gint64          id,
              gint64         *out)
{
  *out = id;
}

static void
test_search (Fixture       *fixture,
             gconstpointer  data)
{
  gint64 fox = add_conversation (fixture->store, "Animals", today_at (3, 12), FALSE,
                                 "the quick brown fox <jumps> & runs");
  gint64 activated = 0;
  GtkSearchEntry *entry = find_descendant (GTK_WIDGET (fixture->sidebar), GTK_TYPE_SEARCH_ENTRY);
  GtkListBoxRow *hit;
  GtkLabel *snippet = NULL;

  add_conversation (fixture->store, "Plants", g_get_real_time (), FALSE, "a tall green tree");
  kestrel_sidebar_set_store (fixture->sidebar, fixture->store);
  wait_rows (fixture, 2);
  g_signal_connect (fixture->sidebar, "conversation-activated", G_CALLBACK (activated_cb), &activated);

  gtk_editable_set_text (GTK_EDITABLE (entry), "fox");
  g_assert_true (iterate_until (results_shown, fixture->sidebar, 5));
  g_assert_null (gtk_list_box_get_row_at_index (page_list (fixture->sidebar, "results"), 1));
  hit = gtk_list_box_get_row_at_index (page_list (fixture->sidebar, "results"), 0);

  for (GtkWidget *child = gtk_widget_get_first_child (gtk_widget_get_first_child (GTK_WIDGET (hit)));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    if (gtk_label_get_use_markup (GTK_LABEL (child)))
      snippet = GTK_LABEL (child);
  g_assert_nonnull (snippet);
  g_assert_true (strstr (gtk_label_get_label (snippet), "<b>fox</b>") != NULL);
  g_assert_true (strstr (gtk_label_get_label (snippet), "&lt;jumps&gt; &amp; runs") != NULL);
  g_assert_true (strstr (gtk_label_get_text (snippet), "<jumps> & runs") != NULL);
  g_assert_cmpstr (row_title (hit), ==, "Animals");

  /* Enter in the search entry opens the first hit */
  g_signal_emit_by_name (entry, "activate");
  g_assert_cmpint (activated, ==, fox);
  g_assert_cmpint (kestrel_sidebar_get_selected_id (fixture->sidebar), ==, fox);

  /* clearing the search shows the list again, with the hit's conversation selected */
  gtk_editable_set_text (GTK_EDITABLE (entry), "");
  iterate_for (50);
  g_assert_cmpstr (row_title (gtk_list_box_get_selected_row (page_list (fixture->sidebar, "list"))), ==, "Animals");
}

static void
test_select (Fixture       *fixture,
             gconstpointer  data)
{
  gint64 first = add_conversation (fixture->store, "First", g_get_real_time (), FALSE, NULL);
  gint64 second = add_conversation (fixture->store, "Second", today_at (1, 12), FALSE, NULL);
  gint64 activated = 0;
  GtkListBox *list;

  kestrel_sidebar_set_store (fixture->sidebar, fixture->store);
  wait_rows (fixture, 2);
  list = page_list (fixture->sidebar, "list");
  g_signal_connect (fixture->sidebar, "conversation-activated", G_CALLBACK (activated_cb), &activated);

  /* marking the open conversation opens nothing */
  kestrel_sidebar_select_conversation (fixture->sidebar, first);
  g_assert_cmpint (activated, ==, 0);
  g_assert_true (gtk_list_box_get_selected_row (list) == gtk_list_box_get_row_at_index (list, 0));

  /* the user selecting another row (a click, or Down as GtkListBox moves the cursor) opens it */
  gtk_list_box_select_row (list, gtk_list_box_get_row_at_index (list, 1));
  g_assert_cmpint (activated, ==, second);
  g_assert_cmpint (kestrel_sidebar_get_selected_id (fixture->sidebar), ==, second);

  /* activating the selected row reports it again (the window then shows the chat) */
  activated = 0;
  g_signal_emit_by_name (gtk_list_box_get_row_at_index (list, 1), "activate");
  g_assert_cmpint (activated, ==, second);

  /* the mark stays when the row is rebuilt because its conversation changed */
  kestrel_store_set_title (fixture->store, second, "Second, renamed", KESTREL_TITLE_SOURCE_USER, NULL);
  for (int i = 0; i < 500 && g_strcmp0 (row_title (gtk_list_box_get_row_at_index (list, 1)), "Second, renamed") != 0; i++)
    iterate_for (10);
  g_assert_cmpstr (row_title (gtk_list_box_get_selected_row (list)), ==, "Second, renamed");
}

static gboolean
title_is_renamed (gpointer data)
{
  Fixture *fixture = data;
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (fixture->sidebar), "test-id"));
  g_autoptr(KestrelConversation) conversation = kestrel_store_get_conversation (fixture->store, id, NULL);
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (page_list (fixture->sidebar, "list"), 0);

  return g_strcmp0 (kestrel_conversation_get_title (conversation), "Renamed <b>") == 0 &&
         kestrel_conversation_get_title_source (conversation) == KESTREL_TITLE_SOURCE_USER &&
         row != NULL && g_strcmp0 (row_title (row), "Renamed <b>") == 0;
}

static gboolean
dialog_shown (gpointer window)
{
  return adw_window_get_visible_dialog (window) != NULL;
}

static void
test_rename (Fixture       *fixture,
             gconstpointer  data)
{
  gint64 id = add_conversation (fixture->store, "Before", g_get_real_time (), FALSE, NULL);
  AdwDialog *dialog;
  GtkWidget *entry;

  kestrel_sidebar_set_store (fixture->sidebar, fixture->store);
  wait_rows (fixture, 1);
  g_object_set_data (G_OBJECT (fixture->sidebar), "test-id", GSIZE_TO_POINTER (id));

  /* F2 on the focused row */
  gtk_widget_grab_focus (GTK_WIDGET (gtk_list_box_get_row_at_index (page_list (fixture->sidebar, "list"), 0)));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->sidebar), "sidebar.rename", "x", id));
  g_assert_true (iterate_until (dialog_shown, fixture->window, 5));
  dialog = adw_window_get_visible_dialog (fixture->window);
  g_assert_true (ADW_IS_ALERT_DIALOG (dialog));
  entry = adw_alert_dialog_get_extra_child (ADW_ALERT_DIALOG (dialog));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, "Before");

  /* an empty title cannot be chosen */
  gtk_editable_set_text (GTK_EDITABLE (entry), "  ");
  g_assert_false (adw_alert_dialog_get_response_enabled (ADW_ALERT_DIALOG (dialog), "rename"));

  /* Enter in the entry chooses Rename (the default response) */
  gtk_editable_set_text (GTK_EDITABLE (entry), "Renamed <b>");
  g_assert_true (adw_alert_dialog_get_response_enabled (ADW_ALERT_DIALOG (dialog), "rename"));
  g_signal_emit_by_name (find_descendant (entry, GTK_TYPE_TEXT), "activate");   /* what Enter does */
  g_assert_true (iterate_until (title_is_renamed, fixture, 5));
}

static gboolean
store_lacks (gpointer data)
{
  Fixture *fixture = data;
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (fixture->sidebar), "test-id"));
  g_autoptr(KestrelConversation) conversation = NULL;
  g_autoptr(GError) error = NULL;

  conversation = kestrel_store_get_conversation (fixture->store, id, &error);
  return conversation == NULL && g_error_matches (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND);
}

static void
removed_cb (KestrelSidebar *sidebar,
            gint64          id,
            gint64         *out)
{
  *out = id;
}

static void
test_delete_undo (Fixture       *fixture,
                  gconstpointer  data)
{
  gint64 keep = add_conversation (fixture->store, "Keep me", g_get_real_time (), FALSE, NULL);
  gint64 removed = 0;
  g_autoptr(KestrelConversation) conversation = NULL;
  g_autoptr(GError) error = NULL;
  AdwToast *toast;
  GtkListBox *list;

  add_conversation (fixture->store, "Other", today_at (2, 12), FALSE, NULL);
  kestrel_sidebar_set_store (fixture->sidebar, fixture->store);
  wait_rows (fixture, 2);
  g_signal_connect (fixture->sidebar, "conversation-removed", G_CALLBACK (removed_cb), &removed);
  list = page_list (fixture->sidebar, "list");

  /* the Delete key on the focused row */
  gtk_widget_grab_focus (GTK_WIDGET (gtk_list_box_get_row_at_index (list, 0)));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->sidebar), "sidebar.delete", "x", keep));
  /* hidden at once */
  g_assert_cmpuint (g_list_model_get_n_items (kestrel_sidebar_get_conversations (fixture->sidebar)), ==, 1);
  g_assert_cmpstr (row_title (gtk_list_box_get_row_at_index (list, 0)), ==, "Other");
  g_assert_cmpint (removed, ==, keep);
  toast = kestrel_sidebar_get_undo_toast (fixture->sidebar);
  g_assert_nonnull (toast);
  g_assert_cmpstr (adw_toast_get_title (toast), ==, "“Keep me” deleted");

  /* Undo, as the toast's button does: the signal, then the toast goes */
  g_signal_emit_by_name (toast, "button-clicked");
  adw_toast_dismiss (toast);
  iterate_for (300);
  g_assert_null (kestrel_sidebar_get_undo_toast (fixture->sidebar));
  g_assert_cmpuint (g_list_model_get_n_items (kestrel_sidebar_get_conversations (fixture->sidebar)), ==, 2);
  g_assert_cmpstr (row_title (gtk_list_box_get_row_at_index (list, 0)), ==, "Keep me");
  g_assert_cmpstr (row_header (gtk_list_box_get_row_at_index (list, 0)), ==, "Today");
  kestrel_store_flush (fixture->store, NULL);
  conversation = kestrel_store_get_conversation (fixture->store, keep, &error);
  g_assert_no_error (error);
  g_assert_nonnull (conversation);
}

static void
test_delete (Fixture       *fixture,
             gconstpointer  data)
{
  gint64 gone = add_conversation (fixture->store, "Delete me", g_get_real_time (), FALSE, "some words");
  AdwToast *toast;
  GtkSearchEntry *entry = find_descendant (GTK_WIDGET (fixture->sidebar), GTK_TYPE_SEARCH_ENTRY);
  GtkStack *stack = find_descendant (GTK_WIDGET (fixture->sidebar), GTK_TYPE_STACK);

  add_conversation (fixture->store, "Other", today_at (2, 12), FALSE, NULL);
  kestrel_sidebar_set_store (fixture->sidebar, fixture->store);
  wait_rows (fixture, 2);
  g_object_set_data (G_OBJECT (fixture->sidebar), "test-id", GSIZE_TO_POINTER (gone));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->sidebar), "sidebar.delete", "x", gone));
  toast = kestrel_sidebar_get_undo_toast (fixture->sidebar);
  g_assert_nonnull (toast);

  /* while undo is possible the store still has it, but search leaves it out */
  g_assert_false (store_lacks (fixture));
  gtk_editable_set_text (GTK_EDITABLE (entry), "words");
  iterate_for (600);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "no-results");
  gtk_editable_set_text (GTK_EDITABLE (entry), "");

  /* the toast times out (or is closed) without Undo: now it is deleted */
  adw_toast_dismiss (toast);
  g_assert_true (iterate_until (store_lacks, fixture, 5));
  iterate_for (100);
  wait_rows (fixture, 1);
  g_assert_cmpstr (row_title (gtk_list_box_get_row_at_index (page_list (fixture->sidebar, "list"), 0)), ==, "Other");
}

/* ---- keyboard in the real window --------------------------------------------------------- */

static gboolean
activate_shortcut (GtkWidget       *widget,
                   guint            keyval,
                   GdkModifierType  modifiers)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);
  g_autoptr(GtkShortcutTrigger) wanted = gtk_keyval_trigger_new (keyval, modifiers);

  /* the window class's shortcuts, as GTK matches them for a key press */
  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (!GTK_IS_SHORTCUT_CONTROLLER (controller))
        continue;
      for (guint j = 0; j < g_list_model_get_n_items (G_LIST_MODEL (controller)); j++)
        {
          g_autoptr(GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), j);

          if (gtk_shortcut_trigger_equal (gtk_shortcut_get_trigger (shortcut), wanted))
            return gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut), GTK_SHORTCUT_ACTION_EXCLUSIVE,
                                                 widget, gtk_shortcut_get_arguments (shortcut));
        }
    }
  return FALSE;
}

static GtkWindow *
create_main_window (KestrelApplication *application)
{
  return GTK_WINDOW (kestrel_window_new (application));
}

static gboolean
widget_is_mapped (gpointer widget)
{
  return gtk_widget_get_mapped (widget);
}

static void
ctrl_f_activate_cb (GApplication *app,
                    gboolean     *ran)
{
  KestrelWindow *window = kestrel_window_new (KESTREL_APPLICATION (app));
  KestrelSidebar *sidebar = kestrel_window_get_sidebar (window);
  GtkWidget *entry = find_descendant (GTK_WIDGET (sidebar), GTK_TYPE_SEARCH_ENTRY);
  GtkWidget *focus;

  gtk_window_present (GTK_WINDOW (window));
  iterate_until (widget_is_mapped, window, 5);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (window)));

  g_assert_true (activate_shortcut (GTK_WIDGET (window), GDK_KEY_f, GDK_CONTROL_MASK));
  iterate_for (50);
  focus = gtk_root_get_focus (GTK_ROOT (window));
  g_assert_nonnull (focus);
  g_assert_true (focus == entry || gtk_widget_is_ancestor (focus, entry));

  /* Ctrl+N is still the window's New Chat, and the sidebar header has its button */
  g_assert_true (activate_shortcut (GTK_WIDGET (window), GDK_KEY_n, GDK_CONTROL_MASK));
  *ran = TRUE;

  gtk_window_destroy (GTK_WINDOW (window));
  g_signal_stop_emission_by_name (app, "activate");
}

static void
test_ctrl_f (void)
{
  KestrelApplication *app = kestrel_application_new (create_main_window);
  gboolean ran = FALSE;

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "activate", G_CALLBACK (ctrl_f_activate_cb), &ran);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 0, NULL), ==, 0);
  g_assert_true (ran);
  g_assert_finalize_object (app);
}

static gboolean
row_shortcut_works (Fixture    *fixture,
                    guint       keyval,
                    GdkModifierType modifiers)
{
  return activate_shortcut (GTK_WIDGET (page_list (fixture->sidebar, "list")), keyval, modifiers);
}

static void
test_row_keys (Fixture       *fixture,
               gconstpointer  data)
{
  gint64 id = add_conversation (fixture->store, "Keys", g_get_real_time (), FALSE, NULL);
  GtkListBox *list;

  add_conversation (fixture->store, "Other", today_at (2, 12), FALSE, NULL);
  kestrel_sidebar_set_store (fixture->sidebar, fixture->store);
  wait_rows (fixture, 2);
  list = page_list (fixture->sidebar, "list");
  gtk_widget_grab_focus (GTK_WIDGET (gtk_list_box_get_row_at_index (list, 0)));

  /* Ctrl+P pins the focused row */
  g_assert_true (row_shortcut_works (fixture, GDK_KEY_p, GDK_CONTROL_MASK));
  for (int i = 0; i < 500 && !store_pinned (fixture->store, id); i++)
    iterate_for (10);
  g_assert_true (store_pinned (fixture->store, id));

  /* F2 asks for the new title */
  iterate_for (100);
  gtk_widget_grab_focus (GTK_WIDGET (gtk_list_box_get_row_at_index (list, 0)));
  g_assert_true (row_shortcut_works (fixture, GDK_KEY_F2, 0));
  g_assert_true (iterate_until (dialog_shown, fixture->window, 5));
  adw_dialog_force_close (adw_window_get_visible_dialog (fixture->window));
  iterate_for (100);

  /* Delete hides it, with the undo toast */
  gtk_widget_grab_focus (GTK_WIDGET (gtk_list_box_get_row_at_index (list, 0)));
  g_assert_true (row_shortcut_works (fixture, GDK_KEY_Delete, 0));
  g_assert_cmpuint (g_list_model_get_n_items (kestrel_sidebar_get_conversations (fixture->sidebar)), ==, 1);
  /* the focus moves on to the row that took its place */
  g_assert_true (gtk_widget_has_focus (GTK_WIDGET (gtk_list_box_get_row_at_index (list, 0))));
  g_assert_nonnull (kestrel_sidebar_get_undo_toast (fixture->sidebar));
  g_signal_emit_by_name (kestrel_sidebar_get_undo_toast (fixture->sidebar), "button-clicked");
  wait_rows (fixture, 2);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *data_home = NULL;
  int result;

  tmp_root = g_dir_make_tmp ("kestrel-sidebar-XXXXXX", NULL);
  g_assert_nonnull (tmp_root);
  data_home = g_build_filename (tmp_root, "data", NULL);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

#define ADD(name, func) \
  g_test_add ("/kestrel/sidebar/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("groups", test_groups);
  ADD ("pin", test_pin);
  ADD ("select", test_select);
  ADD ("search", test_search);
  ADD ("rename", test_rename);
  ADD ("delete-undo", test_delete_undo);
  ADD ("delete", test_delete);
  ADD ("row-keys", test_row_keys);
#undef ADD
  g_test_add_func ("/kestrel/sidebar/ctrl-f", test_ctrl_f);

  result = g_test_run ();
  /* the temp folder holds only what these tests made */
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmp_root);
    (void) !system (cmd);
  }
  g_free (tmp_root);
  return result;
}
