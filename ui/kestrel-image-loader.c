/* kestrel-image-loader.c — size checks before decoding, EXIF orientation, downscaling.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-image-loader"

#include "config.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gi18n.h>

#include "kestrel-image-loader.h"

#define FEED_CHUNK_SIZE (64 * 1024)

G_DEFINE_QUARK (kestrel-image-error-quark, kestrel_image_error)

/* Raster formats, recognised by their magic bytes, whose gdk-pixbuf loaders are incremental
 * (so that the size check runs before decoding).  Others (SVG with its own expansion
 * risks, XPM, ANI, …) are refused. */
static const char *allowed_mime_types[] = {
  "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff",
  "image/avif", "image/heif", "image/jxl", "image/vnd.microsoft.icon",
};

static GdkPixbufLoader *
create_loader (const guint8 *data,
               gsize         size)
{
  g_autofree char *content_type = g_content_type_guess (NULL, data, MIN (size, 4096), NULL);
  g_autofree char *mime_type = g_content_type_get_mime_type (content_type);

  for (guint i = 0; mime_type != NULL && i < G_N_ELEMENTS (allowed_mime_types); i++)
    if (g_str_equal (mime_type, allowed_mime_types[i]))
      return gdk_pixbuf_loader_new_with_mime_type (mime_type, NULL);

  g_debug ("refusing image data of type %s", mime_type ? mime_type : "unknown");
  return NULL;
}

typedef struct
{
  int      width;
  int      height;
  gboolean too_large;
} Probe;

static gboolean
size_is_acceptable (gint64 width,
                    gint64 height)
{
  return width > 0 && height > 0 &&
         width <= KESTREL_IMAGE_MAX_SIDE && height <= KESTREL_IMAGE_MAX_SIDE &&
         width * height <= KESTREL_IMAGE_MAX_PIXELS;
}

static void
target_size (int  width,
             int  height,
             int *out_width,
             int *out_height)
{
  int long_side = MAX (width, height);

  if (long_side <= KESTREL_IMAGE_TARGET_SIDE)
    {
      *out_width = width;
      *out_height = height;
      return;
    }

  *out_width = MAX (1, (int) ((gint64) width * KESTREL_IMAGE_TARGET_SIDE / long_side));
  *out_height = MAX (1, (int) ((gint64) height * KESTREL_IMAGE_TARGET_SIDE / long_side));
}

/* Runs once the header is read, before any pixel is decoded. */
static void
size_prepared_cb (GdkPixbufLoader *loader,
                  int              width,
                  int              height,
                  Probe           *probe)
{
  int w, h;

  probe->width = width;
  probe->height = height;

  if (!size_is_acceptable (width, height))
    {
      /* a zero size makes every loader stop before it allocates the pixels */
      probe->too_large = TRUE;
      gdk_pixbuf_loader_set_size (loader, 0, 0);
      return;
    }

  target_size (width, height, &w, &h);
  if (w != width || h != height)
    gdk_pixbuf_loader_set_size (loader, w, h);
}

static KestrelImage *
image_from_pixbuf (GdkPixbuf *pixbuf)
{
  int width = gdk_pixbuf_get_width (pixbuf);
  int height = gdk_pixbuf_get_height (pixbuf);
  int channels = gdk_pixbuf_get_n_channels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  const guint8 *src = gdk_pixbuf_read_pixels (pixbuf);
  gsize row = (gsize) width * channels;
  guint8 *dst = g_malloc (row * height);
  g_autoptr(GBytes) bytes = NULL;

  g_assert (gdk_pixbuf_get_bits_per_sample (pixbuf) == 8);
  g_assert (channels == 3 || channels == 4);

  for (int y = 0; y < height; y++)
    memcpy (dst + row * y, src + (gsize) stride * y, row);

  bytes = g_bytes_new_take (dst, row * height);
  return kestrel_image_new (bytes, width, height, channels, row);
}

static GdkPixbuf *
fit_to_target (GdkPixbuf *pixbuf)
{
  int w, h;

  target_size (gdk_pixbuf_get_width (pixbuf), gdk_pixbuf_get_height (pixbuf), &w, &h);
  if (w == gdk_pixbuf_get_width (pixbuf) && h == gdk_pixbuf_get_height (pixbuf))
    return g_object_ref (pixbuf);
  return gdk_pixbuf_scale_simple (pixbuf, w, h, GDK_INTERP_BILINEAR);
}

