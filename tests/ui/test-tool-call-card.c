/* test-tool-call-card.c — the tool-call card's states, and the cards in a message row.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "kestrel-message-row.h"
#include "kestrel-tool-call-card.h"
#include "ui-test-util.h"

static GtkButton *
find_button (GtkWidget  *widget,
             const char *label)
{
  if (GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0)
    return GTK_BUTTON (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkButton *found = find_button (child, label);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* A visible label (all ancestors up to `root` visible) whose text contains `text`. */
static GtkLabel *
find_shown_label (GtkWidget  *widget,
                  const char *text)
{
  if (!gtk_widget_get_visible (widget))
    return NULL;
  if (GTK_IS_LABEL (widget) && strstr (gtk_label_get_label (GTK_LABEL (widget)), text) != NULL)
    return GTK_LABEL (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkLabel *found = find_shown_label (child, text);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
shown (GtkWidget *widget,
       GtkWidget *root)
{
  for (; widget != NULL && widget != root; widget = gtk_widget_get_parent (widget))
    if (!gtk_widget_get_visible (widget))
      return FALSE;
  return widget == root;
}

static void
answered_cb (KestrelToolCallRequest *request,
             int                     answer,
             int                    *out)
{
  *out = answer;
}

static void
test_card_allow_run_result (void)
{
  g_autoptr(KestrelToolCallRequest) request =
    kestrel_tool_call_request_new ("search_history", "{\"query\":\"pelicans\",\"limit\":3}", FALSE);
  GtkWidget *card = kestrel_tool_call_card_new (request);
  GtkWindow *window = present_in_window (card, 500, 400);
  GtkButton *allow = find_button (card, "Allow _Once");
  GtkWidget *spinner = find_descendant (card, ADW_TYPE_SPINNER);
  GtkExpander *expander = find_descendant (card, GTK_TYPE_EXPANDER);
  int answer = -1;

  g_signal_connect (request, "answered", G_CALLBACK (answered_cb), &answer);

  /* pending: name, pretty arguments, the three buttons */
  g_assert_nonnull (find_shown_label (card, "search_history"));
  g_assert_nonnull (find_shown_label (card, "\"query\": \"pelicans\""));
  g_assert_nonnull (find_shown_label (card, "Waiting for your approval"));
  g_assert_nonnull (allow);
  g_assert_true (shown (GTK_WIDGET (allow), card));
  g_assert_true (shown (GTK_WIDGET (find_button (card, "Always _Allow")), card));
  g_assert_true (shown (GTK_WIDGET (find_button (card, "_Deny")), card));
  g_assert_false (shown (spinner, card));

  g_signal_emit_by_name (allow, "clicked");
  g_assert_cmpint (answer, ==, KESTREL_TOOL_CALL_ANSWER_ALLOW_ONCE);

  /* running: spinner, no buttons */
  kestrel_tool_call_request_set_approval (request, KESTREL_TOOL_APPROVAL_APPROVED);
  kestrel_tool_call_request_set_running (request);
  g_assert_true (shown (spinner, card));
  g_assert_false (shown (GTK_WIDGET (allow), card));
  g_assert_nonnull (find_shown_label (card, "Running"));

  /* a short result is shown open */
  kestrel_tool_call_request_set_result (request, "{\"results\":[\"Pelicans eat fish\"]}");
  g_assert_false (shown (spinner, card));
  g_assert_true (shown (GTK_WIDGET (expander), card));
  g_assert_true (gtk_expander_get_expanded (expander));
  g_assert_nonnull (find_shown_label (card, "Pelicans eat fish"));
  g_assert_nonnull (find_shown_label (card, "Done"));
  iterate_for (50);

  gtk_window_destroy (window);
}

static void
test_card_deny (void)
{
  g_autoptr(KestrelToolCallRequest) request = kestrel_tool_call_request_new ("read_file", "{\"purpose\":\"summary\"}", TRUE);
  GtkWidget *card = kestrel_tool_call_card_new (request);
  GtkWindow *window = present_in_window (card, 500, 400);
  int answer = -1;

  g_signal_connect (request, "answered", G_CALLBACK (answered_cb), &answer);
  g_signal_emit_by_name (find_button (card, "_Deny"), "clicked");
  g_assert_cmpint (answer, ==, KESTREL_TOOL_CALL_ANSWER_DENY);

  kestrel_tool_call_request_set_approval (request, KESTREL_TOOL_APPROVAL_DENIED);
  kestrel_tool_call_request_set_error (request, "The user denied this call",
                                       "{\"error\": \"The user denied this call\"}");
  g_assert_nonnull (find_shown_label (card, "Denied"));
  g_assert_true (gtk_widget_has_css_class (card, "denied"));
  g_assert_false (shown (GTK_WIDGET (find_button (card, "_Deny")), card));
  /* denied is a state, not an error message */
  g_assert_null (find_shown_label (card, "The user denied this call"));
  iterate_for (50);

  gtk_window_destroy (window);
}

static void
test_card_error (void)
{
  g_autoptr(KestrelToolCallRequest) request = kestrel_tool_call_request_new ("calculator", "{\"expression\":\"1/0\"}", FALSE);
  GtkWidget *card = kestrel_tool_call_card_new (request);
  GtkWindow *window = present_in_window (card, 500, 400);
  GtkLabel *error;

  kestrel_tool_call_request_set_approval (request, KESTREL_TOOL_APPROVAL_AUTOMATIC);
  /* no approval needed: never any buttons */
  g_assert_false (shown (GTK_WIDGET (find_button (card, "Allow _Once")), card));
  kestrel_tool_call_request_set_running (request);
  kestrel_tool_call_request_set_error (request, "Division by zero", "{\"error\": \"Division by zero\"}");
  error = find_shown_label (card, "Division by zero");
  g_assert_nonnull (error);
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (error), "error"));
  g_assert_nonnull (find_shown_label (card, "Failed"));
  g_assert_false (shown (GTK_WIDGET (find_descendant (card, GTK_TYPE_EXPANDER)), card));
  iterate_for (50);

  gtk_window_destroy (window);
}

