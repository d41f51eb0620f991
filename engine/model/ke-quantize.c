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
#include <string.h>
#include <unistd.h>

#include "ke-checkpoint-private.h"
#include "ke-numeric.h"

/* Element i of src as f32.  The source may sit at any address inside the mapping (the
 * safetensors data is packed), so loads go through memcpy. */
static inline float
load_f32 (const void *src, ke_dtype dtype, size_t i)
{
  const uint8_t *p = src;
  uint16_t h;
  float f;
  switch (dtype) {
  case KE_DTYPE_BF16:
    memcpy (&h, p + 2 * i, 2);
    return ke_bf16_to_f32 (h);
  case KE_DTYPE_F16:
    memcpy (&h, p + 2 * i, 2);
    return ke_f16_to_f32 (h);
  case KE_DTYPE_F32:
    memcpy (&f, p + 4 * i, 4);
    return f;
  case KE_DTYPE_F8_E4M3:
    return ke_fp8e4m3_to_f32 (p[i]);
  default:
    return NAN;
  }
}

void
ke_convert_to_f32 (const void *src, ke_dtype dtype, size_t n, float *dst)
{
  /* One loop per dtype so that each vectorizes. */
  const uint8_t *p = src;
  switch (dtype) {
  case KE_DTYPE_BF16:
    for (size_t i = 0; i < n; i++) {
      uint16_t h;
      memcpy (&h, p + 2 * i, 2);
      dst[i] = ke_bf16_to_f32 (h);
    }
    break;
  case KE_DTYPE_F32:
    memcpy (dst, src, n * sizeof (float));
    break;
  default:
    for (size_t i = 0; i < n; i++)
      dst[i] = load_f32 (src, dtype, i);
    break;
  }
}

uint8_t
ke_fp8e4m3_from_f32_fast (float x)
{
  uint32_t u;
  memcpy (&u, &x, sizeof u);
  uint8_t sign = (uint8_t) ((u >> 24) & 0x80u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u)
    return 0x7f;                        /* NaN */
  if (a >= 0x43e00000u)
    return sign | 0x7e;                 /* >= 448 (and inf): saturate */
  if (a < 0x3c800000u) {                /* below 2^-6: subnormal, quantum 2^-9 */
    float af;
    memcpy (&af, &a, sizeof af);
    return sign | (uint8_t) nearbyintf (af * 512.0f); /* exact scaling; 8 is 0x08 = 2^-6 */
  }
  /* Round the f32 mantissa to 3 bits, ties to even; a carry bumps the exponent. */
  uint32_t r = (a + 0x7ffffu + ((a >> 20) & 1u)) & 0xfff00000u;
  if (r > 0x43e00000u)
    return sign | 0x7e;
  return sign | (uint8_t) ((((r >> 23) - 120u) << 3) | ((r >> 20) & 7u));
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
  size_t cols = job->cols;
  float *row = ke_malloc_array (cols ? cols : 1, sizeof *row);
  for (size_t r = job->row_begin; r < job->row_end; r++) {
    size_t base = r * cols;
    if (row) {
      ke_convert_to_f32 ((const uint8_t *) job->src + base * ke_dtype_size (job->dtype),
                         job->dtype, cols, row);
    }
    float absmax = 0.0f;
    bool finite = true;
    for (size_t c = 0; c < cols; c++) {
      float v = row ? row[c] : load_f32 (job->src, job->dtype, base + c);
      finite &= isfinite (v);
      absmax = fmaxf (absmax, fabsf (v));
    }
    float s = absmax / KE_FP8_E4M3_MAX;
    if (!finite)
      s = INFINITY; /* reported by the caller */
    else if (!(s >= FLT_EPSILON))
      s = FLT_EPSILON;
    job->scale[r] = s;
    float inv = 1.0f / s;
    for (size_t c = 0; c < cols; c++) {
      float v = row ? row[c] : load_f32 (job->src, job->dtype, base + c);
      job->q[base + c] = ke_fp8e4m3_from_f32_fast (v * inv);
    }
  }
  free (row);
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
