/* ke-cuda-vision.h — the SigLIP vision tower + Gemma 3 projector on the GPU (bf16), and
 * the pieces it is built from (exported for tests/gpu).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The tower computes exactly what ke_cpu_vision_encode computes (see ke-cpu-vision.c for
 * the math), with bf16 GEMM inputs and f32 accumulation; the residual stream stays f32.
 * Files: ke-cuda-vision.cu (weights, plans, the encode sequence, its CUDA graph),
 * ke-cuda-vision-image.cu (staging, GPU resize), ke-cuda-vision-gemm.cu (cuBLASLt bf16 GEMMs
 * with fused epilogues), ke-cuda-vision-kernels.cu (resize passes, pixels → patches,
 * LayerNorm, head split, pool + RMSNorm), ke-cuda-vision-attention.cu (the attention).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ke-engine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ke_config;
struct ke_weights;

/* ---- bf16 GEMM with fused epilogue ----------------------------------------------------
 *
 *   D[M, N] = X[M, K] · W[N, K]ᵀ (+ bias[N]) (gelu_tanh) (+ C[M, N])
 *
 * X, W bf16 row-major (W as [out, in], as checkpoints store it).  D (and C) are bf16 or
 * f32 (out_f32); bias has D's type.  C may equal D (in-place residual add).  Plans are
 * built once; runs set only pointers. */
typedef enum {
  KE_VGEMM_PLAIN = 0,
  KE_VGEMM_BIAS = 1,
  KE_VGEMM_BIAS_GELU = 2, /* cuBLASLt's GELU epilogue: the tanh approximation */
} ke_vgemm_epilogue;

typedef struct ke_bf16_gemm_plan ke_bf16_gemm_plan;

/* Algorithms the heuristic proposes per plan; ke_bf16_gemm_plan_tune times them. */
#define KE_VGEMM_CANDIDATES 8

/* workspace: device memory of workspace_bytes shared by plans that run on one stream. */
ke_bf16_gemm_plan *ke_bf16_gemm_plan_new (int m, int n, int k, ke_vgemm_epilogue epilogue,
                                          bool out_f32, bool add_c, void *workspace,
                                          size_t workspace_bytes, ke_error **error);
void ke_bf16_gemm_plan_free (ke_bf16_gemm_plan *plan);
bool ke_bf16_gemm_run (ke_bf16_gemm_plan *plan, const uint16_t *x, const uint16_t *w,
                       const void *bias, const void *c, void *d, void *stream, ke_error **error);
/* Runs each candidate algorithm 1 + 3 times on these operands (d is overwritten) and keeps
 * the fastest; *best_ms its time per run. */
bool ke_bf16_gemm_plan_tune (ke_bf16_gemm_plan *plan, const uint16_t *x, const uint16_t *w,
                             const void *bias, const void *c, void *d, void *stream,
                             float *best_ms, ke_error **error);

/* ---- kernels ---------------------------------------------------------------------------- */

/* Padded sizes of the attention operands for n tokens: rows rounded up to
 * KE_VATT_ROWS, Q/K head dim padded to KE_VATT_DIM. */
#define KE_VATT_ROWS 128
#define KE_VATT_DIM 80
size_t ke_cuda_vatt_rows (size_t n);

/* LayerNorm rows of x (f32 [rows, d]) with f32 weight/bias into bf16 (or f32) out. */
bool ke_cuda_vlayernorm (const float *x, const float *w, const float *b, float eps, int rows,
                         int d, void *out, bool out_f32, void *stream, ke_error **error);

/* qkv bf16 [n, 3·heads·hd] (q; k; v columns) → q, k bf16 [heads, rows, KE_VATT_DIM] and
 * vt bf16 [heads, hd, rows] (rows = ke_cuda_vatt_rows(n)), zero-padded. */
bool ke_cuda_vsplit_qkv (const uint16_t *qkv, int n, int heads, int hd, uint16_t *q,
                         uint16_t *k, uint16_t *vt, void *stream, ke_error **error);

/* Full (unmasked) softmax attention over n tokens per head, scale `scale`, from the split
 * operands; out bf16 [n, heads·hd].  hd: a multiple of 8, at most KE_VATT_DIM. */
bool ke_cuda_vattention (const uint16_t *q, const uint16_t *k, const uint16_t *vt, int n,
                         int heads, int hd, float scale, uint16_t *out, void *stream,
                         ke_error **error);
/* The same with a kernel variant (0: 4 warps × 2 m-tiles; 1: 8 warps × 1; 2 and 3: the
 * same with ldmatrix; 2 is the default), for tests and measurements. */
bool ke_cuda_vattention_variant (const uint16_t *q, const uint16_t *k, const uint16_t *vt, int n,
                                 int heads, int hd, float scale, uint16_t *out, int variant,
                                 void *stream, ke_error **error);

/* ---- the tower -------------------------------------------------------------------------- */

typedef struct ke_cuda_vision ke_cuda_vision;

/* Uploads the vision weights (bf16 matrices, f32 vectors), allocates the activations for
 * one image and builds every GEMM plan.  KE_ERROR_UNSUPPORTED for shapes the kernels do
 * not take (head_dim not a multiple of 8 or above KE_VATT_DIM, ...). */
ke_cuda_vision *ke_cuda_vision_new (const struct ke_config *config,
                                    const struct ke_weights *weights, void *stream,
                                    ke_error **error);
void ke_cuda_vision_free (ke_cuda_vision *vision);
/* Per-call time of the tuned GEMMs measured at load, ms: patch, qkv, o, fc1, fc2, proj. */
void ke_cuda_vision_gemm_ms (const ke_cuda_vision *vision, float ms[6]);
/* Device bytes the tower holds (weights + activations + plans' workspace). */
size_t ke_cuda_vision_device_bytes (const ke_cuda_vision *vision);

/* rgb: host uint8 [image_size, image_size, 3] (already resized); rescale/normalize as the
 * config's preprocessor, then the tower and projector.  out: device f32
 * [mm_tokens_per_image, text hidden].  Asynchronous on the tower's stream. */
bool ke_cuda_vision_encode_rgb (ke_cuda_vision *vision, const uint8_t *rgb, float *out,
                                ke_error **error);
/* pixel_values: host f32 [3, image_size, image_size] (as ke_image_preprocess returns). */
bool ke_cuda_vision_encode_pixels (ke_cuda_vision *vision, const float *pixel_values,
                                   float *out, ke_error **error);

/* A caller's image: validated; at the tower's size its rows go to the GPU as they are (RGB
 * or RGBA), otherwise resized on the CPU as Gemma3ImageProcessor (Pillow-exact, ke-image.c);
 * through pinned staging, then as ke_cuda_vision_encode_rgb. */
struct ke_preprocess_config;
bool ke_cuda_vision_encode_image (ke_cuda_vision *vision, const ke_image *image,
                                  const struct ke_preprocess_config *preprocess, float *out,
                                  ke_error **error);

/* For tests: the last image as the tower saw it, uint8 [S, S, channels] (*channels: 3 after
 * a resize, the image's own count when it had the tower's size).  host: S·S·4 bytes. */
bool ke_cuda_vision_last_rgb (ke_cuda_vision *vision, uint8_t *host, int *channels,
                              ke_error **error);

#ifdef __cplusplus
}
#endif
