/* kestrel-composer.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-composer"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "kestrel-attachment-strip.h"
#include "kestrel-composer.h"
#include "kestrel-image-loader.h"

struct _KestrelComposer
{
  GtkWidget               parent_instance;

  KestrelAttachmentStrip *attachments;
  GtkTextView            *text_view;
  GtkStack               *button_stack;
  GtkButton              *send_button;
  GtkButton              *stop_button;
  GtkWidget              *placeholder;

  GCancellable           *cancellable;
  guint                   n_pending;
  gboolean                busy;
};

G_DEFINE_FINAL_TYPE (KestrelComposer, kestrel_composer, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_BUSY,
  N_PROPS
};

enum {
  SEND,
  CANCEL,
  ATTACHMENT_ERROR,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
show_error (KestrelComposer *self,
            const char      *message)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  g_signal_emit (self, signals[ATTACHMENT_ERROR], 0, message);
  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (message));
}

static void
update_send_sensitivity (KestrelComposer *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  gboolean has_content = gtk_text_buffer_get_char_count (buffer) > 0 ||
                         kestrel_attachment_strip_get_n_images (self->attachments) > 0;

  gtk_widget_set_sensitive (GTK_WIDGET (self->send_button), has_content && self->n_pending == 0);
  gtk_widget_set_visible (self->placeholder, gtk_text_buffer_get_char_count (buffer) == 0);
}

static void
send (KestrelComposer *self)
{
  g_autofree char *text = NULL;
  g_autofree char *stripped = NULL;
  g_autoptr(GPtrArray) images = NULL;

  if (self->busy || self->n_pending > 0)
    return;

  text = kestrel_composer_dup_text (self);
  stripped = g_strstrip (g_strdup (text));
  images = kestrel_attachment_strip_dup_images (self->attachments);
  if (stripped[0] == '\0' && images->len == 0)
    return;

  g_signal_emit (self, signals[SEND], 0, stripped, images);

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), "", 0);
  kestrel_attachment_strip_clear (self->attachments);
}

static void
send_clicked_cb (KestrelComposer *self)
{
  send (self);
}

static void
stop_clicked_cb (KestrelComposer *self)
{
  if (self->busy)
    g_signal_emit (self, signals[CANCEL], 0);
}

static gboolean
key_pressed_cb (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                KestrelComposer       *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  GdkEvent *event;

  if (keyval == GDK_KEY_Escape)
    {
      if (!self->busy)
        return FALSE;
      g_signal_emit (self, signals[CANCEL], 0);
      return TRUE;
    }

  if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter && keyval != GDK_KEY_ISO_Enter)
    return FALSE;

  /* an input method that is composing takes the Enter itself (to commit its text) */
  event = gtk_event_controller_get_current_event (GTK_EVENT_CONTROLLER (controller));
  if (event != NULL && gtk_text_view_im_context_filter_keypress (self->text_view, event))
    return TRUE;

  /* Shift+Enter (or Ctrl+Enter) is a new line; plain Enter sends */
  if (state & (GDK_SHIFT_MASK | GDK_CONTROL_MASK))
    {
      gtk_text_buffer_delete_selection (buffer, TRUE, TRUE);
      gtk_text_buffer_insert_at_cursor (buffer, "\n", 1);
      gtk_text_view_scroll_mark_onscreen (self->text_view, gtk_text_buffer_get_insert (buffer));
      return TRUE;
    }

  send (self);
  return TRUE;
}

static void
image_loaded_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(KestrelComposer) self = user_data;
  g_autoptr(KestrelImage) image = NULL;
  g_autoptr(GError) error = NULL;

  image = kestrel_image_load_file_finish (result, &error);
  self->n_pending--;

  if (image != NULL)
    kestrel_attachment_strip_add (self->attachments, image);
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    show_error (self, error->message);

  update_send_sensitivity (self);
}

void
kestrel_composer_add_file (KestrelComposer *self,
                           GFile           *file)
{
  g_return_if_fail (KESTREL_IS_COMPOSER (self));
  g_return_if_fail (G_IS_FILE (file));

  self->n_pending++;
  update_send_sensitivity (self);
  kestrel_image_load_file_async (file, self->cancellable, image_loaded_cb, g_object_ref (self));
}

