/* test-chat-view.c — KestrelChatView: row recycling with thousands of messages, following
 * the end while text streams, the jump button, and message actions.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "kestrel-chat-message.h"
#include "kestrel-chat-view.h"
#include "kestrel-markdown-view.h"
#include "kestrel-message-row.h"
#include "ui-test-util.h"

static GListStore *
make_conversation (guint n)
{
  GListStore *store = g_list_store_new (KESTREL_TYPE_CHAT_MESSAGE);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = NULL;
      g_autoptr(KestrelChatMessage) message = NULL;

      if (i % 2 == 0)
        text = g_strdup_printf ("Question number %u?", i / 2);
      else
        text = g_strdup_printf ("Answer **%u**: a paragraph.\n\n- one\n- two\n\n```c\nint x = %u;\n```\n\n"
                                "| a | wider column |\n|---|---|\n| 1 | some longer text that wraps |\n",
                                i / 2, i);
      message = kestrel_chat_message_new (i % 2 == 0 ? KESTREL_ROLE_USER : KESTREL_ROLE_MODEL, text);
      g_list_store_append (store, message);
    }

  return store;
}

static double
distance_to_bottom (KestrelChatView *view)
{
  GtkAdjustment *adj = kestrel_chat_view_get_vadjustment (view);

  return gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj) -
         gtk_adjustment_get_value (adj);
}

static gboolean
is_at_bottom (gpointer view)
{
  return distance_to_bottom (view) <= 4.0;
}

static void
test_chat_view_recycles_rows (void)
{
  g_autoptr(GListStore) store = make_conversation (5000);
  KestrelChatView *view = KESTREL_CHAT_VIEW (kestrel_chat_view_new ());
  GtkWindow *window;
  GtkAdjustment *adj;
  guint max_bound = 0;

  kestrel_chat_view_set_model (view, G_LIST_MODEL (store));
  window = present_in_window (GTK_WIDGET (view), 800, 600);
  adj = kestrel_chat_view_get_vadjustment (view);

  /* a long conversation opens at its end */
  g_assert_true (iterate_until (is_at_bottom, view, 10));
  iterate_for (200);
  g_assert_true (kestrel_chat_view_get_following (view));
  g_assert_cmpfloat (gtk_adjustment_get_upper (adj), >, 10 * gtk_adjustment_get_page_size (adj));

  /* scrolling through the list binds only about a screenful of rows at any time */
  for (int step = 0; step <= 10; step++)
    {
      double upper = gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj);

      gtk_adjustment_set_value (adj, upper * (10 - step) / 10.0);
      iterate_for (60);
      max_bound = MAX (max_bound, kestrel_chat_view_get_n_bound_rows (view));
      g_assert_cmpuint (kestrel_chat_view_get_n_bound_rows (view), >, 0);
    }
  g_test_message ("at most %u of 5000 rows were bound", max_bound);
  /* GtkListView keeps a window of at most ~200 items around the visible ones
   * (GTK_LIST_VIEW_MAX_LIST_ITEMS in gtklistitemmanager.c), not one row per message */
  g_assert_cmpuint (max_bound, <, 250);
  g_assert_cmpuint (count_descendants (GTK_WIDGET (view), KESTREL_TYPE_MESSAGE_ROW), <, 250);

  gtk_window_destroy (window);
  iterate_for (50);
}

static guint render_count_before;

static gboolean
rendered_again (gpointer markdown)
{
  return kestrel_markdown_view_get_render_count (markdown) > render_count_before;
}

static gboolean
is_not_following (gpointer view)
{
  return !kestrel_chat_view_get_following (view);
}

