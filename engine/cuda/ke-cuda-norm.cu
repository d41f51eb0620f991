/* ke-cuda-norm.cu — embedding gather, Gemma RMSNorm (+ per-token FP8 quantize), the fused
 * residual add + post-norm + next pre-norm, and GeGLU (+ quantize).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One block per token row (hidden 2560 / intermediate 10240 for Gemma 3 4b): these kernels
 * move a few tens of KB per token, so they are latency-bound; what matters is one launch per
 * fused step and one round trip to memory.  Each thread keeps P float4s of the row in
 * registers (up to 1024 threads × 3 float4 = 12288 values), all loads are issued before the
 * first reduction, and norm weights (constant) are loaded before the programmatic-launch
 * wait.
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-kernels.h"
#include "ke-numeric.h"

namespace {

constexpr int MAX_THREADS = 1024;
constexpr int MAX_PER = 3;                             /* float4s per thread */
constexpr int MAX_WIDTH = MAX_THREADS * 4 * MAX_PER;   /* 12288 */

/* Launch shape for a row of `width` values: one float4 per thread per step, P steps. */
static void
row_shape (int width, int *threads, int *per)
{
  const int w4 = width / 4;
  int t = w4 < MAX_THREADS ? (w4 + 31) / 32 * 32 : MAX_THREADS;
  *threads = t;
  *per = (w4 + t - 1) / t;
}

/* A thread's share of a row: float4 number threadIdx.x + j·blockDim.x, j < P. */
template <int P>
struct row4 {
  float4 v[P];
};

template <int P>
static __device__ __forceinline__ row4<P>
load_f32 (const float *src, int w4)
{
  row4<P> r;
#pragma unroll
  for (int j = 0; j < P; j++) {
    const int i = threadIdx.x + j * blockDim.x;
    r.v[j] = i < w4 ? reinterpret_cast<const float4 *> (src)[i] : make_float4 (0, 0, 0, 0);
  }
  return r;
}

/* 1 + w for Gemma's norm weights (bf16). */
template <int P>
static __device__ __forceinline__ row4<P>
load_norm_w (const uint16_t *w, int w4)
{
  row4<P> r;
#pragma unroll
  for (int j = 0; j < P; j++) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < w4) {
      const uint2 b = reinterpret_cast<const uint2 *> (w)[i];
      const float2 lo = ke_bf16x2_to_f32x2 (b.x), hi = ke_bf16x2_to_f32x2 (b.y);
      r.v[j] = make_float4 (1.0f + lo.x, 1.0f + lo.y, 1.0f + hi.x, 1.0f + hi.y);
    } else {
      r.v[j] = make_float4 (0, 0, 0, 0);
    }
  }
  return r;
}

template <int P>
static __device__ __forceinline__ float
sum_sq (const row4<P> &r)
{
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < P; j++)
    s += r.v[j].x * r.v[j].x + r.v[j].y * r.v[j].y + r.v[j].z * r.v[j].z + r.v[j].w * r.v[j].w;
  return s;
}

/* x · rsqrt(mean x² + eps) · (1 + w), for a row whose sum of squares is ss. */
template <int P>
static __device__ __forceinline__ row4<P>
apply_norm (const row4<P> &x, const row4<P> &w1, float ss, int width, float eps)
{
  const float inv = rsqrtf (ss / (float) width + eps);
  row4<P> r;
#pragma unroll
  for (int j = 0; j < P; j++)
    r.v[j] = make_float4 (x.v[j].x * inv * w1.v[j].x, x.v[j].y * inv * w1.v[j].y,
                          x.v[j].z * inv * w1.v[j].z, x.v[j].w * inv * w1.v[j].w);
  return r;
}

static __device__ __forceinline__ float4
round4 (float4 v)
{
  return make_float4 (ke_round_bf16_dev (v.x), ke_round_bf16_dev (v.y), ke_round_bf16_dev (v.z),
                      ke_round_bf16_dev (v.w));
}

/* Writes row t as bf16 and/or fp8 + per-token scale.  The fp8 path quantizes the
 * bf16-rounded values, as a bf16 model's activations are. */
