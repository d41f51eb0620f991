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
 * time, double-buffered, so up to 2·R·U independent 16-byte loads are in flight per lane
 * (R·U = 8).  The first step's weight loads are issued before the programmatic-launch wait,
 * overlapping the previous kernel's tail.
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

/* Loads of this lane's U chunks (starting at chunk c0) of R rows; rows beyond N and chunks
 * beyond K read as zeros. */
template <int E, int ESIZE, int R, int U, bool GEGLU, int KS>
static __device__ __forceinline__ void
load_w (uint4 (&wv)[U][R], const char *wbase, size_t row_bytes, int k, int n, int row0,
        int c0, int lane, int ks)
{
#pragma unroll
  for (int u = 0; u < U; u++) {
    const int e0 = (((c0 + u) * KS + ks) * 32 + lane) * E;
#pragma unroll
    for (int r = 0; r < R; r++) {
      const int row = GEGLU ? row0 + (r % (R / 2)) + (r >= R / 2 ? n / 2 : 0) : row0 + r;
      const bool ok = e0 < k && (GEGLU ? row0 + r % (R / 2) < n / 2 : row < n);
      wv[u][r] = ok ? ld_stream (wbase + (size_t) row * row_bytes + (size_t) e0 * ESIZE)
                    : make_uint4 (0, 0, 0, 0);
    }
  }
}

static __device__ __forceinline__ float
gelu_tanh (float x)
{
  const float k0 = 0.7978845608028654f; /* sqrt(2/π) */
  return 0.5f * x * (1.0f + tanhf (k0 * (x + 0.044715f * x * x * x)));
}

/* R rows per warp group, U chunks per row per step, double-buffered (2·R·U 16-byte loads in
 * flight per lane).  KS warps (a group) share the same rows and split K: warp ks of the group
 * takes the warp-chunks ks, ks + KS, …; their sums meet in shared memory.  More warps per
 * row means shorter per-warp streams and more, smaller blocks, which balances the SMs better
 * for the small decode matrices.  GEGLU: the group's rows are R/2 gate rows i… and the
 * matching up rows i + N/2 …; it writes a[i] = bf16(gelu_tanh(bf16 g)) · bf16(u) (HF's bf16
 * roundings). */
template <int WT, int XT, int YT, int R, int U, bool GEGLU, int KS>
__global__ void __launch_bounds__ (WARPS_PER_BLOCK * 32)
gemv_kernel (int n, int k, const void *__restrict__ w, const float *__restrict__ w_scale,
             const void *__restrict__ x, const float *__restrict__ x_scale, void *y,
             const float *residual)
{
  constexpr int E = wtraits<WT>::E;
  constexpr int ESIZE = WT == KE_GEMV_FP8 ? 1 : 2;
  constexpr int ROWS_OUT = GEGLU ? R / 2 : R; /* outputs per group */
  constexpr int GROUPS = WARPS_PER_BLOCK / KS;
  __shared__ float red[KS > 1 ? WARPS_PER_BLOCK : 1][R];
  const int lane = threadIdx.x & 31, wib = threadIdx.x >> 5;
  const int ks = wib % KS;
  const int group = blockIdx.x * GROUPS + wib / KS;
  const int n_out = GEGLU ? n / 2 : n;
  const int row0 = group * ROWS_OUT;
  ke_pdl_trigger ();
  /* Warp-chunks of 32 × E elements; this warp takes every KS-th. */
  const int n_chunks = (k / E + 32 * KS - 1) / (32 * KS);
  const char *wbase = static_cast<const char *> (w);
  const size_t row_bytes = (size_t) k * ESIZE;

  float acc[R];
#pragma unroll
  for (int r = 0; r < R; r++)
    acc[r] = 0.0f;

  /* The weights never change: start streaming them before the previous kernel is done.
   * (Rows past N load nothing; such warps still take part in the block's reduction.) */
  uint4 wv[U][R], wn[U][R];
  load_w<E, ESIZE, R, U, GEGLU, KS> (wv, wbase, row_bytes, k, n, row0, 0, lane, ks);
  ke_pdl_wait ();
  for (int c0 = 0; c0 < n_chunks; c0 += U) {
    if (c0 + U < n_chunks)
      load_w<E, ESIZE, R, U, GEGLU, KS> (wn, wbase, row_bytes, k, n, row0, c0 + U, lane, ks);
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int e0 = (((c0 + u) * KS + ks) * 32 + lane) * E;
      if (e0 < k && row0 < n_out) {
        float xv[E];
        load_x<XT, E> (x, e0, xv);
#pragma unroll
        for (int r = 0; r < R; r++)
          acc[r] += chunk_dot<WT, E> (wv[u][r], xv);
      }
    }
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int r = 0; r < R; r++)
        wv[u][r] = wn[u][r];
  }

  float sum[R];
#pragma unroll
  for (int r = 0; r < R; r++)
    sum[r] = ke_warp_sum (acc[r]);
  if constexpr (KS > 1) {
    if (lane == 0)
#pragma unroll
      for (int r = 0; r < R; r++)
        red[wib][r] = sum[r];
    __syncthreads ();
    if (ks != 0)
      return;
#pragma unroll
    for (int r = 0; r < R; r++) {
      sum[r] = 0.0f;
#pragma unroll
      for (int j = 0; j < KS; j++)
        sum[r] += red[wib + j][r];
    }
  }
  if (row0 >= n_out)
    return;

  const float xs = XT == KE_GEMV_FP8 ? *x_scale : 1.0f;
