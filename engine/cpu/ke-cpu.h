/* ke-cpu.h — internals of the CPU (reference) backend.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Everything is float32.  Weights stay in the checkpoint's form (FP8 e4m3 + per-channel
 * scale, or BF16) and are converted tile by tile inside the matrix products, so the full
 * 4b model never exists in RAM as float32.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ke-engine.h"
#include "ke-config.h"
#include "ke-weights.h"
#include "ke-comm.h"
#include "ke-tp-plan.h"

/* ---- thread pool (ke-cpu-pool.c) ------------------------------------------------------ */

typedef struct ke_cpu_pool ke_cpu_pool;

/* A task body: runs task `task` (0 <= task < n_tasks) on worker `thread`
 * (0 <= thread < ke_cpu_pool_n_threads). */
typedef void (*ke_cpu_task_fn) (void *ctx, size_t task, int thread);

/* n_threads 0 = number of online CPUs.  The calling thread is worker 0. */
ke_cpu_pool *ke_cpu_pool_new (int n_threads, ke_error **error);
void ke_cpu_pool_free (ke_cpu_pool *pool);
int ke_cpu_pool_n_threads (const ke_cpu_pool *pool);
/* Runs fn for every task (dynamic scheduling) and returns when all are done.  With a NULL
 * pool, runs them on the calling thread. */
void ke_cpu_pool_run (ke_cpu_pool *pool, size_t n_tasks, ke_cpu_task_fn fn, void *ctx);

/* ---- tensors as float (ke-cpu-ops.c) ------------------------------------------------- */

/* Bytes per element (the backend's own copy, so it does not depend on the loader). */
static inline size_t
ke_cpu_dtype_size (ke_dtype dtype)
{
  return dtype == KE_DTYPE_F32 ? 4 : dtype == KE_DTYPE_F8_E4M3 ? 1 : 2;
}

/* Converts elements [first, first + n) of a BF16/F16/F32 tensor to float. */
void ke_cpu_tensor_to_f32 (const ke_tensor *tensor, size_t first, size_t n, float *out);
/* True when the tensor is present and of a dtype ke_cpu_tensor_to_f32 reads. */
bool ke_cpu_tensor_is_float (const ke_tensor *tensor);

/* ---- elementwise primitives (ke-cpu-ops.c) ------------------------------------------- */

/* Gemma RMSNorm, in place over rows of x [rows, n]: x * rsqrt(mean(x²) + eps) * (1 + w). */
void ke_cpu_rmsnorm_gemma (float *x, size_t rows, size_t n, const float *w, float eps);
/* LayerNorm (biased variance) over rows of x [rows, n]. */
void ke_cpu_layernorm (float *x, size_t rows, size_t n, const float *w, const float *b,
                       float eps);
/* GELU, tanh approximation (gelu_pytorch_tanh). */
float ke_cpu_gelu_tanh (float x);
/* Rotary embedding, rotate_half convention, on one head vector x [head_dim]:
 * angle_i = pos * inv_freq[i] (float32 product, as transformers computes it). */
void ke_cpu_rope (float *x, uint32_t head_dim, uint32_t pos, const float *inv_freq);
/* inv_freq[i] = 1 / (base^(2i / head_dim)) / scaling_factor, i < head_dim / 2. */
void ke_cpu_rope_inv_freq (float *inv_freq, uint32_t head_dim, float base, float factor);

/* Dynamic per-token FP8 activation quantization (vLLM): per row of x [rows, n],
 * scale = max(absmax / 448, 1 / (448 * 512)); q = e4m3(x / scale) (round to nearest
 * even, saturating).  q receives the e4m3 values as float, scale [rows]. */
void ke_cpu_quant_fp8_rows (const float *x, size_t rows, size_t n, float *q, float *scale);
#define KE_FP8_MIN_SCALE (1.0f / (448.0f * 512.0f))

/* Attention mask (see ke-backend.h): may query position i see key position j?
 * window 0 = no window (global layer); group_i/group_j are image-run ids (-1 = text). */
static inline bool
ke_cpu_mask_visible (uint32_t i, uint32_t j, uint32_t window, int32_t group_i,
                     int32_t group_j)
{
  if (group_i >= 0 && group_i == group_j)
    return true;
  if (j > i)
    return false;
  return window == 0 || j + window > i;
}

/* ---- linear layers (ke-cpu-linear.c) -------------------------------------------------- */

