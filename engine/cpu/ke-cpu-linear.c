/* ke-cpu-linear.c — y = x · Wᵀ with W kept in its checkpoint dtype (FP8 e4m3 or BF16).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Work is split by blocks of KE_ROWS output channels (one task each).  A task walks the
 * input dimension in blocks of KE_KC: it converts that [KE_ROWS, KE_KC] slice of W to
 * float once (into a per-thread tile that stays in L2), then multiplies every token of
 * the batch against it with a 4-token × 4-channel register-blocked kernel.  So W is read
 * and converted exactly once per call however many tokens there are (prefill reuses each
 * converted tile for all tokens), and the full-size model never exists as float32.
 *
 * FP8 (vLLM's W8A8 dynamic scheme): the tile holds the raw e4m3 values; the product of
 * quantized activations and raw weights is accumulated in float32 and scaled at the end
 * by xscale[token] · wscale[channel], as cutlass' scaled_mm does.  Without activation
 * quantization (W8A16), y = (Σ x·w8) · wscale.
 */
#include <string.h>

#include "ke-internal.h"
#include "ke-numeric.h"
#include "ke-cpu.h"

#define KE_ROWS KE_CPU_TILE_ROWS
#define KE_KC KE_CPU_TILE_K

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
/* Compiled for AVX-512, AVX2+FMA and baseline; the loader picks one at startup. */
#define KE_SIMD_CLONES __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KE_SIMD_CLONES
#endif

typedef float v8 __attribute__ ((vector_size (32)));
typedef float v8u __attribute__ ((vector_size (32), aligned (4)));

/* Macros rather than functions: vectors never cross a call boundary (no ABI concerns
 * for the baseline clone). */
#define load8(p) (*(const v8u *) (p))
#define hsum8(v) ((((v)[0] + (v)[4]) + ((v)[1] + (v)[5])) + (((v)[2] + (v)[6]) + ((v)[3] + (v)[7])))

/* FP8 e4m3 → float without a table: the 7 magnitude bits shifted into a float32's
 * exponent/mantissa give the value × 2^-120 (also for subnormals), so one multiply by
 * 2^120 finishes it.  NaN encodings (0x7f/0xff) are not expected in weights (the loader
 * rejects them) and would read as ±480. */
static inline __attribute__ ((always_inline)) float
fp8_to_f32_fast (uint8_t b)
{
  uint32_t u = ((uint32_t) (b & 0x7fu) << 20) | ((uint32_t) (b & 0x80u) << 24);
  float f;
  memcpy (&f, &u, sizeof f);
  return f * 0x1p120f;
}

typedef struct {
  const ke_linear *linear;
  const float *x;    /* [rows, in]: activations, or their quantized values */
  const float *xscale; /* [rows] or NULL */
  size_t rows, in, out;
  size_t ld;         /* elements between rows of W (in, or more for a column view) */
  float *y;
  float *tiles;      /* [n_threads, KE_ROWS * KE_KC] */
} linear_job;

/* Converts W[r0 .. r0+nr, k0 .. k0+kn] to float (raw e4m3 values for FP8); W's rows are
 * `ld` elements apart. */
static inline __attribute__ ((always_inline)) void
load_tile (const ke_tensor *w, size_t ld, size_t r0, size_t nr, size_t k0, size_t kn,
           float *tile)
{
  for (size_t r = 0; r < nr; r++) {
    float *dst = tile + r * KE_KC;
    size_t base = (r0 + r) * ld + k0;
    switch (w->dtype) {
    case KE_DTYPE_F8_E4M3: {
      const uint8_t *src = (const uint8_t *) w->data + base;
      for (size_t k = 0; k < kn; k++)
        dst[k] = fp8_to_f32_fast (src[k]);
      break;
    }
    case KE_DTYPE_BF16: {
      const uint16_t *src = (const uint16_t *) w->data + base;
      for (size_t k = 0; k < kn; k++) {
        uint32_t u = (uint32_t) src[k] << 16;
        memcpy (&dst[k], &u, sizeof u);
      }
      break;
    }
    case KE_DTYPE_F16: {
      const uint16_t *src = (const uint16_t *) w->data + base;
      for (size_t k = 0; k < kn; k++)
        dst[k] = ke_f16_to_f32 (src[k]);
      break;
    }
    case KE_DTYPE_F32:
      memcpy (dst, (const float *) w->data + base, kn * sizeof (float));
      break;
    default: /* unreachable: layers are checked when the backend is created */
      memset (dst, 0, kn * sizeof (float));
      break;
    }
  }
  for (size_t r = nr; r < KE_ROWS; r++)
    memset (tile + r * KE_KC, 0, kn * sizeof (float));
}

