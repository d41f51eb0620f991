/* ke-cuda-prefill.cu — the kernels the backend needs beyond the decode set: multi-token
 * attention (causal + sliding window + bidirectional image runs), the KV scatter from a
 * batch's scratch into the session cache, bf16 → f32 rows, and per-row fp8 quantization.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * This attention kernel is the straightforward one (not flash, no tensor cores), kept for the
 * shapes the tensor-core kernel (ke-cuda-flash-prefill.cu) does not take: one warp per (query, q head),
 * keys and values staged in shared memory 32 at a time, online softmax in f32, each lane
 * owning head_dim/32 dimensions of q and of the output.
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-prefill.h"

namespace {

constexpr int TILE = 32;      /* keys per shared-memory tile (one per lane) */
constexpr int WARPS = 8;      /* queries per block (same head) */

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

/* PL consecutive bf16 (PL = 1, 2, 4, 8; 16-byte aligned for 8) → f32. */
template <int PL>
__device__ __forceinline__ void
load_bf16 (const uint16_t *p, float *out)
{
  if constexpr (PL == 8) {
    const uint4 w = *reinterpret_cast<const uint4 *> (p);
    const uint32_t ws[4] = { w.x, w.y, w.z, w.w };
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const float2 f = ke_bf16x2_to_f32x2 (ws[i]);
      out[2 * i] = f.x;
      out[2 * i + 1] = f.y;
    }
  } else if constexpr (PL == 4) {
    const uint2 w = *reinterpret_cast<const uint2 *> (p);
    const float2 f0 = ke_bf16x2_to_f32x2 (w.x), f1 = ke_bf16x2_to_f32x2 (w.y);
    out[0] = f0.x;
    out[1] = f0.y;
    out[2] = f1.x;
    out[3] = f1.y;
  } else if constexpr (PL == 2) {
    const float2 f = ke_bf16x2_to_f32x2 (*reinterpret_cast<const uint32_t *> (p));
    out[0] = f.x;
    out[1] = f.y;
  } else {
    out[0] = ke_bf16_bits_to_f32 (p[0]);
  }
}

/* One step of the transposing reduction over part[0 .. 2·O). */
template <int O>
__device__ __forceinline__ void
butterfly (float *part, int lane)
{
  const bool upper = (lane & O) != 0;
#pragma unroll
  for (int r = 0; r < O; r++) {
    const float send = upper ? part[r] : part[r + O];
    const float keep = upper ? part[r + O] : part[r];
    part[r] = keep + __shfl_xor_sync (KE_FULL_MASK, send, O);
  }
}

/* Lane l owns head dimensions [l·PL, (l+1)·PL) of q and of the output.  Scores: every lane
 * takes the partial dot of its dimensions with each of the tile's 32 keys, then a
 * transposing butterfly (31 shuffles) leaves key l's full score in lane l. */
