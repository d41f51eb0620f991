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

#ifdef __cplusplus
#include <cuda_runtime.h>

#include "ke-cuda-vision.h"

/* The tower's state, shared by ke-cuda-vision.cu (weights, plans, the tower) and
 * ke-cuda-vision-image.cu (staging, resize). */
/* Larger images are resized on the CPU (same result, slower) instead of holding their size
 * in pinned and device memory. */
#define KE_VISION_GPU_RESIZE_PIXELS (16u << 20)

typedef struct {
  uint16_t *qkv_w, *o_w, *fc1_w, *fc2_w; /* bf16 [out, in] */
  uint16_t *qkv_b, *fc1_b;               /* bf16 biases of bf16-output GEMMs */
  float *o_b, *fc2_b;                    /* f32 biases of the residual GEMMs */
  float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
} vision_layer;

struct ke_cuda_vision {
  cudaStream_t stream;
  int S, P, grid, n, kin, kpad, vh, vi, heads, hd, H, n_layers, side, kernel, m;
  float eps, scale;
  ke_vnorm norm;
  vision_layer *layers;
  uint16_t *patch_w, *proj_w; /* bf16 [vh, kpad], [H, vh] */
  float *patch_b, *pos, *post_w, *post_b, *soft_w;
  /* activations */
  uint8_t *rgb;      /* device [S, S, rgb_channels] */
  int rgb_channels;
  uint8_t *h_stage;  /* pinned host [S, S, 4]: the image on its way to `rgb` */
  cudaEvent_t staged; /* the last upload from h_stage (or h_big) finished */
  /* images to resize (≤ KE_VISION_GPU_RESIZE_PIXELS): the original and the resize
   * coefficients go up through h_big into d_big; the horizontal pass writes d_mid */
  uint8_t *h_big, *d_big, *d_mid;
  size_t big_bytes, mid_bytes;
  float *pixels, *x;
  uint16_t *patches, *hb, *qkv, *q, *k, *vt, *att, *mlp, *pooled;
  void *workspace;
  ke_bf16_gemm_plan *p_patch, *p_qkv, *p_o, *p_fc1, *p_fc2, *p_proj;
  float gemm_ms[6];
  /* The tower from `rgb` to `emb` (f32 [m, H]) as one CUDA graph per channel count (3, 4),
   * captured at the first image: ~270 launches without per-launch gaps. */
  float *emb;
  cudaGraphExec_t graph[5];
  bool graph_failed;
  size_t bytes;
};

/* Runs the tower from rgb (rgb_channels) or from pixels into out (device f32 [m, H]). */
bool ke_cuda_vision_run_tower (ke_cuda_vision *v, bool from_rgb, float *out, ke_error **error);
#endif
