/* kestrel-attachment.c — an image attached to a message.
 *
 * The original bytes are kept exactly as given (the model sees what the user sent); width,
 * height, sha256 and a PNG thumbnail are derived once, when the attachment is made.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include <gdk-pixbuf/gdk-pixbuf.h>

#include "kestrel-attachment.h"

struct _KestrelAttachment
{
  GObject parent_instance;

  gint64 id;
  gint64 message_id;
  char *mime_type;
  char *sha256;
  int width;
  int height;
  GBytes *data;
  GBytes *thumbnail;
};

G_DEFINE_FINAL_TYPE (KestrelAttachment, kestrel_attachment, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_MESSAGE_ID,
  PROP_MIME_TYPE,
  PROP_SHA256,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_DATA,
  PROP_THUMBNAIL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
kestrel_attachment_finalize (GObject *object)
{
  KestrelAttachment *self = (KestrelAttachment *)object;

  g_clear_pointer (&self->mime_type, g_free);
  g_clear_pointer (&self->sha256, g_free);
  g_clear_pointer (&self->data, g_bytes_unref);
  g_clear_pointer (&self->thumbnail, g_bytes_unref);

  G_OBJECT_CLASS (kestrel_attachment_parent_class)->finalize (object);
}

static void
kestrel_attachment_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  KestrelAttachment *self = KESTREL_ATTACHMENT (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_int64 (value, self->id); break;
    case PROP_MESSAGE_ID: g_value_set_int64 (value, self->message_id); break;
    case PROP_MIME_TYPE: g_value_set_string (value, self->mime_type); break;
    case PROP_SHA256: g_value_set_string (value, self->sha256); break;
    case PROP_WIDTH: g_value_set_int (value, self->width); break;
    case PROP_HEIGHT: g_value_set_int (value, self->height); break;
    case PROP_DATA: g_value_set_boxed (value, self->data); break;
    case PROP_THUMBNAIL: g_value_set_boxed (value, self->thumbnail); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_attachment_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  KestrelAttachment *self = KESTREL_ATTACHMENT (object);

  switch (prop_id)
    {
    case PROP_ID: self->id = g_value_get_int64 (value); break;
    case PROP_MESSAGE_ID: self->message_id = g_value_get_int64 (value); break;
    case PROP_MIME_TYPE: self->mime_type = g_value_dup_string (value); break;
    case PROP_SHA256: self->sha256 = g_value_dup_string (value); break;
    case PROP_WIDTH: self->width = g_value_get_int (value); break;
    case PROP_HEIGHT: self->height = g_value_get_int (value); break;
    case PROP_DATA: self->data = g_value_dup_boxed (value); break;
    case PROP_THUMBNAIL: self->thumbnail = g_value_dup_boxed (value); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_attachment_class_init (KestrelAttachmentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = kestrel_attachment_finalize;
  object_class->get_property = kestrel_attachment_get_property;
  object_class->set_property = kestrel_attachment_set_property;

  properties[PROP_ID] = g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_MESSAGE_ID] = g_param_spec_int64 ("message-id", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_MIME_TYPE] = g_param_spec_string ("mime-type", NULL, NULL, NULL, co);
  properties[PROP_SHA256] = g_param_spec_string ("sha256", NULL, NULL, NULL, co);
  properties[PROP_WIDTH] = g_param_spec_int ("width", NULL, NULL, 0, G_MAXINT, 0, co);
  properties[PROP_HEIGHT] = g_param_spec_int ("height", NULL, NULL, 0, G_MAXINT, 0, co);
  properties[PROP_DATA] = g_param_spec_boxed ("data", NULL, NULL, G_TYPE_BYTES, co);
  properties[PROP_THUMBNAIL] = g_param_spec_boxed ("thumbnail", NULL, NULL, G_TYPE_BYTES, co);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_attachment_init (KestrelAttachment *self)
{
}

static GBytes *
make_thumbnail (GdkPixbuf  *pixbuf,
                GError    **error)
{
  g_autoptr(GdkPixbuf) scaled = NULL;
  g_autofree char *buffer = NULL;
  int width = gdk_pixbuf_get_width (pixbuf);
  int height = gdk_pixbuf_get_height (pixbuf);
  int longest = MAX (width, height);
  gsize size = 0;

  if (longest > KESTREL_ATTACHMENT_THUMBNAIL_SIZE)
    {
      double scale = (double) KESTREL_ATTACHMENT_THUMBNAIL_SIZE / longest;

      scaled = gdk_pixbuf_scale_simple (pixbuf,
                                        MAX (1, (int) (width * scale + 0.5)),
                                        MAX (1, (int) (height * scale + 0.5)),
                                        GDK_INTERP_BILINEAR);
      if (scaled == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "Not enough memory for a thumbnail");
          return NULL;
        }
    }
  else
    {
      scaled = g_object_ref (pixbuf);
    }

  if (!gdk_pixbuf_save_to_buffer (scaled, &buffer, &size, "png", error, NULL))
    return NULL;

  return g_bytes_new_take (g_steal_pointer (&buffer), size);
}

/**
 * kestrel_attachment_new_from_bytes:
 * @data: the image file's bytes, unchanged
 * @mime_type: e.g. "image/png"
 *
 * Decodes @data to learn its dimensions and make a thumbnail. Fails with a G_IO_ERROR for
 * something that is not a decodable image of @mime_type, or that is too large.
 */