template <int PL>
__global__ void __launch_bounds__ (WARPS * 32)
attn_prefill_kernel (ke_attn_prefill_args a)
{
  constexpr int HD = 32 * PL, CHUNKS = HD / 8; /* 16-byte chunks per row */
  __shared__ __align__ (16) uint16_t ks[TILE][HD];
  __shared__ __align__ (16) uint16_t vs[TILE][HD];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int head = blockIdx.y, kvh = head / (a.n_q / a.n_kv);
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

  float qr[PL], acc[PL];
#pragma unroll
  for (int c = 0; c < PL; c++)
    acc[c] = qr[c] = 0.0f;
  if (active) {
    load_bf16<PL> (a.q + ((size_t) t * a.n_q + head) * HD + lane * PL, qr);
#pragma unroll
    for (int c = 0; c < PL; c++)
      qr[c] *= a.scale;
  }
  float m = -INFINITY, l = 0.0f;

  for (int base = lo; base <= hi; base += TILE) {
    __syncthreads ();
    /* Stage keys/values base .. base + TILE - 1, 16 bytes per thread and step. */
    for (int idx = threadIdx.x; idx < TILE * CHUNKS; idx += blockDim.x) {
      const int r = idx / CHUNKS, c = idx % CHUNKS, j = base + r;
      uint4 kw = make_uint4 (0, 0, 0, 0), vw = kw;
      if (j <= hi) {
        const uint16_t *kp, *vp;
        if (j >= a.pos0) {
          const size_t off = ((size_t) kvh * a.n_tokens + (j % a.n_tokens)) * HD;
          kp = a.k_new + off;
          vp = a.v_new + off;
        } else {
          const size_t off = ((size_t) kvh * a.capacity + (j % a.capacity)) * HD;
          kp = a.k_cache + off;
          vp = a.v_cache + off;
        }
        kw = reinterpret_cast<const uint4 *> (kp)[c];
        vw = reinterpret_cast<const uint4 *> (vp)[c];
      }
      reinterpret_cast<uint4 *> (ks[r])[c] = kw;
      reinterpret_cast<uint4 *> (vs[r])[c] = vw;
    }
    __syncthreads ();
    if (!active)
      continue;
    float part[TILE];
#pragma unroll
    for (int r = 0; r < TILE; r++) {
      float kf[PL];
      load_bf16<PL> (&ks[r][lane * PL], kf);
      float d = 0.0f;
#pragma unroll
      for (int c = 0; c < PL; c++)
        d += qr[c] * kf[c];
      part[r] = d;
    }
    /* After the step with offset o, a lane with bit o set keeps the upper half of the keys
     * (in its low slots): at the end slot 0 holds key `lane`'s sum over all lanes. */
    butterfly<16> (part, lane);
    butterfly<8> (part, lane);
    butterfly<4> (part, lane);
    butterfly<2> (part, lane);
    butterfly<1> (part, lane);
    /* Lane j scores key base + j. */
    const int j = base + lane;
    bool vis = false;
    if (j <= hi) {
      const int gj = j >= a.pos0 ? a.group[j - a.pos0] : -1;
      vis = visible (i, j, a.window, gi, gj);
    }
    const float s = vis ? part[0] : -INFINITY;
    const float tile_max = ke_warp_max (s);
    if (tile_max == -INFINITY)
      continue;
    const float m_new = fmaxf (m, tile_max);
    const float corr = __expf (m - m_new); /* m = -inf → 0 */
    const float p = vis ? __expf (s - m_new) : 0.0f;
    l = l * corr + ke_warp_sum (p);
#pragma unroll
    for (int c = 0; c < PL; c++)
      acc[c] *= corr;
#pragma unroll 4
    for (int r = 0; r < TILE; r++) {
      const float pr = __shfl_sync (KE_FULL_MASK, p, r);
      if (pr == 0.0f) /* the same in every lane */
        continue;
      float vf[PL];
      load_bf16<PL> (&vs[r][lane * PL], vf);
#pragma unroll
      for (int c = 0; c < PL; c++)
        acc[c] += pr * vf[c];
    }
    m = m_new;
  }
  if (!active)
    return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  uint16_t *o = a.o + ((size_t) t * a.n_q + head) * HD + lane * PL;
#pragma unroll
  for (int c = 0; c < PL; c++)
    o[c] = ke_f32_to_bf16_bits (acc[c] * inv);
}

/* cache[kvh][(pos0 + t) % cap] = new[kvh][(pos0 + t) % n] for the last min(n, cap) tokens,
 * 16 bytes per thread and step (head_dim a multiple of 8). */
__global__ void
kv_scatter_kernel (const uint4 *k_new, const uint4 *v_new, uint4 *k_cache, uint4 *v_cache,
                   int n_tokens, int pos0, int capacity, int n_kv, int hd)
{
  const int first = n_tokens > capacity ? n_tokens - capacity : 0, rows = n_tokens - first;
  const int ch = hd / 8;
  const size_t total = (size_t) n_kv * rows * ch;
  for (size_t idx = blockIdx.x * (size_t) blockDim.x + threadIdx.x; idx < total;
       idx += (size_t) gridDim.x * blockDim.x) {
    const int c = (int) (idx % ch), r = (int) (idx / ch % rows), kvh = (int) (idx / ch / rows);
    const int pos = pos0 + first + r;
    const size_t src = ((size_t) kvh * n_tokens + pos % n_tokens) * ch + c;
    const size_t dst = ((size_t) kvh * capacity + pos % capacity) * ch + c;
    k_cache[dst] = k_new[src];
    v_cache[dst] = v_new[src];
  }
}

