/* ke-cuda-kernels.h — the CUDA decode kernels, C-callable, for the backend to compose.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every function launches on `stream` (a cudaStream_t, NULL = legacy default stream), checks
 * its arguments first (KE_ERROR_INVALID_ARGUMENT, nothing launched) and the launch after
 * (KE_ERROR_DEVICE), and never synchronizes: all of them can be captured into a CUDA graph.
 * Values that change from token to token (the position) are read from device memory, so a
 * captured graph stays valid across tokens.
 *
 * All pointers are device pointers.  Dtypes: "bf16" is uint16_t storage, "fp8" is e4m3fn
 * (uint8_t), scales are f32.  Shapes are row-major, as the checkpoint stores them.
 *
 * Residual stream: f32 [hidden] per token (more exact than HF's bf16 stream; every value
 * that HF rounds to bf16 before a linear layer is rounded the same way here).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ke-engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Programmatic dependent launch (compute capability ≥ 9.0): each kernel may start while the
 * previous one on the stream finishes, streaming its weights meanwhile.  On by default where
 * supported; false switches it off (for measurements). */
void ke_cuda_set_pdl (bool allowed);

/* ---- matrix × vector (ke-cuda-gemv.cu) ---------------------------------------------------
 *
 *   y[n] = (Σ_k W[n, k] · x[k]) · w_scale[n] · x_scale  (+ residual[n])     n < N, k < K
 *
 * W: [N, K] row-major (fp8 with per-row f32 scales, or bf16 with w_scale NULL).
 * x: [K], bf16 or f32 (W8A16: weights are dequantized in registers, x is used as is), or fp8
 *    with one f32 scale (x_scale, a device pointer: per-token quantization, W8A8).
 * y: [N], f32 or bf16.  residual: NULL or [N] f32, added after scaling (y may alias it).
 * K must be a multiple of 16 and W, x 16-byte aligned (K·size and pointers); N ≥ 1.
 * A group of k_split warps computes `rows_per_warp` rows (0 = chosen from the shape):
 * 16-byte loads, several rows' loads in flight per lane. */
typedef enum {
  KE_GEMV_BF16 = 0,
  KE_GEMV_F32 = 1,
  KE_GEMV_FP8 = 2,
} ke_gemv_type;

typedef enum {
  KE_GEMV_EPI_NONE = 0,
  /* W = [gate; up] (N = 2·inter rows): y[i] = bf16(gelu_tanh(bf16 gate_i)) · bf16(up_i), i < N/2
   * (Gemma's MLP activation; y bf16 is what the down projection reads). */
  KE_GEMV_EPI_GEGLU = 1,
} ke_gemv_epilogue;

typedef struct ke_gemv_args {
  int n, k;
  ke_gemv_type w_type;  /* KE_GEMV_FP8 or KE_GEMV_BF16 */
  const void *w;
  const float *w_scale; /* [N] for fp8 weights; NULL for bf16 */
  ke_gemv_type x_type;  /* any */
  const void *x;
  const float *x_scale; /* [1] for fp8 x, else NULL */
  ke_gemv_type y_type;  /* KE_GEMV_F32 or KE_GEMV_BF16 */
  void *y;
  const float *residual; /* NULL or [N] f32 (only with f32 y) */
  int rows_per_warp;     /* 0 = auto; else 1, 2 or 4 (2 or 4 with GeGLU) */
  ke_gemv_epilogue epilogue;
  int k_split;           /* warps sharing a row group, splitting K: 0 = auto, 1, 2, 4
                          * (4 rows per warp only with 1) */
} ke_gemv_args;

bool ke_cuda_gemv (const ke_gemv_args *args, void *stream, ke_error **error);

