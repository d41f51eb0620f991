/* kestrel-chat-page.c — drops anywhere on the chat become attachments of the composer.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-chat-page"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-chat-page.h"

struct _KestrelChatPage
{
  GtkWidget        parent_instance;

  KestrelChatView *chat_view;
  KestrelComposer *composer;
  GtkWidget       *drop_highlight;
  GtkDropTarget   *drop_target;
};

G_DEFINE_FINAL_TYPE (KestrelChatPage, kestrel_chat_page, GTK_TYPE_WIDGET)

static GdkDragAction
drop_enter_cb (GtkDropTarget   *target,
               double           x,
               double           y,
               KestrelChatPage *self)
{
  gtk_widget_set_visible (self->drop_highlight, TRUE);
  return GDK_ACTION_COPY;
}

static void
drop_leave_cb (GtkDropTarget   *target,
               KestrelChatPage *self)
{
  gtk_widget_set_visible (self->drop_highlight, FALSE);
}

static gboolean
drop_cb (GtkDropTarget   *target,
         const GValue    *value,
         double           x,
         double           y,
         KestrelChatPage *self)
{
  gtk_widget_set_visible (self->drop_highlight, FALSE);
  return kestrel_composer_add_value (self->composer, value);
}

KestrelChatView *
kestrel_chat_page_get_chat_view (KestrelChatPage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_PAGE (self), NULL);
  return self->chat_view;
}

KestrelComposer *
kestrel_chat_page_get_composer (KestrelChatPage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_PAGE (self), NULL);
  return self->composer;
}

GtkDropTarget *
kestrel_chat_page_get_drop_target (KestrelChatPage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_PAGE (self), NULL);
  return self->drop_target;
}

GtkWidget *
kestrel_chat_page_new (void)
{
  return g_object_new (KESTREL_TYPE_CHAT_PAGE, NULL);
}

static void
kestrel_chat_page_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), KESTREL_TYPE_CHAT_PAGE);
  /* the template's unbound top-level child */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL;)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (kestrel_chat_page_parent_class)->dispose (object);
}

static void
kestrel_chat_page_class_init (KestrelChatPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = kestrel_chat_page_dispose;

  g_type_ensure (KESTREL_TYPE_CHAT_VIEW);
  g_type_ensure (KESTREL_TYPE_COMPOSER);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-chat-page.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelChatPage, chat_view);
  gtk_widget_class_bind_template_child (widget_class, KestrelChatPage, composer);
  gtk_widget_class_bind_template_child (widget_class, KestrelChatPage, drop_highlight);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "kestrel-chat-page");
}

static void
kestrel_chat_page_init (KestrelChatPage *self)
{
  GType types[] = { GDK_TYPE_FILE_LIST, G_TYPE_FILE, GDK_TYPE_TEXTURE };

  gtk_widget_init_template (GTK_WIDGET (self));

  self->drop_target = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (self->drop_target, types, G_N_ELEMENTS (types));
  g_signal_connect (self->drop_target, "enter", G_CALLBACK (drop_enter_cb), self);
  g_signal_connect (self->drop_target, "leave", G_CALLBACK (drop_leave_cb), self);
  g_signal_connect (self->drop_target, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (self->drop_target));
}
