/* kestrel-cli-image.c — image files → ke_image for kestrel-cli.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The engine never reads image files; the CLI does.  PPM (P6) is read here so the
 * engine-only build (no GLib, the GPU machine) can take images; with the UI build,
 * gdk-pixbuf reads everything else (and applies the EXIF orientation, as the app does).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if KE_HAVE_UI
#include <gdk-pixbuf/gdk-pixbuf.h>
#endif

#include "kestrel-cli-image.h"
#include "ke-internal.h"

void
kcli_image_clear (kcli_image *image)
{
  free (image->pixels);
  memset (image, 0, sizeof *image);
}

/* Next header token of a PPM: skips whitespace and # comments; reads a decimal. */
static bool
ppm_number (FILE *f, unsigned long *value)
{
  int c;
  for (;;) {
    c = fgetc (f);
    if (c == '#') {
      while (c != '\n' && c != EOF)
        c = fgetc (f);
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
      continue;
    break;
  }
  if (c < '0' || c > '9')
    return false;
  unsigned long v = 0;
  while (c >= '0' && c <= '9') {
    if (v > 100000000ul)
      return false;
    v = v * 10 + (unsigned long) (c - '0');
    c = fgetc (f);
  }
  /* exactly one whitespace character ends a number (before the raster: the only one) */
  if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
    return false;
  *value = v;
  return true;
}

static bool
load_ppm (const char *path, FILE *f, kcli_image *out, ke_error **error)
{
  char magic[2];
  unsigned long w, h, maxval;
  if (fread (magic, 1, 2, f) != 2 || magic[0] != 'P' || magic[1] != '6')
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: not a binary PPM (P6) image.", path);
  if (!ppm_number (f, &w) || !ppm_number (f, &h) || !ppm_number (f, &maxval))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: malformed PPM header.", path);
  if (maxval == 0 || maxval > 255)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "%s: only 8-bit PPM images are supported (maxval %lu).", path, maxval);
  if (w == 0 || h == 0 || w > KE_IMAGE_MAX_SIDE || h > KE_IMAGE_MAX_SIDE ||
      (uint64_t) w * h > KE_IMAGE_MAX_PIXELS)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "%s: unsupported image size %lu×%lu.",
                         path, w, h);
  size_t n = (size_t) w * h * 3;
  out->pixels = malloc (n);
  if (!out->pixels)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "%s: out of memory.", path);
  if (fread (out->pixels, 1, n, f) != n) {
    kcli_image_clear (out);
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: the PPM raster is truncated.", path);
  }
  if (maxval != 255)
    for (size_t i = 0; i < n; i++)
      out->pixels[i] = (uint8_t) ((out->pixels[i] > maxval ? maxval : out->pixels[i]) * 255u /
                                  maxval);
  out->image = (ke_image) { .width = (uint32_t) w, .height = (uint32_t) h, .channels = 3,
                            .stride = (size_t) w * 3, .pixels = out->pixels };
  return true;
}

#if KE_HAVE_UI
static bool
load_pixbuf (const char *path, kcli_image *out, ke_error **error)
{
  GError *gerror = NULL;
  GdkPixbuf *raw = gdk_pixbuf_new_from_file (path, &gerror);
  if (!raw) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: %s", path, gerror->message);
    g_error_free (gerror);
    return false;
  }
  GdkPixbuf *pb = gdk_pixbuf_apply_embedded_orientation (raw);
  g_object_unref (raw);
  int w = gdk_pixbuf_get_width (pb), h = gdk_pixbuf_get_height (pb);
  int ch = gdk_pixbuf_get_n_channels (pb), stride = gdk_pixbuf_get_rowstride (pb);
  if (gdk_pixbuf_get_bits_per_sample (pb) != 8 || (ch != 3 && ch != 4) || w <= 0 || h <= 0) {
    g_object_unref (pb);
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "%s: unsupported pixel format.", path);
  }
  size_t row = (size_t) w * ch;
  out->pixels = malloc (row * h);
  if (!out->pixels) {
    g_object_unref (pb);
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "%s: out of memory.", path);
  }
  const guint8 *src = gdk_pixbuf_read_pixels (pb);
  for (int y = 0; y < h; y++)
    memcpy (out->pixels + (size_t) y * row, src + (size_t) y * stride, row);
  g_object_unref (pb);
  out->image = (ke_image) { .width = (uint32_t) w, .height = (uint32_t) h,
                            .channels = (uint32_t) ch, .stride = row, .pixels = out->pixels };
  return ke_image_validate (&out->image, error);
}
#endif

bool
kcli_image_load (const char *path, kcli_image *out, ke_error **error)
{
  memset (out, 0, sizeof *out);
  FILE *f = fopen (path, "rb");
  if (!f)
    return ke_set_error (error, KE_ERROR_IO, "%s: %s", path, strerror (errno));
  char magic[2] = { 0 };
  size_t got = fread (magic, 1, 2, f);
  bool ppm = got == 2 && magic[0] == 'P' && magic[1] == '6';
  bool ok;
  if (ppm) {
    rewind (f);
    ok = load_ppm (path, f, out, error);
    fclose (f);
    return ok;
  }
  fclose (f);
#if KE_HAVE_UI
  return load_pixbuf (path, out, error);
#else
  return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                       "%s: this build reads only binary PPM (P6) images (convert with e.g. "
                       "`convert in.png out.ppm`).", path);
#endif
}
