/* ke-cpu-ops.c — elementwise primitives of the CPU backend, float32.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each one follows the transformers module it stands for (named in the comment), in the
 * order of operations that module uses, so results agree to float32 rounding.
 */
#include <math.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-numeric.h"
#include "ke-cpu.h"

bool
ke_cpu_tensor_is_float (const ke_tensor *tensor)
{
  return tensor && tensor->data &&
         (tensor->dtype == KE_DTYPE_BF16 || tensor->dtype == KE_DTYPE_F16 ||
          tensor->dtype == KE_DTYPE_F32);
}

void
ke_cpu_tensor_to_f32 (const ke_tensor *tensor, size_t first, size_t n, float *out)
{
  switch (tensor->dtype) {
  case KE_DTYPE_BF16: {
    const uint16_t *src = (const uint16_t *) tensor->data + first;
    for (size_t i = 0; i < n; i++)
      out[i] = ke_bf16_to_f32 (src[i]);
    break;
  }
  case KE_DTYPE_F16: {
    const uint16_t *src = (const uint16_t *) tensor->data + first;
    for (size_t i = 0; i < n; i++)
      out[i] = ke_f16_to_f32 (src[i]);
    break;
  }
  case KE_DTYPE_F32:
    memcpy (out, (const float *) tensor->data + first, n * sizeof (float));
    break;
  case KE_DTYPE_F8_E4M3: {
    const uint8_t *src = (const uint8_t *) tensor->data + first;
    for (size_t i = 0; i < n; i++)
      out[i] = ke_fp8e4m3_to_f32 (src[i]);
    break;
  }
  default:
    memset (out, 0, n * sizeof (float)); /* unreachable: callers check the dtype */
    break;
  }
}

/* Gemma3RMSNorm: computed in float32, x * rsqrt(mean(x²) + eps) * (1 + w). */
void
ke_cpu_rmsnorm_gemma (float *x, size_t rows, size_t n, const float *w, float eps)
{
  for (size_t r = 0; r < rows; r++) {
    float *row = x + r * n;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
      ss += (double) row[i] * row[i];
    float inv = 1.0f / sqrtf ((float) (ss / (double) n) + eps);
    for (size_t i = 0; i < n; i++)
      row[i] = (row[i] * inv) * (1.0f + w[i]);
  }
}

/* nn.LayerNorm: (x - mean) / sqrt(var + eps) * w + b, biased variance. */
void
ke_cpu_layernorm (float *x, size_t rows, size_t n, const float *w, const float *b, float eps)
{
  for (size_t r = 0; r < rows; r++) {
    float *row = x + r * n;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
      sum += row[i];
    double mean = sum / (double) n;
    double var = 0.0;
    for (size_t i = 0; i < n; i++) {
      double d = row[i] - mean;
      var += d * d;
    }
    var /= (double) n;
    float inv = (float) (1.0 / sqrt (var + eps));
    float fmean = (float) mean;
    for (size_t i = 0; i < n; i++)
      row[i] = (row[i] - fmean) * inv * w[i] + b[i];
  }
}

/* gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))). */
float
ke_cpu_gelu_tanh (float x)
{
  const float k = 0.7978845608028654f; /* sqrt(2/π) */
  return 0.5f * x * (1.0f + tanhf (k * (x + 0.044715f * x * x * x)));
}

/* Gemma3RotaryEmbedding: inv_freq = 1 / base^(arange(0, d, 2) / d), divided by the linear
 * factor (rope_type "linear"); computed in float32 like torch does. */
void
ke_cpu_rope_inv_freq (float *inv_freq, uint32_t head_dim, float base, float factor)
{
  for (uint32_t i = 0; i < head_dim / 2; i++) {
    float exponent = (float) (2 * i) / (float) head_dim;
    float f = 1.0f / powf (base, exponent);
    inv_freq[i] = factor != 1.0f ? f / factor : f;
  }
}

/* apply_rotary_pos_emb with rotate_half: the first and second halves of the head are the
 * two components; cos/sin of angle = pos * inv_freq (float32 product). */
void
ke_cpu_rope (float *x, uint32_t head_dim, uint32_t pos, const float *inv_freq)
{
  uint32_t half = head_dim / 2;
  for (uint32_t i = 0; i < half; i++) {
    float angle = (float) pos * inv_freq[i];
    float c = cosf (angle), s = sinf (angle);
    float a = x[i], b = x[i + half];
    x[i] = a * c - b * s;
    x[i + half] = b * c + a * s;
  }
}

void
ke_cpu_quant_fp8_rows (const float *x, size_t rows, size_t n, float *q, float *scale)
{
  for (size_t r = 0; r < rows; r++) {
    const float *row = x + r * n;
    float *qrow = q + r * n;
    float amax = 0.0f;
    for (size_t i = 0; i < n; i++) {
      float a = fabsf (row[i]);
      if (a > amax)
        amax = a;
    }
    float s = amax / KE_FP8_E4M3_MAX;
    if (!(s >= KE_FP8_MIN_SCALE))
      s = KE_FP8_MIN_SCALE;
    /* vLLM's per-token kernel divides by the scale (it does not multiply by an inverted
     * scale, to match FBGEMM); so do we. */
    for (size_t i = 0; i < n; i++)
      qrow[i] = ke_fp8e4m3_to_f32 (ke_f32_to_fp8e4m3 (row[i] / s));
    scale[r] = s;
  }
}