/* acc[t][r] += Σ_k x_t[k] · w_r[k] for 4 tokens × 4 channels. */
static inline __attribute__ ((always_inline)) void
kernel_4x4 (const float *const x[4], const float *w, size_t kn, float acc[4][4])
{
  v8 a00 = { 0 }, a01 = { 0 }, a02 = { 0 }, a03 = { 0 };
  v8 a10 = { 0 }, a11 = { 0 }, a12 = { 0 }, a13 = { 0 };
  v8 a20 = { 0 }, a21 = { 0 }, a22 = { 0 }, a23 = { 0 };
  v8 a30 = { 0 }, a31 = { 0 }, a32 = { 0 }, a33 = { 0 };
  const float *w0 = w, *w1 = w + KE_KC, *w2 = w + 2 * KE_KC, *w3 = w + 3 * KE_KC;
  size_t k = 0;
  for (; k + 8 <= kn; k += 8) {
    v8 x0 = load8 (x[0] + k), x1 = load8 (x[1] + k), x2 = load8 (x[2] + k),
       x3 = load8 (x[3] + k);
    v8 wv = load8 (w0 + k);
    a00 += x0 * wv; a10 += x1 * wv; a20 += x2 * wv; a30 += x3 * wv;
    wv = load8 (w1 + k);
    a01 += x0 * wv; a11 += x1 * wv; a21 += x2 * wv; a31 += x3 * wv;
    wv = load8 (w2 + k);
    a02 += x0 * wv; a12 += x1 * wv; a22 += x2 * wv; a32 += x3 * wv;
    wv = load8 (w3 + k);
    a03 += x0 * wv; a13 += x1 * wv; a23 += x2 * wv; a33 += x3 * wv;
  }
  float s[4][4] = {
    { hsum8 (a00), hsum8 (a01), hsum8 (a02), hsum8 (a03) },
    { hsum8 (a10), hsum8 (a11), hsum8 (a12), hsum8 (a13) },
    { hsum8 (a20), hsum8 (a21), hsum8 (a22), hsum8 (a23) },
    { hsum8 (a30), hsum8 (a31), hsum8 (a32), hsum8 (a33) },
  };
  for (; k < kn; k++)
    for (int t = 0; t < 4; t++)
      for (int r = 0; r < 4; r++)
        s[t][r] += x[t][k] * w[r * KE_KC + k];
  for (int t = 0; t < 4; t++)
    for (int r = 0; r < 4; r++)
      acc[t][r] += s[t][r];
}

typedef float v16 __attribute__ ((vector_size (64)));
typedef float v16u __attribute__ ((vector_size (64), aligned (4)));
typedef uint8_t v16b __attribute__ ((vector_size (16)));
typedef uint16_t v16h __attribute__ ((vector_size (32)));
typedef uint32_t v16w __attribute__ ((vector_size (64)));
typedef uint8_t v8b __attribute__ ((vector_size (8)));
typedef uint16_t v8h __attribute__ ((vector_size (16)));
typedef uint32_t v8w __attribute__ ((vector_size (32)));

/* 8 weights → 8 floats in registers (the vector form of fp8_to_f32_fast / bf16). */
static inline __attribute__ ((always_inline)) void
load8_fp8 (const uint8_t *p, v8 *out)
{
  v8b b;
  memcpy (&b, p, sizeof b);
  v8w u = __builtin_convertvector (b, v8w);
  v8w bits = ((u & 0x7fu) << 20) | ((u & 0x80u) << 24);
  v8 f;
  memcpy (&f, &bits, sizeof f);
  *out = f * 0x1p120f;
}