#define KE_CPU_TILE_ROWS 64
#define KE_CPU_TILE_K 512
#define KE_CPU_TILE_FLOATS (KE_CPU_TILE_ROWS * KE_CPU_TILE_K)

/* y[rows, out] = x[rows, in] · Wᵀ (+ bias).  FP8 weights: with act_quant, x is quantized
 * per token first and y = (Σ q·w8) · xscale · wscale; without, y = (Σ x·w8) · wscale.
 * BF16/F16/F32 weights: plain product.  `xq`/`xscale` are caller scratch of
 * [rows * in] and [rows] floats (used for FP8 with act_quant only); `tiles` is
 * n_threads × KE_CPU_TILE_FLOATS floats, 64-byte aligned. */
void ke_cpu_linear (ke_cpu_pool *pool, const ke_linear *linear, const float *x, size_t rows,
                    size_t in, size_t out, float *y, bool act_quant, float *xq,
                    float *xscale, float *tiles);
/* The same with W's rows `ld` >= in elements apart (a tensor-parallel column view, see
 * engine/tp/ke-tp-plan.h); ke_cpu_linear is this with ld = in. */
void ke_cpu_linear_strided (ke_cpu_pool *pool, const ke_linear *linear, size_t ld,
                            const float *x, size_t rows, size_t in, size_t out, float *y,
                            bool act_quant, float *xq, float *xscale, float *tiles);

/* ---- attention (ke-cpu-attention.c) --------------------------------------------------- */

typedef struct ke_cpu_attention {
  const float *q;        /* [n_q, n_heads, head_dim] */
  const float *k_cache;  /* [capacity, n_kv_heads, head_dim], keys 0 .. pos0 + n_q - 1 valid */
  const float *v_cache;  /* likewise */
  float *out;            /* [n_q, n_heads, head_dim] */
  uint32_t n_q, pos0, n_heads, n_kv_heads, head_dim;
  uint32_t window;       /* 0 = global */
  float scale;
  const int32_t *group;  /* [n_q] image-run id per query (-1 text); NULL = none */
  float *scores;         /* scratch: n_threads × KE_CPU_ATT_QBLOCK × (pos0 + n_q) floats */
} ke_cpu_attention;

#define KE_CPU_ATT_QBLOCK 4

/* Scaled dot-product attention with the mask above (keys of earlier batches are never in
 * one of this batch's image runs). */
void ke_cpu_attention_run (ke_cpu_pool *pool, const ke_cpu_attention *att);

/* ---- image preprocessing (ke-image.c) ------------------------------------------------- */

/* Pillow's ImagingResample with the bilinear (triangle) filter, 8-bit fixed point, with
 * antialiasing support when shrinking; horizontal pass then vertical pass.  in: RGB
 * (channels 3, or 4 with alpha ignored), out: RGB [out_h, out_w, 3]. */
bool ke_image_resize_bilinear (const ke_image *image, uint32_t out_w, uint32_t out_h,
                               uint8_t *out, ke_error **error);
/* One axis of that resize (for the GPU version, ke-cuda-vision): for each output index the
 * first input index and the count (bounds [out, 2]) and `ksize` fixed-point weights with
 * PRECISION_BITS = 22 (kk [out, ksize]), both malloc'd.  Each pass computes
 * clip8((1 << 21) + Σ in[first + i] · kk[i]) with clip8(v) = v ≥ 255 << 22 ? 255 :
 * v ≤ 0 ? 0 : v >> 22, rounding to uint8 between the passes; a pass whose size does not
 * change is a copy. */
bool ke_image_resize_coeffs (uint32_t in_size, uint32_t out_size, int *ksize, int **bounds,
                             int **kk);
/* Gemma3ImageProcessor: RGB, resize to config size, rescale, normalize; returns
 * pixel_values [3, height, width] (channel-first) in a malloc'd buffer. */
float *ke_image_preprocess (const ke_image *image, const ke_preprocess_config *config,
                            ke_error **error);

/* ---- vision tower + projector (ke-cpu-vision.c) -------------------------------------- */

/* pixel_values [3, image_size, image_size] → soft tokens [mm_tokens, text hidden]. */
bool ke_cpu_vision_encode (ke_cpu_pool *pool, const ke_config *config,
                           const ke_weights *weights, const float *pixel_values,
                           float *out, ke_error **error);

