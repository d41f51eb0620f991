/* kestrel-attachment-strip.h — thumbnails of the images about to be sent.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "kestrel-engine-types.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_ATTACHMENT_STRIP (kestrel_attachment_strip_get_type ())

G_DECLARE_FINAL_TYPE (KestrelAttachmentStrip, kestrel_attachment_strip, KESTREL, ATTACHMENT_STRIP, GtkWidget)

GtkWidget *kestrel_attachment_strip_new        (void);
void       kestrel_attachment_strip_add        (KestrelAttachmentStrip *self,
                                                KestrelImage           *image);
void       kestrel_attachment_strip_remove     (KestrelAttachmentStrip *self,
                                                guint                   index);
void       kestrel_attachment_strip_clear      (KestrelAttachmentStrip *self);
guint      kestrel_attachment_strip_get_n_images (KestrelAttachmentStrip *self);
/* A new array of the images, in order (KestrelImage, owned by the array). */
GPtrArray *kestrel_attachment_strip_dup_images (KestrelAttachmentStrip *self);

G_END_DECLS
