/* ke-cuda-vision-private.h — launchers shared by the vision tower's files only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ke-engine.h"

/* Gemma3ImageProcessor's rescale/normalize, by value into the patch kernel. */
typedef struct {
  bool rescale, normalize;
  double rescale_factor;
  float mean[3], std[3];
} ke_vnorm;

/* rgb (device uint8 [S, S, channels], normalized with `norm`) or pixels (device f32
 * [3, S, S]) → patches bf16 [(S/P)², kpad]. */
bool ke_cuda_vpatches (const uint8_t *rgb, int channels, const float *pixels, int S, int P, int kpad,
                       const ke_vnorm *norm, uint16_t *patches, void *stream, ke_error **error);
/* AvgPool2d(kernel) of x f32 [grid², d], then Gemma RMSNorm (1 + w) → out bf16. */
bool ke_cuda_vpool_norm (const float *x, int grid, int kernel, int d, const float *w, float eps,
                         uint16_t *out, void *stream, ke_error **error);
/* One pass of Pillow's bilinear resize (see ke_image_resize_coeffs): src [.., src_w, ch] →
 * dst [dst_h, dst_w, 3], along x (bounds/kk index the output column) or y (the output row);
 * bounds NULL: a copy that drops alpha. */
bool ke_cuda_vresize_pass (const uint8_t *src, int ch, int src_w, int dst_w, int dst_h,
                           bool along_x, const int *bounds, const int *kk, int ksize,
                           uint8_t *dst, void *stream, ke_error **error);