#pragma unroll
  for (int r = 0; r < R; r++) {
    const int row = GEGLU ? row0 + (r % (R / 2)) + (r >= R / 2 ? n / 2 : 0) : row0 + r;
    sum[r] *= xs;
    if (WT == KE_GEMV_FP8 && (GEGLU ? row0 + r % (R / 2) < n_out : row < n))
      sum[r] *= w_scale[row];
  }
#pragma unroll
  for (int r = 0; r < ROWS_OUT; r++) {
    const int row = row0 + r;
    if (lane != r || row >= n_out)
      continue;
    float v = sum[r];
    if constexpr (GEGLU) {
      const float g = ke_round_bf16_dev (sum[r]), up = ke_round_bf16_dev (sum[r + R / 2]);
      v = ke_round_bf16_dev (gelu_tanh (g)) * up;
    }
    if constexpr (YT == KE_GEMV_F32) {
      if (residual)
        v += residual[row];
      static_cast<float *> (y)[row] = v;
    } else {
      static_cast<uint16_t *> (y)[row] = ke_f32_to_bf16_bits (v);
    }
  }
}

template <int WT, int XT, int YT, int R, bool GEGLU, int KS>
static bool
launch (const ke_gemv_args *a, void *stream, ke_error **error)
{
  constexpr int U = R == 1 ? 8 : R == 2 ? 4 : 2;
  constexpr int ROWS_OUT = GEGLU ? R / 2 : R;
  const int n_out = GEGLU ? a->n / 2 : a->n;
  const int groups = (n_out + ROWS_OUT - 1) / ROWS_OUT;
  const int blocks = (groups + WARPS_PER_BLOCK / KS - 1) / (WARPS_PER_BLOCK / KS);
  return KE_LAUNCH (error, (gemv_kernel<WT, XT, YT, R, U, GEGLU, KS>), blocks,
                    WARPS_PER_BLOCK * 32, 0, stream, a->n, a->k, a->w, a->w_scale, a->x,
                    a->x_scale, a->y, a->residual);
}

/* The (rows, k-split) variants that are built: see ke_cuda_gemv()'s checks. */
template <int WT, int XT, int YT>
static bool
launch_r (const ke_gemv_args *a, int r, int ks, void *stream, ke_error **error)
{
  if (a->epilogue == KE_GEMV_EPI_GEGLU) {
    if (r == 4)
      return launch<WT, XT, YT, 4, true, 1> (a, stream, error);
    switch (ks) {
    case 1: return launch<WT, XT, YT, 2, true, 1> (a, stream, error);
    case 2: return launch<WT, XT, YT, 2, true, 2> (a, stream, error);
    default: return launch<WT, XT, YT, 2, true, 4> (a, stream, error);
    }
  }
  if (r == 4)
    return launch<WT, XT, YT, 4, false, 1> (a, stream, error);
  if (r == 2)
    switch (ks) {
    case 1: return launch<WT, XT, YT, 2, false, 1> (a, stream, error);
    case 2: return launch<WT, XT, YT, 2, false, 2> (a, stream, error);
    default: return launch<WT, XT, YT, 2, false, 4> (a, stream, error);
    }
  switch (ks) {
  case 1: return launch<WT, XT, YT, 1, false, 1> (a, stream, error);
  case 2: return launch<WT, XT, YT, 1, false, 2> (a, stream, error);
  default: return launch<WT, XT, YT, 1, false, 4> (a, stream, error);
  }
}

template <int WT, int XT>
static bool
launch_y (const ke_gemv_args *a, int r, int ks, void *stream, ke_error **error)
{
  if (a->y_type == KE_GEMV_F32)
    return launch_r<WT, XT, KE_GEMV_F32> (a, r, ks, stream, error);
  return launch_r<WT, XT, KE_GEMV_BF16> (a, r, ks, stream, error);
}

template <int WT>
static bool
launch_x (const ke_gemv_args *a, int r, int ks, void *stream, ke_error **error)
{
  switch (a->x_type) {
  case KE_GEMV_BF16: return launch_y<WT, KE_GEMV_BF16> (a, r, ks, stream, error);
  case KE_GEMV_F32: return launch_y<WT, KE_GEMV_F32> (a, r, ks, stream, error);
  default: return launch_y<WT, KE_GEMV_FP8> (a, r, ks, stream, error);
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
  if (a->epilogue == KE_GEMV_EPI_GEGLU &&
      (a->n % 2 != 0 || a->residual != NULL || a->rows_per_warp == 1))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "GEMV: the GeGLU epilogue needs an even N (gate rows, then up rows), "
                         "no residual and 2 or 4 rows per warp");
  if (a->epilogue != KE_GEMV_EPI_NONE && a->epilogue != KE_GEMV_EPI_GEGLU)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "GEMV: unknown epilogue");
  if (a->k_split != 0 && a->k_split != 1 && a->k_split != 2 && a->k_split != 4)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "GEMV: k_split must be 0, 1, 2 or 4");
  if (a->rows_per_warp == 4 && a->k_split > 1)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "GEMV: 4 rows per warp is built without a k split");
  /* Measured on H100 (docs/cuda-notes.md): 2 rows × 2 warps is best or within noise of the
   * best for every Gemma 3 4b decode matrix; the long lm_head needs no k split. */
  int r = a->rows_per_warp, ks = a->k_split;
  if (r == 0)
    r = 2;
  if (ks == 0)
    ks = r == 4 || a->n >= 65536 ? 1 : 2;
  if (a->w_type == KE_GEMV_FP8)
    return launch_x<KE_GEMV_FP8> (a, r, ks, stream, error);
  return launch_x<KE_GEMV_BF16> (a, r, ks, stream, error);
}
