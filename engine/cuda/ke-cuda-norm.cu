/* ke-cuda-norm.cu — embedding gather, Gemma RMSNorm (+ per-token FP8 quantize), the fused
 * residual add + post-norm + next pre-norm, and GeGLU (+ quantize).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One block per token row (hidden 2560 / intermediate 10240 for Gemma 3 4b): these kernels
 * move a few tens of KB per token, so they are latency-bound; what matters is one launch per
 * fused step and no extra round trips.  The row being produced is kept in shared memory
 * (f32, ≤ KE_NORM_MAX_WIDTH values) so that the FP8 quantizer can take its absmax and then
 * write, without reading global memory twice.
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-kernels.h"
#include "ke-numeric.h"

namespace {

constexpr int THREADS = 256;
constexpr int MAX_WIDTH = 12224; /* f32 row + scratch within the 48 KB static limit */

/* Writes the row vals[0..n) (f32, in shared memory) as bf16 and/or fp8 + per-token scale.
 * The fp8 path quantizes the bf16-rounded values, as a bf16 model's activations are. */
static __device__ void
write_norm_out (const float *vals, int n, int t, uint16_t *out_bf16, uint8_t *out_fp8,
                float *out_scale, float *scratch)
{
  if (out_bf16)
    for (int i = threadIdx.x; i < n; i += blockDim.x)
      out_bf16[(size_t) t * n + i] = ke_f32_to_bf16_bits (vals[i]);
  if (out_fp8) {
    float amax = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
      amax = fmaxf (amax, fabsf (ke_round_bf16_dev (vals[i])));
    amax = ke_block_max (amax, scratch);
    const float scale = amax > 0.0f ? amax / 448.0f : 1.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
      out_fp8[(size_t) t * n + i] = ke_f32_to_fp8_dev (ke_round_bf16_dev (vals[i]) / scale);
    if (threadIdx.x == 0)
      out_scale[t] = scale;
  }
}

/* vals[i] = src[i] · rsqrt(mean(src²) + eps) · (1 + w[i]); src may be vals itself. */
static __device__ void
rmsnorm_row (const float *src, const uint16_t *w, int n, float eps, float *vals,
             float *scratch)
{
  float ss = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    ss += src[i] * src[i];
  ss = ke_block_sum (ss, scratch);
  const float inv = rsqrtf (ss / (float) n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    vals[i] = src[i] * inv * (1.0f + ke_bf16_bits_to_f32 (w[i]));
  __syncthreads ();
}

__global__ void __launch_bounds__ (THREADS)
embed_kernel (const int32_t *ids, const uint16_t *embed, int vocab, int hidden, float normalizer,
              float *h, int32_t *bad_id)
{
  const int t = blockIdx.x;
  const int id = ids[t];
  const bool ok = id >= 0 && id < vocab;
  if (!ok && bad_id && threadIdx.x == 0)
    *bad_id = 1;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    float v = ok ? ke_bf16_bits_to_f32 (embed[(size_t) id * hidden + i]) : 0.0f;
    h[(size_t) t * hidden + i] = ke_round_bf16_dev (v * normalizer);
  }
}

__global__ void __launch_bounds__ (THREADS)
rmsnorm_kernel (const float *h, const uint16_t *w, int hidden, float eps, uint16_t *out_bf16,
                uint8_t *out_fp8, float *out_scale)
{
  __shared__ float vals[MAX_WIDTH];
  __shared__ float scratch[32];
  const int t = blockIdx.x;
  rmsnorm_row (h + (size_t) t * hidden, w, hidden, eps, vals, scratch);
  write_norm_out (vals, hidden, t, out_bf16, out_fp8, out_scale, scratch);
}

__global__ void __launch_bounds__ (THREADS)
residual_norm_kernel (float *h, const float *y, const uint16_t *w_post, const uint16_t *w_next,
                      int hidden, float eps, uint16_t *out_bf16, uint8_t *out_fp8,
                      float *out_scale)
{
  __shared__ float vals[MAX_WIDTH];
  __shared__ float scratch[32];
  const int t = blockIdx.x;
  float *hr = h + (size_t) t * hidden;
  rmsnorm_row (y + (size_t) t * hidden, w_post, hidden, eps, vals, scratch);
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    float v = hr[i] + vals[i];
    hr[i] = v;
    vals[i] = v;
  }
  __syncthreads ();
  if (w_next == NULL)
    return;
  rmsnorm_row (vals, w_next, hidden, eps, vals, scratch);
  write_norm_out (vals, hidden, t, out_bf16, out_fp8, out_scale, scratch);
}