void
kestrel_composer_add_texture (KestrelComposer *self,
                              GdkTexture      *texture)
{
  g_return_if_fail (KESTREL_IS_COMPOSER (self));
  g_return_if_fail (GDK_IS_TEXTURE (texture));

  /* converting and downscaling a large screenshot takes a while: off the main thread */
  self->n_pending++;
  update_send_sensitivity (self);
  kestrel_image_load_texture_async (texture, self->cancellable, image_loaded_cb, g_object_ref (self));
}

gboolean
kestrel_composer_add_value (KestrelComposer *self,
                            const GValue    *value)
{
  g_return_val_if_fail (KESTREL_IS_COMPOSER (self), FALSE);
  g_return_val_if_fail (G_IS_VALUE (value), FALSE);

  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      GdkFileList *list = g_value_get_boxed (value);
      g_autoptr(GSList) files = list ? gdk_file_list_get_files (list) : NULL;

      if (files == NULL)
        return FALSE;
      for (GSList *l = files; l != NULL; l = l->next)
        kestrel_composer_add_file (self, l->data);
      return TRUE;
    }
  if (G_VALUE_HOLDS (value, G_TYPE_FILE) && g_value_get_object (value) != NULL)
    {
      kestrel_composer_add_file (self, g_value_get_object (value));
      return TRUE;
    }
  if (G_VALUE_HOLDS (value, GDK_TYPE_TEXTURE) && g_value_get_object (value) != NULL)
    {
      kestrel_composer_add_texture (self, g_value_get_object (value));
      return TRUE;
    }

  return FALSE;
}

static void
clipboard_value_read_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(KestrelComposer) self = user_data;
  g_autoptr(GError) error = NULL;
  const GValue *value;

  value = gdk_clipboard_read_value_finish (GDK_CLIPBOARD (source), result, &error);
  if (value == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, _("The clipboard’s image could not be read"));
      return;
    }

  kestrel_composer_add_value (self, value);
}

/* Images (and copied image files) paste as attachments; anything else as text. */
static void
paste_clipboard_cb (GtkTextView     *text_view,
                    KestrelComposer *self)
{
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (text_view));
  GdkContentFormats *formats = gdk_clipboard_get_formats (clipboard);
  GType type;

  if (gdk_content_formats_contain_gtype (formats, GDK_TYPE_TEXTURE))
    type = GDK_TYPE_TEXTURE;
  else if (gdk_content_formats_contain_gtype (formats, GDK_TYPE_FILE_LIST))
    type = GDK_TYPE_FILE_LIST;
  else
    return;

  g_signal_stop_emission_by_name (text_view, "paste-clipboard");
  gdk_clipboard_read_value_async (clipboard, type, G_PRIORITY_DEFAULT, self->cancellable,
                                  clipboard_value_read_cb, g_object_ref (self));
}

static void
files_chosen_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(KestrelComposer) self = user_data;
  g_autoptr(GListModel) files = NULL;
  g_autoptr(GError) error = NULL;

  files = gtk_file_dialog_open_multiple_finish (GTK_FILE_DIALOG (source), result, &error);
  if (files == NULL)
    return;  /* dismissed */

  for (guint i = 0; i < g_list_model_get_n_items (files); i++)
    {
      g_autoptr(GFile) file = g_list_model_get_item (files, i);
      kestrel_composer_add_file (self, file);
    }
}

static void
attach_clicked_cb (KestrelComposer *self)
{
  g_autoptr(GtkFileDialog) dialog = gtk_file_dialog_new ();
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();
  g_autoptr(GListStore) filters = g_list_store_new (GTK_TYPE_FILE_FILTER);
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  gtk_file_filter_set_name (filter, _("Images"));
  gtk_file_filter_add_pixbuf_formats (filter);
  g_list_store_append (filters, filter);
  gtk_file_dialog_set_title (dialog, _("Attach Images"));
  gtk_file_dialog_set_filters (dialog, G_LIST_MODEL (filters));
  gtk_file_dialog_set_default_filter (dialog, filter);
  gtk_file_dialog_open_multiple (dialog, GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                 self->cancellable, files_chosen_cb, g_object_ref (self));
}

gboolean
kestrel_composer_get_busy (KestrelComposer *self)
{
  g_return_val_if_fail (KESTREL_IS_COMPOSER (self), FALSE);
  return self->busy;
}