template <int P>
static __device__ void
write_out (const row4<P> &y, int w4, int t, uint16_t *out_bf16, uint8_t *out_fp8,
           float *out_scale, float *scratch)
{
  if (out_bf16) {
#pragma unroll
    for (int j = 0; j < P; j++) {
      const int i = threadIdx.x + j * blockDim.x;
      if (i < w4) {
        const float4 v = y.v[j];
        const uint2 b = make_uint2 (
          (uint32_t) ke_f32_to_bf16_bits (v.x) | ((uint32_t) ke_f32_to_bf16_bits (v.y) << 16),
          (uint32_t) ke_f32_to_bf16_bits (v.z) | ((uint32_t) ke_f32_to_bf16_bits (v.w) << 16));
        reinterpret_cast<uint2 *> (out_bf16 + (size_t) t * w4 * 4)[i] = b;
      }
    }
  }
  if (out_fp8) {
    float amax = 0.0f;
#pragma unroll
    for (int j = 0; j < P; j++) {
      const float4 v = round4 (y.v[j]); /* zero padding does not change the max */
      amax = fmaxf (amax, fmaxf (fmaxf (fabsf (v.x), fabsf (v.y)), fmaxf (fabsf (v.z), fabsf (v.w))));
    }
    amax = ke_block_max (amax, scratch);
    const float scale = amax > 0.0f ? amax / 448.0f : 1.0f;
#pragma unroll
    for (int j = 0; j < P; j++) {
      const int i = threadIdx.x + j * blockDim.x;
      if (i < w4) {
        const float4 v = round4 (y.v[j]);
        const uint32_t q = (uint32_t) ke_f32_to_fp8_dev (v.x / scale) |
                           ((uint32_t) ke_f32_to_fp8_dev (v.y / scale) << 8) |
                           ((uint32_t) ke_f32_to_fp8_dev (v.z / scale) << 16) |
                           ((uint32_t) ke_f32_to_fp8_dev (v.w / scale) << 24);
        reinterpret_cast<uint32_t *> (out_fp8 + (size_t) t * w4 * 4)[i] = q;
      }
    }
    if (threadIdx.x == 0)
      out_scale[t] = scale;
  }
}

template <int P>
__global__ void __launch_bounds__ (MAX_THREADS)
embed_kernel (const int32_t *ids, const uint16_t *embed, int vocab, int hidden, float normalizer,
              float *h, int32_t *bad_id)
{
  ke_pdl_trigger ();
  ke_pdl_wait ();
  const int t = blockIdx.x, w4 = hidden / 4;
  const int id = ids[t];
  const bool ok = id >= 0 && id < vocab;
  if (!ok && bad_id && threadIdx.x == 0)
    *bad_id = 1;
#pragma unroll
  for (int j = 0; j < P; j++) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i >= w4)
      continue;
    float4 v = make_float4 (0, 0, 0, 0);
    if (ok) {
      const uint2 b = reinterpret_cast<const uint2 *> (embed + (size_t) id * hidden)[i];
      const float2 lo = ke_bf16x2_to_f32x2 (b.x), hi = ke_bf16x2_to_f32x2 (b.y);
      v = round4 (make_float4 (lo.x * normalizer, lo.y * normalizer, hi.x * normalizer,
                               hi.y * normalizer));
    }
    reinterpret_cast<float4 *> (h + (size_t) t * hidden)[i] = v;
  }
}

template <int P>
__global__ void __launch_bounds__ (MAX_THREADS)
rmsnorm_kernel (const float *h, const uint16_t *w, int hidden, float eps, uint16_t *out_bf16,
                uint8_t *out_fp8, float *out_scale)
{
  __shared__ float scratch[32];
  ke_pdl_trigger ();
  const int t = blockIdx.x, w4 = hidden / 4;
  const row4<P> w1 = load_norm_w<P> (w, w4); /* constant: before the wait */
  ke_pdl_wait ();
  const row4<P> x = load_f32<P> (h + (size_t) t * hidden, w4);
  const float ss = ke_block_sum (sum_sq (x), scratch);
  write_out (apply_norm (x, w1, ss, hidden, eps), w4, t, out_bf16, out_fp8, out_scale, scratch);
}

