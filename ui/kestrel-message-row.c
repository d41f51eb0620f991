/* kestrel-message-row.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-message-row"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "kestrel-image-loader.h"
#include "kestrel-markdown-view.h"
#include "kestrel-message-row.h"
#include "kestrel-tool-call-card.h"

#define THUMBNAIL_SIZE 120

struct _KestrelMessageRow
{
  GtkWidget             parent_instance;

  KestrelChatMessage   *message;
  gulong                notify_id;
  gulong                tool_calls_id;
  guint                 render_tick_id;
  KestrelChatMessageStatus  last_status;

  GtkBox               *images_box;
  GtkLabel             *user_label;
  GtkWidget            *edit_box;
  GtkTextView          *edit_view;
  KestrelMarkdownView  *markdown_view;
  GtkWidget            *tool_status_box;
  GtkLabel             *tool_status_label;
  GtkBox               *tool_calls_box;
  GtkWidget            *status_box;
  GtkWidget            *spinner;
  GtkImage             *status_icon;
  GtkLabel             *status_label;
  GtkWidget            *footer;
  GtkWidget            *branch_box;
  GtkLabel             *branch_label;
  GtkLabel             *stats_label;
  GtkWidget            *regenerate_button;
  GtkWidget            *edit_button;
};

G_DEFINE_FINAL_TYPE (KestrelMessageRow, kestrel_message_row, GTK_TYPE_WIDGET)

enum {
  REGENERATE,
  EDIT,
  DELETE,
  SWITCH_BRANCH,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
thumbnail_clicked_cb (GtkButton    *button,
                      KestrelImage *image)
{
  g_autoptr(GdkTexture) texture = kestrel_image_create_texture (image);
  AdwDialog *dialog = adw_dialog_new ();
  GtkWidget *view = adw_toolbar_view_new ();
  GtkWidget *full = gtk_picture_new_for_paintable (GDK_PAINTABLE (texture));

  adw_dialog_set_title (dialog, _("Image"));
  adw_dialog_set_content_width (dialog, 900);
  adw_dialog_set_content_height (dialog, 700);
  gtk_picture_set_content_fit (GTK_PICTURE (full), GTK_CONTENT_FIT_CONTAIN);
  gtk_accessible_update_property (GTK_ACCESSIBLE (full), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Attached image"), -1);
  adw_toolbar_view_add_top_bar (ADW_TOOLBAR_VIEW (view), adw_header_bar_new ());
  adw_toolbar_view_set_content (ADW_TOOLBAR_VIEW (view), full);
  adw_dialog_set_child (dialog, view);
  adw_dialog_present (dialog, GTK_WIDGET (button));
}

static void
rebuild_images (KestrelMessageRow *self)
{
  GtkWidget *child;
  GPtrArray *images;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->images_box))) != NULL)
    gtk_box_remove (self->images_box, child);

  images = self->message ? kestrel_chat_message_get_images (self->message) : NULL;
  gtk_widget_set_visible (GTK_WIDGET (self->images_box), images != NULL && images->len > 0);
  if (images == NULL)
    return;

  for (guint i = 0; i < images->len; i++)
    {
      KestrelImage *image = g_ptr_array_index (images, i);
      g_autoptr(GdkTexture) texture = kestrel_image_create_thumbnail (image, 2 * THUMBNAIL_SIZE);
      GtkWidget *picture = gtk_image_new_from_paintable (GDK_PAINTABLE (texture));
      GtkWidget *button = gtk_button_new ();

      gtk_image_set_pixel_size (GTK_IMAGE (picture), THUMBNAIL_SIZE);
      gtk_button_set_child (GTK_BUTTON (button), picture);
      gtk_widget_add_css_class (button, "thumbnail-button");
      gtk_widget_set_overflow (button, GTK_OVERFLOW_HIDDEN);
      gtk_widget_set_tooltip_text (button, _("View Image"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("View Attached Image"), -1);
      g_signal_connect_data (button, "clicked", G_CALLBACK (thumbnail_clicked_cb),
                             kestrel_image_ref (image), (GClosureNotify) kestrel_image_unref, 0);
      gtk_box_append (self->images_box, button);
    }
}

/* One card per tool call of the message, in order (calls are only ever appended). */
static void
rebuild_tool_calls (KestrelMessageRow *self)
{
  GListModel *calls = self->message ? kestrel_chat_message_get_tool_calls (self->message) : NULL;
  guint n = calls ? g_list_model_get_n_items (calls) : 0;
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->tool_calls_box))) != NULL)
    gtk_box_remove (self->tool_calls_box, child);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(KestrelToolCallRequest) request = g_list_model_get_item (calls, i);
      gtk_box_append (self->tool_calls_box, kestrel_tool_call_card_new (request));
    }
  gtk_widget_set_visible (GTK_WIDGET (self->tool_calls_box), n > 0);
}

