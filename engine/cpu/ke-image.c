/* ke-image.c — image validation and Gemma3ImageProcessor's preprocessing.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Gemma3ImageProcessor (the PIL-based processor of transformers) converts to RGB, resizes
 * a PIL uint8 image with Image.resize(size, BILINEAR), rescales by 1/255 and normalizes
 * with mean = std = 0.5.  Pillow's resize is a separable convolution (ImagingResample):
 * horizontal pass, then vertical pass, each producing uint8 (so the intermediate image is
 * rounded), with a triangle filter whose support grows with the downscale factor (this is
 * its antialiasing), weights normalized per output pixel and converted to 22-bit fixed
 * point.  This file reimplements that arithmetic so the pixels agree exactly.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-cpu.h"

bool
ke_image_validate (const ke_image *image, ke_error **error)
{
  if (!image)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "The image is NULL.");
  if (!image->pixels)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "The image has no pixel data.");
  if (image->channels != 3 && image->channels != 4)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Images must be 8-bit RGB or RGBA (3 or 4 channels), not %u channels.",
                         image->channels);
  if (image->width == 0 || image->height == 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "The image is empty (%u×%u).",
                         image->width, image->height);
  if (image->width > KE_IMAGE_MAX_SIDE || image->height > KE_IMAGE_MAX_SIDE ||
      (uint64_t) image->width * image->height > KE_IMAGE_MAX_PIXELS)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "The image is too large (%u×%u; at most %u per side and %u pixels).",
                         image->width, image->height, KE_IMAGE_MAX_SIDE, KE_IMAGE_MAX_PIXELS);
  if (image->stride < (size_t) image->width * image->channels)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "The image stride (%zu) is smaller than a row (%u × %u bytes).",
                         image->stride, image->width, image->channels);
  return true;
}

/* Gemma3ImageProcessor.pan_and_scan with Gemma3Processor's defaults (min crop 256, at most
 * 4 crops, activated from an aspect ratio of 1.2); Python's float division and rounding. */
uint32_t
ke_image_pan_and_scan (const ke_image *image, ke_image crops[KE_PAN_AND_SCAN_MAX_CROPS])
{
  const uint32_t min_crop = 256, max_crops = KE_PAN_AND_SCAN_MAX_CROPS;
  const double min_ratio = 1.2;
  if (!ke_image_validate (image, NULL))
    return 0;
  uint32_t w = image->width, h = image->height, n_w = 1, n_h = 1;
  if (w >= h) {
    if ((double) w / h < min_ratio)
      return 0;
    n_w = (uint32_t) floor ((double) w / h + 0.5);
    if (w / min_crop < n_w)
      n_w = w / min_crop;
    n_w = n_w < 2 ? 2 : n_w > max_crops ? max_crops : n_w;
  } else {
    if ((double) h / w < min_ratio)
      return 0;
    n_h = (uint32_t) floor ((double) h / w + 0.5);
    if (h / min_crop < n_h)
      n_h = h / min_crop;
    n_h = n_h < 2 ? 2 : n_h > max_crops ? max_crops : n_h;
  }
  uint32_t cw = (w + n_w - 1) / n_w, ch = (h + n_h - 1) / n_h; /* math.ceil */
  if ((cw < ch ? cw : ch) < min_crop)
    return 0;
  uint32_t n = 0;
  for (uint32_t i = 0; i < n_h; i++)
    for (uint32_t j = 0; j < n_w; j++) { /* itertools.product(rows, columns) */
      uint32_t y = i * ch, x = j * cw;
      crops[n++] = (ke_image) {
        .width = x + cw > w ? w - x : cw, /* numpy slices stop at the edge */
        .height = y + ch > h ? h - y : ch,
        .channels = image->channels,
        .stride = image->stride,
        .pixels = image->pixels + (size_t) y * image->stride + (size_t) x * image->channels,
      };
    }
  return n;
}

