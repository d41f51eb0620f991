/* test-prefill-kernels.c — the batch helpers of ke-cuda-prefill.cu against CPU references on
 * fresh random inputs with poisoned outputs: GeGLU of bf16 rows + per-row fp8
 * (ke_cuda_geglu_bf16_quant), per-row fp8 of bf16 rows (ke_cuda_quant_rows), the KV scatter
 * into a ring (ke_cuda_kv_scatter), bf16 → f32 (ke_cuda_bf16_to_f32), QK-norm + RoPE from bf16
 * rows (ke_cuda_qk_norm_rope_rows), the residual + norms from bf16 rows
 * (ke_cuda_residual_norm_rows, also against ke_cuda_residual_norm on the widened rows).
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

/* h += rmsnorm(y, w_post); out = rmsnorm(h, w_next) for bf16 rows y: a CPU reference in
 * double (h to f32 precision, the bf16/fp8 outputs to their rounding), and the decode path's
 * kernel (ke_cuda_residual_norm) on the same rows widened to f32, which must agree up to
 * the order of the f32 sums. */
static double
ref_norm_row (const double *x, const uint16_t *w, int n, double eps, double *out)
{
  double ss = 0;
  for (int i = 0; i < n; i++)
    ss += x[i] * x[i];
  const double inv = 1.0 / sqrt (ss / n + eps);
  for (int i = 0; i < n; i++)
    out[i] = x[i] * inv * (1.0 + ke_bf16_to_f32 (w[i]));
  return inv;
}