static void
tool_calls_changed_cb (GListModel        *calls,
                       guint              position,
                       guint              removed,
                       guint              added,
                       KestrelMessageRow *self)
{
  rebuild_tool_calls (self);
}

static void
update_tool_status (KestrelMessageRow *self)
{
  const char *status = kestrel_chat_message_get_tool_status (self->message);

  gtk_label_set_label (self->tool_status_label, status != NULL ? status : "");
  gtk_widget_set_visible (self->tool_status_box, status != NULL);
}

static void
update_status (KestrelMessageRow *self)
{
  KestrelChatMessageStatus status = kestrel_chat_message_get_status (self->message);
  const char *icon = NULL;
  const char *text = NULL;

  const char *style = NULL;

  gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "warning");
  gtk_widget_remove_css_class (GTK_WIDGET (self->status_icon), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->status_icon), "warning");
  gtk_widget_remove_css_class (self->status_box, "dim-label");
  gtk_widget_set_visible (self->spinner, status == KESTREL_CHAT_MESSAGE_PENDING);

  switch (status)
    {
    case KESTREL_CHAT_MESSAGE_PENDING:
      text = _("Reading…");
      gtk_widget_add_css_class (self->status_box, "dim-label");
      break;
    case KESTREL_CHAT_MESSAGE_FAILED:
      icon = "dialog-error-symbolic";
      text = kestrel_chat_message_get_error_message (self->message);
      if (text == NULL)
        text = _("The reply failed");
      style = "error";
      break;
    case KESTREL_CHAT_MESSAGE_CANCELLED:
      icon = "media-playback-stop-symbolic";
      text = _("Stopped");
      gtk_widget_add_css_class (self->status_box, "dim-label");
      break;
    case KESTREL_CHAT_MESSAGE_INTERRUPTED:
      icon = "dialog-warning-symbolic";
      text = _("Interrupted — this reply is incomplete");
      style = "warning";
      break;
    case KESTREL_CHAT_MESSAGE_STREAMING:
    case KESTREL_CHAT_MESSAGE_COMPLETE:
    default:
      break;
    }

  if (style != NULL)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->status_label), style);
      gtk_widget_add_css_class (GTK_WIDGET (self->status_icon), style);
    }
  gtk_widget_set_visible (self->status_box, text != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->status_icon), icon != NULL);
  if (icon != NULL)
    gtk_image_set_from_icon_name (self->status_icon, icon);
  gtk_label_set_label (self->status_label, text ? text : "");

  /* actions wait until the reply is done */
  gtk_widget_set_visible (self->footer, status != KESTREL_CHAT_MESSAGE_PENDING &&
                                        status != KESTREL_CHAT_MESSAGE_STREAMING);

  if (kestrel_chat_message_get_role (self->message) == KESTREL_ROLE_MODEL &&
      status == KESTREL_CHAT_MESSAGE_COMPLETE &&
      (self->last_status == KESTREL_CHAT_MESSAGE_STREAMING || self->last_status == KESTREL_CHAT_MESSAGE_PENDING))
    {
      g_autofree char *announcement =
        g_strdup_printf (_("Reply finished: %s"), kestrel_chat_message_get_text (self->message));

      gtk_accessible_announce (GTK_ACCESSIBLE (self), announcement,
                               GTK_ACCESSIBLE_ANNOUNCEMENT_PRIORITY_MEDIUM);
    }
  self->last_status = status;
}

static void
update_footer (KestrelMessageRow *self)
{
  guint index = kestrel_chat_message_get_branch_index (self->message);
  guint count = kestrel_chat_message_get_branch_count (self->message);
  guint n_tokens = kestrel_chat_message_get_n_tokens (self->message);
  g_autofree char *branch = g_strdup_printf ("%u / %u", index + 1, count);

  gtk_widget_set_visible (self->branch_box, count > 1);
  gtk_label_set_label (self->branch_label, branch);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "message.previous-branch", index > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "message.next-branch", index + 1 < count);

  if (n_tokens > 0)
    {
      /* Translators: under a reply: its length and how fast it was written */
      g_autofree char *stats = g_strdup_printf (_("%u tokens · %.1f tokens/s"), n_tokens,
                                                kestrel_chat_message_get_tokens_per_second (self->message));
      gtk_label_set_label (self->stats_label, stats);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->stats_label), n_tokens > 0);
}