#define PRECISION_BITS (32 - 8 - 2)

/* Pillow's bilinear filter: a triangle of support 1. */
static double
triangle (double x)
{
  if (x < 0.0)
    x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis: for each output
 * index, the first input index, the count, and ksize fixed-point weights. */
typedef struct {
  int ksize;
  int *bounds; /* [out, 2]: xmin, count */
  int *kk;     /* [out, ksize] */
} coeffs;

static bool
make_coeffs (int in_size, int out_size, coeffs *c)
{
  double scale = (double) in_size / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  int ksize = (int) ceil (support) * 2 + 1;
  c->ksize = ksize;
  c->bounds = ke_malloc_array ((size_t) out_size * 2, sizeof (int));
  c->kk = ke_malloc_array ((size_t) out_size * ksize, sizeof (int));
  double *k = ke_malloc_array ((size_t) ksize, sizeof (double));
  if (!c->bounds || !c->kk || !k) {
    free (k);
    return false;
  }
  for (int xx = 0; xx < out_size; xx++) {
    double center = (xx + 0.5) * scale;
    double ss = 1.0 / filterscale;
    int xmin = (int) (center - support + 0.5); /* C truncation, as Pillow */
    if (xmin < 0)
      xmin = 0;
    int xmax = (int) (center + support + 0.5);
    if (xmax > in_size)
      xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    int x;
    for (x = 0; x < xmax; x++) {
      double w = triangle ((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (x = 0; x < xmax; x++)
      if (ww != 0.0)
        k[x] /= ww;
    for (; x < ksize; x++)
      k[x] = 0.0;
    for (x = 0; x < ksize; x++) {
      double v = k[x] * (1 << PRECISION_BITS);
      c->kk[xx * ksize + x] = v < 0 ? (int) (-0.5 + v) : (int) (0.5 + v);
    }
    c->bounds[xx * 2] = xmin;
    c->bounds[xx * 2 + 1] = xmax;
  }
  free (k);
  return true;
}

static void
coeffs_clear (coeffs *c)
{
  free (c->bounds);
  free (c->kk);
}

bool
ke_image_resize_coeffs (uint32_t in_size, uint32_t out_size, int *ksize, int **bounds, int **kk)
{
  coeffs c = { 0 };
  if (in_size == 0 || out_size == 0 || in_size > KE_IMAGE_MAX_SIDE || out_size > KE_IMAGE_MAX_SIDE ||
      !make_coeffs ((int) in_size, (int) out_size, &c)) {
    coeffs_clear (&c);
    return false;
  }
  *ksize = c.ksize;
  *bounds = c.bounds;
  *kk = c.kk;
  return true;
}

static inline uint8_t
clip8 (int64_t in)
{
  if (in >= ((int64_t) 1 << PRECISION_BITS << 8))
    return 255;
  if (in <= 0)
    return 0;
  return (uint8_t) (in >> PRECISION_BITS);
}

bool
ke_image_resize_bilinear (const ke_image *image, uint32_t out_w, uint32_t out_h, uint8_t *out,
                          ke_error **error)
{
  if (!ke_image_validate (image, error))
    return false;
  if (out_w == 0 || out_h == 0 || out_w > KE_IMAGE_MAX_SIDE || out_h > KE_IMAGE_MAX_SIDE)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Invalid resize target %u×%u.",
                         out_w, out_h);
  int in_w = (int) image->width, in_h = (int) image->height, ch = (int) image->channels;
  coeffs cx = { 0 }, cy = { 0 };
  uint8_t *mid = NULL;
  bool ok = false;
  if (!make_coeffs (in_w, (int) out_w, &cx) || !make_coeffs (in_h, (int) out_h, &cy))
    goto done;

  /* Horizontal pass on every input row (Pillow restricts it to the rows the vertical
   * pass reads, which gives the same values).  Skipped when the width is unchanged. */
  bool need_h = (uint32_t) in_w != out_w, need_v = (uint32_t) in_h != out_h;
  size_t mid_w = need_h ? out_w : (size_t) in_w;
  mid = ke_malloc_array ((size_t) in_h * mid_w, 3);
  if (!mid)
    goto done;
  for (int y = 0; y < in_h; y++) {
    const uint8_t *src = image->pixels + (size_t) y * image->stride;
    uint8_t *dst = mid + (size_t) y * mid_w * 3;
    if (!need_h) {
      for (int x = 0; x < in_w; x++)
        memcpy (dst + x * 3, src + (size_t) x * ch, 3);
      continue;
    }
    for (uint32_t xx = 0; xx < out_w; xx++) {
      int xmin = cx.bounds[xx * 2], n = cx.bounds[xx * 2 + 1];
      const int *k = cx.kk + (size_t) xx * cx.ksize;
      for (int c = 0; c < 3; c++) {
        int64_t ss = (int64_t) 1 << (PRECISION_BITS - 1);
        for (int x = 0; x < n; x++)
          ss += (int64_t) src[(size_t) (x + xmin) * ch + c] * k[x];
        dst[xx * 3 + c] = clip8 (ss);
      }
    }
  }

  /* Vertical pass. */
  for (uint32_t yy = 0; yy < out_h; yy++) {
    uint8_t *dst = out + (size_t) yy * out_w * 3;
    if (!need_v) {
      memcpy (dst, mid + (size_t) yy * mid_w * 3, mid_w * 3);
      continue;
    }
    int ymin = cy.bounds[yy * 2], n = cy.bounds[yy * 2 + 1];
    const int *k = cy.kk + (size_t) yy * cy.ksize;
    for (size_t x = 0; x < mid_w * 3; x++) {
      int64_t ss = (int64_t) 1 << (PRECISION_BITS - 1);
      for (int y = 0; y < n; y++)
        ss += (int64_t) mid[(size_t) (y + ymin) * mid_w * 3 + x] * k[y];
      dst[x] = clip8 (ss);
    }
  }
  ok = true;
done:
  if (!ok)
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory resizing a %u×%u image.",
                  image->width, image->height);
  coeffs_clear (&cx);
  coeffs_clear (&cy);
  free (mid);
  return ok;
}

float *
ke_image_preprocess (const ke_image *image, const ke_preprocess_config *pc, ke_error **error)
{
  if (!ke_image_validate (image, error))
    return NULL;
  if (pc->do_pan_and_scan) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED, "Pan-and-scan preprocessing is not supported.");
    return NULL;
  }
  if (pc->resample != 2) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED,
                  "Only bilinear resampling (PIL 2) is supported, not %d.", pc->resample);
    return NULL;
  }
  uint32_t w = pc->do_resize ? pc->width : image->width;
  uint32_t h = pc->do_resize ? pc->height : image->height;
  uint8_t *rgb = ke_malloc_array ((size_t) w * h, 3);
  float *px = ke_malloc_array ((size_t) w * h * 3, sizeof (float));
  if (!rgb || !px) {
    free (rgb);
    free (px);
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory preprocessing an image.");
    return NULL;
  }
  if (!ke_image_resize_bilinear (image, w, h, rgb, error)) {
    free (rgb);
    free (px);
    return NULL;
  }
  /* rescale (x · 1/255, computed in double then stored as float32, like numpy's
   * astype(float64) * scale → float32), then normalize (x - mean) / std in float32. */
  for (uint32_t c = 0; c < 3; c++)
    for (size_t i = 0; i < (size_t) w * h; i++) {
      float v = rgb[i * 3 + c];
      if (pc->do_rescale)
        v = (float) ((double) v * (double) pc->rescale_factor);
      if (pc->do_normalize)
        v = (v - pc->image_mean[c]) / pc->image_std[c];
      px[(size_t) c * w * h + i] = v;
    }
  free (rgb);
  return px;
}
