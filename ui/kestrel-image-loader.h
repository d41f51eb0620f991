/* kestrel-image-loader.h — attachments decoded safely into KestrelImages.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Files are decoded off the main thread.  The size is checked when the image header has
 * been read, BEFORE the pixels are decoded: images over KESTREL_IMAGE_MAX_PIXELS or with a
 * side over KESTREL_IMAGE_MAX_SIDE are refused (decompression bombs); the rest are decoded
 * at ≤ KESTREL_IMAGE_TARGET_SIDE on the long side (the engine resizes to 896 anyway), with
 * the EXIF orientation applied.
 */
#pragma once

#include <gtk/gtk.h>

#include "kestrel-engine-types.h"

G_BEGIN_DECLS

#define KESTREL_IMAGE_MAX_PIXELS    (8192 * 8192)
#define KESTREL_IMAGE_MAX_SIDE      16384
#define KESTREL_IMAGE_TARGET_SIDE   2048
#define KESTREL_IMAGE_MAX_FILE_SIZE (100 * 1024 * 1024)

#define KESTREL_IMAGE_ERROR (kestrel_image_error_quark ())

typedef enum
{
  KESTREL_IMAGE_ERROR_NOT_IMAGE,  /* not an image format we can decode */
  KESTREL_IMAGE_ERROR_TOO_LARGE,  /* over the pixel or file size limits */
  KESTREL_IMAGE_ERROR_UNREADABLE, /* the file could not be read */
} KestrelImageError;

GQuark        kestrel_image_error_quark          (void);

/* Decodes encoded image data (PNG, JPEG, …).  `name` names it in error messages. */
KestrelImage *kestrel_image_load_bytes           (GBytes               *bytes,
                                                  const char           *name,
                                                  GError              **error);
/* Converts decoded pixels (a pasted or dropped texture), downscaled like files. */
KestrelImage *kestrel_image_load_texture         (GdkTexture           *texture,
                                                  GError              **error);
/* kestrel_image_load_texture() in a thread (textures are immutable); finish with
 * kestrel_image_load_file_finish(). */
void          kestrel_image_load_texture_async   (GdkTexture           *texture,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
void          kestrel_image_load_file_async      (GFile                *file,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
/* Finishes either of the async loads. */
KestrelImage *kestrel_image_load_file_finish     (GAsyncResult         *result,
                                                  GError              **error);
/* A texture of the image's pixels, for thumbnails. */
GdkTexture   *kestrel_image_create_texture       (KestrelImage         *image);
/* A square thumbnail, `size` pixels wide, cropped from the image's centre. */
GdkTexture   *kestrel_image_create_thumbnail     (KestrelImage         *image,
                                                  int                   size);

G_END_DECLS