static void
test_chat_view_follows_stream (void)
{
  g_autoptr(GListStore) store = make_conversation (30);
  g_autoptr(KestrelChatMessage) reply = kestrel_chat_message_new (KESTREL_ROLE_MODEL, "");
  KestrelChatView *view = KESTREL_CHAT_VIEW (kestrel_chat_view_new ());
  GtkRevealer *jump;
  GtkWindow *window;
  GtkAdjustment *adj;
  double upper_before;

  kestrel_chat_view_set_model (view, G_LIST_MODEL (store));
  window = present_in_window (GTK_WIDGET (view), 600, 500);
  adj = kestrel_chat_view_get_vadjustment (view);
  jump = find_descendant (GTK_WIDGET (view), GTK_TYPE_REVEALER);
  g_assert_true (iterate_until (is_at_bottom, view, 10));
  g_assert_false (gtk_revealer_get_reveal_child (jump));

  /* a new reply streams in: the view stays at the bottom as it grows */
  kestrel_chat_message_set_status (reply, KESTREL_CHAT_MESSAGE_STREAMING);
  g_list_store_append (store, reply);
  upper_before = gtk_adjustment_get_upper (adj);
  for (int i = 0; i < 40; i++)
    {
      g_autofree char *line = g_strdup_printf ("Line %d of a long streamed reply.\n\n", i);

      kestrel_chat_message_append_text (reply, line);
      iterate_for (20);
    }
  g_assert_true (iterate_until (is_at_bottom, view, 5));
  g_assert_cmpfloat (gtk_adjustment_get_upper (adj), >, upper_before + 200);
  g_assert_true (kestrel_chat_view_get_following (view));

  /* many deltas within one frame render once, at the next frame */
  {
    KestrelMessageRow *row = NULL;
    KestrelMarkdownView *markdown;
    guint before;

    for (GtkWidget *child = gtk_widget_get_first_child (find_descendant (GTK_WIDGET (view), GTK_TYPE_LIST_VIEW));
         child != NULL && row == NULL;
         child = gtk_widget_get_next_sibling (child))
      {
        KestrelMessageRow *candidate = find_descendant (child, KESTREL_TYPE_MESSAGE_ROW);
        if (candidate != NULL && kestrel_message_row_get_message (candidate) == reply)
          row = candidate;
      }
    g_assert_nonnull (row);
    markdown = find_descendant (GTK_WIDGET (row), KESTREL_TYPE_MARKDOWN_VIEW);
    iterate_for (50);
    before = kestrel_markdown_view_get_render_count (markdown);
    for (int i = 0; i < 50; i++)
      kestrel_chat_message_append_text (reply, "tok ");
    g_assert_cmpuint (kestrel_markdown_view_get_render_count (markdown), ==, before);
    render_count_before = before;
    g_assert_true (iterate_until (rendered_again, markdown, 5));
    g_assert_cmpuint (kestrel_markdown_view_get_render_count (markdown), ==, before + 1);
    g_assert_cmpstr (kestrel_markdown_view_get_markdown (markdown), ==, kestrel_chat_message_get_text (reply));
  }

  /* the user scrolls up: following stops and the jump button shows */
  gtk_adjustment_set_value (adj, 0);
  g_assert_true (iterate_until (is_not_following, view, 2));
  g_assert_true (gtk_revealer_get_reveal_child (jump));
  for (int i = 0; i < 10; i++)
    {
      kestrel_chat_message_append_text (reply, "More text that must not move the view.\n\n");
      iterate_for (20);
    }
  iterate_for (100);
  g_assert_cmpfloat (gtk_adjustment_get_value (adj), <, 1.0);
  g_assert_false (kestrel_chat_view_get_following (view));

  /* the jump button goes back to the end and follows again */
  g_signal_emit_by_name (gtk_revealer_get_child (jump), "clicked");
  g_assert_true (iterate_until (is_at_bottom, view, 5));
  g_assert_true (kestrel_chat_view_get_following (view));
  kestrel_chat_message_append_text (reply, "And the end.\n\n```\ncode\n```\n");
  iterate_for (100);
  g_assert_true (iterate_until (is_at_bottom, view, 5));
  kestrel_chat_message_set_status (reply, KESTREL_CHAT_MESSAGE_COMPLETE);
  iterate_for (50);

  gtk_window_destroy (window);
  iterate_for (50);
}

