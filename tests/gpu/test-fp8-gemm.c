/* test-fp8-gemm.c — cuBLASLt FP8 e4m3 GEMM with per-row × per-column FP32 scales
 * (CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F, bf16 out) against a CPU reference.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Fresh random inputs each run (the seed is printed), outputs poisoned with NaN before
 * each run so an unwritten element fails, shapes from M = 1 up to Gemma 3 4b's widest.
 * Reports SKIP when the machine has no CUDA device.
 */
#include <math.h>
#include <time.h>

#include "ke-cuda.h"
#include "ke-numeric.h"
#include "../ke-tap.h"

static unsigned long long seed;

/* Quantizes rows of a random matrix to e4m3 with one absmax/448 scale per row, as the
 * engine does for weights (per channel) and activations (per token). */
static void
random_fp8_rows (uint8_t *q, float *scale, int rows, int cols, float magnitude)
{
  float *row = malloc (sizeof (float) * cols);
  for (int r = 0; r < rows; r++) {
    float amax = 0;
    /* Vary the row's magnitude so per-row scales matter. */
    float m = magnitude * (0.05f + fabsf (ke_test_rand_uniform (&seed)));
    for (int c = 0; c < cols; c++) {
      row[c] = ke_test_rand_uniform (&seed) * m;
      amax = fmaxf (amax, fabsf (row[c]));
    }
    scale[r] = amax / KE_FP8_E4M3_MAX;
    for (int c = 0; c < cols; c++)
      q[(size_t) r * cols + c] = ke_f32_to_fp8e4m3 (row[c] / scale[r]);
  }
  free (row);
}

static void
check_shape (int m, int n, int k)
{
  ke_error *error = NULL;
  size_t xb = (size_t) m * k, wb = (size_t) n * k, yb = (size_t) m * n * 2;
  uint8_t *x = malloc (xb), *w = malloc (wb);
  float *xs = malloc (sizeof (float) * m), *ws = malloc (sizeof (float) * n);
  uint16_t *y = malloc (yb);
  random_fp8_rows (x, xs, m, k, 8.0f);
  random_fp8_rows (w, ws, n, k, 0.05f);

  void *dx = ke_cuda_malloc (xb, &error), *dw = ke_cuda_malloc (wb, &error);
  void *dxs = ke_cuda_malloc (sizeof (float) * m, &error);
  void *dws = ke_cuda_malloc (sizeof (float) * n, &error);
  void *dy = ke_cuda_malloc (yb, &error);
  KE_REQUIRE (error == NULL, "allocation: %s", error->message);
  ke_cuda_memcpy_h2d (dx, x, xb, &error);
  ke_cuda_memcpy_h2d (dw, w, wb, &error);
  ke_cuda_memcpy_h2d (dxs, xs, sizeof (float) * m, &error);
  ke_cuda_memcpy_h2d (dws, ws, sizeof (float) * n, &error);
  ke_cuda_memset (dy, 0xff, yb, &error); /* 0xffff is a bf16 NaN: poison */
  KE_REQUIRE (error == NULL, "copy: %s", error->message);

  ke_fp8_gemm_plan *plan = ke_fp8_gemm_plan_new (m, n, k, &error);
  KE_REQUIRE (plan != NULL, "plan %d×%d×%d: %s", m, n, k, error->message);
  KE_REQUIRE (ke_fp8_gemm_run (plan, dx, dxs, dw, dws, dy, NULL, &error), "run: %s",
              error->message);
  KE_REQUIRE (ke_cuda_synchronize (&error), "sync: %s", error->message);
  ke_cuda_memcpy_d2h (y, dy, yb, &error);
  KE_REQUIRE (error == NULL, "copy back: %s", error->message);

  /* Every output must have been written (the poison is NaN). */
  int unwritten = 0;
  for (size_t i = 0; i < (size_t) m * n; i++)
    if (isnan (ke_bf16_to_f32 (y[i])))
      unwritten++;

  /* Reference in double from the same fp8 values, on up to 24 rows spread over M (the
   * full product of the largest shapes would take minutes on the host). */
  float *xf = malloc (sizeof (float) * k);
  double num = 0, den = 0;
  int row_step = m > 24 ? m / 24 : 1;
  for (int i = 0; i < m; i += row_step) {
    for (int c = 0; c < k; c++)
      xf[c] = ke_fp8e4m3_to_f32 (x[(size_t) i * k + c]);
    for (int j = 0; j < n; j++) {
      double acc = 0;
      const uint8_t *wr = w + (size_t) j * k;
      for (int c = 0; c < k; c++)
        acc += (double) xf[c] * ke_fp8e4m3_to_f32 (wr[c]);
      acc *= (double) xs[i] * ws[j];
      float got = ke_bf16_to_f32 (y[(size_t) i * n + j]);
      num += (got - acc) * (got - acc);
      den += acc * acc;
    }
  }
  double rel = sqrt (num / den);
  ke_tap_diag ("M=%-5d N=%-6d K=%-6d  ‖Δ‖/‖ref‖ = %.3e  unwritten = %d", m, n, k, rel, unwritten);
  KE_CHECK (unwritten == 0, "%d outputs not written", unwritten);
  /* bf16 output rounding alone gives ~2e-3 relative per element (2^-9), ~1.6e-3 rms. */
  KE_CHECK (rel < 4e-3, "relative error %.3e too large", rel);

  ke_fp8_gemm_plan_free (plan);
  ke_cuda_free (dx); ke_cuda_free (dw); ke_cuda_free (dxs); ke_cuda_free (dws); ke_cuda_free (dy);
  free (x); free (w); free (xs); free (ws); free (y); free (xf);
}