KestrelImage *
kestrel_image_load_bytes (GBytes      *bytes,
                          const char  *name,
                          GError     **error)
{
  g_autoptr(GdkPixbufLoader) loader = NULL;
  g_autoptr(GdkPixbuf) oriented = NULL;
  g_autoptr(GdkPixbuf) fitted = NULL;
  g_autoptr(GError) local_error = NULL;
  Probe probe = { 0, 0, FALSE };
  const guint8 *data;
  gsize size, offset = 0;
  gboolean ok = TRUE;
  GdkPixbuf *pixbuf;

  g_return_val_if_fail (bytes != NULL, NULL);

  data = g_bytes_get_data (bytes, &size);
  loader = create_loader (data, size);
  if (loader == NULL)
    {
      g_set_error (error, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_NOT_IMAGE,
                   _("“%s” is not an image Kestrel can read"), name);
      return NULL;
    }
  g_signal_connect (loader, "size-prepared", G_CALLBACK (size_prepared_cb), &probe);

  /* feed in chunks so that a refused size stops the decode early */
  while (ok && offset < size && !probe.too_large)
    {
      gsize n = MIN (FEED_CHUNK_SIZE, size - offset);

      ok = gdk_pixbuf_loader_write (loader, data + offset, n, &local_error);
      offset += n;
    }
  if (ok && !probe.too_large)
    ok = gdk_pixbuf_loader_close (loader, &local_error);
  else
    gdk_pixbuf_loader_close (loader, NULL);

  if (probe.too_large)
    {
      g_set_error (error, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_TOO_LARGE,
                   _("“%s” is too large (%d × %d pixels; at most %d megapixels)"),
                   name, probe.width, probe.height, KESTREL_IMAGE_MAX_PIXELS / (1024 * 1024));
      return NULL;
    }

  pixbuf = ok ? gdk_pixbuf_loader_get_pixbuf (loader) : NULL;
  if (pixbuf == NULL || gdk_pixbuf_get_bits_per_sample (pixbuf) != 8)
    {
      g_debug ("%s: %s", name, local_error ? local_error->message : "no image");
      g_set_error (error, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_NOT_IMAGE,
                   _("“%s” is not an image Kestrel can read"), name);
      return NULL;
    }

  oriented = gdk_pixbuf_apply_embedded_orientation (pixbuf);
  fitted = fit_to_target (oriented);
  return image_from_pixbuf (fitted);
}

KestrelImage *
kestrel_image_load_texture (GdkTexture  *texture,
                            GError     **error)
{
  g_autoptr(GdkTextureDownloader) downloader = NULL;
  g_autoptr(GBytes) pixels = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkPixbuf) fitted = NULL;
  int width, height;
  gsize stride;

  g_return_val_if_fail (GDK_IS_TEXTURE (texture), NULL);

  width = gdk_texture_get_width (texture);
  height = gdk_texture_get_height (texture);
  if (!size_is_acceptable (width, height))
    {
      g_set_error (error, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_TOO_LARGE,
                   _("The image is too large (%d × %d pixels; at most %d megapixels)"),
                   width, height, KESTREL_IMAGE_MAX_PIXELS / (1024 * 1024));
      return NULL;
    }

  downloader = gdk_texture_downloader_new (texture);
  gdk_texture_downloader_set_format (downloader, GDK_MEMORY_R8G8B8A8);
  pixels = gdk_texture_downloader_download_bytes (downloader, &stride);

  pixbuf = gdk_pixbuf_new_from_bytes (pixels, GDK_COLORSPACE_RGB, TRUE, 8, width, height, (int) stride);
  fitted = fit_to_target (pixbuf);
  return image_from_pixbuf (fitted);
}

static void
load_file_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  GFile *file = task_data;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  KestrelImage *image;

  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_DISPLAY_NAME ","
                                  G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                  G_FILE_ATTRIBUTE_STANDARD_TYPE,
                            G_FILE_QUERY_INFO_NONE, cancellable, &error);
  name = info ? g_strdup (g_file_info_get_display_name (info)) : g_file_get_parse_name (file);

  if (info == NULL || g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      g_task_return_new_error (task, KESTREL_IMAGE_ERROR,
                               info ? KESTREL_IMAGE_ERROR_NOT_IMAGE : KESTREL_IMAGE_ERROR_UNREADABLE,
                               info ? _("“%s” is not an image Kestrel can read")
                                    : _("“%s” could not be read"), name);
      return;
    }
  if (g_file_info_get_size (info) > KESTREL_IMAGE_MAX_FILE_SIZE)
    {
      g_task_return_new_error (task, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_TOO_LARGE,
                               _("“%s” is too large (more than %d MB)"), name,
                               KESTREL_IMAGE_MAX_FILE_SIZE / (1024 * 1024));
      return;
    }

  bytes = g_file_load_bytes (file, cancellable, NULL, &error);
  if (bytes == NULL)
    {
      g_task_return_new_error (task, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_UNREADABLE,
                               _("“%s” could not be read: %s"), name, error->message);
      return;
    }

  image = kestrel_image_load_bytes (bytes, name, &error);
  if (image == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, image, (GDestroyNotify) kestrel_image_unref);
}

