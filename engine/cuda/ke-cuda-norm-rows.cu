/* ke-cuda-norm-rows.cu — the fused residual add + post-norm + next pre-norm for batches
 * (prefill), reading the linear's output as the GEMM wrote it: bf16 rows.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The decode step keeps ke_cuda_residual_norm (ke-cuda-norm.cu: f32 input, tuned for one row
 * inside the step's graph).  For a batch the o/down GEMMs write bf16 rows; reading them here
 * saves the separate bf16 → f32 pass (read 2 + write 4 + read 4 bytes per value) and a
 * launch.  One block per row, each thread owns P chunks of 8 consecutive values: one 16-byte
 * load of y, two of h, two 16-byte stores of h, a 16-byte bf16 or 8-byte fp8 store.
 * Per Gemma 3 4b row (2560): 5 KiB y + 10 KiB h in, 10 KiB h + 2.5 KiB fp8 out.
 * Same arithmetic and roundings as ke_cuda_residual_norm (the bf16 → f32 widening is exact).
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-kernels.h"
#include "ke-cuda-prefill.h"

namespace {

constexpr int ROWS_MAX_THREADS = 1024;
constexpr int ROWS_MAX_P = 2;                                      /* chunks of 8 per thread */
constexpr int ROWS_MAX_WIDTH = ROWS_MAX_THREADS * 8 * ROWS_MAX_P; /* 16384 */

/* 8 bf16 (one uint4) → f32. */
static __device__ __forceinline__ void
bf16x8_to_f32 (uint4 w, float *v)
{
  const float2 a = ke_bf16x2_to_f32x2 (w.x), b = ke_bf16x2_to_f32x2 (w.y);
  const float2 c = ke_bf16x2_to_f32x2 (w.z), d = ke_bf16x2_to_f32x2 (w.w);
  v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
  v[4] = c.x; v[5] = c.y; v[6] = d.x; v[7] = d.y;
}

/* 1 + w for 8 Gemma norm weights (bf16; 8-byte aligned, as ke_cuda_residual_norm's). */
static __device__ __forceinline__ void
norm_w8 (const uint16_t *w, int c, float *v)
{
  const uint2 lo = reinterpret_cast<const uint2 *> (w)[2 * c];
  const uint2 hi = reinterpret_cast<const uint2 *> (w)[2 * c + 1];
  bf16x8_to_f32 (make_uint4 (lo.x, lo.y, hi.x, hi.y), v);
#pragma unroll
  for (int i = 0; i < 8; i++)
    v[i] = 1.0f + v[i];
}

/* Rows of `width` (a multiple of 8): h[t] += rmsnorm(y[t], w_post); out[t] = rmsnorm(h[t],
 * w_next) as bf16 and/or per-row fp8 (the fp8 of the bf16-rounded values, scale max/448). */
template <int P>
__global__ void __launch_bounds__ (ROWS_MAX_THREADS)
residual_norm_rows_kernel (float *h, const uint16_t *y, const uint16_t *w_post,
                           const uint16_t *w_next, int width, float eps, uint16_t *out_bf16,
                           uint8_t *out_fp8, float *out_scale)
{
  __shared__ float scratch[32];
  ke_pdl_trigger ();
  const int t = blockIdx.x, n8 = width / 8;
  float wp[P][8], wn[P][8];
#pragma unroll
  for (int j = 0; j < P; j++) {
    const int c = threadIdx.x + j * blockDim.x;
#pragma unroll
    for (int i = 0; i < 8; i++)
      wp[j][i] = wn[j][i] = 0.0f;
    if (c < n8) {
      norm_w8 (w_post, c, wp[j]);
      if (w_next)
        norm_w8 (w_next, c, wn[j]);
    }
  }
  ke_pdl_wait ();

  float *hr = h + (size_t) t * width;
  const uint4 *yr = reinterpret_cast<const uint4 *> (y + (size_t) t * width);
  float yv[P][8], hv[P][8];
#pragma unroll
  for (int j = 0; j < P; j++) {
    const int c = threadIdx.x + j * blockDim.x;
    if (c < n8) {
      bf16x8_to_f32 (yr[c], yv[j]);
      const float4 a = reinterpret_cast<const float4 *> (hr)[2 * c];
      const float4 b = reinterpret_cast<const float4 *> (hr)[2 * c + 1];
      hv[j][0] = a.x; hv[j][1] = a.y; hv[j][2] = a.z; hv[j][3] = a.w;
      hv[j][4] = b.x; hv[j][5] = b.y; hv[j][6] = b.z; hv[j][7] = b.w;
    } else {
#pragma unroll
      for (int i = 0; i < 8; i++)
        yv[j][i] = hv[j][i] = 0.0f;
    }
  }
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < P; j++)
#pragma unroll
    for (int i = 0; i < 8; i++)
      ss += yv[j][i] * yv[j][i];
  const float inv_y = rsqrtf (ke_block_sum (ss, scratch) / (float) width + eps);
