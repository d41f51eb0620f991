/* kestrel-attachment.h — an image attached to a message.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define KESTREL_TYPE_ATTACHMENT (kestrel_attachment_get_type ())

G_DECLARE_FINAL_TYPE (KestrelAttachment, kestrel_attachment, KESTREL, ATTACHMENT, GObject)

/* Largest original accepted, in bytes. */
#define KESTREL_ATTACHMENT_MAX_BYTES (64 * 1024 * 1024)
/* Longest side of the stored PNG thumbnail, in pixels. */
#define KESTREL_ATTACHMENT_THUMBNAIL_SIZE 256

KestrelAttachment *kestrel_attachment_new_from_bytes (GBytes            *data,
                                                      const char        *mime_type,
                                                      GError           **error);
gint64             kestrel_attachment_get_id         (KestrelAttachment *self);
gint64             kestrel_attachment_get_message_id (KestrelAttachment *self);
const char        *kestrel_attachment_get_mime_type  (KestrelAttachment *self);
gsize              kestrel_attachment_get_byte_size  (KestrelAttachment *self);
const char        *kestrel_attachment_get_sha256     (KestrelAttachment *self);
int                kestrel_attachment_get_width      (KestrelAttachment *self);
int                kestrel_attachment_get_height     (KestrelAttachment *self);
GBytes            *kestrel_attachment_get_data       (KestrelAttachment *self);
GBytes            *kestrel_attachment_get_thumbnail  (KestrelAttachment *self);

G_END_DECLS