void
kestrel_image_load_file_async (GFile               *file,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (G_IS_FILE (file));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, kestrel_image_load_file_async);
  g_task_set_task_data (task, g_object_ref (file), g_object_unref);
  g_task_run_in_thread (task, load_file_thread);
}

static void
load_texture_thread (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;
  KestrelImage *image = kestrel_image_load_texture (task_data, &error);

  if (image == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, image, (GDestroyNotify) kestrel_image_unref);
}

void
kestrel_image_load_texture_async (GdkTexture          *texture,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_autoptr(GdkTexture) memory = NULL;

  g_return_if_fail (GDK_IS_TEXTURE (texture));

  /* pasted and dropped images are memory textures; others (GL, dmabuf) are copied into
   * memory here, on the main thread, before the thread works on them */
  if (GDK_IS_MEMORY_TEXTURE (texture) ||
      !size_is_acceptable (gdk_texture_get_width (texture), gdk_texture_get_height (texture)))
    memory = g_object_ref (texture);  /* (an oversized one is refused without a download) */
  else
    {
      g_autoptr(GdkTextureDownloader) downloader = gdk_texture_downloader_new (texture);
      g_autoptr(GBytes) bytes = NULL;
      gsize stride;

      gdk_texture_downloader_set_format (downloader, GDK_MEMORY_R8G8B8A8);
      bytes = gdk_texture_downloader_download_bytes (downloader, &stride);
      memory = gdk_memory_texture_new (gdk_texture_get_width (texture),
                                       gdk_texture_get_height (texture),
                                       GDK_MEMORY_R8G8B8A8, bytes, stride);
    }

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, kestrel_image_load_texture_async);
  g_task_set_task_data (task, g_steal_pointer (&memory), g_object_unref);
  g_task_run_in_thread (task, load_texture_thread);
}

KestrelImage *
kestrel_image_load_file_finish (GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (G_IS_TASK (result), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

GdkTexture *
kestrel_image_create_texture (KestrelImage *image)
{
  g_return_val_if_fail (image != NULL, NULL);

  return gdk_memory_texture_new (kestrel_image_get_width (image),
                                 kestrel_image_get_height (image),
                                 kestrel_image_get_channels (image) == 4 ? GDK_MEMORY_R8G8B8A8
                                                                          : GDK_MEMORY_R8G8B8,
                                 kestrel_image_get_pixels (image),
                                 kestrel_image_get_stride (image));
}

GdkTexture *
kestrel_image_create_thumbnail (KestrelImage *image,
                                int           size)
{
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkPixbuf) square = NULL;
  g_autoptr(GdkPixbuf) scaled = NULL;
  g_autoptr(GBytes) bytes = NULL;
  int width, height, side;

  g_return_val_if_fail (image != NULL, NULL);
  g_return_val_if_fail (size > 0, NULL);

  width = (int) kestrel_image_get_width (image);
  height = (int) kestrel_image_get_height (image);
  side = MIN (width, height);
  pixbuf = gdk_pixbuf_new_from_bytes (kestrel_image_get_pixels (image), GDK_COLORSPACE_RGB,
                                      kestrel_image_get_channels (image) == 4, 8, width, height,
                                      (int) kestrel_image_get_stride (image));
  square = gdk_pixbuf_new_subpixbuf (pixbuf, (width - side) / 2, (height - side) / 2, side, side);
  scaled = gdk_pixbuf_scale_simple (square, size, size, GDK_INTERP_BILINEAR);
  bytes = gdk_pixbuf_read_pixel_bytes (scaled);

  return gdk_memory_texture_new (size, size,
                                 gdk_pixbuf_get_has_alpha (scaled) ? GDK_MEMORY_R8G8B8A8
                                                                   : GDK_MEMORY_R8G8B8,
                                 bytes, gdk_pixbuf_get_rowstride (scaled));
}