/* bf16 → f32, 8 values per thread and step; the n % 8 tail one by one. */
__global__ void
bf16_to_f32_kernel (const uint16_t *in, float *out, size_t n)
{
  const size_t n8 = n / 8, stride = (size_t) gridDim.x * blockDim.x;
  const size_t first = blockIdx.x * (size_t) blockDim.x + threadIdx.x;
  for (size_t i = first; i < n8; i += stride) {
    const uint4 w = reinterpret_cast<const uint4 *> (in)[i];
    const float2 a = ke_bf16x2_to_f32x2 (w.x), b = ke_bf16x2_to_f32x2 (w.y);
    const float2 c = ke_bf16x2_to_f32x2 (w.z), d = ke_bf16x2_to_f32x2 (w.w);
    float4 *o = reinterpret_cast<float4 *> (out) + 2 * i;
    o[0] = make_float4 (a.x, a.y, b.x, b.y);
    o[1] = make_float4 (c.x, c.y, d.x, d.y);
  }
  for (size_t i = n8 * 8 + first; i < n; i += stride)
    out[i] = ke_bf16_bits_to_f32 (in[i]);
}

/* One block per row: scale = max|x| / 448 (1 for an all-zero row), q = e4m3(x / scale) —
 * the same scheme as the norm kernels' fp8 outputs.  16-byte loads (width a multiple of 8);
 * the second pass reads the row again from cache. */
__global__ void
quant_rows_kernel (const uint16_t *x, int width, uint8_t *q, float *scale)
{
  __shared__ float scratch[32];
  const int r = blockIdx.x, n8 = width / 8;
  const uint4 *row = reinterpret_cast<const uint4 *> (x + (size_t) r * width);
  float amax = 0.0f;
  for (int c = threadIdx.x; c < n8; c += blockDim.x) {
    const uint4 w = row[c];
    const uint32_t ws[4] = { w.x, w.y, w.z, w.w };
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const float2 f = ke_bf16x2_to_f32x2 (ws[i]);
      amax = fmaxf (amax, fmaxf (fabsf (f.x), fabsf (f.y)));
    }
  }
  amax = ke_block_max (amax, scratch);
  const float s = amax > 0.0f ? amax / 448.0f : 1.0f;
  uint2 *dst = reinterpret_cast<uint2 *> (q + (size_t) r * width);
  for (int c = threadIdx.x; c < n8; c += blockDim.x) {
    const uint4 w = row[c];
    const uint32_t ws[4] = { w.x, w.y, w.z, w.w };
    uint32_t o[2] = { 0, 0 };
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const float2 f = ke_bf16x2_to_f32x2 (ws[i]);
      o[i / 2] |= ((uint32_t) ke_f32_to_fp8_dev (f.x / s) | (uint32_t) ke_f32_to_fp8_dev (f.y / s) << 8)
                  << (16 * (i % 2));
    }
    dst[c] = make_uint2 (o[0], o[1]);
  }
  if (threadIdx.x == 0)
    scale[r] = s;
}

/* GELU, tanh approximation, as x · sigmoid(2u) = 0.5 · x · (1 + tanh u) with
 * u = sqrt(2/π)(x + 0.044715 x³): the same function without the cancellation of 1 + tanh u
 * for negative x, with the MUFU exponential (relative error ~1e-6, far below the bf16
 * rounding that follows; the decode path's tanhf agrees to that). */
__device__ __forceinline__ float
gelu_tanh (float x)
{
  const float k0 = 0.7978845608028654f; /* sqrt(2/π) */
  const float u = k0 * (x + 0.044715f * x * x * x);
  return __fdividef (x, 1.0f + __expf (-2.0f * u));
}