static void
render_text (KestrelMessageRow *self)
{
  /* nothing to copy in a reply that failed before its first word */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "message.copy",
                                 kestrel_chat_message_get_text (self->message)[0] != '\0');

  if (kestrel_chat_message_get_role (self->message) == KESTREL_ROLE_USER)
    gtk_label_set_label (self->user_label, kestrel_chat_message_get_text (self->message));
  else
    kestrel_markdown_view_set_markdown (self->markdown_view,
                                        kestrel_chat_message_get_text (self->message));
}

static gboolean
render_tick_cb (GtkWidget     *widget,
                GdkFrameClock *frame_clock,
                gpointer       user_data)
{
  KestrelMessageRow *self = KESTREL_MESSAGE_ROW (widget);

  self->render_tick_id = 0;
  if (self->message != NULL)
    render_text (self);
  return G_SOURCE_REMOVE;
}

static void
cancel_render_tick (KestrelMessageRow *self)
{
  if (self->render_tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->render_tick_id);
      self->render_tick_id = 0;
    }
}

static void
message_notify_cb (KestrelChatMessage *message,
                   GParamSpec         *pspec,
                   KestrelMessageRow  *self)
{
  const char *name = pspec ? pspec->name : NULL;

  if (name == NULL)
    render_text (self);
  else if (g_str_equal (name, "text"))
    {
      /* streamed text renders at most once per frame, however often it is appended */
      if (gtk_widget_get_mapped (GTK_WIDGET (self)))
        {
          if (self->render_tick_id == 0)
            self->render_tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), render_tick_cb,
                                                                 NULL, NULL);
        }
      else
        render_text (self);
    }
  if (name == NULL || g_str_equal (name, "status") || g_str_equal (name, "error-message"))
    update_status (self);
  if (name == NULL || g_str_equal (name, "tool-status"))
    update_tool_status (self);
  if (name == NULL || g_str_has_prefix (name, "branch-") || g_str_equal (name, "n-tokens") ||
      g_str_equal (name, "tokens-per-second"))
    update_footer (self);
}

void
kestrel_message_row_set_message (KestrelMessageRow  *self,
                                 KestrelChatMessage *message)
{
  gboolean is_user;

  g_return_if_fail (KESTREL_IS_MESSAGE_ROW (self));
  g_return_if_fail (message == NULL || KESTREL_IS_CHAT_MESSAGE (message));

  if (self->message == message)
    return;

  if (self->message != NULL)
    {
      g_clear_signal_handler (&self->notify_id, self->message);
      g_clear_signal_handler (&self->tool_calls_id, kestrel_chat_message_get_tool_calls (self->message));
    }
  cancel_render_tick (self);
  g_set_object (&self->message, message);
  gtk_widget_set_visible (self->edit_box, FALSE);

  if (message == NULL)
    {
      rebuild_images (self);
      rebuild_tool_calls (self);
      return;
    }

  is_user = kestrel_chat_message_get_role (message) == KESTREL_ROLE_USER;
  gtk_widget_set_visible (GTK_WIDGET (self->user_label), is_user);
  gtk_widget_set_visible (GTK_WIDGET (self->markdown_view), !is_user);
  gtk_widget_set_visible (self->regenerate_button, !is_user);
  gtk_widget_set_visible (self->edit_button, is_user);
  gtk_widget_set_halign (self->footer, is_user ? GTK_ALIGN_END : GTK_ALIGN_FILL);
  if (is_user)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self), "user");
      gtk_widget_remove_css_class (GTK_WIDGET (self), "model");
    }
  else
    {
      gtk_widget_add_css_class (GTK_WIDGET (self), "model");
      gtk_widget_remove_css_class (GTK_WIDGET (self), "user");
    }

  self->last_status = kestrel_chat_message_get_status (message);
  rebuild_images (self);
  rebuild_tool_calls (self);
  message_notify_cb (message, NULL, self);
  self->notify_id = g_signal_connect (message, "notify", G_CALLBACK (message_notify_cb), self);
  self->tool_calls_id = g_signal_connect (kestrel_chat_message_get_tool_calls (message), "items-changed",
                                          G_CALLBACK (tool_calls_changed_cb), self);
}

