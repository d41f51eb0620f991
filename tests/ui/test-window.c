/* test-window.c — KestrelWindow: the template, the empty state, the narrow layout.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each test runs the real application; on activate it makes a main window, lets it draw,
 * runs its checks, and closes the window, which ends g_application_run(); then the
 * application must finalize (no leaked references).
 */
#include "config.h"

#include "kestrel-application.h"
#include "kestrel-window.h"

typedef void (*WindowCheck) (KestrelWindow *window);

typedef struct
{
  WindowCheck check;
  int         width;
  int         height;
  gboolean    ran;
} WindowTest;

static GtkWindow *
create_main_window (KestrelApplication *application)
{
  return GTK_WINDOW (kestrel_window_new (application));
}

static gpointer
find_descendant (GtkWidget *widget,
                 GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      gpointer found = find_descendant (child, type);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static void
iterate_until (gboolean (*done) (gpointer), gpointer data, int seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;

  while (!done (data) && g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
}

static gboolean
widget_is_mapped (gpointer widget)
{
  return gtk_widget_get_mapped (widget);
}

static void
activate_cb (GApplication *app,
             WindowTest   *test)
{
  KestrelWindow *window = kestrel_window_new (KESTREL_APPLICATION (app));

  gtk_window_set_default_size (GTK_WINDOW (window), test->width, test->height);
  gtk_window_present (GTK_WINDOW (window));
  iterate_until (widget_is_mapped, window, 5);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (window)));

  test->check (window);
  test->ran = TRUE;

  gtk_window_destroy (GTK_WINDOW (window));
  g_signal_stop_emission_by_name (app, "activate");
}

static void
run_with_window (WindowCheck check,
                 int         width,
                 int         height)
{
  KestrelApplication *app = kestrel_application_new (create_main_window);
  WindowTest test = { check, width, height, FALSE };

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "activate", G_CALLBACK (activate_cb), &test);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 0, NULL), ==, 0);
  g_assert_true (test.ran);
  g_assert_finalize_object (app);
}

static void
check_empty_state (KestrelWindow *window)
{
  AdwNavigationSplitView *split;
  AdwStatusPage *status;

  split = find_descendant (GTK_WIDGET (window), ADW_TYPE_NAVIGATION_SPLIT_VIEW);
  g_assert_nonnull (split);
  g_assert_false (adw_navigation_split_view_get_collapsed (split));

  status = find_descendant (GTK_WIDGET (kestrel_window_get_model_status_page (window)), ADW_TYPE_STATUS_PAGE);
  g_assert_nonnull (status);
  g_assert_cmpstr (adw_status_page_get_title (status), ==, "No Model Loaded");
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (status)));
}

static gboolean
split_is_collapsed (gpointer split)
{
  return adw_navigation_split_view_get_collapsed (split);
}

static void
check_narrow_layout (KestrelWindow *window)
{
  AdwNavigationSplitView *split;

  split = find_descendant (GTK_WIDGET (window), ADW_TYPE_NAVIGATION_SPLIT_VIEW);
  g_assert_nonnull (split);

  /* the breakpoint collapses the split view at 360 px */
  iterate_until (split_is_collapsed, split, 3);
  g_assert_true (adw_navigation_split_view_get_collapsed (split));
  g_assert_cmpint (gtk_widget_get_width (GTK_WIDGET (window)), <=, 400);
}

static void
test_window_empty_state (void)
{
  run_with_window (check_empty_state, 1000, 700);
}

static void
test_window_narrow_layout (void)
{
  run_with_window (check_narrow_layout, 360, 640);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/kestrel/window/empty-state", test_window_empty_state);
  g_test_add_func ("/kestrel/window/narrow-layout", test_window_narrow_layout);

  return g_test_run ();
}
