/* ke-cuda-attention-decode.cu — attention for one query token over the bf16 KV cache,
 * split over the keys (flash-decoding), with a combine kernel.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Shapes (Gemma 3 4b): q [8, 256] bf16, K/V cache [4, capacity, 256] bf16, GQA group G = 2.
 * Sliding layers: capacity 1024 (a ring, slot = j % 1024), keys pos−1023 … pos.  Global
 * layers: capacity = the session's context, keys 0 … pos.
 *
 * Pass 1, grid (n_kv, n_splits), 8 warps: the block takes a contiguous range of keys of one
 * kv head and computes, for each of the G query heads that read it, the unnormalized
 * partial (m = max score, l = Σ exp(s − m), acc = Σ exp(s − m)·v).  A warp takes 4 keys at a
 * time (lane l holds dims 8l … 8l+7: one 16-byte load per K row and per V row, 8 loads in
 * flight), warps interleave; the 8 warps' partials are merged in shared memory.  Scores are
 * in base 2 (q is pre-scaled by scale·log2 e).
 * Pass 2, grid n_q, 256 threads: merges the active splits' partials and normalizes.
 *
 * Only ceil(keys / 32) splits (at most n_splits) are active, so short contexts do not pay
 * for many near-empty blocks; both passes derive that count from *pos on the device, which
 * keeps the launch parameters fixed for CUDA-graph capture.
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-kernels.h"

namespace {

constexpr int HEAD_DIM = 256;
constexpr int WARPS = 8;
constexpr int KEYS_PER_STEP = 4;
constexpr int MIN_KEYS_PER_SPLIT = 32; /* 4 keys per warp: one round of loads */
constexpr float LOG2E = 1.4426950408889634f;

struct key_range {
  int lo, n, active, chunk;
};

/* The keys the query at *pos sees, and how they are split. */
static __device__ __forceinline__ key_range
get_range (int pos, int window, int capacity, int n_splits)
{
  key_range r;
  int lo = window > 0 ? max (0, pos - window + 1) : 0;
  lo = max (lo, pos - capacity + 1); /* never read a slot that was overwritten */
  r.lo = lo;
  r.n = pos - lo + 1;
  int active = (r.n + MIN_KEYS_PER_SPLIT - 1) / MIN_KEYS_PER_SPLIT;
  r.active = min (active, n_splits);
  r.chunk = (r.n + r.active - 1) / r.active;
  return r;
}

static __device__ __forceinline__ uint4
ld_kv (const uint16_t *p)
{
  return __ldcs (reinterpret_cast<const uint4 *> (p));
}

