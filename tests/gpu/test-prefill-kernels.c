/* test-prefill-kernels.c — the batch helpers of ke-cuda-prefill.cu against CPU references on
 * fresh random inputs with poisoned outputs: GeGLU of bf16 rows + per-row fp8
 * (ke_cuda_geglu_bf16_quant), per-row fp8 of bf16 rows (ke_cuda_quant_rows), the KV scatter
 * into a ring (ke_cuda_kv_scatter), bf16 → f32 (ke_cuda_bf16_to_f32), QK-norm + RoPE from bf16
 * rows (ke_cuda_qk_norm_rope_rows).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ke-cuda-prefill.h"
#include "gpu-test-util.h"

static float
gelu_tanh (float x)
{
  const float k0 = 0.7978845608028654f;
  return 0.5f * x * (1.0f + tanhf (k0 * (x + 0.044715f * x * x * x)));
}

/* Compares fp8 rows + scales with the exact activations a [rows, width]: the dequantized
 * values' relative error (fp8 e4m3 has 3 mantissa bits: ~2.5e-2) and the scales. */
static void
check_fp8_rows (const char *what, const float *a, const uint8_t *q, const float *scale,
                int rows, int width)
{
  nmse_acc e = { 0 }, es = { 0 };
  for (int r = 0; r < rows; r++) {
    float amax = 0;
    for (int c = 0; c < width; c++)
      amax = fmaxf (amax, fabsf (a[(size_t) r * width + c]));
    nmse_add (&es, scale[r], amax > 0 ? amax / 448.0f : 1.0f);
    for (int c = 0; c < width; c++)
      nmse_add (&e, ke_fp8e4m3_to_f32 (q[(size_t) r * width + c]) * scale[r],
                a[(size_t) r * width + c]);
  }
  ke_tap_diag ("%-34s rows %5d width %6d: fp8 rel %.2e, scale rel %.1e, unwritten %zu/%zu",
               what, rows, width, nmse_rel (&e), nmse_rel (&es), e.nan, es.nan);
  KE_CHECK (e.nan == 0 && es.nan == 0, "%s: unwritten outputs", what);
  KE_CHECK (nmse_rel (&e) < 4e-2, "%s: fp8 relative error %.2e", what, nmse_rel (&e));
  KE_CHECK (nmse_rel (&es) < 1e-2, "%s: scale relative error %.2e", what, nmse_rel (&es));
}

static void
check_geglu (int rows, int inter)
{
  size_t n = (size_t) rows * 2 * inter;
  uint16_t *gu = malloc (n * 2);
  uint8_t *q = malloc ((size_t) rows * inter);
  float *scale = malloc (sizeof (float) * rows), *a = malloc (sizeof (float) * rows * inter);
  fill_bf16 (gu, n, 3.0f);
  for (int t = 0; t < rows / 3; t++) /* some all-zero rows: scale 1 */
    memset (gu + (size_t) 3 * t * 2 * inter, 0, (size_t) inter * 2 * 2);
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < inter; c++) {
      const float g = ke_bf16_to_f32 (gu[(size_t) r * 2 * inter + c]);
      const float u = ke_bf16_to_f32 (gu[(size_t) r * 2 * inter + inter + c]);
      a[(size_t) r * inter + c] = ke_round_bf16 (ke_round_bf16 (gelu_tanh (g)) * u);
    }
  void *dgu = gpu_upload (gu, n * 2), *dq = gpu_poisoned ((size_t) rows * inter);
  void *ds = gpu_poisoned (sizeof (float) * rows);
  KE_REQUIRE (dgu && dq && ds, "device buffers");
  ke_error *error = NULL;
  KE_REQUIRE (ke_cuda_geglu_bf16_quant (dgu, rows, inter, dq, ds, NULL, &error), "geglu: %s",
              error->message);
  KE_REQUIRE (gpu_download (q, dq, (size_t) rows * inter) &&
              gpu_download (scale, ds, sizeof (float) * rows), "download");
  check_fp8_rows ("geglu bf16 → fp8", a, q, scale, rows, inter);
  ke_cuda_free (dgu); ke_cuda_free (dq); ke_cuda_free (ds);
  free (gu); free (q); free (scale); free (a);
}

