/* test-gemv.c — the decode GEMV kernels (ke_cuda_gemv) against a CPU double reference.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * FP8 weights with per-row scales and bf16 weights; x as bf16, f32 or per-token fp8; y f32
 * (with and without a fused residual) or bf16; every rows_per_warp variant; shapes from odd
 * small ones (K not a multiple of a warp's 512-byte step, N not a multiple of the rows per
 * block) up to Gemma 3 4b's.  Fresh random data each run (seed printed), poisoned outputs.
 */
#include "ke-cuda-kernels.h"
#include "gpu-test-util.h"

static const char *type_name[] = { "bf16", "f32", "fp8" };

static size_t
type_size (ke_gemv_type t)
{
  return t == KE_GEMV_BF16 ? 2 : t == KE_GEMV_F32 ? 4 : 1;
}

static ke_gemv_epilogue test_epilogue = KE_GEMV_EPI_NONE;
static int test_k_split = 0;

static double
ref_gelu_tanh (double x)
{
  return 0.5 * x * (1.0 + tanh (sqrt (2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

static void
check_gemv (int n, int k, ke_gemv_type wt, ke_gemv_type xt, ke_gemv_type yt, bool residual,
            int rows_per_warp)
{
  const bool geglu = test_epilogue == KE_GEMV_EPI_GEGLU;
  const int n_out = geglu ? n / 2 : n;
  /* Host data: W [n, k], w_scale [n], x [k] (with its scale when fp8), residual [n]. */
  size_t wbytes = (size_t) n * k * type_size (wt);
  uint8_t *w = malloc (wbytes);
  float *ws = malloc (sizeof (float) * n);
  double *wf = malloc (sizeof (double) * (size_t) n * k); /* dequantized, for the reference */
  for (int r = 0; r < n; r++) {
    ws[r] = 0.001f + 0.01f * fabsf (gpu_rand ());
    for (int c = 0; c < k; c++) {
      size_t i = (size_t) r * k + c;
      if (wt == KE_GEMV_FP8) {
        w[i] = ke_f32_to_fp8e4m3 (gpu_rand () * 448.0f);
        wf[i] = (double) ke_fp8e4m3_to_f32 (w[i]) * ws[r];
      } else {
        uint16_t b = ke_f32_to_bf16 (gpu_rand () * 0.05f);
        memcpy (w + 2 * i, &b, 2);
        wf[i] = ke_bf16_to_f32 (b);
      }
    }
  }
  void *x = malloc ((size_t) k * 4);
  double *xf = malloc (sizeof (double) * k);
  float xs = 1.0f;
  if (xt == KE_GEMV_FP8) {
    float amax = 0;
    float *tmp = malloc (sizeof (float) * k);
    for (int c = 0; c < k; c++) {
      tmp[c] = gpu_rand () * 3.0f;
      amax = fmaxf (amax, fabsf (tmp[c]));
    }
    xs = amax / KE_FP8_E4M3_MAX;
    for (int c = 0; c < k; c++) {
      ((uint8_t *) x)[c] = ke_f32_to_fp8e4m3 (tmp[c] / xs);
      xf[c] = (double) ke_fp8e4m3_to_f32 (((uint8_t *) x)[c]) * xs;
    }
    free (tmp);
  } else {
    for (int c = 0; c < k; c++) {
      float v = gpu_rand () * 3.0f;
      if (xt == KE_GEMV_BF16) {
        ((uint16_t *) x)[c] = ke_f32_to_bf16 (v);
        xf[c] = ke_bf16_to_f32 (((uint16_t *) x)[c]);
      } else {
        ((float *) x)[c] = v;
        xf[c] = v;
      }
    }
  }
  float *res = malloc (sizeof (float) * n);
  for (int r = 0; r < n; r++)
    res[r] = gpu_rand () * 2.0f;

  void *dw = gpu_upload (w, wbytes), *dws = gpu_upload (ws, sizeof (float) * n);
  void *dx = gpu_upload (x, (size_t) k * type_size (xt)), *dxs = gpu_upload (&xs, sizeof xs);
  void *dres = residual ? gpu_upload (res, sizeof (float) * n) : NULL;
  void *dy = gpu_poisoned ((size_t) n_out * type_size (yt));
  KE_REQUIRE (dw && dws && dx && dxs && dy && (!residual || dres), "device buffers");

  ke_gemv_args a = {
    .n = n, .k = k, .w_type = wt, .w = dw, .w_scale = wt == KE_GEMV_FP8 ? dws : NULL,
    .x_type = xt, .x = dx, .x_scale = xt == KE_GEMV_FP8 ? dxs : NULL,
    .y_type = yt, .y = dy, .residual = dres, .rows_per_warp = rows_per_warp,
    .epilogue = test_epilogue, .k_split = test_k_split,
  };
  ke_error *error = NULL;
  bool ok = ke_cuda_gemv (&a, NULL, &error);
  KE_CHECK (ok, "launch: %s", error ? error->message : "?");
  ke_error_free (error);

  void *y = malloc ((size_t) n * 4);
  if (ok && gpu_download (y, dy, (size_t) n_out * type_size (yt))) {
    nmse_acc acc = { 0 };
    for (int r = 0; r < n_out; r++) {
      double ref = 0;
      for (int c = 0; c < k; c++)
        ref += wf[(size_t) r * k + c] * xf[c];
      if (residual)
        ref += res[r];
      if (geglu) {
        double up = 0;
        for (int c = 0; c < k; c++)
          up += wf[(size_t) (r + n_out) * k + c] * xf[c];
        /* HF's bf16 roundings: gate, up, the activation's output */
        ref = ke_round_bf16 ((float) ref_gelu_tanh (ke_round_bf16 ((float) ref))) *
              (double) ke_round_bf16 ((float) up);
      }
      double got = yt == KE_GEMV_F32 ? ((float *) y)[r] : ke_bf16_to_f32 (((uint16_t *) y)[r]);
      nmse_add (&acc, got, ref);
    }
    double rel = nmse_rel (&acc);
    /* f32 accumulation: ~1e-6; a bf16 output adds its rounding, ≤ 2^-9 per element. */
    double bound = yt == KE_GEMV_F32 && !geglu ? 2e-5 : 4e-3;
    ke_tap_diag ("N=%-6d K=%-6d W %-4s x %-4s y %-4s%s R=%d KS=%d rel %.2e  unwritten %zu", n, k,
                 type_name[wt], type_name[xt], type_name[yt],
                 residual ? "+res" : geglu ? "+geglu" : "    ",
                 rows_per_warp, test_k_split, rel, acc.nan);
    KE_CHECK (acc.nan == 0, "%zu outputs unwritten", acc.nan);
    KE_CHECK (rel < bound, "relative error %.3e over %.1e", rel, bound);
  }
  ke_cuda_free (dw); ke_cuda_free (dws); ke_cuda_free (dx); ke_cuda_free (dxs);
  ke_cuda_free (dres); ke_cuda_free (dy);
  free (w); free (ws); free (wf); free (x); free (xf); free (res); free (y);
}

KE_TEST (gemv_fp8_small_odd_shapes)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  static const int shapes[][2] = { { 1, 16 }, { 37, 48 }, { 129, 528 }, { 515, 2064 } };
  for (size_t s = 0; s < 4; s++)
    for (int r = 1; r <= 4; r *= 2) {
      check_gemv (shapes[s][0], shapes[s][1], KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_F32, false, r);
      check_gemv (shapes[s][0], shapes[s][1], KE_GEMV_FP8, KE_GEMV_FP8, KE_GEMV_BF16, false, r);
      check_gemv (shapes[s][0], shapes[s][1], KE_GEMV_FP8, KE_GEMV_F32, KE_GEMV_F32, true, r);
    }
}

KE_TEST (gemv_k_split)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  for (test_k_split = 2; test_k_split <= 4; test_k_split *= 2) {
    for (int r = 1; r <= 2; r++) {
      check_gemv (37, 48, KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_F32, false, r);
      check_gemv (515, 2064, KE_GEMV_FP8, KE_GEMV_FP8, KE_GEMV_BF16, false, r);
      check_gemv (2560, 10240, KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_F32, true, r);
      check_gemv (1001, 2560, KE_GEMV_BF16, KE_GEMV_F32, KE_GEMV_F32, false, r);
    }
    test_epilogue = KE_GEMV_EPI_GEGLU;
    check_gemv (2 * 37, 48, KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_BF16, false, 2);
    check_gemv (2 * 10240, 2560, KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_BF16, false, 2);
    test_epilogue = KE_GEMV_EPI_NONE;
  }
  test_k_split = 0;
}

KE_TEST (gemv_fp8_gemma_shapes)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  check_gemv (4096, 2560, KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_F32, false, 0);  /* qkv */
  check_gemv (2560, 2048, KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_F32, true, 0);   /* o */
  check_gemv (20480, 2560, KE_GEMV_FP8, KE_GEMV_FP8, KE_GEMV_F32, false, 0);  /* gate+up */
  check_gemv (2560, 10240, KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_F32, false, 0); /* down */
  check_gemv (2560, 10240, KE_GEMV_FP8, KE_GEMV_FP8, KE_GEMV_F32, true, 4);
}

KE_TEST (gemv_bf16_weights)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  check_gemv (37, 48, KE_GEMV_BF16, KE_GEMV_BF16, KE_GEMV_F32, false, 1);
  check_gemv (8191, 2560, KE_GEMV_BF16, KE_GEMV_BF16, KE_GEMV_F32, false, 0); /* lm_head rows */
  check_gemv (1000, 2560, KE_GEMV_BF16, KE_GEMV_F32, KE_GEMV_BF16, false, 2);
  check_gemv (1001, 1040, KE_GEMV_BF16, KE_GEMV_FP8, KE_GEMV_F32, true, 4);
}

