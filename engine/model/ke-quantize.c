/* ke-quantize.c — FP8 quantization at load, dtype conversion.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * An unquantized (bf16) checkpoint is brought to the FP8-dynamic scheme the way
 * llm-compressor's FP8_DYNAMIC preset makes it: symmetric per-output-channel scales
 * absmax / 448, clamped below at float32 epsilon as compressed-tensors' calculate_qparams
 * does (so an all-zero row gets scale 2^-23 and quantizes to zeros — any positive scale
 * dequantizes it exactly), then round-to-nearest-even of x / scale, saturated to ±448.
 * The division is done in f32 (torch divides in the weight's dtype, bf16, and rounds
 * twice); the difference is at most one FP8 step on ties.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "ke-checkpoint-private.h"
#include "ke-numeric.h"

static inline float
load_f32 (const void *src, ke_dtype dtype, size_t i)
{
  switch (dtype) {
  case KE_DTYPE_BF16: return ke_bf16_to_f32 (((const uint16_t *) src)[i]);
  case KE_DTYPE_F16: return ke_f16_to_f32 (((const uint16_t *) src)[i]);
  case KE_DTYPE_F32: return ((const float *) src)[i];
  case KE_DTYPE_F8_E4M3: return ke_fp8e4m3_to_f32 (((const uint8_t *) src)[i]);
  default: return NAN;
  }
}

void
ke_convert_to_f32 (const void *src, ke_dtype dtype, size_t n, float *dst)
{
  for (size_t i = 0; i < n; i++)
    dst[i] = load_f32 (src, dtype, i);
}

typedef struct {
  const void *src;
  ke_dtype dtype;
  size_t row_begin, row_end, cols;
  uint8_t *q;
  float *scale;
} quant_job;

static void *
quantize_rows (void *data)
{
  quant_job *job = data;
  for (size_t r = job->row_begin; r < job->row_end; r++) {
    size_t base = r * job->cols;
    float absmax = 0.0f;
    for (size_t c = 0; c < job->cols; c++) {
      float a = fabsf (load_f32 (job->src, job->dtype, base + c));
      if (a > absmax || isnan (a))
        absmax = isnan (a) ? INFINITY : a;
    }
    float s = absmax / KE_FP8_E4M3_MAX;
    if (!(s >= FLT_EPSILON))
      s = isfinite (s) ? FLT_EPSILON : s;
    job->scale[r] = s;
    float inv = 1.0f / s;
    for (size_t c = 0; c < job->cols; c++)
      job->q[base + c] = ke_f32_to_fp8e4m3 (load_f32 (job->src, job->dtype, base + c) * inv);
  }
  return NULL;
}

void
ke_quantize_fp8_rows (const void *src, ke_dtype src_dtype, size_t rows, size_t cols,
                      uint8_t *q, float *scale)
{
  enum { MAX_THREADS = 32 };
  long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  size_t n_threads = ncpu > 0 ? (size_t) ncpu : 1;
  if (n_threads > MAX_THREADS)
    n_threads = MAX_THREADS;
  /* Small matrices are not worth a thread. */
  size_t work = rows * cols;
  if (work < (1u << 20))
    n_threads = 1;
  if (n_threads > rows)
    n_threads = rows ? rows : 1;
  quant_job jobs[MAX_THREADS];
  pthread_t threads[MAX_THREADS];
  bool started[MAX_THREADS] = { false };
  for (size_t t = 0; t < n_threads; t++) {
    jobs[t] = (quant_job) { src, src_dtype, rows * t / n_threads, rows * (t + 1) / n_threads,
                            cols, q, scale };
    if (t > 0)
      started[t] = pthread_create (&threads[t], NULL, quantize_rows, &jobs[t]) == 0;
  }
  quantize_rows (&jobs[0]);
  for (size_t t = 1; t < n_threads; t++) {
    if (started[t])
      pthread_join (threads[t], NULL);
    else
      quantize_rows (&jobs[t]); /* no thread: do its share here */
  }
}