static bool
have_fp8_gpu (void)
{
  if (ke_cuda_device_count () == 0) {
    ke_tap_diag ("no CUDA device");
    return false;
  }
  char name[256];
  int major = 0, minor = 0;
  ke_cuda_device_info (0, name, sizeof name, &major, &minor, NULL, NULL);
  ke_tap_diag ("device: %s (sm_%d%d), seed %llu", name, major, minor, seed);
  return major * 10 + minor >= 89;
}

KE_TEST (fp8_gemm_small)
{
  if (!have_fp8_gpu ())
    KE_SKIP ("no CUDA device with FP8 tensor cores");
  check_shape (1, 64, 32);
  check_shape (7, 256, 512);
  check_shape (33, 512, 2560);
}

KE_TEST (fp8_gemm_gemma_shapes)
{
  if (!have_fp8_gpu ())
    KE_SKIP ("no CUDA device with FP8 tensor cores");
  check_shape (16, 2048, 2560);  /* q_proj */
  check_shape (128, 10240, 2560); /* gate/up */
  check_shape (64, 2560, 10240);  /* down */
}

KE_TEST (fp8_gemm_rejects_bad_shape)
{
  if (ke_cuda_device_count () == 0)
    KE_SKIP ("no CUDA device");
  ke_error *error = NULL;
  ke_fp8_gemm_plan *plan = ke_fp8_gemm_plan_new (4, 100, 30, &error);
  KE_CHECK (plan == NULL && error != NULL && error->code == KE_ERROR_INVALID_ARGUMENT,
            "K=30 must be refused");
  ke_error_free (error);
}

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The prefill GEMMs of Gemma 3 4b at the backend's M buckets: time per call (mean of 20
 * back-to-back calls after a warm-up; weights 1.0, activations 1.0 — speed only) and
 * TFLOP/s.  One shared workspace, as the backend uses. */
KE_TEST (fp8_gemm_speed)
{
  if (!have_fp8_gpu ())
    KE_SKIP ("no CUDA device with FP8 tensor cores");
  static const struct { const char *name; int n, k; } shapes[] = {
    { "qkv", 4096, 2560 }, { "o", 2560, 2048 }, { "gate_up", 20480, 2560 }, { "down", 2560, 10240 },
  };
  static const int ms[] = { 512, 1024, 2048, 4096 };
  const size_t max_x = (size_t) 4096 * 10240, max_w = (size_t) 20480 * 2560;
  ke_error *error = NULL;
  void *ws = ke_cuda_malloc (KE_FP8_GEMM_WORKSPACE, &error);
  uint8_t *dx = ke_cuda_malloc (max_x, &error), *dw = ke_cuda_malloc (max_w, &error);
  float *dxs = ke_cuda_malloc (4096 * 4, &error), *dws = ke_cuda_malloc (20480 * 4, &error);
  uint16_t *dy = ke_cuda_malloc ((size_t) 4096 * 20480 * 2, &error);
  KE_REQUIRE (ws && dx && dw && dxs && dws && dy, "device buffers");
  /* 0x38 is 1.0 in e4m3; the scales get the byte pattern 0x3c3c3c3c (≈ 0.0115 as f32). */
  KE_REQUIRE (ke_cuda_memset (dx, 0x38, max_x, &error) && ke_cuda_memset (dw, 0x38, max_w, &error) &&
              ke_cuda_memset (dxs, 0x3c, 4096 * 4, &error) &&
              ke_cuda_memset (dws, 0x3c, 20480 * 4, &error), "init: %s", error->message);
  for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
    double total_ms = 0, total_flop = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
      const int m = ms[mi], n = shapes[si].n, k = shapes[si].k;
      ke_fp8_gemm_plan *plan = ke_fp8_gemm_plan_new_shared (m, n, k, ws, KE_FP8_GEMM_WORKSPACE,
                                                            &error);
      KE_REQUIRE (plan, "plan: %s", error->message);
      bool ok = ke_fp8_gemm_run (plan, dx, dxs, dw, dws, dy, NULL, &error) &&
                ke_cuda_synchronize (&error);
      const int reps = 20;
      double t0 = now_s ();
      for (int r = 0; r < reps && ok; r++)
        ok = ke_fp8_gemm_run (plan, dx, dxs, dw, dws, dy, NULL, &error);
      ok = ok && ke_cuda_synchronize (&error);
      const double t = (now_s () - t0) / reps;
      ke_fp8_gemm_plan_free (plan);
      KE_REQUIRE (ok, "run: %s", error->message);
      const double flop = 2.0 * m * n * k;
      total_ms += t * 1e3;
      total_flop += flop;
      ke_tap_diag ("speed M=%-5d %-8s N=%-6d K=%-6d %8.1f us  %6.0f TFLOP/s", m, shapes[si].name,
                   n, k, t * 1e6, flop / t * 1e-12);
    }
    ke_tap_diag ("speed M=%-5d one layer's four GEMMs %.3f ms (%.0f TFLOP/s); × 34 layers = "
                 "%.1f ms", ms[mi], total_ms, total_flop / total_ms * 1e-9, total_ms * 34);
  }
  ke_cuda_free (ws); ke_cuda_free (dx); ke_cuda_free (dw); ke_cuda_free (dxs);
  ke_cuda_free (dws); ke_cuda_free (dy);
}

int
main (int argc, char **argv)
{
  seed = (unsigned long long) time (NULL);
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (fp8_gemm_small),
    KE_TAP_ENTRY (fp8_gemm_gemma_shapes),
    KE_TAP_ENTRY (fp8_gemm_rejects_bad_shape),
    KE_TAP_ENTRY (fp8_gemm_speed),
  };
  return ke_tap_run (argc, argv, tests, 4);
}
