/* ke-cuda-rope.cu — per-head QK RMSNorm + rotary embedding, and the KV-cache write.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Grid: (n_tokens, n_q + 2·n_kv) blocks of head_dim/2 threads; block y < n_q is a query head,
 * then n_kv key heads, then n_kv value heads.  Thread i owns the rotate_half pair
 * (i, i + head_dim/2):
 *   out[i]        = x[i]·cos(a_i) − x[i+d/2]·sin(a_i)
 *   out[i + d/2]  = x[i+d/2]·cos(a_i) + x[i]·sin(a_i),   a_i = pos · theta^(−2i/d) / scaling
 * Gemma 3 4b: 8 q heads, 4 kv heads, head_dim 256; theta 1e4 (sliding layers) or 1e6 with
 * linear scaling 8 (global layers); the cache is [n_kv, capacity, 256] bf16.
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-kernels.h"

namespace {

__global__ void
qk_norm_rope_kernel (ke_rope_args a)
{
  __shared__ float scratch[32];
  ke_pdl_trigger ();
  ke_pdl_wait ();
  const int t = blockIdx.x, head = blockIdx.y, i = threadIdx.x;
  const int d = a.head_dim, half = d / 2;
  /* head_dim 32 (tiny test shapes) runs 32 threads for 16 pairs: the rest only join the
   * block reduction. */
  const bool lane_on = i < half;
  const int n_heads = a.n_q + 2 * a.n_kv;
  const float *src = a.qkv + ((size_t) t * n_heads + head) * d;
  const int pos = a.pos[t];
  if (pos < 0) /* the whole block agrees: nothing to write for an invalid position */
    return;
  const int slot = pos % a.capacity;
  /* The projection's output as HF holds it: bf16. */
  float x0 = lane_on ? ke_round_bf16_dev (src[i]) : 0.0f;
  float x1 = lane_on ? ke_round_bf16_dev (src[i + half]) : 0.0f;

  if (head >= a.n_q + a.n_kv) { /* value head: copy into the cache */
    const int kvh = head - a.n_q - a.n_kv;
    if (!lane_on)
      return;
    uint16_t *dst = a.v_cache + ((size_t) kvh * a.capacity + slot) * d;
    dst[i] = ke_f32_to_bf16_bits (x0);
    dst[i + half] = ke_f32_to_bf16_bits (x1);
    return;
  }
  const bool is_q = head < a.n_q;
  const uint16_t *w = is_q ? a.q_norm : a.k_norm;
  float ss = ke_block_sum (x0 * x0 + x1 * x1, scratch);
  if (!lane_on)
    return;
  const float inv = rsqrtf (ss / (float) d + a.eps);
  x0 = ke_round_bf16_dev (x0 * inv * (1.0f + ke_bf16_bits_to_f32 (w[i])));
  x1 = ke_round_bf16_dev (x1 * inv * (1.0f + ke_bf16_bits_to_f32 (w[i + half])));

  /* transformers: inv_freq = 1 / theta^(2i/d) in f32, divided by the linear factor, times
   * the position in f32. */
  const float inv_freq = (1.0f / powf (a.theta, (float) (2 * i) / (float) d)) / a.scaling;
  const float angle = (float) pos * inv_freq;
  float s, c;
  sincosf (angle, &s, &c);
  const uint16_t r0 = ke_f32_to_bf16_bits (x0 * c - x1 * s);
  const uint16_t r1 = ke_f32_to_bf16_bits (x1 * c + x0 * s);
  uint16_t *dst;
  if (is_q)
    dst = a.q_out + ((size_t) t * a.n_q + head) * d;
  else
    dst = a.k_cache + ((size_t) (head - a.n_q) * a.capacity + slot) * d;
  dst[i] = r0;
  dst[i + half] = r1;
}

} /* namespace */

extern "C" bool
ke_cuda_qk_norm_rope (const ke_rope_args *a, void *stream, ke_error **error)
{
  if (a == NULL || a->n_tokens <= 0 || a->n_q <= 0 || a->n_kv <= 0 || a->n_q % a->n_kv != 0 ||
      a->head_dim <= 0 || a->head_dim % 32 != 0 || a->head_dim > 1024 || a->capacity <= 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "QK-norm/RoPE: unsupported shape (head_dim must be a multiple of 32, "
                         "at most 1024; q heads a multiple of kv heads)");
  if (a->qkv == NULL || a->pos == NULL || a->q_norm == NULL || a->k_norm == NULL ||
      a->q_out == NULL || a->k_cache == NULL || a->v_cache == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "QK-norm/RoPE: missing argument");
  if (!(a->theta > 1.0f) || !(a->scaling > 0.0f))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "QK-norm/RoPE: theta must be > 1 and scaling > 0");
  dim3 grid (a->n_tokens, a->n_q + 2 * a->n_kv);
  const int threads = (a->head_dim / 2 + 31) / 32 * 32; /* whole warps for the reduction */
  return KE_LAUNCH (error, qk_norm_rope_kernel, grid, threads, 0, stream, *a);
}