static __device__ __forceinline__ float
gelu_tanh (float x)
{
  const float k0 = 0.7978845608028654f; /* sqrt(2/π) */
  return 0.5f * x * (1.0f + tanhf (k0 * (x + 0.044715f * x * x * x)));
}

__global__ void __launch_bounds__ (THREADS)
geglu_kernel (const float *gate_up, int inter, uint16_t *out_bf16, uint8_t *out_fp8,
              float *out_scale)
{
  __shared__ float vals[MAX_WIDTH];
  __shared__ float scratch[32];
  const int t = blockIdx.x;
  const float *g = gate_up + (size_t) t * 2 * inter, *u = g + inter;
  /* HF (bf16): gate and up outputs are bf16, the activation's output too, then the product. */
  for (int i = threadIdx.x; i < inter; i += blockDim.x) {
    float a = ke_round_bf16_dev (gelu_tanh (ke_round_bf16_dev (g[i])));
    vals[i] = ke_round_bf16_dev (a * ke_round_bf16_dev (u[i]));
  }
  __syncthreads ();
  write_norm_out (vals, inter, t, out_bf16, out_fp8, out_scale, scratch);
}

static bool
check_out (const ke_norm_out *out, bool required, ke_error **error)
{
  if (out == NULL || (out->bf16 == NULL && out->fp8 == NULL)) {
    if (!required)
      return true;
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "norm: no output given");
  }
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
  if (ids == NULL || embed == NULL || h == NULL || vocab <= 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "embed: missing argument");
  /* Gemma multiplies by sqrt(hidden) as a bf16 tensor (torch.tensor(hidden**0.5, bf16)). */
  const float normalizer = ke_round_bf16 ((float) sqrt ((double) hidden));
  embed_kernel<<<n_tokens, THREADS, 0, (cudaStream_t) stream>>> (ids, embed, vocab, hidden,
                                                                 normalizer, h, bad_id);
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_rmsnorm (const float *h, const uint16_t *w, int n_tokens, int hidden, float eps,
                 const ke_norm_out *out, void *stream, ke_error **error)
{
  if (!check_dims (n_tokens, hidden, error) || !check_out (out, true, error))
    return false;
  if (h == NULL || w == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "rmsnorm: missing argument");
  rmsnorm_kernel<<<n_tokens, THREADS, 0, (cudaStream_t) stream>>> (h, w, hidden, eps, out->bf16,
                                                                   out->fp8, out->fp8_scale);
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_residual_norm (float *h, const float *y, const uint16_t *w_post, const uint16_t *w_next,
                       int n_tokens, int hidden, float eps, const ke_norm_out *out,
                       void *stream, ke_error **error)
{
  if (!check_dims (n_tokens, hidden, error) || !check_out (out, w_next != NULL, error))
    return false;
  if (h == NULL || y == NULL || w_post == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "residual norm: missing argument");
  ke_norm_out none = { NULL, NULL, NULL };
  if (out == NULL || w_next == NULL)
    out = &none;
  residual_norm_kernel<<<n_tokens, THREADS, 0, (cudaStream_t) stream>>> (
    h, y, w_post, w_next, hidden, eps, out->bf16, out->fp8, out->fp8_scale);
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_geglu (const float *gate_up, int n_tokens, int inter, const ke_norm_out *out,
               void *stream, ke_error **error)
{
  if (!check_dims (n_tokens, inter, error) || !check_out (out, true, error))
    return false;
  if (gate_up == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "geglu: missing input");
  geglu_kernel<<<n_tokens, THREADS, 0, (cudaStream_t) stream>>> (gate_up, inter, out->bf16,
                                                                 out->fp8, out->fp8_scale);
  return KE_LAUNCH_CHECK (error);
}
