/* ke-cuda-prefill.cu — the kernels the backend needs beyond the decode set: multi-token
 * attention (causal + sliding window + bidirectional image runs), the KV scatter from a
 * batch's scratch into the session cache, bf16 → f32 rows, and per-row fp8 quantization.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Attention is straightforward (not flash): one warp per (query, q head), keys staged in
 * shared memory 32 at a time, lane j scoring key j of the tile, online softmax in f32,
 * each lane accumulating head_dim/32 output dimensions.
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-prefill.h"

namespace {

constexpr int TILE = 32;      /* keys per shared-memory tile */
constexpr int WARPS = 8;      /* queries per block (same head) */
constexpr int MAX_HD = 256;

/* Is key position j visible to query position i?  group: image-run id inside the batch
 * (-1 text); keys before the batch are text for this purpose (image runs are complete
 * inside one batch). */
__device__ __forceinline__ bool
visible (int i, int j, int window, int gi, int gj)
{
  if (gi >= 0 && gi == gj)
    return true;
  if (j > i)
    return false;
  return window == 0 || j + window > i;
}

__global__ void __launch_bounds__ (WARPS * 32)
attn_prefill_kernel (ke_attn_prefill_args a)
{
  __shared__ uint32_t ks[TILE][MAX_HD / 2 + 1]; /* bf16 pairs, padded: lane j reads row j */
  __shared__ uint16_t vs[TILE][MAX_HD];
  __shared__ float qs[WARPS][MAX_HD];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int head = blockIdx.y, kvh = head / (a.n_q / a.n_kv);
  const int hd = a.head_dim, per_lane = hd / 32, half = hd / 2;
  const int t0 = blockIdx.x * WARPS, t = t0 + warp;
  const bool active = t < a.n_tokens;
  const int i = a.pos0 + t;
  const int gi = active ? a.group[t] : -1;

  /* Key range of the whole block. */
  const int t_last = min (t0 + WARPS, a.n_tokens) - 1;
  int lo = a.window ? max (0, a.pos0 + t0 - a.window + 1) : 0;
  int hi = a.pos0 + t_last;
  for (int u = t0; u <= t_last; u++) {
    const int g = a.group[u];
    if (g >= 0) { /* an image run: its keys are the run's positions in this batch */
      lo = min (lo, a.pos0 + a.group_start[g]);
      hi = max (hi, a.pos0 + a.group_start[g] + a.group_len[g] - 1);
    }
  }

  if (active)
    for (int d = lane; d < hd; d += 32)
      qs[warp][d] = ke_bf16_bits_to_f32 (a.q[((size_t) t * a.n_q + head) * hd + d]) * a.scale;
  float acc[MAX_HD / 32];
#pragma unroll
  for (int c = 0; c < MAX_HD / 32; c++)
    acc[c] = 0.0f;
  float m = -INFINITY, l = 0.0f;

  for (int base = lo; base <= hi; base += TILE) {
    __syncthreads ();
    /* Stage keys base .. base + TILE - 1 (bf16). */
    for (int idx = threadIdx.x; idx < TILE * half; idx += blockDim.x) {
      const int r = idx / half, c = idx % half, j = base + r;
      uint32_t kw = 0, vw = 0;
      if (j <= hi) {
        const uint16_t *kp, *vp;
        if (j >= a.pos0) {
          const size_t off = ((size_t) kvh * a.n_tokens + (j % a.n_tokens)) * hd;
          kp = a.k_new + off;
          vp = a.v_new + off;
        } else {
          const size_t off = ((size_t) kvh * a.capacity + (j % a.capacity)) * hd;
          kp = a.k_cache + off;
          vp = a.v_cache + off;
        }
        kw = reinterpret_cast<const uint32_t *> (kp)[c];
        vw = reinterpret_cast<const uint32_t *> (vp)[c];
      }
      ks[r][c] = kw;
      reinterpret_cast<uint32_t *> (vs[r])[c] = vw;
    }
    __syncthreads ();
    if (!active)
      continue;
    /* Lane j scores key base + j. */
    const int j = base + lane;
    bool vis = false;
    if (j <= hi) {
      int gj = -1;
      if (j >= a.pos0)
        gj = a.group[j - a.pos0];
      vis = visible (i, j, a.window, gi, gj);
    }
    float s = -INFINITY;
    if (vis) {
      float dot = 0.0f;
      for (int c = 0; c < half; c++) {
        const float2 kf = ke_bf16x2_to_f32x2 (ks[lane][c]);
        dot += qs[warp][2 * c] * kf.x + qs[warp][2 * c + 1] * kf.y;
      }
      s = dot;
    }
    const float tile_max = ke_warp_max (s);
    if (tile_max == -INFINITY)
      continue;
    const float m_new = fmaxf (m, tile_max);
    const float corr = __expf (m - m_new); /* m = -inf → 0 */
    const float p = vis ? __expf (s - m_new) : 0.0f;
    l = l * corr + ke_warp_sum (p);
#pragma unroll
    for (int c = 0; c < MAX_HD / 32; c++)
      acc[c] *= corr;
    for (int r = 0; r < TILE; r++) {
      const float pr = __shfl_sync (KE_FULL_MASK, p, r);
      if (pr == 0.0f)
        continue;
#pragma unroll
      for (int c = 0; c < MAX_HD / 32; c++)
        if (c < per_lane)
          acc[c] += pr * ke_bf16_bits_to_f32 (vs[r][lane * per_lane + c]);
    }
    m = m_new;
  }
  if (!active)
    return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  uint16_t *o = a.o + ((size_t) t * a.n_q + head) * hd + lane * per_lane;
#pragma unroll
  for (int c = 0; c < MAX_HD / 32; c++)
    if (c < per_lane)
      o[c] = ke_f32_to_bf16_bits (acc[c] * inv);
}

