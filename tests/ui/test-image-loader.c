/* test-image-loader.c — decoding attachments: decompression bombs refused from the header,
 * formats outside the raster list refused, large images downscaled, EXIF orientation.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gtk/gtk.h>

#include "kestrel-image-loader.h"

static guint32
crc32_of (const guint8 *data,
          gsize         len)
{
  guint32 crc = 0xffffffff;

  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
    }
  return ~crc;
}

static void
append_chunk (GByteArray   *png,
              const char   *type,
              const guint8 *data,
              guint32       len)
{
  guint8 be[4] = { len >> 24, len >> 16, len >> 8, len };
  g_autoptr(GByteArray) crc_input = g_byte_array_new ();
  guint32 crc;

  g_byte_array_append (png, be, 4);
  g_byte_array_append (crc_input, (const guint8 *) type, 4);
  g_byte_array_append (crc_input, data, len);
  g_byte_array_append (png, crc_input->data, crc_input->len);
  crc = crc32_of (crc_input->data, crc_input->len);
  be[0] = crc >> 24; be[1] = crc >> 16; be[2] = crc >> 8; be[3] = crc;
  g_byte_array_append (png, be, 4);
}

/* A PNG header that claims width × height pixels, followed by a few bytes of data: a
 * decompression bomb needs only its header to be refused. */
static GBytes *
bomb_png (guint32 width,
          guint32 height)
{
  static const guint8 signature[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  guint8 ihdr[13] = { width >> 24, width >> 16, width >> 8, width,
                      height >> 24, height >> 16, height >> 8, height,
                      8, 2, 0, 0, 0 };
  static const guint8 idat[] = { 0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01 };
  GByteArray *png = g_byte_array_new ();

  g_byte_array_append (png, signature, sizeof signature);
  append_chunk (png, "IHDR", ihdr, sizeof ihdr);
  append_chunk (png, "IDAT", idat, sizeof idat);
  append_chunk (png, "IEND", NULL, 0);
  return g_byte_array_free_to_bytes (png);
}

static void
test_image_limits (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bomb = bomb_png (100000, 100000);
  g_autoptr(GBytes) wide = bomb_png (20000, 10);
  g_autoptr(GBytes) garbage = g_bytes_new_static ("GIF89a\x01\x00", 8);
  static const char svg_text[] =
    "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>";
  g_autoptr(GBytes) svg = g_bytes_new_static (svg_text, sizeof svg_text - 1);
  g_autoptr(GdkPixbuf) big = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 4100, 1000);
  g_autofree char *encoded = NULL;
  gsize encoded_len;
  g_autoptr(GBytes) big_bytes = NULL;
  g_autoptr(KestrelImage) image = NULL;

  g_assert_null (kestrel_image_load_bytes (bomb, "bomb.png", &error));
  g_assert_error (error, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "100000"));
  g_clear_error (&error);

  g_assert_null (kestrel_image_load_bytes (wide, "wide.png", &error));
  g_assert_error (error, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_TOO_LARGE);
  g_clear_error (&error);

  g_assert_null (kestrel_image_load_bytes (garbage, "broken.gif", &error));
  g_assert_error (error, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_NOT_IMAGE);
  g_clear_error (&error);

  /* formats outside the raster list are refused even though gdk-pixbuf could load them */
  g_assert_null (kestrel_image_load_bytes (svg, "drawing.svg", &error));
  g_assert_error (error, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_NOT_IMAGE);
  g_clear_error (&error);

  /* large but allowed: decoded at 2048 on the long side */
  gdk_pixbuf_fill (big, 0x808080ff);
  g_assert_true (gdk_pixbuf_save_to_buffer (big, &encoded, &encoded_len, "png", NULL, NULL));
  big_bytes = g_bytes_new_take (g_steal_pointer (&encoded), encoded_len);
  image = kestrel_image_load_bytes (big_bytes, "big.png", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (kestrel_image_get_width (image), ==, 2048);
  g_assert_cmpuint (kestrel_image_get_height (image), ==, 499);
}

/* A JPEG with an EXIF APP1 segment whose orientation is 6 (rotate 90° clockwise). */
static GBytes *
rotated_jpeg (int width,
              int height)
{
  static const guint8 app1[] = {
    0xff, 0xe1, 0x00, 0x22,                          /* APP1, length 34 */
    'E', 'x', 'i', 'f', 0, 0,
    'M', 'M', 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08,    /* big-endian TIFF, IFD at 8 */
    0x00, 0x01,                                      /* one entry */
    0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,  /* Orientation, SHORT, 1 */
    0x00, 0x06, 0x00, 0x00,                          /* value 6 */
    0x00, 0x00, 0x00, 0x00,                          /* no next IFD */
  };
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  g_autofree char *jpeg = NULL;
  gsize len;
  GByteArray *out = g_byte_array_new ();

  gdk_pixbuf_fill (pixbuf, 0xff0000ff);
  g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &jpeg, &len, "jpeg", NULL, NULL));
  g_assert_cmpuint ((guint8) jpeg[0], ==, 0xff);
  g_assert_cmpuint ((guint8) jpeg[1], ==, 0xd8);
  /* SOI, then our APP1, then the rest */
  g_byte_array_append (out, (const guint8 *) jpeg, 2);
  g_byte_array_append (out, app1, sizeof app1);
  g_byte_array_append (out, (const guint8 *) jpeg + 2, len - 2);
  return g_byte_array_free_to_bytes (out);
}

static void
test_image_texture_limits (void)
{
  gsize size = 16385 * 4;
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_malloc0 (size), size);
  g_autoptr(GdkTexture) wide = gdk_memory_texture_new (16385, 1, GDK_MEMORY_R8G8B8A8, bytes, size);
  g_autoptr(GError) error = NULL;

  /* pasted pixels obey the same limits as files */
  g_assert_null (kestrel_image_load_texture (wide, &error));
  g_assert_error (error, KESTREL_IMAGE_ERROR, KESTREL_IMAGE_ERROR_TOO_LARGE);
}

static void
test_image_orientation (void)
{
  g_autoptr(GBytes) jpeg = rotated_jpeg (40, 20);
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelImage) image = kestrel_image_load_bytes (jpeg, "photo.jpg", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (kestrel_image_get_width (image), ==, 20);
  g_assert_cmpuint (kestrel_image_get_height (image), ==, 40);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/kestrel/image-loader/limits", test_image_limits);
  g_test_add_func ("/kestrel/image-loader/texture-limits", test_image_texture_limits);
  g_test_add_func ("/kestrel/image-loader/orientation", test_image_orientation);

  return g_test_run ();
}