static void
check_quant_rows (int rows, int width)
{
  size_t n = (size_t) rows * width;
  uint16_t *x = malloc (n * 2);
  uint8_t *q = malloc (n);
  float *scale = malloc (sizeof (float) * rows), *a = malloc (sizeof (float) * n);
  fill_bf16 (x, n, 5.0f);
  memset (x, 0, (size_t) width * 2); /* row 0 is zero */
  for (size_t i = 0; i < n; i++)
    a[i] = ke_bf16_to_f32 (x[i]);
  void *dx = gpu_upload (x, n * 2), *dq = gpu_poisoned (n), *ds = gpu_poisoned (4 * (size_t) rows);
  KE_REQUIRE (dx && dq && ds, "device buffers");
  ke_error *error = NULL;
  KE_REQUIRE (ke_cuda_quant_rows (dx, rows, width, dq, ds, NULL, &error), "quant: %s",
              error->message);
  KE_REQUIRE (gpu_download (q, dq, n) && gpu_download (scale, ds, 4 * (size_t) rows), "download");
  check_fp8_rows ("quant rows bf16 → fp8", a, q, scale, rows, width);
  KE_CHECK (scale[0] == 1.0f, "a zero row gets scale 1, not %g", scale[0]);
  ke_cuda_free (dx); ke_cuda_free (dq); ke_cuda_free (ds);
  free (x); free (q); free (scale); free (a);
}

KE_TEST (geglu_and_quant)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  check_geglu (37, 10240); /* Gemma 3 4b: 2 chunks per thread */
  check_geglu (5, 24);
  check_geglu (3, 20480);  /* 4 chunks per thread */
  check_quant_rows (41, 2048);
  check_quant_rows (3, 8);
}

/* The batch's keys [n_kv, n, hd] (slot p % n) into a poisoned ring of cap slots: the last
 * min(n, cap) positions land at p % cap, every other slot keeps its poison. */
static void
check_scatter (int n, int pos0, int cap, int n_kv, int hd)
{
  size_t nn = (size_t) n_kv * n * hd, nc = (size_t) n_kv * cap * hd;
  uint16_t *k = malloc (nn * 2), *v = malloc (nn * 2), *kc = malloc (nc * 2), *vc = malloc (nc * 2);
  fill_bf16 (k, nn, 1.0f);
  fill_bf16 (v, nn, 1.0f);
  void *dk = gpu_upload (k, nn * 2), *dv = gpu_upload (v, nn * 2);
  void *dkc = gpu_poisoned (nc * 2), *dvc = gpu_poisoned (nc * 2);
  KE_REQUIRE (dk && dv && dkc && dvc, "device buffers");
  ke_error *error = NULL;
  KE_REQUIRE (ke_cuda_kv_scatter (dk, dv, dkc, dvc, n, pos0, cap, n_kv, hd, NULL, &error),
              "scatter: %s", error->message);
  KE_REQUIRE (gpu_download (kc, dkc, nc * 2) && gpu_download (vc, dvc, nc * 2), "download");
  size_t wrong = 0, written = 0;
  const int first = n > cap ? pos0 + n - cap : pos0;
  for (int h = 0; h < n_kv; h++)
    for (int s = 0; s < cap; s++) {
      /* the position that should sit in slot s, if any */
      int p = -1;
      for (int q = first; q < pos0 + n; q++)
        if (q % cap == s)
          p = q;
      for (int d = 0; d < hd; d++) {
        size_t o = ((size_t) h * cap + s) * hd + d;
        uint16_t ek = 0xffff, ev = 0xffff;
        if (p >= 0) {
          ek = k[((size_t) h * n + p % n) * hd + d];
          ev = v[((size_t) h * n + p % n) * hd + d];
          written++;
        }
        wrong += (kc[o] != ek) + (vc[o] != ev);
      }
    }
  ke_tap_diag ("kv scatter n %4d pos0 %5d cap %4d: %zu values written, %zu wrong", n, pos0, cap,
               written, wrong);
  KE_CHECK (wrong == 0, "%zu wrong values", wrong);
  ke_cuda_free (dk); ke_cuda_free (dv); ke_cuda_free (dkc); ke_cuda_free (dvc);
  free (k); free (v); free (kc); free (vc);
}