/* ---- text decoder (ke-cpu-text.c) ----------------------------------------------------- */

typedef struct ke_cpu_text ke_cpu_text;

ke_cpu_text *ke_cpu_text_new (const ke_config *config, const ke_weights *weights,
                              ke_cpu_pool *pool, bool act_quant, uint32_t max_batch,
                              ke_error **error);

/* One rank of a tensor-parallel group (ke-cpu-tp.c drives N of them, one thread each).
 * `weights` are the rank's views (ke_tp_rank_weights_init); the rank computes its heads,
 * MLP columns and vocabulary rows, all-reduces after o_proj and down_proj, and
 * all-gathers the logits, which rank 0 alone writes to the caller's buffer. */
typedef struct ke_cpu_text_rank {
  ke_comm *comm;
  const ke_tp_plan *plan;
  uint32_t rank;
  size_t o_row_stride, down_row_stride; /* from ke_tp_rank_weights */
} ke_cpu_text_rank;

ke_cpu_text *ke_cpu_text_new_rank (const ke_config *config, const ke_weights *weights,
                                   const ke_cpu_text_rank *tp, ke_cpu_pool *pool,
                                   bool act_quant, uint32_t max_batch, ke_error **error);
void ke_cpu_text_free (ke_cpu_text *text);

typedef struct ke_cpu_kv {
  uint32_t capacity;
  uint32_t n_layers;
  float **k; /* [n_layers] → [capacity, n_kv_heads, head_dim] */
  float **v;
} ke_cpu_kv;

ke_cpu_kv *ke_cpu_kv_new (const ke_config *config, uint32_t capacity, ke_error **error);
/* A cache holding n_kv_heads heads per position (a tensor-parallel rank's share). */
ke_cpu_kv *ke_cpu_kv_new_heads (const ke_config *config, uint32_t capacity,
                                uint32_t n_kv_heads, ke_error **error);
void ke_cpu_kv_free (ke_cpu_kv *kv);

/* One forward pass over tokens (see ke_batch).  image_rows[t] is NULL for text positions,
 * else the embedding row [hidden] to use; group[t] the image-run id (-1 text). */
bool ke_cpu_text_forward (ke_cpu_text *text, ke_cpu_kv *kv, const ke_token *ids,
                          const float *const *image_rows, const int32_t *group,
                          uint32_t n_tokens, uint32_t pos0, float *logits, bool all_logits,
                          ke_error **error);

/* ---- sampler (ke-sampler.c) ----------------------------------------------------------- */

typedef struct ke_rng {
  uint64_t s[4]; /* xoshiro256** */
} ke_rng;

void ke_rng_seed (ke_rng *rng, uint64_t seed);
uint64_t ke_rng_next (ke_rng *rng);
double ke_rng_uniform (ke_rng *rng); /* [0, 1) */

typedef struct ke_sampler ke_sampler;

ke_sampler *ke_sampler_new (uint32_t vocab_size, ke_error **error);
void ke_sampler_free (ke_sampler *sampler);
/* Picks the next token from logits [vocab] (modified in place).  history: the context
 * so far (prompt + generated) for the repetition penalty; generated: the tokens sampled
 * in this reply so far for the presence penalty. */
ke_token ke_sampler_sample (ke_sampler *sampler, float *logits, uint32_t vocab_size,
                            const ke_sampling *params, const ke_token *history,
                            size_t n_history, const ke_token *generated, size_t n_generated,
                            ke_rng *rng);
/* The steps of ke_sampler_sample, for comparing samplers: the candidates it draws from
 * (penalties and temperature applied to logits in place; ids in descending logit order,
 * ties lower id first; probabilities of the softmax over the top-k), cut by top-p and
 * min-p; returns how many are kept (greedy: 1, the argmax).  *order and *probs point into
 * the sampler, valid until its next call. */
uint32_t ke_sampler_candidates (ke_sampler *sampler, float *logits, uint32_t vocab_size,
                                const ke_sampling *params, const ke_token *history,
                                size_t n_history, const ke_token *generated,
                                size_t n_generated, const uint32_t **order,
                                const float **probs);
/* The draw: the first i with Σ_{j<=i} probs[j] > u · Σ_{j<n} probs[j] (else n − 1). */
ke_token ke_sampler_draw (const uint32_t *order, const float *probs, uint32_t n, double u);
