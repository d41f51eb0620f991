/* ui-test-util.h — helpers shared by the widget tests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

static inline gpointer
find_descendant_full (GtkWidget  *widget,
                      GType       type,
                      const char *css_class)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type) &&
      (css_class == NULL || gtk_widget_has_css_class (widget, css_class)))
    return widget;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      gpointer found = find_descendant_full (child, type, css_class);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static inline gpointer
find_descendant (GtkWidget *widget,
                 GType      type)
{
  return find_descendant_full (widget, type, NULL);
}

static inline guint
count_descendants (GtkWidget *widget,
                   GType      type)
{
  guint n = G_TYPE_CHECK_INSTANCE_TYPE (widget, type) ? 1 : 0;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n += count_descendants (child, type);

  return n;
}

/* Runs the main loop until done() or the timeout; returns done(). */
static inline gboolean
iterate_until (gboolean (*done) (gpointer),
               gpointer  data,
               int       seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;

  while (!done (data) && g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }

  return done (data);
}

/* Runs the main loop for a while (layout, frames). */
static inline void
iterate_for (int milliseconds)
{
  gint64 deadline = g_get_monotonic_time () + milliseconds * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
}

static inline GtkEventController *
find_controller (GtkWidget  *widget,
                 const char *name)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (g_strcmp0 (gtk_event_controller_get_name (controller), name) == 0)
        return controller;
    }

  return NULL;
}

static inline GtkWindow *
present_in_window (GtkWidget *child,
                   int        width,
                   int        height)
{
  GtkWindow *window = GTK_WINDOW (adw_window_new ());
  AdwToastOverlay *overlay = ADW_TOAST_OVERLAY (adw_toast_overlay_new ());

  adw_toast_overlay_set_child (overlay, child);
  adw_window_set_content (ADW_WINDOW (window), GTK_WIDGET (overlay));
  gtk_window_set_default_size (window, width, height);
  gtk_window_present (window);
  iterate_until ((gboolean (*) (gpointer)) gtk_widget_get_mapped, child, 5);
  g_assert_true (gtk_widget_get_mapped (child));

  return window;
}