/* a = bf16(bf16(gelu_tanh(gate)) · up) for 8 consecutive columns (gate, up: bf16 × 8). */
__device__ __forceinline__ void
geglu8 (uint4 gw, uint4 uw, float *a)
{
  const uint32_t gs[4] = { gw.x, gw.y, gw.z, gw.w }, us[4] = { uw.x, uw.y, uw.z, uw.w };
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 gf = ke_bf16x2_to_f32x2 (gs[i]), uf = ke_bf16x2_to_f32x2 (us[i]);
    a[2 * i] = ke_round_bf16_dev (ke_round_bf16_dev (gelu_tanh (gf.x)) * uf.x);
    a[2 * i + 1] = ke_round_bf16_dev (ke_round_bf16_dev (gelu_tanh (gf.y)) * uf.y);
  }
}

/* One block per row of gate_up bf16 [T, 2·inter]: GeGLU, then per-row fp8 as
 * quant_rows_kernel.  Each thread keeps its CPT chunks of 8 activations in registers
 * between the max and the quantization (one read of the row). */
template <int CPT>
__global__ void __launch_bounds__ (1024)
geglu_bf16_quant_kernel (const uint16_t *gate_up, int inter, uint8_t *q, float *scale)
{
  __shared__ float scratch[32];
  const int t = blockIdx.x, n8 = inter / 8;
  const uint4 *g = reinterpret_cast<const uint4 *> (gate_up + (size_t) t * 2 * inter);
  const uint4 *u = g + n8;
  float a[CPT][8], amax = 0.0f;
#pragma unroll
  for (int k = 0; k < CPT; k++) {
    const int c = threadIdx.x + k * blockDim.x;
    if (c < n8) {
      geglu8 (g[c], u[c], a[k]);
#pragma unroll
      for (int i = 0; i < 8; i++)
        amax = fmaxf (amax, fabsf (a[k][i]));
    }
  }
  amax = ke_block_max (amax, scratch);
  const float s = amax > 0.0f ? amax / 448.0f : 1.0f;
  const float inv = 1.0f / s; /* ×inv vs ÷s: differs at most in the last f32 bit, before
                               * rounding to e4m3's 3 mantissa bits */
  uint2 *dst = reinterpret_cast<uint2 *> (q + (size_t) t * inter);
#pragma unroll
  for (int k = 0; k < CPT; k++) {
    const int c = threadIdx.x + k * blockDim.x;
    if (c < n8) {
      uint32_t w[2] = { 0, 0 };
#pragma unroll
      for (int i = 0; i < 8; i++)
        w[i / 4] |= (uint32_t) ke_f32_to_fp8_dev (a[k][i] * inv) << (8 * (i % 4));
      dst[c] = make_uint2 (w[0], w[1]);
    }
  }
  if (threadIdx.x == 0)
    scale[t] = s;
}

/* QK-norm + RoPE + the batch's K/V from the bf16 projection rows (the qkv GEMM's output):
 * one block per token, one warp per head (q heads, then k, then v), the token's cos/sin
 * table computed once in shared memory for all its heads; each lane loads 4 consecutive
 * columns of each half with 8-byte loads and keeps them in registers between the sum of
 * squares and the rotation (one read of the row).  Same arithmetic as
 * ke_cuda_qk_norm_rope (ke-cuda-rope.cu), which reads f32 rows. */
constexpr int ROPE_GROUPS = 4; /* groups of 128 columns per half: head_dim ≤ 1024 */

/* 4 bf16 (8 bytes) → f32. */
__device__ __forceinline__ void
bf16x4_to_f32 (uint2 w, float *v)
{
  const float2 a = ke_bf16x2_to_f32x2 (w.x), b = ke_bf16x2_to_f32x2 (w.y);
  v[0] = a.x;
  v[1] = a.y;
  v[2] = b.x;
  v[3] = b.y;
}