typedef struct
{
  KestrelChatMessage *message;
  char               *text;
  int                 delta;
  guint               n_regenerate, n_edit, n_delete, n_switch;
} Actions;

static void regenerate_cb (KestrelChatView *v, KestrelChatMessage *m, Actions *a) { a->n_regenerate++; a->message = m; }
static void delete_cb (KestrelChatView *v, KestrelChatMessage *m, Actions *a) { a->n_delete++; a->message = m; }
static void
edit_cb (KestrelChatView *v, KestrelChatMessage *m, const char *text, Actions *a)
{
  a->n_edit++;
  a->message = m;
  g_free (a->text);
  a->text = g_strdup (text);
}
static void switch_cb (KestrelChatView *v, KestrelChatMessage *m, int delta, Actions *a) { a->n_switch++; a->message = m; a->delta = delta; }

static KestrelMessageRow *
row_for (KestrelChatView    *view,
         KestrelChatMessage *message)
{
  for (GtkWidget *w = find_descendant (GTK_WIDGET (view), GTK_TYPE_LIST_VIEW), *child = gtk_widget_get_first_child (w);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      KestrelMessageRow *row = find_descendant (child, KESTREL_TYPE_MESSAGE_ROW);

      if (row != NULL && kestrel_message_row_get_message (row) == message)
        return row;
    }
  return NULL;
}