template <int G>
__global__ void __launch_bounds__ (WARPS * 32)
attn_split_kernel (ke_attn_decode_args a)
{
  __shared__ float s_acc[WARPS][G][HEAD_DIM];
  __shared__ float s_ml[WARPS][G][2];
  const int kvh = blockIdx.x, split = blockIdx.y;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  ke_pdl_trigger ();
  ke_pdl_wait ();
  const int pos = *a.pos;
  if (pos < 0)
    return;
  const key_range r = get_range (pos, a.window, a.capacity, a.n_splits);
  if (split >= r.active)
    return;
  const int start = r.lo + split * r.chunk;
  const int end = min (start + r.chunk, r.lo + r.n);

  float qv[G][8];
#pragma unroll
  for (int h = 0; h < G; h++) {
    const uint4 raw = __ldg (reinterpret_cast<const uint4 *> (
      a.q + (size_t) (kvh * G + h) * HEAD_DIM + lane * 8));
    const uint32_t w[4] = { raw.x, raw.y, raw.z, raw.w };
#pragma unroll
    for (int j = 0; j < 4; j++) {
      float2 f = ke_bf16x2_to_f32x2 (w[j]);
      qv[h][2 * j] = f.x * a.scale * LOG2E;
      qv[h][2 * j + 1] = f.y * a.scale * LOG2E;
    }
  }
  float m[G], l[G], acc[G][8];
#pragma unroll
  for (int h = 0; h < G; h++) {
    m[h] = -INFINITY;
    l[h] = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; j++)
      acc[h][j] = 0.0f;
  }
  const size_t head_off = (size_t) kvh * a.capacity * HEAD_DIM + lane * 8;
  const uint16_t *kc = a.k_cache + head_off, *vc = a.v_cache + head_off;

  for (int base = start + warp * KEYS_PER_STEP; base < end; base += WARPS * KEYS_PER_STEP) {
    uint4 kr[KEYS_PER_STEP], vr[KEYS_PER_STEP];
#pragma unroll
    for (int u = 0; u < KEYS_PER_STEP; u++) {
      const int j = base + u;
      if (j < end) {
        const size_t off = (size_t) (j % a.capacity) * HEAD_DIM;
        kr[u] = ld_kv (kc + off);
        vr[u] = ld_kv (vc + off);
      } else {
        kr[u] = make_uint4 (0, 0, 0, 0);
        vr[u] = kr[u];
      }
    }
#pragma unroll
    for (int h = 0; h < G; h++) {
      float s[KEYS_PER_STEP];
#pragma unroll
      for (int u = 0; u < KEYS_PER_STEP; u++) {
        const uint32_t w[4] = { kr[u].x, kr[u].y, kr[u].z, kr[u].w };
        float d0 = 0.0f, d1 = 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
          float2 f = ke_bf16x2_to_f32x2 (w[j]);
          d0 = fmaf (qv[h][2 * j], f.x, d0);
          d1 = fmaf (qv[h][2 * j + 1], f.y, d1);
        }
        s[u] = d0 + d1;
      }
#pragma unroll
      for (int u = 0; u < KEYS_PER_STEP; u++) {
        s[u] = ke_warp_sum (s[u]);
        if (base + u >= end)
          s[u] = -INFINITY;
      }
      float m_new = m[h];
#pragma unroll
      for (int u = 0; u < KEYS_PER_STEP; u++)
        m_new = fmaxf (m_new, s[u]);
      /* base < end, so s[0] is finite and m_new too */
      const float corr = exp2f (m[h] - m_new);
      l[h] *= corr;
#pragma unroll
      for (int j = 0; j < 8; j++)
        acc[h][j] *= corr;
#pragma unroll
      for (int u = 0; u < KEYS_PER_STEP; u++) {
        const float p = exp2f (s[u] - m_new);
        l[h] += p;
        const uint32_t w[4] = { vr[u].x, vr[u].y, vr[u].z, vr[u].w };
#pragma unroll
        for (int j = 0; j < 4; j++) {
          float2 f = ke_bf16x2_to_f32x2 (w[j]);
          acc[h][2 * j] = fmaf (p, f.x, acc[h][2 * j]);
          acc[h][2 * j + 1] = fmaf (p, f.y, acc[h][2 * j + 1]);
        }
      }
      m[h] = m_new;
    }
  }

  /* Merge the warps' partials (a warp with no keys has m = −inf, l = 0, acc = 0). */
#pragma unroll
  for (int h = 0; h < G; h++) {
#pragma unroll
    for (int j = 0; j < 8; j++)
      s_acc[warp][h][lane * 8 + j] = acc[h][j];
    if (lane == 0) {
      s_ml[warp][h][0] = m[h];
      s_ml[warp][h][1] = l[h];
    }
  }
  __syncthreads ();
  for (int idx = threadIdx.x; idx < G * HEAD_DIM; idx += blockDim.x) {
    const int h = idx / HEAD_DIM, dim = idx % HEAD_DIM;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < WARPS; w++)
      mx = fmaxf (mx, s_ml[w][h][0]);
    float lsum = 0.0f, asum = 0.0f;