__global__ void
qk_norm_rope_rows_kernel (ke_rope_args a, const uint16_t *qkv)
{
  extern __shared__ float cs[]; /* cos [half], sin [half] */
  const int t = blockIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int n_warps = blockDim.x >> 5, d = a.head_dim, half = d / 2;
  const int n_heads = a.n_q + 2 * a.n_kv;
  const int pos = a.pos[t];
  if (pos < 0) /* the whole block agrees */
    return;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    /* transformers: inv_freq = 1 / theta^(2i/d) in f32, divided by the linear factor. */
    const float inv_freq = (1.0f / powf (a.theta, (float) (2 * i) / (float) d)) / a.scaling;
    float sn, cn;
    sincosf ((float) pos * inv_freq, &sn, &cn);
    cs[i] = cn;
    cs[half + i] = sn;
  }
  __syncthreads ();
  const int slot = pos % a.capacity;
  const uint16_t *row = qkv + (size_t) t * n_heads * d;
  for (int head = warp; head < n_heads; head += n_warps) {
    const uint16_t *src = row + (size_t) head * d;
    if (head >= a.n_q + a.n_kv) { /* value head: copy */
      const int kvh = head - a.n_q - a.n_kv;
      uint4 *dst = reinterpret_cast<uint4 *> (a.v_cache + ((size_t) kvh * a.capacity + slot) * d);
      for (int c = lane; c < d / 8; c += 32)
        dst[c] = reinterpret_cast<const uint4 *> (src)[c];
      continue;
    }
    const bool is_q = head < a.n_q;
    const uint16_t *w = is_q ? a.q_norm : a.k_norm;
    /* lane's columns: 4 consecutive ones per group of 128 in each half (8-byte loads), the
     * row kept in registers between the sum of squares and the rotation */
    float x0[ROPE_GROUPS][4], x1[ROPE_GROUPS][4];
    float ss = 0.0f;
#pragma unroll
    for (int g = 0; g < ROPE_GROUPS; g++) {
      const int i = g * 128 + lane * 4;
      if (i < half) {
        bf16x4_to_f32 (*reinterpret_cast<const uint2 *> (src + i), x0[g]);
        bf16x4_to_f32 (*reinterpret_cast<const uint2 *> (src + i + half), x1[g]);
#pragma unroll
        for (int e = 0; e < 4; e++)
          ss += x0[g][e] * x0[g][e] + x1[g][e] * x1[g][e];
      }
    }
    ss = ke_warp_sum (ss);
    const float inv = rsqrtf (ss / (float) d + a.eps);
    uint16_t *dst = is_q ? a.q_out + ((size_t) t * a.n_q + head) * d
                         : a.k_cache + ((size_t) (head - a.n_q) * a.capacity + slot) * d;
#pragma unroll
    for (int g = 0; g < ROPE_GROUPS; g++) {
      const int i = g * 128 + lane * 4;
      if (i >= half)
        continue;
      float w0[4], w1[4];
      bf16x4_to_f32 (*reinterpret_cast<const uint2 *> (w + i), w0);
      bf16x4_to_f32 (*reinterpret_cast<const uint2 *> (w + i + half), w1);
      uint32_t lo[2] = { 0, 0 }, hi[2] = { 0, 0 };
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const float r0 = ke_round_bf16_dev (x0[g][e] * inv * (1.0f + w0[e]));
        const float r1 = ke_round_bf16_dev (x1[g][e] * inv * (1.0f + w1[e]));
        const float c = cs[i + e], sn = cs[half + i + e];
        lo[e / 2] |= (uint32_t) ke_f32_to_bf16_bits (r0 * c - r1 * sn) << (16 * (e % 2));
        hi[e / 2] |= (uint32_t) ke_f32_to_bf16_bits (r1 * c + r0 * sn) << (16 * (e % 2));
      }
      *reinterpret_cast<uint2 *> (dst + i) = make_uint2 (lo[0], lo[1]);
      *reinterpret_cast<uint2 *> (dst + i + half) = make_uint2 (hi[0], hi[1]);
    }
  }
}

} /* namespace */