#pragma unroll
  for (int j = 0; j < P; j++) {
    const int c = threadIdx.x + j * blockDim.x;
#pragma unroll
    for (int i = 0; i < 8; i++)
      hv[j][i] = hv[j][i] + yv[j][i] * inv_y * wp[j][i];
    if (c < n8) {
      reinterpret_cast<float4 *> (hr)[2 * c] =
        make_float4 (hv[j][0], hv[j][1], hv[j][2], hv[j][3]);
      reinterpret_cast<float4 *> (hr)[2 * c + 1] =
        make_float4 (hv[j][4], hv[j][5], hv[j][6], hv[j][7]);
    }
  }
  if (w_next == NULL)
    return;

  ss = 0.0f;
#pragma unroll
  for (int j = 0; j < P; j++)
#pragma unroll
    for (int i = 0; i < 8; i++)
      ss += hv[j][i] * hv[j][i];
  const float inv_h = rsqrtf (ke_block_sum (ss, scratch) / (float) width + eps);
  float o[P][8];
#pragma unroll
  for (int j = 0; j < P; j++)
#pragma unroll
    for (int i = 0; i < 8; i++)
      o[j][i] = hv[j][i] * inv_h * wn[j][i];

  if (out_bf16) {
#pragma unroll
    for (int j = 0; j < P; j++) {
      const int c = threadIdx.x + j * blockDim.x;
      if (c < n8) {
        uint32_t b[4];
#pragma unroll
        for (int i = 0; i < 4; i++)
          b[i] = (uint32_t) ke_f32_to_bf16_bits (o[j][2 * i]) |
                 ((uint32_t) ke_f32_to_bf16_bits (o[j][2 * i + 1]) << 16);
        reinterpret_cast<uint4 *> (out_bf16 + (size_t) t * width)[c] =
          make_uint4 (b[0], b[1], b[2], b[3]);
      }
    }
  }
  if (out_fp8) {
    /* fp8 of the bf16-rounded values; the zero padding does not change the max */
    float amax = 0.0f;
#pragma unroll
    for (int j = 0; j < P; j++)
#pragma unroll
      for (int i = 0; i < 8; i++) {
        o[j][i] = ke_round_bf16_dev (o[j][i]);
        amax = fmaxf (amax, fabsf (o[j][i]));
      }
    amax = ke_block_max (amax, scratch);
    const float scale = amax > 0.0f ? amax / 448.0f : 1.0f;
#pragma unroll
    for (int j = 0; j < P; j++) {
      const int c = threadIdx.x + j * blockDim.x;
      if (c < n8) {
        uint32_t q[2] = { 0, 0 };
#pragma unroll
        for (int i = 0; i < 8; i++)
          q[i / 4] |= (uint32_t) ke_f32_to_fp8_dev (o[j][i] / scale) << (8 * (i % 4));
        reinterpret_cast<uint2 *> (out_fp8 + (size_t) t * width)[c] = make_uint2 (q[0], q[1]);
      }
    }
    if (threadIdx.x == 0)
      out_scale[t] = scale;
  }
}

} /* namespace */

extern "C" bool
ke_cuda_residual_norm_rows (float *h, const uint16_t *y_bf16, const uint16_t *w_post,
                            const uint16_t *w_next, int n_tokens, int hidden, float eps,
                            const ke_norm_out *out, void *stream, ke_error **error)
{
  if (n_tokens <= 0 || hidden <= 0 || hidden > ROWS_MAX_WIDTH || hidden % 8 != 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "residual norm (bf16 rows): %d rows of width %d not supported (width "
                         "must be a multiple of 8, at most %d)", n_tokens, hidden,
                         ROWS_MAX_WIDTH);
  if (h == NULL || y_bf16 == NULL || w_post == NULL || !ke_is_aligned16 (h) ||
      !ke_is_aligned16 (y_bf16) || ((uintptr_t) w_post & 7u) != 0 ||
      ((uintptr_t) w_next & 7u) != 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "residual norm (bf16 rows): missing or misaligned argument");
  uint16_t *o_bf16 = NULL;
  uint8_t *o_fp8 = NULL;
  float *o_scale = NULL;
  if (w_next) {
    if (out == NULL || (out->bf16 == NULL && out->fp8 == NULL))
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "residual norm (bf16 rows): no output given");
    if ((out->bf16 && !ke_is_aligned16 (out->bf16)) ||
        (out->fp8 && ((uintptr_t) out->fp8 & 7u) != 0))
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "residual norm (bf16 rows): misaligned output");
    if (out->fp8 && out->fp8_scale == NULL)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "residual norm (bf16 rows): an fp8 output needs a scale output");
    o_bf16 = out->bf16;
    o_fp8 = out->fp8;
    o_scale = out->fp8_scale;
  }
  const int n8 = hidden / 8;
  if (n8 <= ROWS_MAX_THREADS) {
    const int threads = (n8 + 31) / 32 * 32;
    return KE_LAUNCH (error, residual_norm_rows_kernel<1>, n_tokens, threads, 0, stream, h,
                      y_bf16, w_post, w_next, hidden, eps, o_bf16, o_fp8, o_scale);
  }
  const int threads = ((n8 + 1) / 2 + 31) / 32 * 32;
  return KE_LAUNCH (error, residual_norm_rows_kernel<2>, n_tokens, threads, 0, stream, h,
                    y_bf16, w_post, w_next, hidden, eps, o_bf16, o_fp8, o_scale);
}