KestrelAttachment *
kestrel_attachment_new_from_bytes (GBytes      *data,
                                   const char  *mime_type,
                                   GError     **error)
{
  g_autoptr(GdkPixbufLoader) loader = NULL;
  g_autoptr(GBytes) thumbnail = NULL;
  g_autofree char *sha256 = NULL;
  GdkPixbuf *pixbuf;
  gsize size;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (mime_type != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  size = g_bytes_get_size (data);
  if (size == 0 || size > KESTREL_ATTACHMENT_MAX_BYTES)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "An image must be between 1 byte and %d MiB; this one is %" G_GSIZE_FORMAT " bytes",
                   KESTREL_ATTACHMENT_MAX_BYTES / (1024 * 1024), size);
      return NULL;
    }

  if (!g_str_has_prefix (mime_type, "image/"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "Only images can be attached, not “%s”", mime_type);
      return NULL;
    }

  loader = gdk_pixbuf_loader_new_with_mime_type (mime_type, error);
  if (loader == NULL)
    return NULL;

  if (!gdk_pixbuf_loader_write_bytes (loader, data, error) ||
      !gdk_pixbuf_loader_close (loader, error))
    return NULL;

  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  if (pixbuf == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The %s image could not be decoded", mime_type);
      return NULL;
    }

  if (!(thumbnail = make_thumbnail (pixbuf, error)))
    return NULL;

  sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data);

  return g_object_new (KESTREL_TYPE_ATTACHMENT,
                       "mime-type", mime_type,
                       "sha256", sha256,
                       "width", gdk_pixbuf_get_width (pixbuf),
                       "height", gdk_pixbuf_get_height (pixbuf),
                       "data", data,
                       "thumbnail", thumbnail,
                       NULL);
}

gint64
kestrel_attachment_get_id (KestrelAttachment *self)
{
  g_return_val_if_fail (KESTREL_IS_ATTACHMENT (self), 0);
  return self->id;
}

gint64
kestrel_attachment_get_message_id (KestrelAttachment *self)
{
  g_return_val_if_fail (KESTREL_IS_ATTACHMENT (self), 0);
  return self->message_id;
}

const char *
kestrel_attachment_get_mime_type (KestrelAttachment *self)
{
  g_return_val_if_fail (KESTREL_IS_ATTACHMENT (self), NULL);
  return self->mime_type;
}

gsize
kestrel_attachment_get_byte_size (KestrelAttachment *self)
{
  g_return_val_if_fail (KESTREL_IS_ATTACHMENT (self), 0);
  return self->data ? g_bytes_get_size (self->data) : 0;
}

/* Lower-case hex SHA-256 of the original bytes. */
const char *
kestrel_attachment_get_sha256 (KestrelAttachment *self)
{
  g_return_val_if_fail (KESTREL_IS_ATTACHMENT (self), NULL);
  return self->sha256;
}

int
kestrel_attachment_get_width (KestrelAttachment *self)
{
  g_return_val_if_fail (KESTREL_IS_ATTACHMENT (self), 0);
  return self->width;
}

int
kestrel_attachment_get_height (KestrelAttachment *self)
{
  g_return_val_if_fail (KESTREL_IS_ATTACHMENT (self), 0);
  return self->height;
}

/* Returns: (transfer none): the original bytes. */
GBytes *
kestrel_attachment_get_data (KestrelAttachment *self)
{
  g_return_val_if_fail (KESTREL_IS_ATTACHMENT (self), NULL);
  return self->data;
}

/* Returns: (transfer none): a PNG no larger than KESTREL_ATTACHMENT_THUMBNAIL_SIZE. */
GBytes *
kestrel_attachment_get_thumbnail (KestrelAttachment *self)
{
  g_return_val_if_fail (KESTREL_IS_ATTACHMENT (self), NULL);
  return self->thumbnail;
}