extern "C" bool
ke_cuda_qk_norm_rope_rows (const ke_rope_args *a, const uint16_t *qkv_bf16, void *stream,
                           ke_error **error)
{
  if (a == NULL || a->n_tokens <= 0 || a->n_q <= 0 || a->n_kv <= 0 || a->n_q % a->n_kv != 0 ||
      a->head_dim <= 0 || a->head_dim % 32 != 0 || a->head_dim > 1024 || a->capacity <= 0 ||
      !qkv_bf16 || !ke_is_aligned16 (qkv_bf16) || !a->pos || !a->q_norm || !a->k_norm ||
      !a->q_out || !a->k_cache || !ke_is_aligned16 (a->v_cache) ||
      (((uintptr_t) a->q_norm | (uintptr_t) a->k_norm | (uintptr_t) a->q_out |
        (uintptr_t) a->k_cache) & 7u) != 0 || !(a->theta > 1.0f) ||
      !(a->scaling > 0.0f))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "QK-norm/RoPE (bf16 rows): bad arguments.");
  const int n_heads = a->n_q + 2 * a->n_kv;
  const int threads = 32 * (n_heads < 32 ? n_heads : 32);
  qk_norm_rope_rows_kernel<<<a->n_tokens, threads, a->head_dim * sizeof (float),
                             (cudaStream_t) stream>>> (*a, qkv_bf16);
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_geglu_bf16_quant (const uint16_t *gate_up, int rows, int inter, uint8_t *q,
                          float *scale, void *stream, ke_error **error)
{
  if (rows <= 0 || inter <= 0 || inter % 8 || inter > 4 * 8 * 1024 || !gate_up ||
      !ke_is_aligned16 (gate_up) || !q || ((uintptr_t) q & 7u) || !scale)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "GeGLU (bf16 rows): bad arguments.");
  const int n8 = inter / 8;
  cudaStream_t s = (cudaStream_t) stream;
  if (n8 <= 2 * 1024) { /* 2 chunks per thread (Gemma 3 4b: 640 threads) */
    const int threads = ((n8 + 1) / 2 + 31) / 32 * 32;
    geglu_bf16_quant_kernel<2><<<rows, threads, 0, s>>> (gate_up, inter, q, scale);
  } else {
    geglu_bf16_quant_kernel<4><<<rows, 1024, 0, s>>> (gate_up, inter, q, scale);
  }
  return KE_LAUNCH_CHECK (error);
}

/* GeGLU of bf16 rows into bf16 rows (the W8A16 prefill's MLP): thread i of the grid does
 * columns 8i … 8i+7 of its row. */
__global__ void
geglu_bf16_kernel (const uint16_t *gate_up, int inter, uint16_t *out, size_t n8_total)
{
  const size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n8_total)
    return;
  const int n8 = inter / 8;
  const size_t t = i / n8, c = i % n8;
  const uint4 *g = reinterpret_cast<const uint4 *> (gate_up + t * 2 * inter);
  float a[8];
  geglu8 (g[c], g[c + n8], a);
  uint32_t w[4];
#pragma unroll
  for (int j = 0; j < 4; j++)
    w[j] = (__float_as_uint (a[2 * j]) >> 16) | (__float_as_uint (a[2 * j + 1]) & 0xffff0000u);
  reinterpret_cast<uint4 *> (out + t * inter)[c] = make_uint4 (w[0], w[1], w[2], w[3]);
}

extern "C" bool
ke_cuda_geglu_bf16 (const uint16_t *gate_up, int rows, int inter, uint16_t *out, void *stream,
                    ke_error **error)
{
  if (rows <= 0 || inter <= 0 || inter % 8 || !gate_up || !ke_is_aligned16 (gate_up) || !out ||
      !ke_is_aligned16 (out))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "GeGLU (bf16 → bf16): bad arguments.");
  const size_t n8_total = (size_t) rows * (inter / 8);
  geglu_bf16_kernel<<<(unsigned) ((n8_total + 255) / 256), 256, 0, (cudaStream_t) stream>>> (
    gate_up, inter, out, n8_total);
  return KE_LAUNCH_CHECK (error);
}