template <int P>
__global__ void __launch_bounds__ (MAX_THREADS)
residual_norm_kernel (float *h, const float *y, const uint16_t *w_post, const uint16_t *w_next,
                      int hidden, float eps, uint16_t *out_bf16, uint8_t *out_fp8,
                      float *out_scale)
{
  __shared__ float scratch[32];
  ke_pdl_trigger ();
  const int t = blockIdx.x, w4 = hidden / 4;
  const row4<P> wp = load_norm_w<P> (w_post, w4);
  ke_pdl_wait ();
  float *hr = h + (size_t) t * hidden;
  const row4<P> yv = load_f32<P> (y + (size_t) t * hidden, w4);
  row4<P> hv = load_f32<P> (hr, w4);
  const row4<P> yn = apply_norm (yv, wp, ke_block_sum (sum_sq (yv), scratch), hidden, eps);
#pragma unroll
  for (int j = 0; j < P; j++) {
    const int i = threadIdx.x + j * blockDim.x;
    hv.v[j] = make_float4 (hv.v[j].x + yn.v[j].x, hv.v[j].y + yn.v[j].y, hv.v[j].z + yn.v[j].z,
                           hv.v[j].w + yn.v[j].w);
    if (i < w4)
      reinterpret_cast<float4 *> (hr)[i] = hv.v[j];
  }
  if (w_next == NULL)
    return;
  const row4<P> wn = load_norm_w<P> (w_next, w4);
  write_out (apply_norm (hv, wn, ke_block_sum (sum_sq (hv), scratch), hidden, eps), w4, t,
             out_bf16, out_fp8, out_scale, scratch);
}

static __device__ __forceinline__ float
gelu_tanh (float x)
{
  const float k0 = 0.7978845608028654f; /* sqrt(2/π) */
  return 0.5f * x * (1.0f + tanhf (k0 * (x + 0.044715f * x * x * x)));
}

template <int P>
__global__ void __launch_bounds__ (MAX_THREADS)
geglu_kernel (const float *gate_up, int inter, uint16_t *out_bf16, uint8_t *out_fp8,
              float *out_scale)
{
  __shared__ float scratch[32];
  ke_pdl_trigger ();
  ke_pdl_wait ();
  const int t = blockIdx.x, w4 = inter / 4;
  const float *g = gate_up + (size_t) t * 2 * inter;
  const row4<P> gv = load_f32<P> (g, w4), uv = load_f32<P> (g + inter, w4);
  /* HF (bf16): gate and up outputs are bf16, the activation's output too, then the product. */
  row4<P> a;
#pragma unroll
  for (int j = 0; j < P; j++) {
    const float4 gr = round4 (gv.v[j]), ur = round4 (uv.v[j]);
    a.v[j] = round4 (make_float4 (ke_round_bf16_dev (gelu_tanh (gr.x)) * ur.x,
                                  ke_round_bf16_dev (gelu_tanh (gr.y)) * ur.y,
                                  ke_round_bf16_dev (gelu_tanh (gr.z)) * ur.z,
                                  ke_round_bf16_dev (gelu_tanh (gr.w)) * ur.w));
  }
  write_out (a, w4, t, out_bf16, out_fp8, out_scale, scratch);
}

/* Instantiates and launches KERNEL<P> for the row width's P. */
#define LAUNCH_ROWS(error, kernel, n_rows, width, stream, ...)                              \
  ([&] () -> bool {                                                                        \
    int threads_, per_;                                                                    \
    row_shape ((width), &threads_, &per_);                                                 \
    switch (per_) {                                                                        \
    case 1: return KE_LAUNCH (error, kernel<1>, (n_rows), threads_, 0, stream, __VA_ARGS__); \
    case 2: return KE_LAUNCH (error, kernel<2>, (n_rows), threads_, 0, stream, __VA_ARGS__); \
    default: return KE_LAUNCH (error, kernel<3>, (n_rows), threads_, 0, stream, __VA_ARGS__); \
    }                                                                                      \
  }) ()

