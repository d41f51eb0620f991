/* kestrel-attachment-strip.c — a horizontal row of thumbnails with remove buttons.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-attachment-strip"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-attachment-strip.h"
#include "kestrel-image-loader.h"

#define THUMBNAIL_SIZE 64

struct _KestrelAttachmentStrip
{
  GtkWidget  parent_instance;

  GtkWidget *scroller;
  GtkWidget *box;
  GPtrArray *images;   /* of KestrelImage, in the order of the box's children */
};

G_DEFINE_FINAL_TYPE (KestrelAttachmentStrip, kestrel_attachment_strip, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_N_IMAGES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
remove_clicked_cb (GtkButton              *button,
                   KestrelAttachmentStrip *self)
{
  GtkWidget *item = gtk_widget_get_ancestor (GTK_WIDGET (button), GTK_TYPE_OVERLAY);
  guint index = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (self->box);
       child != NULL && child != item;
       child = gtk_widget_get_next_sibling (child))
    index++;

  kestrel_attachment_strip_remove (self, index);
}

void
kestrel_attachment_strip_add (KestrelAttachmentStrip *self,
                              KestrelImage           *image)
{
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *label = NULL;
  GtkWidget *overlay, *picture, *remove;

  g_return_if_fail (KESTREL_IS_ATTACHMENT_STRIP (self));
  g_return_if_fail (image != NULL);

  /* twice the size, for scaled displays; a square GtkImage keeps the natural size fixed */
  texture = kestrel_image_create_thumbnail (image, 2 * THUMBNAIL_SIZE);
  picture = gtk_image_new_from_paintable (GDK_PAINTABLE (texture));
  gtk_image_set_pixel_size (GTK_IMAGE (picture), THUMBNAIL_SIZE);
  gtk_widget_set_overflow (picture, GTK_OVERFLOW_HIDDEN);
  gtk_widget_add_css_class (picture, "thumbnail");
  label = g_strdup_printf (_("Attached image, %u × %u pixels"),
                           kestrel_image_get_width (image), kestrel_image_get_height (image));
  gtk_accessible_update_property (GTK_ACCESSIBLE (picture),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);

  remove = gtk_button_new_from_icon_name ("window-close-symbolic");
  gtk_widget_set_tooltip_text (remove, _("Remove Image"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (remove),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Remove Image"), -1);
  gtk_widget_add_css_class (remove, "osd");
  gtk_widget_add_css_class (remove, "circular");
  gtk_widget_add_css_class (remove, "remove-button");
  gtk_widget_set_halign (remove, GTK_ALIGN_END);
  gtk_widget_set_valign (remove, GTK_ALIGN_START);
  g_signal_connect_object (remove, "clicked", G_CALLBACK (remove_clicked_cb), self, 0);

  overlay = gtk_overlay_new ();
  gtk_overlay_set_child (GTK_OVERLAY (overlay), picture);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), remove);
  gtk_box_append (GTK_BOX (self->box), overlay);

  g_ptr_array_add (self->images, kestrel_image_ref (image));
  gtk_widget_set_visible (GTK_WIDGET (self), TRUE);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_IMAGES]);
}

void
kestrel_attachment_strip_remove (KestrelAttachmentStrip *self,
                                 guint                   index)
{
  GtkWidget *child = gtk_widget_get_first_child (self->box);

  g_return_if_fail (KESTREL_IS_ATTACHMENT_STRIP (self));
  g_return_if_fail (index < self->images->len);

  for (guint i = 0; i < index; i++)
    child = gtk_widget_get_next_sibling (child);

  gtk_box_remove (GTK_BOX (self->box), child);
  g_ptr_array_remove_index (self->images, index);
  gtk_widget_set_visible (GTK_WIDGET (self), self->images->len > 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_IMAGES]);
}

void
kestrel_attachment_strip_clear (KestrelAttachmentStrip *self)
{
  GtkWidget *child;

  g_return_if_fail (KESTREL_IS_ATTACHMENT_STRIP (self));

  if (self->images->len == 0)
    return;

  while ((child = gtk_widget_get_first_child (self->box)) != NULL)
    gtk_box_remove (GTK_BOX (self->box), child);
  g_ptr_array_set_size (self->images, 0);
  gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_IMAGES]);
}

guint
kestrel_attachment_strip_get_n_images (KestrelAttachmentStrip *self)
{
  g_return_val_if_fail (KESTREL_IS_ATTACHMENT_STRIP (self), 0);
  return self->images->len;
}

GPtrArray *
kestrel_attachment_strip_dup_images (KestrelAttachmentStrip *self)
{
  GPtrArray *copy;

  g_return_val_if_fail (KESTREL_IS_ATTACHMENT_STRIP (self), NULL);

  copy = g_ptr_array_new_full (self->images->len, (GDestroyNotify) kestrel_image_unref);
  for (guint i = 0; i < self->images->len; i++)
    g_ptr_array_add (copy, kestrel_image_ref (g_ptr_array_index (self->images, i)));
  return copy;
}

GtkWidget *
kestrel_attachment_strip_new (void)
{
  return g_object_new (KESTREL_TYPE_ATTACHMENT_STRIP, NULL);
}

static void
kestrel_attachment_strip_dispose (GObject *object)
{
  KestrelAttachmentStrip *self = KESTREL_ATTACHMENT_STRIP (object);

  g_clear_pointer (&self->scroller, gtk_widget_unparent);
  g_clear_pointer (&self->images, g_ptr_array_unref);

  G_OBJECT_CLASS (kestrel_attachment_strip_parent_class)->dispose (object);
}

static void
kestrel_attachment_strip_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  KestrelAttachmentStrip *self = KESTREL_ATTACHMENT_STRIP (object);

  switch (prop_id)
    {
    case PROP_N_IMAGES:
      g_value_set_uint (value, self->images ? self->images->len : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_attachment_strip_class_init (KestrelAttachmentStripClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = kestrel_attachment_strip_dispose;
  object_class->get_property = kestrel_attachment_strip_get_property;

  properties[PROP_N_IMAGES] =
    g_param_spec_uint ("n-images", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "kestrel-attachment-strip");
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_LIST);
}

static void
kestrel_attachment_strip_init (KestrelAttachmentStrip *self)
{
  self->images = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_image_unref);

  self->box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  self->scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (self->scroller),
                                  GTK_POLICY_AUTOMATIC, GTK_POLICY_NEVER);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (self->scroller), TRUE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (self->scroller), self->box);
  gtk_widget_set_parent (self->scroller, GTK_WIDGET (self));

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Attached images"), -1);
  gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
}