/* ---- embedding, norms, activation (ke-cuda-norm.cu) --------------------------------------
 *
 * RMSNorm is Gemma's: y = x · rsqrt(mean(x²) + eps) · (1 + w), f32 math, w bf16 [hidden].
 * An output "quantized" is fp8 with one scale per token: scale = max|y_bf16| / 448 (the bf16
 * value HF would feed the linear, quantized as compressed-tensors' dynamic per-token scheme),
 * q = round_e4m3(y_bf16 / scale); an all-zero row gets scale 1.  Each kernel handles
 * n_tokens rows; widths ≤ 12288 and a multiple of 8;
 * rows 16-byte aligned. */
typedef struct ke_norm_out {
  uint16_t *bf16;   /* [n_tokens, hidden] or NULL */
  uint8_t *fp8;     /* [n_tokens, hidden] or NULL */
  float *fp8_scale; /* [n_tokens], with fp8 */
} ke_norm_out;

/* h[t, :] = bf16(embed[ids[t], :] · bf16(sqrt(hidden)))  as f32; embed bf16 [vocab, hidden].
 * An id outside [0, vocab) gives a zero row and sets *bad_id (device int, may be NULL) to 1. */
bool ke_cuda_embed (const int32_t *ids, int n_tokens, const uint16_t *embed, int vocab,
                    int hidden, float *h, int32_t *bad_id, void *stream, ke_error **error);

/* out = rmsnorm(h, w) for each of n_tokens rows of h (f32). */
bool ke_cuda_rmsnorm (const float *h, const uint16_t *w, int n_tokens, int hidden, float eps,
                      const ke_norm_out *out, void *stream, ke_error **error);

/* The end of an attention or MLP block, fused with the next block's norm:
 *   h += rmsnorm(y, w_post)                  (y f32 [n_tokens, hidden], the linear's output)
 *   out = rmsnorm(h, w_next)                 (skipped when w_next is NULL) */
bool ke_cuda_residual_norm (float *h, const float *y, const uint16_t *w_post,
                            const uint16_t *w_next, int n_tokens, int hidden, float eps,
                            const ke_norm_out *out, void *stream, ke_error **error);

/* GeGLU: a = bf16(gelu_tanh(bf16(gate))) · bf16(up) rounded to bf16, from gate_up f32
 * [n_tokens, 2·inter] (gate first, as a fused gate+up GEMV writes it); out as above. */
bool ke_cuda_geglu (const float *gate_up, int n_tokens, int inter, const ke_norm_out *out,
                    void *stream, ke_error **error);

/* ---- QK-norm + RoPE + KV-cache write (ke-cuda-rope.cu) -----------------------------------
 *
 * qkv: f32 [n_tokens, (n_q + 2·n_kv) · head_dim] (q heads, then k heads, then v heads).
 * q_out: bf16 [n_tokens, n_q, head_dim] = rope(rmsnorm(q, q_norm)).
 * k_cache / v_cache: bf16 [n_kv, capacity, head_dim]; token t (position pos[t]) writes
 * rope(rmsnorm(k, k_norm)) and v at slot pos[t] % capacity (a ring for sliding layers).
 * The projections are rounded to bf16 first and the normed q/k too (HF's bf16 tensors);
 * the rotation itself is f32.
 * RoPE: rotate_half convention, inv_freq[i] = theta^(-2i/head_dim) / scaling,
 * angle = pos · inv_freq[i] in f32 (as transformers).  head_dim a multiple of 32, ≤ 1024. */
typedef struct ke_rope_args {
  const float *qkv;
  int n_tokens, n_q, n_kv, head_dim;
  const int32_t *pos; /* [n_tokens] device positions */
  const uint16_t *q_norm, *k_norm;
  float eps, theta, scaling;
  uint16_t *q_out;
  uint16_t *k_cache, *v_cache;
  int capacity;
} ke_rope_args;

bool ke_cuda_qk_norm_rope (const ke_rope_args *args, void *stream, ke_error **error);

