/* kestrel-cli-image.h — image files for kestrel-cli: binary PPM (P6) everywhere, and
 * PNG/JPEG/… through gdk-pixbuf when the build has the UI (and so GLib).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdint.h>

#include "ke-engine.h"

typedef struct {
  ke_image image;  /* points into pixels */
  uint8_t *pixels; /* malloc'd */
} kcli_image;

/* Reads an image file into 8-bit RGB(A).  P6 PPM with maxval <= 255 always; other
 * formats when built with gdk-pixbuf.  Fails with a clear message. */
bool kcli_image_load (const char *path, kcli_image *out, ke_error **error);
void kcli_image_clear (kcli_image *image);