KestrelChatMessage *
kestrel_message_row_get_message (KestrelMessageRow *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE_ROW (self), NULL);
  return self->message;
}

void
kestrel_message_row_begin_edit (KestrelMessageRow *self)
{
  g_return_if_fail (KESTREL_IS_MESSAGE_ROW (self));

  if (self->message == NULL)
    return;

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->edit_view),
                            kestrel_chat_message_get_text (self->message), -1);
  gtk_widget_set_visible (self->edit_box, TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->user_label), FALSE);
  gtk_widget_grab_focus (GTK_WIDGET (self->edit_view));
}

static void
end_edit (KestrelMessageRow *self)
{
  gtk_widget_set_visible (self->edit_box, FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->user_label), TRUE);
}

static void
edit_cancel_clicked_cb (KestrelMessageRow *self)
{
  end_edit (self);
}

static void
edit_send_clicked_cb (KestrelMessageRow *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->edit_view);
  g_autofree char *text = NULL;
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = g_strstrip (gtk_text_buffer_get_text (buffer, &start, &end, FALSE));
  end_edit (self);
  if (text[0] != '\0')
    g_signal_emit (self, signals[EDIT], 0, text);
}

static void
row_action_cb (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  KestrelMessageRow *self = KESTREL_MESSAGE_ROW (widget);

  if (self->message == NULL)
    return;

  if (g_str_equal (action_name, "message.copy"))
    gdk_clipboard_set_text (gtk_widget_get_clipboard (widget),
                            kestrel_chat_message_get_text (self->message));
  else if (g_str_equal (action_name, "message.regenerate"))
    g_signal_emit (self, signals[REGENERATE], 0);
  else if (g_str_equal (action_name, "message.edit"))
    kestrel_message_row_begin_edit (self);
  else if (g_str_equal (action_name, "message.delete"))
    g_signal_emit (self, signals[DELETE], 0);
  else if (g_str_equal (action_name, "message.previous-branch"))
    g_signal_emit (self, signals[SWITCH_BRANCH], 0, -1);
  else if (g_str_equal (action_name, "message.next-branch"))
    g_signal_emit (self, signals[SWITCH_BRANCH], 0, 1);
}

GtkWidget *
kestrel_message_row_new (void)
{
  return g_object_new (KESTREL_TYPE_MESSAGE_ROW, NULL);
}

static void
kestrel_message_row_dispose (GObject *object)
{
  KestrelMessageRow *self = KESTREL_MESSAGE_ROW (object);

  if (self->message != NULL)
    {
      g_clear_signal_handler (&self->notify_id, self->message);
      g_clear_signal_handler (&self->tool_calls_id, kestrel_chat_message_get_tool_calls (self->message));
    }
  cancel_render_tick (self);
  g_clear_object (&self->message);
  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_MESSAGE_ROW);
  /* the template's unbound top-level child */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (kestrel_message_row_parent_class)->dispose (object);
}

static void
kestrel_message_row_class_init (KestrelMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  static const char *actions[] = {
    "message.copy", "message.regenerate", "message.edit", "message.delete",
    "message.previous-branch", "message.next-branch",
  };

  object_class->dispose = kestrel_message_row_dispose;

  signals[REGENERATE] = g_signal_new ("regenerate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                      0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[EDIT] = g_signal_new ("edit", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[DELETE] = g_signal_new ("delete", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SWITCH_BRANCH] = g_signal_new ("switch-branch", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 1, G_TYPE_INT);

  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    gtk_widget_class_install_action (widget_class, actions[i], NULL, row_action_cb);

  g_type_ensure (KESTREL_TYPE_MARKDOWN_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-message-row.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, images_box);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, user_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, edit_box);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, edit_view);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, markdown_view);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, tool_status_box);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, tool_status_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, tool_calls_box);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, status_box);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, spinner);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, status_icon);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, status_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, footer);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, branch_box);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, branch_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, stats_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, regenerate_button);
  gtk_widget_class_bind_template_child (widget_class, KestrelMessageRow, edit_button);
  gtk_widget_class_bind_template_callback (widget_class, edit_cancel_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, edit_send_clicked_cb);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "kestrel-message-row");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_ARTICLE);
}

static void
kestrel_message_row_init (KestrelMessageRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