#pragma unroll
    for (int w = 0; w < WARPS; w++) {
      const float f = s_ml[w][h][0] == -INFINITY ? 0.0f : exp2f (s_ml[w][h][0] - mx);
      lsum += s_ml[w][h][1] * f;
      asum += s_acc[w][h][dim] * f;
    }
    float *out = a.workspace + ((size_t) (kvh * G + h) * a.n_splits + split) * (HEAD_DIM + 2);
    out[2 + dim] = asum;
    if (dim == 0) {
      out[0] = mx;
      out[1] = lsum;
    }
  }
}

__global__ void __launch_bounds__ (HEAD_DIM)
attn_combine_kernel (ke_attn_decode_args a)
{
  const int h = blockIdx.x, dim = threadIdx.x;
  ke_pdl_trigger ();
  ke_pdl_wait ();
  const int pos = *a.pos;
  if (pos < 0)
    return;
  const key_range r = get_range (pos, a.window, a.capacity, a.n_splits);
  const float *part = a.workspace + (size_t) h * a.n_splits * (HEAD_DIM + 2);
  float mx = -INFINITY;
  for (int s = 0; s < r.active; s++)
    mx = fmaxf (mx, part[(size_t) s * (HEAD_DIM + 2)]);
  float lsum = 0.0f, asum = 0.0f;
  for (int s = 0; s < r.active; s++) {
    const float *p = part + (size_t) s * (HEAD_DIM + 2);
    const float f = exp2f (p[0] - mx);
    lsum += p[1] * f;
    asum += p[2 + dim] * f;
  }
  a.o[(size_t) h * HEAD_DIM + dim] = ke_f32_to_bf16_bits (asum / lsum);
}

} /* namespace */

extern "C" size_t
ke_cuda_attn_decode_workspace_floats (int n_q, int head_dim, int n_splits)
{
  if (n_splits <= 0)
    n_splits = 64;
  return (size_t) n_q * n_splits * (head_dim + 2);
}

extern "C" bool
ke_cuda_attn_decode (const ke_attn_decode_args *args, void *stream, ke_error **error)
{
  if (args == NULL || args->head_dim != HEAD_DIM || args->n_kv <= 0 || args->n_q <= 0 ||
      args->n_q % args->n_kv != 0 || args->capacity <= 0 || args->window < 0 ||
      args->n_splits < 0 || args->n_splits > KE_ATTN_DECODE_MAX_SPLITS)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "decode attention: unsupported shape (head_dim must be %d, q heads a "
                         "multiple of kv heads, 0 ≤ n_splits ≤ %d)", HEAD_DIM,
                         KE_ATTN_DECODE_MAX_SPLITS);
  const int g = args->n_q / args->n_kv;
  if (g != 1 && g != 2 && g != 4)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "decode attention: %d query heads per kv head (1, 2 or 4 supported)",
                         g);
  if (args->window > 0 && args->capacity < args->window)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "decode attention: a ring of %d slots cannot hold a window of %d",
                         args->capacity, args->window);
  if (args->q == NULL || args->k_cache == NULL || args->v_cache == NULL || args->pos == NULL ||
      args->workspace == NULL || args->o == NULL || !ke_is_aligned16 (args->q) ||
      !ke_is_aligned16 (args->k_cache) || !ke_is_aligned16 (args->v_cache))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "decode attention: missing or misaligned pointer");
  if (!(args->scale > 0.0f))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "decode attention: the score scale must be positive");
  ke_attn_decode_args a = *args;
  if (a.n_splits == 0)
    a.n_splits = 64;
  dim3 grid (a.n_kv, a.n_splits);
  bool ok;
  switch (g) {
  case 1: ok = KE_LAUNCH (error, attn_split_kernel<1>, grid, WARPS * 32, 0, stream, a); break;
  case 2: ok = KE_LAUNCH (error, attn_split_kernel<2>, grid, WARPS * 32, 0, stream, a); break;
  default: ok = KE_LAUNCH (error, attn_split_kernel<4>, grid, WARPS * 32, 0, stream, a); break;
  }
  return ok && KE_LAUNCH (error, attn_combine_kernel, a.n_q, HEAD_DIM, 0, stream, a);
}