static bool
check_out (const ke_norm_out *out, bool required, ke_error **error)
{
  if (out == NULL || (out->bf16 == NULL && out->fp8 == NULL)) {
    if (!required)
      return true;
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "norm: no output given");
  }
  if ((out->bf16 && ((uintptr_t) out->bf16 & 7u) != 0) ||
      (out->fp8 && ((uintptr_t) out->fp8 & 3u) != 0))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "norm: misaligned output");
  if (out->fp8 && out->fp8_scale == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "norm: an fp8 output needs a scale output");
  return true;
}

static bool
check_dims (int n_tokens, int width, ke_error **error)
{
  if (n_tokens <= 0 || width <= 0 || width > MAX_WIDTH || width % 8 != 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "norm: %d rows of width %d not supported (width must be a multiple "
                         "of 8, at most %d)", n_tokens, width, MAX_WIDTH);
  return true;
}

} /* namespace */

extern "C" bool
ke_cuda_embed (const int32_t *ids, int n_tokens, const uint16_t *embed, int vocab, int hidden,
               float *h, int32_t *bad_id, void *stream, ke_error **error)
{
  if (!check_dims (n_tokens, hidden, error))
    return false;
  if (ids == NULL || embed == NULL || h == NULL || vocab <= 0 || !ke_is_aligned16 (h) ||
      ((uintptr_t) embed & 7u) != 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "embed: missing argument");
  /* Gemma multiplies by sqrt(hidden) as a bf16 tensor (torch.tensor(hidden**0.5, bf16)). */
  const float normalizer = ke_round_bf16 ((float) sqrt ((double) hidden));
  return LAUNCH_ROWS (error, embed_kernel, n_tokens, hidden, stream, ids, embed, vocab, hidden,
                      normalizer, h, bad_id);
}

extern "C" bool
ke_cuda_rmsnorm (const float *h, const uint16_t *w, int n_tokens, int hidden, float eps,
                 const ke_norm_out *out, void *stream, ke_error **error)
{
  if (!check_dims (n_tokens, hidden, error) || !check_out (out, true, error))
    return false;
  if (h == NULL || w == NULL || !ke_is_aligned16 (h) || ((uintptr_t) w & 7u) != 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "rmsnorm: missing or misaligned argument");
  return LAUNCH_ROWS (error, rmsnorm_kernel, n_tokens, hidden, stream, h, w, hidden, eps,
                      out->bf16, out->fp8, out->fp8_scale);
}

extern "C" bool
ke_cuda_residual_norm (float *h, const float *y, const uint16_t *w_post, const uint16_t *w_next,
                       int n_tokens, int hidden, float eps, const ke_norm_out *out,
                       void *stream, ke_error **error)
{
  if (!check_dims (n_tokens, hidden, error) || !check_out (out, w_next != NULL, error))
    return false;
  if (h == NULL || y == NULL || w_post == NULL || !ke_is_aligned16 (h) || !ke_is_aligned16 (y) ||
      ((uintptr_t) w_post & 7u) != 0 || ((uintptr_t) w_next & 7u) != 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "residual norm: missing or misaligned argument");
  ke_norm_out none = { NULL, NULL, NULL };
  if (out == NULL || w_next == NULL)
    out = &none;
  return LAUNCH_ROWS (error, residual_norm_kernel, n_tokens, hidden, stream, h, y, w_post, w_next,
                      hidden, eps, out->bf16, out->fp8, out->fp8_scale);
}

extern "C" bool
ke_cuda_geglu (const float *gate_up, int n_tokens, int inter, const ke_norm_out *out,
               void *stream, ke_error **error)
{
  if (!check_dims (n_tokens, inter, error) || !check_out (out, true, error))
    return false;
  if (gate_up == NULL || !ke_is_aligned16 (gate_up))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "geglu: missing or misaligned input");
  return LAUNCH_ROWS (error, geglu_kernel, n_tokens, inter, stream, gate_up, inter, out->bf16,
                      out->fp8, out->fp8_scale);
}
