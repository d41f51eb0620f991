/* ke-cuda-prefill.h — the backend's multi-token kernels (ke-cuda-prefill.cu), C-callable.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Same conventions as ke-cuda-kernels.h: device pointers, bf16 as uint16_t, launches on
 * `stream`, arguments checked first, no synchronization.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ke-engine.h"
#include "ke-cuda-kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Attention for the n_tokens queries of a batch at positions pos0 .. pos0 + n_tokens - 1.
 * Keys before pos0 come from the session cache [n_kv, capacity, head_dim] (slot j % capacity);
 * the batch's own keys from k_new/v_new [n_kv, n_tokens, head_dim] at slot j % n_tokens (as
 * ke_cuda_qk_norm_rope writes them with capacity n_tokens).  Mask as ke-backend.h: j <= i
 * (and j > i - window when window > 0), or i and j in the same image run of this batch.
 * group [n_tokens]: image index or -1; group_start/group_len [n_images]: each run's first
 * batch index and length.  q, o: bf16 [n_tokens, n_q, head_dim]; head_dim 32, 64, 128 or
 * 256; f32 math; scale multiplies q·k. */
typedef struct ke_attn_prefill_args {
  const uint16_t *q;
  const uint16_t *k_cache, *v_cache;
  const uint16_t *k_new, *v_new;
  const int32_t *group, *group_start, *group_len;
  int n_tokens, pos0, n_q, n_kv, head_dim, capacity, window;
  float scale;
  uint16_t *o;
} ke_attn_prefill_args;

bool ke_cuda_attn_prefill (const ke_attn_prefill_args *args, void *stream, ke_error **error);

/* The two implementations ke_cuda_attn_prefill chooses from (exposed for tests and
 * benchmarks): the tensor-core flash kernel (ke-cuda-flash-prefill.cu; head_dim 64, 128 or
 * 256, n_q / n_kv dividing 64; chosen whenever it applies) and the f32 SIMT kernel (any
 * supported shape). */
bool ke_cuda_flash_prefill_supported (int head_dim, int n_q, int n_kv);
bool ke_cuda_flash_prefill (const ke_attn_prefill_args *args, void *stream, ke_error **error);
bool ke_cuda_attn_prefill_simt (const ke_attn_prefill_args *args, void *stream,
                                ke_error **error);

/* Copies the batch's keys/values (layout as k_new above) into the cache: the last
 * min(n_tokens, capacity) tokens, position p at slot p % capacity. */
bool ke_cuda_kv_scatter (const uint16_t *k_new, const uint16_t *v_new, uint16_t *k_cache,
                         uint16_t *v_cache, int n_tokens, int pos0, int capacity, int n_kv,
                         int head_dim, void *stream, ke_error **error);

/* out[i] = in[i] (bf16 → f32), n elements. */
bool ke_cuda_bf16_to_f32 (const uint16_t *in, float *out, size_t n, void *stream,
                          ke_error **error);

/* ke_cuda_residual_norm (ke-cuda-kernels.h) for batches, reading the linear's output as the
 * GEMM writes it, bf16 rows y_bf16 [n_tokens, hidden] (16-byte aligned), instead of f32:
 *   h += rmsnorm(y, w_post);  out = rmsnorm(h, w_next)  (skipped when w_next is NULL)
 * Same roundings (ke-cuda-norm-rows.cu).  hidden a multiple of 8, at most 16384; h 16-byte
 * aligned, norm weights 8-byte, out->bf16 16-byte, out->fp8 8-byte. */
bool ke_cuda_residual_norm_rows (float *h, const uint16_t *y_bf16, const uint16_t *w_post,
                                 const uint16_t *w_next, int n_tokens, int hidden, float eps,
                                 const ke_norm_out *out, void *stream, ke_error **error);

/* Per-row fp8 quantization of bf16 rows x [rows, width]: scale[r] = max|x_r| / 448 (1 for a
 * zero row), q = e4m3(x / scale). */
bool ke_cuda_quant_rows (const uint16_t *x, int rows, int width, uint8_t *q, float *scale,
                         void *stream, ke_error **error);

/* ke_cuda_qk_norm_rope (ke-cuda-kernels.h) reading the projections as bf16 rows
 * qkv_bf16 [n_tokens, (n_q + 2·n_kv) · head_dim] (the qkv GEMM's output; args->qkv is not
 * used): one block per token, the cos/sin of its position computed once for all heads. */
bool ke_cuda_qk_norm_rope_rows (const ke_rope_args *args, const uint16_t *qkv_bf16,
                                void *stream, ke_error **error);

/* GeGLU of bf16 rows gate_up [rows, 2·inter] (gate first, as the fused gate+up GEMM writes
 * it), a = bf16(bf16(gelu_tanh(gate)) · up) (ke_cuda_geglu's roundings; gelu_tanh as
 * x·sigmoid(2u) with the fast exponential, ~1e-6 relative), quantized per row as
 * ke_cuda_quant_rows: q fp8 [rows, inter], scale [rows].  inter a multiple of 8. */
bool ke_cuda_geglu_bf16_quant (const uint16_t *gate_up, int rows, int inter, uint8_t *q,
                               float *scale, void *stream, ke_error **error);

/* The same GeGLU (same roundings) into bf16 rows out [rows, inter], unquantized: the W8A16
 * prefill's MLP.  inter a multiple of 8, both pointers 16-byte aligned. */
bool ke_cuda_geglu_bf16 (const uint16_t *gate_up, int rows, int inter, uint16_t *out,
                         void *stream, ke_error **error);

#ifdef __cplusplus
}
#endif