KE_TEST (kv_scatter_ring)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  check_scatter (100, 0, 512, 4, 256);
  check_scatter (300, 1000, 512, 4, 256);  /* wraps */
  check_scatter (2048, 5000, 1100, 4, 256); /* more tokens than slots */
  check_scatter (33, 7, 64, 2, 32);
}

KE_TEST (bf16_to_f32)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  const size_t n = 1000003; /* a tail after the 8-wide steps */
  uint16_t *x = malloc (n * 2);
  float *y = malloc (n * 4);
  fill_bf16 (x, n, 100.0f);
  void *dx = gpu_upload (x, n * 2), *dy = gpu_poisoned (n * 4);
  KE_REQUIRE (dx && dy, "device buffers");
  ke_error *error = NULL;
  KE_REQUIRE (ke_cuda_bf16_to_f32 (dx, dy, n, NULL, &error), "convert: %s", error->message);
  KE_REQUIRE (gpu_download (y, dy, n * 4), "download");
  size_t wrong = 0;
  for (size_t i = 0; i < n; i++)
    wrong += !(y[i] == ke_bf16_to_f32 (x[i]));
  ke_tap_diag ("bf16 → f32, %zu values: %zu wrong", n, wrong);
  KE_CHECK (wrong == 0, "%zu wrong values", wrong);
  ke_cuda_free (dx); ke_cuda_free (dy);
  free (x); free (y);
}

/* QK-norm + RoPE from bf16 projection rows: CPU reference in double after the same bf16
 * roundings (normed q/k), angle = pos · inv_freq in f32 as transformers. */