static void
test_chat_view_actions (void)
{
  g_autoptr(GListStore) store = g_list_store_new (KESTREL_TYPE_CHAT_MESSAGE);
  g_autoptr(KestrelChatMessage) question = kestrel_chat_message_new (KESTREL_ROLE_USER, "Original question");
  g_autoptr(KestrelChatMessage) answer = kestrel_chat_message_new (KESTREL_ROLE_MODEL, "An answer");
  g_autoptr(KestrelChatMessage) failed = kestrel_chat_message_new (KESTREL_ROLE_MODEL, "Partial");
  KestrelChatView *view = KESTREL_CHAT_VIEW (kestrel_chat_view_new ());
  KestrelMessageRow *row;
  GtkTextView *editor;
  GtkLabel *label;
  Actions actions = { 0, };
  GtkWindow *window;

  {
    guint8 pixels[2 * 2 * 3] = { 0, };
    g_autoptr(GBytes) bytes = g_bytes_new (pixels, sizeof pixels);
    g_autoptr(KestrelImage) image = kestrel_image_new (bytes, 2, 2, 3, 6);
    kestrel_chat_message_add_image (question, image);
  }
  kestrel_chat_message_set_branch (answer, 1, 3);
  kestrel_chat_message_set_stats (answer, 120, 42.5);
  kestrel_chat_message_set_status (failed, KESTREL_CHAT_MESSAGE_FAILED);
  kestrel_chat_message_set_error_message (failed, "The GPU ran out of memory");
  g_list_store_append (store, question);
  g_list_store_append (store, answer);
  g_list_store_append (store, failed);
  g_signal_connect (view, "regenerate", G_CALLBACK (regenerate_cb), &actions);
  g_signal_connect (view, "edit", G_CALLBACK (edit_cb), &actions);
  g_signal_connect (view, "delete", G_CALLBACK (delete_cb), &actions);
  g_signal_connect (view, "switch-branch", G_CALLBACK (switch_cb), &actions);
  kestrel_chat_view_set_model (view, G_LIST_MODEL (store));
  window = present_in_window (GTK_WIDGET (view), 700, 700);
  iterate_for (200);

  row = row_for (view, answer);
  g_assert_nonnull (row);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "message.regenerate", NULL));
  g_assert_cmpuint (actions.n_regenerate, ==, 1);
  g_assert_true (actions.message == answer);
  gtk_widget_activate_action (GTK_WIDGET (row), "message.previous-branch", NULL);
  g_assert_cmpint (actions.delta, ==, -1);
  gtk_widget_activate_action (GTK_WIDGET (row), "message.next-branch", NULL);
  g_assert_cmpint (actions.delta, ==, 1);
  g_assert_cmpuint (actions.n_switch, ==, 2);
  /* the branch position and the stats are shown */
  g_assert_nonnull (find_descendant_full (GTK_WIDGET (row), GTK_TYPE_LABEL, "numeric"));
  {
    gboolean found_branch = FALSE, found_stats = FALSE;
    label = find_descendant_full (GTK_WIDGET (row), GTK_TYPE_LABEL, "caption");
    found_branch = label && g_str_equal (gtk_label_get_label (label), "2 / 3");
    label = find_descendant_full (GTK_WIDGET (row), GTK_TYPE_LABEL, "dim-label");
    found_stats = label && strstr (gtk_label_get_label (label), "120 tokens") != NULL;
    g_assert_true (found_branch);
    g_assert_true (found_stats);
  }

  /* edit and resend a user message */
  row = row_for (view, question);
  g_assert_nonnull (row);
  gtk_widget_activate_action (GTK_WIDGET (row), "message.edit", NULL);
  editor = find_descendant (GTK_WIDGET (row), GTK_TYPE_TEXT_VIEW);
  g_assert_true (gtk_widget_get_visible (gtk_widget_get_parent (gtk_widget_get_parent (GTK_WIDGET (editor)))));
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (editor), "  Better question  ", -1);
  {
    GtkWidget *box = gtk_widget_get_next_sibling (gtk_widget_get_parent (GTK_WIDGET (editor)));
    GtkWidget *send = gtk_widget_get_last_child (box);
    g_signal_emit_by_name (send, "clicked");
  }
  g_assert_cmpuint (actions.n_edit, ==, 1);
  g_assert_true (actions.message == question);
  g_assert_cmpstr (actions.text, ==, "Better question");

  gtk_widget_activate_action (GTK_WIDGET (row), "message.delete", NULL);
  g_assert_cmpuint (actions.n_delete, ==, 1);

  /* copy puts the message's text on the clipboard */
  gtk_widget_activate_action (GTK_WIDGET (row), "message.copy", NULL);
  {
    g_auto(GValue) value = G_VALUE_INIT;
    GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (row));

    g_value_init (&value, G_TYPE_STRING);
    g_assert_true (gdk_content_provider_get_value (gdk_clipboard_get_content (clipboard), &value, NULL));
    g_assert_cmpstr (g_value_get_string (&value), ==, "Original question");
  }

  /* the image thumbnail opens a viewer with the full picture */
  {
    GtkWidget *thumbnail = find_descendant_full (GTK_WIDGET (row), GTK_TYPE_BUTTON, "thumbnail-button");
    AdwDialog *viewer;

    g_assert_nonnull (thumbnail);
    g_signal_emit_by_name (thumbnail, "clicked");
    iterate_for (50);
    viewer = adw_window_get_visible_dialog (ADW_WINDOW (window));
    g_assert_nonnull (viewer);
    g_assert_nonnull (find_descendant (GTK_WIDGET (viewer), GTK_TYPE_PICTURE));
    adw_dialog_force_close (viewer);
  }

  /* a failed reply shows its error */
  row = row_for (view, failed);
  g_assert_nonnull (row);
  label = find_descendant_full (GTK_WIDGET (row), GTK_TYPE_LABEL, "error");
  g_assert_nonnull (label);
  g_assert_cmpstr (gtk_label_get_label (label), ==, "The GPU ran out of memory");
  g_assert_true (gtk_widget_is_visible (GTK_WIDGET (label)));

  g_free (actions.text);
  gtk_window_destroy (window);
  iterate_for (50);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/kestrel/chat-view/recycles-rows", test_chat_view_recycles_rows);
  g_test_add_func ("/kestrel/chat-view/follows-stream", test_chat_view_follows_stream);
  g_test_add_func ("/kestrel/chat-view/actions", test_chat_view_actions);

  return g_test_run ();
}