void
kestrel_composer_set_busy (KestrelComposer *self,
                           gboolean         busy)
{
  g_return_if_fail (KESTREL_IS_COMPOSER (self));

  busy = !!busy;
  if (self->busy == busy)
    return;

  self->busy = busy;
  gtk_stack_set_visible_child (self->button_stack,
                               GTK_WIDGET (busy ? self->stop_button : self->send_button));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

char *
kestrel_composer_dup_text (KestrelComposer *self)
{
  GtkTextBuffer *buffer;
  GtkTextIter start, end;

  g_return_val_if_fail (KESTREL_IS_COMPOSER (self), NULL);

  buffer = gtk_text_view_get_buffer (self->text_view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

void
kestrel_composer_set_text (KestrelComposer *self,
                           const char      *text)
{
  g_return_if_fail (KESTREL_IS_COMPOSER (self));
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), text ? text : "", -1);
}

guint
kestrel_composer_get_n_attachments (KestrelComposer *self)
{
  g_return_val_if_fail (KESTREL_IS_COMPOSER (self), 0);
  return kestrel_attachment_strip_get_n_images (self->attachments);
}

guint
kestrel_composer_get_n_pending (KestrelComposer *self)
{
  g_return_val_if_fail (KESTREL_IS_COMPOSER (self), 0);
  return self->n_pending;
}

void
kestrel_composer_grab_focus_text (KestrelComposer *self)
{
  g_return_if_fail (KESTREL_IS_COMPOSER (self));
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

GtkWidget *
kestrel_composer_new (void)
{
  return g_object_new (KESTREL_TYPE_COMPOSER, NULL);
}

static void
kestrel_composer_dispose (GObject *object)
{
  KestrelComposer *self = KESTREL_COMPOSER (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_COMPOSER);
  /* the template's unbound top-level child */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (kestrel_composer_parent_class)->dispose (object);
}

static void
kestrel_composer_finalize (GObject *object)
{
  KestrelComposer *self = KESTREL_COMPOSER (object);

  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (kestrel_composer_parent_class)->finalize (object);
}

static void
kestrel_composer_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  KestrelComposer *self = KESTREL_COMPOSER (object);

  switch (prop_id)
    {
    case PROP_BUSY: g_value_set_boolean (value, self->busy); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_composer_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  KestrelComposer *self = KESTREL_COMPOSER (object);

  switch (prop_id)
    {
    case PROP_BUSY: kestrel_composer_set_busy (self, g_value_get_boolean (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_composer_class_init (KestrelComposerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = kestrel_composer_dispose;
  object_class->finalize = kestrel_composer_finalize;
  object_class->get_property = kestrel_composer_get_property;
  object_class->set_property = kestrel_composer_set_property;

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SEND] = g_signal_new ("send", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                G_TYPE_STRING, G_TYPE_PTR_ARRAY);
  signals[CANCEL] = g_signal_new ("cancel", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[ATTACHMENT_ERROR] = g_signal_new ("attachment-error", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                            G_TYPE_NONE, 1, G_TYPE_STRING);

  g_type_ensure (KESTREL_TYPE_ATTACHMENT_STRIP);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-composer.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelComposer, attachments);
  gtk_widget_class_bind_template_child (widget_class, KestrelComposer, text_view);
  gtk_widget_class_bind_template_child (widget_class, KestrelComposer, button_stack);
  gtk_widget_class_bind_template_child (widget_class, KestrelComposer, send_button);
  gtk_widget_class_bind_template_child (widget_class, KestrelComposer, stop_button);
  gtk_widget_class_bind_template_child (widget_class, KestrelComposer, placeholder);
  gtk_widget_class_bind_template_callback (widget_class, send_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, stop_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, attach_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, paste_clipboard_cb);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "kestrel-composer");
}

static void
kestrel_composer_init (KestrelComposer *self)
{
  GtkEventController *keys;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();

  /* before the text view's own handling, so that Enter sends instead of inserting */
  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_name (keys, "kestrel-composer-keys");
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->text_view), keys);

  g_signal_connect_object (gtk_text_view_get_buffer (self->text_view), "changed",
                           G_CALLBACK (update_send_sensitivity), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->attachments, "notify::n-images",
                           G_CALLBACK (update_send_sensitivity), self, G_CONNECT_SWAPPED);
  update_send_sensitivity (self);
}