static void
check_rope_rows (int T, int pos0, int nq, int nkv, int hd, float theta, float scaling)
{
  const int nh = nq + 2 * nkv, half = hd / 2;
  const float eps = 1e-6f;
  size_t nrow = (size_t) T * nh * hd, nqo = (size_t) T * nq * hd, nkvo = (size_t) nkv * T * hd;
  uint16_t *qkv = malloc (nrow * 2), *qn = malloc (hd * 2), *kn = malloc (hd * 2);
  uint16_t *qo = malloc (nqo * 2), *ko = malloc (nkvo * 2), *vo = malloc (nkvo * 2);
  int32_t *pos = malloc (4 * (size_t) T);
  fill_bf16 (qkv, nrow, 3.0f);
  fill_bf16 (qn, hd, 0.5f);
  fill_bf16 (kn, hd, 0.5f);
  for (int t = 0; t < T; t++)
    pos[t] = pos0 + t;
  void *dqkv = gpu_upload (qkv, nrow * 2), *dqn = gpu_upload (qn, hd * 2), *dkn = gpu_upload (kn, hd * 2);
  void *dpos = gpu_upload (pos, 4 * (size_t) T), *dqo = gpu_poisoned (nqo * 2);
  void *dko = gpu_poisoned (nkvo * 2), *dvo = gpu_poisoned (nkvo * 2);
  KE_REQUIRE (dqkv && dqn && dkn && dpos && dqo && dko && dvo, "device buffers");
  ke_rope_args a = { NULL, T, nq, nkv, hd, dpos, dqn, dkn, eps, theta, scaling, dqo, dko, dvo, T };
  ke_error *error = NULL;
  KE_REQUIRE (ke_cuda_qk_norm_rope_rows (&a, dqkv, NULL, &error), "rope: %s", error->message);
  KE_REQUIRE (gpu_download (qo, dqo, nqo * 2) && gpu_download (ko, dko, nkvo * 2) &&
              gpu_download (vo, dvo, nkvo * 2), "download");
  nmse_acc eq = { 0 }, ek = { 0 };
  size_t v_wrong = 0;
  for (int t = 0; t < T; t++) {
    const int slot = pos[t] % T;
    for (int h = 0; h < nh; h++) {
      const uint16_t *src = qkv + ((size_t) t * nh + h) * hd;
      if (h >= nq + nkv) {
        const uint16_t *got = vo + ((size_t) (h - nq - nkv) * T + slot) * hd;
        for (int i = 0; i < hd; i++)
          v_wrong += got[i] != src[i];
        continue;
      }
      const bool is_q = h < nq;
      const uint16_t *w = is_q ? qn : kn;
      double ss = 0;
      for (int i = 0; i < hd; i++)
        ss += (double) ke_bf16_to_f32 (src[i]) * ke_bf16_to_f32 (src[i]);
      const double inv = 1.0 / sqrt (ss / hd + eps);
      const uint16_t *got = is_q ? qo + ((size_t) t * nq + h) * hd
                                 : ko + ((size_t) (h - nq) * T + slot) * hd;
      for (int i = 0; i < half; i++) {
        const double x0 = ke_round_bf16 ((float) (ke_bf16_to_f32 (src[i]) * inv *
                                                  (1.0 + ke_bf16_to_f32 (w[i]))));
        const double x1 = ke_round_bf16 ((float) (ke_bf16_to_f32 (src[i + half]) * inv *
                                                  (1.0 + ke_bf16_to_f32 (w[i + half]))));
        const float inv_freq = (1.0f / powf (theta, (float) (2 * i) / (float) hd)) / scaling;
        const double ang = (double) ((float) pos[t] * inv_freq);
        nmse_acc *e = is_q ? &eq : &ek;
        nmse_add (e, ke_bf16_to_f32 (got[i]), x0 * cos (ang) - x1 * sin (ang));
        nmse_add (e, ke_bf16_to_f32 (got[i + half]), x1 * cos (ang) + x0 * sin (ang));
      }
    }
  }
  ke_tap_diag ("rope rows T %4d pos0 %5d heads %d/%d hd %3d theta %g/%g: q rel %.2e, k rel "
               "%.2e, v wrong %zu, unwritten %zu", T, pos0, nq, nkv, hd, theta, scaling,
               nmse_rel (&eq), nmse_rel (&ek), v_wrong, eq.nan + ek.nan);
  KE_CHECK (eq.nan + ek.nan == 0 && v_wrong == 0, "unwritten or wrong outputs");
  KE_CHECK (nmse_rel (&eq) < 4e-3 && nmse_rel (&ek) < 4e-3, "relative error q %.2e k %.2e",
            nmse_rel (&eq), nmse_rel (&ek));
  ke_cuda_free (dqkv); ke_cuda_free (dqn); ke_cuda_free (dkn); ke_cuda_free (dpos);
  ke_cuda_free (dqo); ke_cuda_free (dko); ke_cuda_free (dvo);
  free (qkv); free (qn); free (kn); free (qo); free (ko); free (vo); free (pos);
}

KE_TEST (qk_norm_rope_rows)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  check_rope_rows (300, 0, 8, 4, 256, 10000.0f, 1.0f);
  check_rope_rows (77, 15000, 8, 4, 256, 1000000.0f, 8.0f); /* global layer, far position */
  check_rope_rows (20, 3, 4, 1, 32, 10000.0f, 1.0f);
}

int
main (int argc, char **argv)
{
  gpu_test_init_seed ();
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (geglu_and_quant),
    KE_TAP_ENTRY (kv_scatter_ring),
    KE_TAP_ENTRY (bf16_to_f32),
    KE_TAP_ENTRY (qk_norm_rope_rows),
  };
  return ke_tap_run (argc, argv, tests, 4);
}