static inline __attribute__ ((always_inline)) void
load8_bf16 (const uint16_t *p, v8 *out)
{
  v8h h;
  memcpy (&h, p, sizeof h);
  v8w bits = __builtin_convertvector (h, v8w) << 16;
  memcpy (out, &bits, sizeof *out);
}

static inline __attribute__ ((always_inline)) void
load16_fp8 (const uint8_t *p, v16 *out)
{
  v16b b;
  memcpy (&b, p, sizeof b);
  v16w u = __builtin_convertvector (b, v16w);
  v16w bits = ((u & 0x7fu) << 20) | ((u & 0x80u) << 24);
  v16 f;
  memcpy (&f, &bits, sizeof f);
  *out = f * 0x1p120f;
}

static inline __attribute__ ((always_inline)) void
load16_bf16 (const uint16_t *p, v16 *out)
{
  v16h h;
  memcpy (&h, p, sizeof h);
  v16w bits = __builtin_convertvector (h, v16w) << 16;
  memcpy (out, &bits, sizeof *out);
}

#define load16(p) (*(const v16u *) (p))

/* Σ_k x[k] · w[k] over one row of FP8 (`fp8`) or BF16 weights, converted in registers: 32
 * at a time into two 16-wide sums, then 16 at a time into two 8-wide ones, then one by one.
 * Inlined into each SIMD clone with a constant `fp8`, so each dtype gets its own loop. */
static inline __attribute__ ((always_inline)) float
dot_row (const float *x, const void *row, size_t in, bool fp8)
{
  const uint8_t *r8 = row;
  const uint16_t *r16 = row;
  v8 a0 = { 0 }, a1 = { 0 };
  v16 b0 = { 0 }, b1 = { 0 };
  size_t k = 0;
  float tail = 0.0f;
  for (; k + 32 <= in; k += 32) {
    v16 w0, w1;
    if (fp8) {
      load16_fp8 (r8 + k, &w0);
      load16_fp8 (r8 + k + 16, &w1);
    } else {
      load16_bf16 (r16 + k, &w0);
      load16_bf16 (r16 + k + 16, &w1);
    }
    b0 += load16 (x + k) * w0;
    b1 += load16 (x + k + 16) * w1;
  }
  v16 bs = b0 + b1;
  for (int l = 0; l < 8; l++) {
    a0[l] = bs[l];
    a1[l] = bs[l + 8];
  }
  for (; k + 16 <= in; k += 16) {
    v8 w0, w1;
    if (fp8) {
      load8_fp8 (r8 + k, &w0);
      load8_fp8 (r8 + k + 8, &w1);
    } else {
      load8_bf16 (r16 + k, &w0);
      load8_bf16 (r16 + k + 8, &w1);
    }
    a0 += load8 (x + k) * w0;
    a1 += load8 (x + k + 8) * w1;
  }
  for (; k < in; k++)
    tail += x[k] * (fp8 ? fp8_to_f32_fast (r8[k]) : ke_bf16_to_f32 (r16[k]));
  v8 a = a0 + a1;
  return hsum8 (a) + tail;
}

/* One token (decode): each weight is used once, so it is converted in registers and
 * multiplied at once instead of going through a tile. */
KE_SIMD_CLONES static void
gemv_task (void *ctx, size_t task, int thread)
{
  const linear_job *job = ctx;
  const ke_linear *lin = job->linear;
  const ke_tensor *w = &lin->weight;
  size_t in = job->in, ld = job->ld, r0 = task * KE_ROWS;
  size_t nr = job->out - r0 < KE_ROWS ? job->out - r0 : KE_ROWS;
  const float *x = job->x;
  (void) thread;
  for (size_t r = 0; r < nr; r++) {
    float v;
    if (w->dtype == KE_DTYPE_F8_E4M3) {
      v = dot_row (x, (const uint8_t *) w->data + (r0 + r) * ld, in, true);
    } else if (w->dtype == KE_DTYPE_BF16) {
      v = dot_row (x, (const uint16_t *) w->data + (r0 + r) * ld, in, false);
    } else {
      float buf[64];
      v = 0.0f;
      for (size_t k = 0; k < in; k += 64) {
        size_t n = in - k < 64 ? in - k : 64;
        ke_cpu_tensor_to_f32 (w, (r0 + r) * ld + k, n, buf);
        for (size_t i = 0; i < n; i++)
          v += x[k + i] * buf[i];
      }
    }
    if (lin->scale.data)
      v *= job->xscale ? job->xscale[0] * ((const float *) lin->scale.data)[r0 + r]
                       : ((const float *) lin->scale.data)[r0 + r];
    if (lin->bias.data) {
      float b;
      ke_cpu_tensor_to_f32 (&lin->bias, r0 + r, 1, &b);
      v += b;
    }
    job->y[r0 + r] = v;
  }
}