static void
check_residual_rows (int rows, int hidden, bool with_next, bool want_bf16, bool want_fp8)
{
  const float eps = 1e-6f;
  size_t n = (size_t) rows * hidden;
  float *h = malloc (n * 4), *yf = malloc (n * 4), *h_got = malloc (n * 4), *h_old = malloc (n * 4);
  float *s_got = malloc (4 * (size_t) rows), *s_old = malloc (4 * (size_t) rows);
  uint16_t *y = malloc (n * 2), *wp = malloc (hidden * 2), *wn = malloc (hidden * 2);
  uint16_t *b_got = malloc (n * 2), *b_old = malloc (n * 2);
  uint8_t *q_got = malloc (n), *q_old = malloc (n);
  double *yn = malloc (hidden * sizeof (double)), *hn = malloc (hidden * sizeof (double));
  double *on = malloc (hidden * sizeof (double));
  for (size_t i = 0; i < n; i++)
    h[i] = gpu_rand () * 20.0f * (1 + (i % 7 == 0) * 10);
  fill_bf16 (y, n, 3.0f);
  for (size_t i = 0; i < n; i++)
    yf[i] = ke_bf16_to_f32 (y[i]);
  fill_bf16 (wp, hidden, 2.0f);
  fill_bf16 (wn, hidden, 2.0f);
  void *dh = gpu_upload (h, n * 4), *dh2 = gpu_upload (h, n * 4), *dy = gpu_upload (y, n * 2);
  void *dyf = gpu_upload (yf, n * 4), *dwp = gpu_upload (wp, hidden * 2);
  void *dwn = gpu_upload (wn, hidden * 2);
  void *db = gpu_poisoned (n * 2), *dq = gpu_poisoned (n), *ds = gpu_poisoned (4 * (size_t) rows);
  void *db2 = gpu_poisoned (n * 2), *dq2 = gpu_poisoned (n), *ds2 = gpu_poisoned (4 * (size_t) rows);
  KE_REQUIRE (dh && dh2 && dy && dyf && dwp && dwn && db && dq && ds && db2 && dq2 && ds2,
              "device buffers");
  ke_norm_out out = { want_bf16 ? db : NULL, want_fp8 ? dq : NULL, want_fp8 ? ds : NULL };
  ke_norm_out out2 = { want_bf16 ? db2 : NULL, want_fp8 ? dq2 : NULL, want_fp8 ? ds2 : NULL };
  ke_error *error = NULL;
  KE_REQUIRE (ke_cuda_residual_norm_rows (dh, dy, dwp, with_next ? dwn : NULL, rows, hidden, eps,
                                          &out, NULL, &error), "residual rows: %s",
              error->message);
  KE_REQUIRE (ke_cuda_residual_norm (dh2, dyf, dwp, with_next ? dwn : NULL, rows, hidden, eps,
                                     &out2, NULL, &error), "residual (f32): %s", error->message);
  KE_REQUIRE (gpu_download (h_got, dh, n * 4) && gpu_download (h_old, dh2, n * 4) &&
              gpu_download (b_got, db, n * 2) && gpu_download (b_old, db2, n * 2) &&
              gpu_download (q_got, dq, n) && gpu_download (q_old, dq2, n) &&
              gpu_download (s_got, ds, 4 * (size_t) rows) &&
              gpu_download (s_old, ds2, 4 * (size_t) rows), "download");
  nmse_acc eh = { 0 }, eb = { 0 }, eq = { 0 }, es = { 0 }, dh_old = { 0 }, db_old = { 0 };
  size_t q_diff = 0, untouched = 0;
  for (int r = 0; r < rows; r++) {
    const size_t o = (size_t) r * hidden;
    for (int i = 0; i < hidden; i++)
      yn[i] = ke_bf16_to_f32 (y[o + i]);
    ref_norm_row (yn, wp, hidden, eps, yn);
    for (int i = 0; i < hidden; i++) {
      hn[i] = (double) h[o + i] + yn[i];
      nmse_add (&eh, h_got[o + i], hn[i]);
      nmse_add (&dh_old, h_got[o + i], h_old[o + i]);
    }
    if (!with_next)
      continue;
    ref_norm_row (hn, wn, hidden, eps, on);
    double amax = 0;
    for (int i = 0; i < hidden; i++)
      amax = fmax (amax, fabs (ke_round_bf16 ((float) on[i])));
    if (want_fp8)
      nmse_add (&es, s_got[r], amax > 0 ? amax / 448.0 : 1.0);
    for (int i = 0; i < hidden; i++) {
      if (want_bf16) {
        nmse_add (&eb, ke_bf16_to_f32 (b_got[o + i]), on[i]);
        nmse_add (&db_old, ke_bf16_to_f32 (b_got[o + i]), ke_bf16_to_f32 (b_old[o + i]));
      }
      if (want_fp8) {
        nmse_add (&eq, (double) ke_fp8e4m3_to_f32 (q_got[o + i]) * s_got[r], on[i]);
        q_diff += q_got[o + i] != q_old[o + i];
      }
    }
  }
  /* outputs not asked for stay poisoned */
  for (size_t i = 0; i < n; i++)
    untouched += (!want_bf16 || !with_next ? b_got[i] != 0xffff : 0) +
                 (!want_fp8 || !with_next ? q_got[i] != 0xff : 0);
  ke_tap_diag ("residual rows %4d × %5d%s%s%s: h rel %.1e (vs f32 kernel %.1e), bf16 rel %.2e "
               "(vs f32 kernel %.1e), fp8 rel %.2e, scale rel %.1e, fp8 bytes ≠ f32 kernel "
               "%zu/%zu, unwritten %zu", rows, hidden, with_next ? "" : " (no next norm)",
               want_bf16 ? " bf16" : "", want_fp8 ? " fp8" : "", nmse_rel (&eh),
               nmse_rel (&dh_old), nmse_rel (&eb), nmse_rel (&db_old), nmse_rel (&eq),
               nmse_rel (&es), q_diff, n, eh.nan + eb.nan + eq.nan + es.nan);
  KE_CHECK (eh.nan + eb.nan + eq.nan + es.nan + dh_old.nan + db_old.nan == 0,
            "unwritten outputs");
  KE_CHECK (untouched == 0, "%zu values written that were not asked for", untouched);
  KE_CHECK (nmse_rel (&eh) < 1e-6 && nmse_rel (&dh_old) < 1e-6, "residual stream off (%.2e, "
            "%.2e)", nmse_rel (&eh), nmse_rel (&dh_old));
  if (with_next && want_bf16)
    KE_CHECK (nmse_rel (&eb) < 4e-3 && nmse_rel (&db_old) < 1e-3, "bf16 output off (%.2e, %.2e)",
              nmse_rel (&eb), nmse_rel (&db_old));
  if (with_next && want_fp8) {
    KE_CHECK (nmse_rel (&eq) < 4e-2 && nmse_rel (&es) < 8e-3, "fp8 output off (%.2e, scale "
              "%.2e)", nmse_rel (&eq), nmse_rel (&es));
    KE_CHECK (q_diff * 100 <= n, "fp8 bytes differ from the f32 kernel's: %zu of %zu", q_diff,
              n);
  }
  void *bufs[] = { dh, dh2, dy, dyf, dwp, dwn, db, dq, ds, db2, dq2, ds2 };
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    ke_cuda_free (bufs[i]);
  free (h); free (yf); free (h_got); free (h_old); free (s_got); free (s_old); free (y);
  free (wp); free (wn); free (b_got); free (b_old); free (q_got); free (q_old);
  free (yn); free (hn); free (on);
}

KE_TEST (residual_norm_rows)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  check_residual_rows (2048, 2560, true, false, true); /* the prefill chunk: fp8 out */
  check_residual_rows (37, 2560, true, true, false);   /* the last layer: bf16 out */
  check_residual_rows (5, 2560, true, true, true);
  check_residual_rows (9, 1152, false, true, true);    /* no next norm: h only */
  check_residual_rows (3, 12288, true, true, true);    /* two chunks of 8 per thread */
  check_residual_rows (4, 8, true, true, true);
  ke_error *error = NULL;
  KE_CHECK (!ke_cuda_residual_norm_rows (NULL, NULL, NULL, NULL, 1, 20, 1e-6f, NULL, NULL,
                                         &error) && error->code == KE_ERROR_INVALID_ARGUMENT,
            "a width that is not a multiple of 8 must be refused");
  ke_error_free (error);
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
    KE_TAP_ENTRY (residual_norm_rows),
  };
  return ke_tap_run (argc, argv, tests, 5);
}