/* ---- decode attention (ke-cuda-attention-decode.cu) --------------------------------------
 *
 * One query token at position *pos (device int), GQA: q head h reads kv head h / (n_q/n_kv).
 * Keys j with max(0, pos − window + 1) ≤ j ≤ pos (window 0 = all), at cache slot j % capacity
 * (capacity ≥ the number of keys).  o[h] = softmax(q·K / sqrt(scalar)) · V, f32 math, bf16 out.
 * Split over the keys into n_splits parts (fixed, so a graph stays valid; 0 = default),
 * each writing a partial (max, sum, acc) to `workspace`, merged by a second kernel.  One
 * workspace serves all layers (calls on one stream run one after the other).
 * head_dim must be 256; q bf16 [n_q, 256]; o bf16 [n_q, 256]. */
typedef struct ke_attn_decode_args {
  const uint16_t *q;
  const uint16_t *k_cache, *v_cache; /* [n_kv, capacity, head_dim] */
  const int32_t *pos;
  int n_q, n_kv, head_dim, capacity, window;
  float scale; /* query_pre_attn_scalar^-0.5 */
  int n_splits;
  float *workspace; /* ke_cuda_attn_decode_workspace_floats() floats */
  uint16_t *o;
} ke_attn_decode_args;

#define KE_ATTN_DECODE_MAX_SPLITS 256
size_t ke_cuda_attn_decode_workspace_floats (int n_q, int head_dim, int n_splits);
bool ke_cuda_attn_decode (const ke_attn_decode_args *args, void *stream, ke_error **error);

/* ---- next-token selection (ke-cuda-sample.cu) --------------------------------------------
 *
 * The semantics of ke_sampler_sample (engine/cpu/ke-sampler.c), on device logits: softcap,
 * repetition penalty over token set 0 ("context"), presence penalty over set 1 ("generated"),
 * greedy (temperature <= 0: argmax, lowest id on ties) or temperature → top-k → softmax →
 * top-p → min-p → the draw u · Σp over the candidates in descending logit order (ties: lower
 * id first).  u comes from the caller's RNG, so that host and device sampling consume one
 * stream.  The logits are not modified.  The sampler holds scratch for one run at a time
 * (stream-ordered); token sets belong to a context (the KV cache). */
typedef struct ke_cuda_sampler ke_cuda_sampler;
typedef struct ke_cuda_token_sets ke_cuda_token_sets;

typedef struct ke_cuda_sample_params {
  float softcap;            /* final_logit_softcapping, 0 = off */
  float temperature;        /* <= 0: greedy */
  int32_t top_k;            /* 0 = off */
  float top_p, min_p, repetition_penalty, presence_penalty;
  double u;                 /* the draw, [0, 1); unused when greedy */
} ke_cuda_sample_params;

ke_cuda_sampler *ke_cuda_sampler_new (int vocab, ke_error **error);
void ke_cuda_sampler_free (ke_cuda_sampler *sampler);
/* token: device int32 [1].  sets may be NULL (no penalties). */
bool ke_cuda_sampler_run (ke_cuda_sampler *sampler, const ke_cuda_token_sets *sets,
                          const float *logits, const ke_cuda_sample_params *params,
                          int32_t *token, void *stream, ke_error **error);
/* For tests (synchronizes the device): the last stochastic run's kept candidates, in
 * order, and their probabilities after the softmax over the top-k (host arrays of at least
 * *n_kept entries, either may be NULL). */
bool ke_cuda_sampler_candidates (ke_cuda_sampler *sampler, int32_t *ids, float *probs,
                                 int *n_kept, ke_error **error);

ke_cuda_token_sets *ke_cuda_token_sets_new (int vocab, ke_error **error);
void ke_cuda_token_sets_free (ke_cuda_token_sets *sets);
/* Adds host ids[0..n) to set `which` (0 context, 1 generated), emptying it first when reset;
 * ids outside the vocabulary are ignored.  The host array may be reused on return. */
bool ke_cuda_token_sets_add (ke_cuda_token_sets *sets, int which, bool reset,
                             const int32_t *ids, size_t n, void *stream, ke_error **error);

#ifdef __cplusplus
}
#endif