static bool
check_args (const ke_attn_prefill_args *a, ke_error **error)
{
  if (!a || a->n_tokens <= 0 || a->n_q <= 0 || a->n_kv <= 0 || a->n_q % a->n_kv ||
      a->capacity <= 0 || a->pos0 < 0 || a->window < 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Prefill attention: bad arguments.");
  return true;
}

extern "C" bool
ke_cuda_attn_prefill (const ke_attn_prefill_args *a, void *stream, ke_error **error)
{
  if (!check_args (a, error))
    return false;
  if (ke_cuda_flash_prefill_supported (a->head_dim, a->n_q, a->n_kv))
    return ke_cuda_flash_prefill (a, stream, error);
  return ke_cuda_attn_prefill_simt (a, stream, error);
}

extern "C" bool
ke_cuda_attn_prefill_simt (const ke_attn_prefill_args *a, void *stream, ke_error **error)
{
  if (!check_args (a, error))
    return false;
  dim3 grid ((a->n_tokens + WARPS - 1) / WARPS, a->n_q);
  cudaStream_t s = (cudaStream_t) stream;
  switch (a->head_dim) {
  case 32: attn_prefill_kernel<1><<<grid, WARPS * 32, 0, s>>> (*a); break;
  case 64: attn_prefill_kernel<2><<<grid, WARPS * 32, 0, s>>> (*a); break;
  case 128: attn_prefill_kernel<4><<<grid, WARPS * 32, 0, s>>> (*a); break;
  case 256: attn_prefill_kernel<8><<<grid, WARPS * 32, 0, s>>> (*a); break;
  default:
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Prefill attention: head_dim %d is not 32, 64, 128 or 256.", a->head_dim);
  }
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_kv_scatter (const uint16_t *k_new, const uint16_t *v_new, uint16_t *k_cache,
                    uint16_t *v_cache, int n_tokens, int pos0, int capacity, int n_kv,
                    int head_dim, void *stream, ke_error **error)
{
  if (n_tokens <= 0 || capacity <= 0 || n_kv <= 0 || head_dim <= 0 || pos0 < 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "KV scatter: bad shape.");
  if (head_dim % 8 || !ke_is_aligned16 (k_new) || !ke_is_aligned16 (v_new) ||
      !ke_is_aligned16 (k_cache) || !ke_is_aligned16 (v_cache))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "KV scatter: misaligned rows.");
  const int rows = n_tokens < capacity ? n_tokens : capacity;
  const size_t work = (size_t) rows * n_kv * (head_dim / 8);
  size_t blocks = (work + 255) / 256;
  if (blocks > 8192)
    blocks = 8192;
  kv_scatter_kernel<<<(unsigned) blocks, 256, 0, (cudaStream_t) stream>>> (
    (const uint4 *) k_new, (const uint4 *) v_new, (uint4 *) k_cache, (uint4 *) v_cache, n_tokens,
    pos0, capacity, n_kv, head_dim);
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_bf16_to_f32 (const uint16_t *in, float *out, size_t n, void *stream, ke_error **error)
{
  if (n == 0)
    return true;
  if (!ke_is_aligned16 (in) || !ke_is_aligned16 (out))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "bf16 → f32: misaligned buffers.");
  size_t blocks = (n / 8 + 255) / 256;
  if (blocks > 8192)
    blocks = 8192;
  if (blocks == 0)
    blocks = 1;
  bf16_to_f32_kernel<<<(unsigned) blocks, 256, 0, (cudaStream_t) stream>>> (in, out, n);
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_quant_rows (const uint16_t *x, int rows, int width, uint8_t *q, float *scale,
                    void *stream, ke_error **error)
{
  if (rows <= 0 || width <= 0 || width % 8 || !ke_is_aligned16 (x) || ((uintptr_t) q & 7u))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Row quantization: bad shape.");
  quant_rows_kernel<<<rows, 256, 0, (cudaStream_t) stream>>> (x, width, q, scale);
  return KE_LAUNCH_CHECK (error);
}
