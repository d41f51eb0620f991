/* kestrel-window.c — the main window: conversations sidebar and the chat content.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-window"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-window.h"

struct _KestrelWindow
{
  AdwApplicationWindow  parent_instance;

  AdwNavigationSplitView *split_view;
  AdwStatusPage          *no_model_page;
};

G_DEFINE_FINAL_TYPE (KestrelWindow, kestrel_window, ADW_TYPE_APPLICATION_WINDOW)

KestrelWindow *
kestrel_window_new (KestrelApplication *application)
{
  g_return_val_if_fail (KESTREL_IS_APPLICATION (application), NULL);

  return g_object_new (KESTREL_TYPE_WINDOW,
                       "application", application,
                       NULL);
}

static void
kestrel_window_class_init (KestrelWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-window.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelWindow, split_view);
  gtk_widget_class_bind_template_child (widget_class, KestrelWindow, no_model_page);
}

static void
kestrel_window_init (KestrelWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