KE_TEST (gemv_geglu_epilogue)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  test_epilogue = KE_GEMV_EPI_GEGLU;
  check_gemv (2 * 37, 48, KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_BF16, false, 2);
  check_gemv (2 * 37, 48, KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_BF16, false, 4);
  check_gemv (2 * 1001, 528, KE_GEMV_FP8, KE_GEMV_FP8, KE_GEMV_F32, false, 4);
  check_gemv (2 * 10240, 2560, KE_GEMV_FP8, KE_GEMV_BF16, KE_GEMV_BF16, false, 0); /* gate+up */
  check_gemv (2 * 500, 2560, KE_GEMV_BF16, KE_GEMV_BF16, KE_GEMV_BF16, false, 0);
  test_epilogue = KE_GEMV_EPI_NONE;
}

KE_TEST (gemv_rejects_bad_arguments)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  void *buf = gpu_upload (NULL, 4096);
  KE_REQUIRE (buf != NULL, "allocation");
  ke_gemv_args good = {
    .n = 16, .k = 64, .w_type = KE_GEMV_FP8, .w = buf, .w_scale = buf,
    .x_type = KE_GEMV_BF16, .x = buf, .y_type = KE_GEMV_F32, .y = buf,
  };
  ke_gemv_args bad[10];
  for (int i = 0; i < 10; i++)
    bad[i] = good;
  bad[0].k = 30;                         /* K not a multiple of 16 */
  bad[1].w = (uint8_t *) buf + 1;        /* misaligned weights */
  bad[2].rows_per_warp = 3;
  bad[3].y_type = KE_GEMV_BF16;          /* residual needs f32 y */
  bad[3].residual = buf;
  bad[4].w_scale = NULL;                 /* fp8 weights need scales */
  bad[5].n = 0;
  bad[6].epilogue = KE_GEMV_EPI_GEGLU;   /* odd N */
  bad[6].n = 15;
  bad[7].epilogue = KE_GEMV_EPI_GEGLU;   /* one row per warp cannot pair gate and up */
  bad[7].rows_per_warp = 1;
  bad[8].k_split = 3;
  bad[9].k_split = 2;                    /* not built with 4 rows per warp */
  bad[9].rows_per_warp = 4;
  for (int i = 0; i < 10; i++) {
    ke_error *error = NULL;
    bool ok = ke_cuda_gemv (&bad[i], NULL, &error);
    KE_CHECK (!ok && error && error->code == KE_ERROR_INVALID_ARGUMENT,
              "bad argument set %d was accepted", i);
    ke_error_free (error);
  }
  ke_error *error = NULL;
  KE_CHECK (ke_cuda_gemv (&good, NULL, &error), "the good arguments: %s",
            error ? error->message : "?");
  ke_error_free (error);
  KE_CHECK (ke_cuda_synchronize (NULL), "sync");
  ke_cuda_free (buf);
}

int
main (int argc, char **argv)
{
  gpu_test_init_seed ();
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (gemv_fp8_small_odd_shapes),
    KE_TAP_ENTRY (gemv_k_split),
    KE_TAP_ENTRY (gemv_fp8_gemma_shapes),
    KE_TAP_ENTRY (gemv_bf16_weights),
    KE_TAP_ENTRY (gemv_geglu_epilogue),
    KE_TAP_ENTRY (gemv_rejects_bad_arguments),
  };
  return ke_tap_run (argc, argv, tests, 6);
}