static void
test_card_long_result_collapsed (void)
{
  g_autoptr(KestrelToolCallRequest) request = kestrel_tool_call_request_new ("search_history", "{\"query\":\"x\"}", FALSE);
  GtkWidget *card = kestrel_tool_call_card_new (request);
  GtkWindow *window = present_in_window (card, 500, 400);
  GtkExpander *expander = find_descendant (card, GTK_TYPE_EXPANDER);
  g_autoptr(GString) result = g_string_new ("{\"text\": \"");

  for (int i = 0; i < 80; i++)
    g_string_append (result, "lorem ipsum ");
  g_string_append (result, "\"}");
  kestrel_tool_call_request_set_approval (request, KESTREL_TOOL_APPROVAL_APPROVED);
  kestrel_tool_call_request_set_running (request);
  kestrel_tool_call_request_set_result (request, result->str);
  g_assert_true (shown (GTK_WIDGET (expander), card));
  g_assert_false (gtk_expander_get_expanded (expander));
  g_assert_nonnull (strstr (gtk_expander_get_label (expander), "bytes"));
  /* expandable */
  gtk_expander_set_expanded (expander, TRUE);
  g_assert_nonnull (find_shown_label (card, "lorem ipsum"));
  iterate_for (50);

  gtk_window_destroy (window);
}

/* The message row shows "Calling …" while a call is written, then one card per call. */
static void
test_message_row_cards (void)
{
  g_autoptr(KestrelChatMessage) message = kestrel_chat_message_new (KESTREL_ROLE_MODEL, "Let me check.");
  g_autoptr(KestrelToolCallRequest) first = kestrel_tool_call_request_new ("calculator", "{\"expression\":\"2^10\"}", FALSE);
  g_autoptr(KestrelToolCallRequest) second = kestrel_tool_call_request_new ("get_current_datetime", "{}", FALSE);
  GtkWidget *row = kestrel_message_row_new ();
  GtkWindow *window;

  kestrel_message_row_set_message (KESTREL_MESSAGE_ROW (row), message);
  window = present_in_window (row, 600, 400);
  g_assert_cmpuint (count_descendants (row, KESTREL_TYPE_TOOL_CALL_CARD), ==, 0);
  g_assert_null (find_shown_label (row, "Calling"));

  kestrel_chat_message_set_tool_status (message, "Calling calculator…");
  g_assert_nonnull (find_shown_label (row, "Calling calculator…"));

  kestrel_chat_message_set_tool_status (message, NULL);
  kestrel_chat_message_add_tool_call (message, first);
  kestrel_chat_message_add_tool_call (message, second);
  g_assert_null (find_shown_label (row, "Calling"));
  g_assert_cmpuint (count_descendants (row, KESTREL_TYPE_TOOL_CALL_CARD), ==, 2);
  g_assert_nonnull (find_shown_label (row, "get_current_datetime"));
  iterate_for (50);

  gtk_window_destroy (window);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/kestrel/tool-call-card/allow-run-result", test_card_allow_run_result);
  g_test_add_func ("/kestrel/tool-call-card/deny", test_card_deny);
  g_test_add_func ("/kestrel/tool-call-card/error", test_card_error);
  g_test_add_func ("/kestrel/tool-call-card/long-result-collapsed", test_card_long_result_collapsed);
  g_test_add_func ("/kestrel/tool-call-card/message-row", test_message_row_cards);

  return g_test_run ();
}
