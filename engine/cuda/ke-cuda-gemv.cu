/* ke-cuda-gemv.cu — matrix × vector for batch-1 decode: FP8 (per-row scales) and bf16 weights.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   y[N] = (W[N, K] · x[K]) ⊙ w_scale[N] · x_scale (+ residual[N])
 *
 * Decode reads every weight byte once per token, so this is a pure streaming problem: the
 * kernel must keep enough 16-byte loads in flight to cover DRAM latency.  Layout: one warp
 * owns R consecutive rows; lane l reads the 16-byte chunks l, l+32, l+64, … of each row
 * (coalesced: a warp reads 512 contiguous bytes per row per step), U chunks per row at a
 * time, so R·U independent 16-byte loads are in flight per lane before the first FMA.
 * The lane's x values for a chunk are loaded once (L1-resident: every warp reads the same
 * x) and reused for the R rows.  FP8 is converted to f32 in registers (cvt.f16x2.e4m3x2 on
 * sm_89+, emulated on sm_80/86), products and sums are f32, a warp reduction ends a row.
 *
 * Gemma 3 4b decode shapes (N × K): qkv 4096 × 2560, o 2560 × 2048, gate+up 20480 × 2560,
 * down 2560 × 10240, lm_head (bf16) 262208 × 2560.
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-kernels.h"

namespace {

constexpr int WARPS_PER_BLOCK = 4;
constexpr int UNROLL = 4; /* chunks per row in flight per lane */

/* Weight elements per 16-byte chunk. */
template <int WT> struct wtraits;
template <> struct wtraits<KE_GEMV_FP8> { static constexpr int E = 16; };
template <> struct wtraits<KE_GEMV_BF16> { static constexpr int E = 8; };