/* cache[kvh][(pos0 + t) % cap] = new[kvh][(pos0 + t) % n] for the last min(n, cap) tokens. */
__global__ void
kv_scatter_kernel (const uint16_t *k_new, const uint16_t *v_new, uint16_t *k_cache,
                   uint16_t *v_cache, int n_tokens, int pos0, int capacity, int n_kv, int hd)
{
  const int first = n_tokens > capacity ? n_tokens - capacity : 0;
  const int t = first + blockIdx.x, kvh = blockIdx.y;
  const int pos = pos0 + t;
  const size_t src = ((size_t) kvh * n_tokens + pos % n_tokens) * hd;
  const size_t dst = ((size_t) kvh * capacity + pos % capacity) * hd;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    k_cache[dst + d] = k_new[src + d];
    v_cache[dst + d] = v_new[src + d];
  }
}

__global__ void
bf16_to_f32_kernel (const uint16_t *in, float *out, size_t n)
{
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n;
       i += (size_t) gridDim.x * blockDim.x)
    out[i] = ke_bf16_bits_to_f32 (in[i]);
}

/* One block per row: scale = max|x| / 448 (1 for an all-zero row), q = e4m3(x / scale) —
 * the same scheme as the norm kernels' fp8 outputs. */
__global__ void
quant_rows_kernel (const uint16_t *x, int width, uint8_t *q, float *scale)
{
  __shared__ float scratch[32];
  const int r = blockIdx.x;
  const uint16_t *row = x + (size_t) r * width;
  float amax = 0.0f;
  for (int c = threadIdx.x; c < width; c += blockDim.x)
    amax = fmaxf (amax, fabsf (ke_bf16_bits_to_f32 (row[c])));
  amax = ke_block_max (amax, scratch);
  const float s = amax > 0.0f ? amax / 448.0f : 1.0f;
  for (int c = threadIdx.x; c < width; c += blockDim.x)
    q[(size_t) r * width + c] = ke_f32_to_fp8_dev (ke_bf16_bits_to_f32 (row[c]) / s);
  if (threadIdx.x == 0)
    scale[r] = s;
}

} /* namespace */

extern "C" bool
ke_cuda_attn_prefill (const ke_attn_prefill_args *a, void *stream, ke_error **error)
{
  if (!a || a->n_tokens <= 0 || a->n_q <= 0 || a->n_kv <= 0 || a->n_q % a->n_kv ||
      a->head_dim <= 0 || a->head_dim % 32 || a->head_dim > MAX_HD || a->capacity <= 0 ||
      a->pos0 < 0 || a->window < 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Prefill attention: unsupported shape (head_dim a multiple of 32, at "
                         "most %d).", MAX_HD);
  dim3 grid ((a->n_tokens + WARPS - 1) / WARPS, a->n_q);
  attn_prefill_kernel<<<grid, WARPS * 32, 0, (cudaStream_t) stream>>> (*a);
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_kv_scatter (const uint16_t *k_new, const uint16_t *v_new, uint16_t *k_cache,
                    uint16_t *v_cache, int n_tokens, int pos0, int capacity, int n_kv,
                    int head_dim, void *stream, ke_error **error)
{
  if (n_tokens <= 0 || capacity <= 0 || n_kv <= 0 || head_dim <= 0 || pos0 < 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "KV scatter: bad shape.");
  const int rows = n_tokens < capacity ? n_tokens : capacity;
  dim3 grid (rows, n_kv);
  kv_scatter_kernel<<<grid, 128, 0, (cudaStream_t) stream>>> (k_new, v_new, k_cache, v_cache,
                                                              n_tokens, pos0, capacity, n_kv,
                                                              head_dim);
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_bf16_to_f32 (const uint16_t *in, float *out, size_t n, void *stream, ke_error **error)
{
  if (n == 0)
    return true;
  size_t blocks = (n + 255) / 256;
  if (blocks > 4096)
    blocks = 4096;
  bf16_to_f32_kernel<<<(unsigned) blocks, 256, 0, (cudaStream_t) stream>>> (in, out, n);
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_quant_rows (const uint16_t *x, int rows, int width, uint8_t *q, float *scale,
                    void *stream, ke_error **error)
{
  if (rows <= 0 || width <= 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Row quantization: bad shape.");
  quant_rows_kernel<<<rows, 256, 0, (cudaStream_t) stream>>> (x, width, q, scale);
  return KE_LAUNCH_CHECK (error);
}
