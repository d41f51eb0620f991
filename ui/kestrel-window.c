/* kestrel-window.c — the main window: conversations sidebar and the chat content.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-window"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-preferences-dialog.h"
#include "kestrel-sidebar.h"
#include "kestrel-window-private.h"

struct _KestrelWindow
{
  AdwApplicationWindow  parent_instance;

  AdwToastOverlay        *toast_overlay;
  AdwNavigationSplitView *split_view;
  KestrelSidebar         *sidebar;
  GtkStack               *content_stack;
  KestrelModelStatusPage *no_model_page;
  KestrelChatPage        *chat_page;
  KestrelEngineIndicator *engine_indicator;
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

KestrelChatPage *
kestrel_window_get_chat_page (KestrelWindow *self)
{
  g_return_val_if_fail (KESTREL_IS_WINDOW (self), NULL);
  return self->chat_page;
}

KestrelModelStatusPage *
kestrel_window_get_model_status_page (KestrelWindow *self)
{
  g_return_val_if_fail (KESTREL_IS_WINDOW (self), NULL);
  return self->no_model_page;
}

KestrelEngineIndicator *
kestrel_window_get_engine_indicator (KestrelWindow *self)
{
  g_return_val_if_fail (KESTREL_IS_WINDOW (self), NULL);
  return self->engine_indicator;
}

void
kestrel_window_show_chat (KestrelWindow *self,
                          gboolean       show_chat)
{
  g_return_if_fail (KESTREL_IS_WINDOW (self));
  gtk_stack_set_visible_child_name (self->content_stack, show_chat ? "chat" : "no-model");
  /* ready to type */
  if (show_chat)
    kestrel_composer_grab_focus_text (kestrel_chat_page_get_composer (self->chat_page));
}

AdwToastOverlay *
kestrel_window_get_toast_overlay (KestrelWindow *self)
{
  g_return_val_if_fail (KESTREL_IS_WINDOW (self), NULL);
  return self->toast_overlay;
}

KestrelSidebar *
kestrel_window_get_sidebar (KestrelWindow *self)
{
  g_return_val_if_fail (KESTREL_IS_WINDOW (self), NULL);
  return self->sidebar;
}

void
kestrel_window_show_content (KestrelWindow *self)
{
  g_return_if_fail (KESTREL_IS_WINDOW (self));
  adw_navigation_split_view_set_show_content (self->split_view, TRUE);
}

/* Ctrl+F: the sidebar's search, also from the chat in the narrow layout. */
static void
search_action_cb (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  KestrelWindow *self = KESTREL_WINDOW (widget);

  adw_navigation_split_view_set_show_content (self->split_view, FALSE);
  kestrel_sidebar_focus_search (self->sidebar);
}

static void
preferences_action_cb (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  g_autoptr(GSettings) settings = g_settings_new (KESTREL_SETTINGS_SCHEMA_ID);
  AdwDialog *dialog = kestrel_preferences_dialog_new (settings);

  _kestrel_window_session_connect_preferences (KESTREL_WINDOW (widget), dialog);
  adw_dialog_present (dialog, widget);
}

static void
about_action_cb (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  static const char *developers[] = { "The Kestrel developers", NULL };
  AdwDialog *about = adw_about_dialog_new ();

  adw_about_dialog_set_application_name (ADW_ABOUT_DIALOG (about), _("Kestrel"));
  adw_about_dialog_set_application_icon (ADW_ABOUT_DIALOG (about), APPLICATION_ID);
  adw_about_dialog_set_version (ADW_ABOUT_DIALOG (about), PACKAGE_VERSION);
  adw_about_dialog_set_developer_name (ADW_ABOUT_DIALOG (about), _("The Kestrel developers"));
  adw_about_dialog_set_developers (ADW_ABOUT_DIALOG (about), developers);
  adw_about_dialog_set_comments (ADW_ABOUT_DIALOG (about),
                                 _("Chat with Gemma 3 on your own NVIDIA GPU"));
  adw_about_dialog_set_license_type (ADW_ABOUT_DIALOG (about), GTK_LICENSE_GPL_3_0);
  /* Translators: your names, one per line */
  adw_about_dialog_set_translator_credits (ADW_ABOUT_DIALOG (about), _("translator-credits"));
  adw_dialog_present (about, widget);
}

static void
kestrel_window_class_init (KestrelWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-window.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, KestrelWindow, split_view);
  gtk_widget_class_bind_template_child (widget_class, KestrelWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, KestrelWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, KestrelWindow, no_model_page);
  gtk_widget_class_bind_template_child (widget_class, KestrelWindow, chat_page);
  gtk_widget_class_bind_template_child (widget_class, KestrelWindow, engine_indicator);

  gtk_widget_class_install_action (widget_class, "win.preferences", NULL, preferences_action_cb);
  gtk_widget_class_install_action (widget_class, "win.about", NULL, about_action_cb);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_action_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.search", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_comma, GDK_CONTROL_MASK,
                                       "win.preferences", NULL);
  _kestrel_window_class_add_session_actions (widget_class);
}

static void
kestrel_window_init (KestrelWindow *self)
{
  g_type_ensure (KESTREL_TYPE_MODEL_STATUS_PAGE);
  g_type_ensure (KESTREL_TYPE_CHAT_PAGE);
  g_type_ensure (KESTREL_TYPE_ENGINE_INDICATOR);
  g_type_ensure (KESTREL_TYPE_SIDEBAR);

  gtk_widget_init_template (GTK_WIDGET (self));
}