/* Streaming 16-byte load: read once, do not keep in L1. */
static __device__ __forceinline__ uint4
ld_stream (const void *p)
{
  uint4 v;
  asm volatile ("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                : "l"(p));
  return v;
}

/* E consecutive x values starting at element e0, as f32. */
template <int XT, int E>
static __device__ __forceinline__ void
load_x (const void *x, int e0, float (&xv)[E])
{
  if constexpr (XT == KE_GEMV_F32) {
    const float4 *p = reinterpret_cast<const float4 *> (static_cast<const float *> (x) + e0);
#pragma unroll
    for (int i = 0; i < E / 4; i++) {
      float4 f = __ldg (p + i);
      xv[4 * i] = f.x; xv[4 * i + 1] = f.y; xv[4 * i + 2] = f.z; xv[4 * i + 3] = f.w;
    }
  } else if constexpr (XT == KE_GEMV_BF16) {
    const uint4 *p = reinterpret_cast<const uint4 *> (static_cast<const uint16_t *> (x) + e0);
#pragma unroll
    for (int i = 0; i < E / 8; i++) {
      uint4 v = __ldg (p + i);
      uint32_t w[4] = { v.x, v.y, v.z, v.w };
#pragma unroll
      for (int j = 0; j < 4; j++) {
        float2 f = ke_bf16x2_to_f32x2 (w[j]);
        xv[8 * i + 2 * j] = f.x; xv[8 * i + 2 * j + 1] = f.y;
      }
    }
  } else { /* fp8: E bytes, E = 8 or 16 */
    const uint8_t *p = static_cast<const uint8_t *> (x) + e0;
    uint32_t w[E / 4];
    if constexpr (E == 16) {
      uint4 v = __ldg (reinterpret_cast<const uint4 *> (p));
      w[0] = v.x; w[1] = v.y; w[2] = v.z; w[3] = v.w;
    } else {
      uint2 v = __ldg (reinterpret_cast<const uint2 *> (p));
      w[0] = v.x; w[1] = v.y;
    }
#pragma unroll
    for (int j = 0; j < E / 4; j++) {
      float2 lo = ke_fp8x2_to_f32x2 ((uint16_t) (w[j] & 0xffffu));
      float2 hi = ke_fp8x2_to_f32x2 ((uint16_t) (w[j] >> 16));
      xv[4 * j] = lo.x; xv[4 * j + 1] = lo.y; xv[4 * j + 2] = hi.x; xv[4 * j + 3] = hi.y;
    }
  }
}

/* Σ w[i]·x[i] over one 16-byte chunk of weights. */
template <int WT, int E>
static __device__ __forceinline__ float
chunk_dot (uint4 v, const float (&xv)[E])
{
  uint32_t w[4] = { v.x, v.y, v.z, v.w };
  float a0 = 0.0f, a1 = 0.0f;
  if constexpr (WT == KE_GEMV_FP8) {
#pragma unroll
    for (int j = 0; j < 4; j++) {
      float2 lo = ke_fp8x2_to_f32x2 ((uint16_t) (w[j] & 0xffffu));
      float2 hi = ke_fp8x2_to_f32x2 ((uint16_t) (w[j] >> 16));
      a0 = fmaf (lo.x, xv[4 * j], a0);
      a1 = fmaf (lo.y, xv[4 * j + 1], a1);
      a0 = fmaf (hi.x, xv[4 * j + 2], a0);
      a1 = fmaf (hi.y, xv[4 * j + 3], a1);
    }
  } else {
#pragma unroll
    for (int j = 0; j < 4; j++) {
      float2 f = ke_bf16x2_to_f32x2 (w[j]);
      a0 = fmaf (f.x, xv[2 * j], a0);
      a1 = fmaf (f.y, xv[2 * j + 1], a1);
    }
  }
  return a0 + a1;
}

template <int WT, int XT, int YT, int R>
__global__ void __launch_bounds__ (WARPS_PER_BLOCK * 32)
gemv_kernel (int n, int k, const void *__restrict__ w, const float *__restrict__ w_scale,
             const void *__restrict__ x, const float *__restrict__ x_scale, void *y,
             const float *residual)
{
  constexpr int E = wtraits<WT>::E;
  constexpr int ESIZE = WT == KE_GEMV_FP8 ? 1 : 2;
  const int lane = threadIdx.x & 31;
  const int warp = blockIdx.x * WARPS_PER_BLOCK + (threadIdx.x >> 5);
  const int row0 = warp * R;
  if (row0 >= n)
    return;
  const int n_chunks = (k / E + 31) / 32; /* per lane, the last may be partial across lanes */
  const char *wbase = static_cast<const char *> (w);
  const size_t row_bytes = (size_t) k * ESIZE;

  float acc[R];
#pragma unroll
  for (int r = 0; r < R; r++)
    acc[r] = 0.0f;

  for (int c0 = 0; c0 < n_chunks; c0 += UNROLL) {
    uint4 wv[UNROLL][R];
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      const int e0 = ((c0 + u) * 32 + lane) * E;
#pragma unroll
      for (int r = 0; r < R; r++) {
        if (e0 < k && row0 + r < n)
          wv[u][r] = ld_stream (wbase + (size_t) (row0 + r) * row_bytes + (size_t) e0 * ESIZE);
        else
          wv[u][r] = make_uint4 (0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      const int e0 = ((c0 + u) * 32 + lane) * E;
      if (e0 < k) {
        float xv[E];
        load_x<XT, E> (x, e0, xv);
#pragma unroll
        for (int r = 0; r < R; r++)
          acc[r] += chunk_dot<WT, E> (wv[u][r], xv);
      }
    }
  }

  const float xs = XT == KE_GEMV_FP8 ? *x_scale : 1.0f;
#pragma unroll
  for (int r = 0; r < R; r++) {
    float s = ke_warp_sum (acc[r]);
    const int row = row0 + r;
    if (lane == r && row < n) {
      s *= xs;
      if (WT == KE_GEMV_FP8)
        s *= w_scale[row];
      if constexpr (YT == KE_GEMV_F32) {
        if (residual)
          s += residual[row];
        static_cast<float *> (y)[row] = s;
      } else {
        static_cast<uint16_t *> (y)[row] = ke_f32_to_bf16_bits (s);
      }
    }
  }
}

template <int WT, int XT, int YT, int R>
static void
launch (const ke_gemv_args *a, cudaStream_t stream)
{
  const int warps = (a->n + R - 1) / R;
  const int blocks = (warps + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK;
  gemv_kernel<WT, XT, YT, R><<<blocks, WARPS_PER_BLOCK * 32, 0, stream>>> (
    a->n, a->k, a->w, a->w_scale, a->x, a->x_scale, a->y, a->residual);
}

template <int WT, int XT, int YT>
static void
launch_r (const ke_gemv_args *a, int r, cudaStream_t stream)
{
  switch (r) {
  case 1: launch<WT, XT, YT, 1> (a, stream); break;
  case 2: launch<WT, XT, YT, 2> (a, stream); break;
  default: launch<WT, XT, YT, 4> (a, stream); break;
  }
}

template <int WT, int XT>
static void
launch_y (const ke_gemv_args *a, int r, cudaStream_t stream)
{
  if (a->y_type == KE_GEMV_F32)
    launch_r<WT, XT, KE_GEMV_F32> (a, r, stream);
  else
    launch_r<WT, XT, KE_GEMV_BF16> (a, r, stream);
}

template <int WT>
static void
launch_x (const ke_gemv_args *a, int r, cudaStream_t stream)
{
  switch (a->x_type) {
  case KE_GEMV_BF16: launch_y<WT, KE_GEMV_BF16> (a, r, stream); break;
  case KE_GEMV_F32: launch_y<WT, KE_GEMV_F32> (a, r, stream); break;
  default: launch_y<WT, KE_GEMV_FP8> (a, r, stream); break;
  }
}

} /* namespace */

extern "C" bool
ke_cuda_gemv (const ke_gemv_args *a, void *stream, ke_error **error)
{
  if (a == NULL || a->n <= 0 || a->k <= 0 || a->k % 16 != 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "GEMV shape %d × %d is not supported (K must be a positive multiple "
                         "of 16)", a ? a->n : 0, a ? a->k : 0);
  if (a->w_type != KE_GEMV_FP8 && a->w_type != KE_GEMV_BF16)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "GEMV weights must be fp8 or bf16");
  if ((a->x_type != KE_GEMV_FP8 && a->x_type != KE_GEMV_BF16 && a->x_type != KE_GEMV_F32) ||
      (a->y_type != KE_GEMV_F32 && a->y_type != KE_GEMV_BF16))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "GEMV: unsupported x or y type");
  if (a->w == NULL || a->x == NULL || a->y == NULL ||
      (a->w_type == KE_GEMV_FP8 && a->w_scale == NULL) ||
      (a->x_type == KE_GEMV_FP8 && a->x_scale == NULL))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "GEMV: a weight, scale, input or output pointer is missing");
  if (a->residual && a->y_type != KE_GEMV_F32)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "GEMV: a residual add needs an f32 output");
  if (!ke_is_aligned16 (a->w) || !ke_is_aligned16 (a->x))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "GEMV: weights and input must be 16-byte aligned");
  if (a->rows_per_warp != 0 && a->rows_per_warp != 1 && a->rows_per_warp != 2 &&
      a->rows_per_warp != 4)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "GEMV: rows_per_warp must be 0, 1, 2 or 4");
  int r = a->rows_per_warp;
  if (r == 0) /* measured on H100 (docs/cuda-notes.md): see the choice there */
    r = a->n >= 16384 ? 2 : 1;
  cudaStream_t s = (cudaStream_t) stream;
  if (a->w_type == KE_GEMV_FP8)
    launch_x<KE_GEMV_FP8> (a, r, s);
  else
    launch_x<KE_GEMV_BF16> (a, r, s);
  return KE_LAUNCH_CHECK (error);
}
