/* test-engine-indicator.c — KestrelEngineIndicator follows a real KestrelEngine: nothing
 * while empty, the error and a working retry after a failed load.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "kestrel-engine-indicator.h"
#include "ui-test-util.h"

static void
load_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GError **error = user_data;

  g_assert_false (kestrel_engine_load_finish (KESTREL_ENGINE (source), result, error));
}

static gboolean
has_error (gpointer data)
{
  return *(GError **) data != NULL;
}

static void
count_cb (guint *count)
{
  (*count)++;
}

static void
test_engine_indicator_failure (void)
{
  g_autoptr(KestrelEngine) engine = kestrel_engine_new ();
  g_autoptr(GError) error = NULL;
  KestrelEngineIndicator *indicator = KESTREL_ENGINE_INDICATOR (kestrel_engine_indicator_new ());
  GtkWindow *window;
  GtkStack *stack;
  GtkLabel *message = NULL;
  guint n_retries = 0;

  kestrel_engine_indicator_set_engine (indicator, engine);
  window = present_in_window (GTK_WIDGET (indicator), 400, 200);
  stack = find_descendant (GTK_WIDGET (indicator), GTK_TYPE_STACK);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "empty");

  kestrel_engine_load_async (engine, "/nonexistent/kestrel-model", KESTREL_BACKEND_CPU, 0, 0,
                             NULL, load_cb, &error);
  g_assert_true (iterate_until (has_error, &error, 20));
  iterate_for (50);
  g_assert_cmpint (kestrel_engine_get_state (engine), ==, KESTREL_ENGINE_FAILED);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "failed");

  /* the popover shows the engine's message and retries on request */
  {
    GtkPopover *popover = gtk_menu_button_get_popover (GTK_MENU_BUTTON (gtk_stack_get_visible_child (stack)));
    GtkWidget *box = gtk_popover_get_child (popover);
    GtkWidget *retry = gtk_widget_get_last_child (box);

    message = GTK_LABEL (gtk_widget_get_prev_sibling (retry));
    g_assert_cmpstr (gtk_label_get_label (message), ==, error->message);
    g_signal_connect_swapped (indicator, "retry", G_CALLBACK (count_cb), &n_retries);
    g_signal_emit_by_name (retry, "clicked");
    g_assert_cmpuint (n_retries, ==, 1);
  }

  kestrel_engine_indicator_set_engine (indicator, NULL);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "empty");

  gtk_window_destroy (window);
  iterate_for (50);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/kestrel/engine-indicator/failure", test_engine_indicator_failure);

  return g_test_run ();
}