KE_SIMD_CLONES static void
linear_task (void *ctx, size_t task, int thread)
{
  const linear_job *job = ctx;
  const ke_linear *lin = job->linear;
  size_t r0 = task * KE_ROWS;
  size_t nr = job->out - r0 < KE_ROWS ? job->out - r0 : KE_ROWS;
  float *tile = job->tiles + (size_t) thread * KE_ROWS * KE_KC;

  for (size_t t = 0; t < job->rows; t++)
    memset (job->y + t * job->out + r0, 0, nr * sizeof (float));

  for (size_t k0 = 0; k0 < job->in; k0 += KE_KC) {
    size_t kn = job->in - k0 < KE_KC ? job->in - k0 : KE_KC;
    load_tile (&lin->weight, job->ld, r0, nr, k0, kn, tile);
    for (size_t t0 = 0; t0 < job->rows; t0 += 4) {
      size_t nt = job->rows - t0 < 4 ? job->rows - t0 : 4;
      const float *x[4];
      for (size_t t = 0; t < 4; t++)
        x[t] = job->x + (t0 + (t < nt ? t : nt - 1)) * job->in + k0;
      for (size_t rr = 0; rr < nr; rr += 4) {
        float acc[4][4] = { { 0 } };
        kernel_4x4 (x, tile + rr * KE_KC, kn, acc);
        for (size_t t = 0; t < nt; t++) {
          float *yrow = job->y + (t0 + t) * job->out + r0 + rr;
          for (size_t r = 0; r < 4 && rr + r < nr; r++)
            yrow[r] += acc[t][r];
        }
      }
    }
  }

  /* scales and bias */
  const float *wscale = lin->scale.data ? (const float *) lin->scale.data : NULL;
  float bias[KE_ROWS];
  bool has_bias = lin->bias.data != NULL;
  if (has_bias)
    ke_cpu_tensor_to_f32 (&lin->bias, r0, nr, bias);
  for (size_t t = 0; t < job->rows; t++) {
    float *yrow = job->y + t * job->out + r0;
    float xs = job->xscale ? job->xscale[t] : 1.0f;
    for (size_t r = 0; r < nr; r++) {
      float v = yrow[r];
      if (wscale)
        v = job->xscale ? v * xs * wscale[r0 + r] : v * wscale[r0 + r];
      if (has_bias)
        v += bias[r];
      yrow[r] = v;
    }
  }
}

void
ke_cpu_linear (ke_cpu_pool *pool, const ke_linear *linear, const float *x, size_t rows,
               size_t in, size_t out, float *y, bool act_quant, float *xq, float *xscale,
               float *tiles)
{
  ke_cpu_linear_strided (pool, linear, in, x, rows, in, out, y, act_quant, xq, xscale, tiles);
}

void
ke_cpu_linear_strided (ke_cpu_pool *pool, const ke_linear *linear, size_t ld, const float *x,
                       size_t rows, size_t in, size_t out, float *y, bool act_quant, float *xq,
                       float *xscale, float *tiles)
{
  bool fp8 = linear->weight.dtype == KE_DTYPE_F8_E4M3;
  linear_job job = {
    .linear = linear,
    .x = x,
    .xscale = NULL,
    .rows = rows,
    .in = in,
    .out = out,
    .ld = ld,
    .y = y,
  };
  if (fp8 && act_quant) {
    ke_cpu_quant_fp8_rows (x, rows, in, xq, xscale);
    job.x = xq;
    job.xscale = xscale;
  }
  job.tiles = tiles;
  ke_cpu_pool_run (pool, (out + KE_ROWS - 1) / KE_ROWS, rows == 1 ? gemv_task : linear_task,
                   &job);
}
