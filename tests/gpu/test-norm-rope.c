/* test-norm-rope.c — embedding, RMSNorm (+ FP8 quantize), residual + post-norm, GeGLU and
 * QK-norm + RoPE + KV-cache write against CPU references.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * References follow Gemma 3's semantics (transformers' modeling_gemma3.py) in double, with
 * the same bf16 rounding points the kernels document; fp8 outputs are checked by
 * dequantizing (each e4m3 value is within 2^-4 relative of its input, so the bound is loose
 * but catches wrong scales and wrong elements).  Fresh random data, poisoned outputs.
 */
#include "ke-cuda-kernels.h"
#include "gpu-test-util.h"

#define EPS 1e-6f

static double
rb (double v) /* round to bf16 */
{
  return ke_round_bf16 ((float) v);
}

/* Checks a norm_out (bf16 and fp8 + scale) against the reference row values (before bf16
 * rounding). */
static void
check_norm_out (const char *what, const double *ref, int rows, int width, const void *d_bf16,
                const void *d_fp8, const void *d_scale)
{
  size_t n = (size_t) rows * width;
  uint16_t *b = malloc (n * 2);
  uint8_t *q = malloc (n);
  float *s = malloc (sizeof (float) * rows);
  if (!gpu_download (b, d_bf16, n * 2) || !gpu_download (q, d_fp8, n) ||
      !gpu_download (s, d_scale, sizeof (float) * rows)) {
    KE_CHECK (false, "%s: download", what);
    goto out;
  }
  nmse_acc eb = { 0 }, eq = { 0 };
  double worst_scale = 0;
  for (int t = 0; t < rows; t++) {
    double amax = 0;
    for (int i = 0; i < width; i++)
      amax = fmax (amax, fabs (rb (ref[(size_t) t * width + i])));
    double want_scale = amax > 0 ? amax / 448.0 : 1.0;
    worst_scale = fmax (worst_scale, fabs (s[t] - want_scale) / want_scale);
    for (int i = 0; i < width; i++) {
      size_t j = (size_t) t * width + i;
      nmse_add (&eb, ke_bf16_to_f32 (b[j]), ref[j]);
      nmse_add (&eq, (double) ke_fp8e4m3_to_f32 (q[j]) * s[t], ref[j]);
    }
  }
  ke_tap_diag ("%-28s bf16 rel %.2e  fp8 rel %.2e  scale rel %.1e  unwritten %zu/%zu", what,
               nmse_rel (&eb), nmse_rel (&eq), worst_scale, eb.nan, eq.nan);
  KE_CHECK (eb.nan == 0 && eq.nan == 0, "%s: unwritten outputs", what);
  KE_CHECK (nmse_rel (&eb) < 4e-3, "%s: bf16 output off (%.2e)", what, nmse_rel (&eb));
  KE_CHECK (nmse_rel (&eq) < 4e-2, "%s: fp8 output off (%.2e)", what, nmse_rel (&eq));
  KE_CHECK (worst_scale < 8e-3, "%s: fp8 scale off (%.2e)", what, worst_scale);
out:
  free (b); free (q); free (s);
}

static void
ref_rmsnorm (const double *x, const uint16_t *w, int n, double *out)
{
  double ss = 0;
  for (int i = 0; i < n; i++)
    ss += x[i] * x[i];
  double inv = 1.0 / sqrt (ss / n + EPS);
  for (int i = 0; i < n; i++)
    out[i] = x[i] * inv * (1.0 + ke_bf16_to_f32 (w[i]));
}

KE_TEST (embed_gather)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  const int vocab = 1000, hidden = 2560, n = 5;
  uint16_t *emb = malloc ((size_t) vocab * hidden * 2);
  fill_bf16 (emb, (size_t) vocab * hidden, 0.1f);
  int32_t ids[5] = { 0, 999, 17, 17, 1000 }; /* the last is out of range */
  int32_t zero = 0;
  void *demb = gpu_upload (emb, (size_t) vocab * hidden * 2), *dids = gpu_upload (ids, sizeof ids);
  void *dbad = gpu_upload (&zero, 4), *dh = gpu_poisoned ((size_t) n * hidden * 4);
  KE_REQUIRE (demb && dids && dbad && dh, "device buffers");
  ke_error *error = NULL;
  KE_REQUIRE (ke_cuda_embed (dids, n, demb, vocab, hidden, dh, dbad, NULL, &error), "embed: %s",
              error->message);
  float *h = malloc ((size_t) n * hidden * 4);
  int32_t bad = 0;
  KE_REQUIRE (gpu_download (h, dh, (size_t) n * hidden * 4) && gpu_download (&bad, dbad, 4),
              "download");
  const double norm = rb (sqrt (2560.0)); /* 50.5 */
  size_t mismatches = 0;
  for (int t = 0; t < n; t++)
    for (int i = 0; i < hidden; i++) {
      double want = ids[t] < vocab ? rb (ke_bf16_to_f32 (emb[(size_t) ids[t] * hidden + i]) * norm)
                                   : 0.0;
      if (h[(size_t) t * hidden + i] != (float) want)
        mismatches++;
    }
  ke_tap_diag ("embed: %zu mismatches, bad id flag %d", mismatches, bad);
  KE_CHECK (mismatches == 0, "%zu embedding values differ", mismatches);
  KE_CHECK (bad == 1, "the out-of-range id was not flagged");
  KE_CHECK (ke_cuda_embed (dids, n, demb, vocab, 30, dh, dbad, NULL, &error) == false &&
            error->code == KE_ERROR_INVALID_ARGUMENT, "hidden 30 must be refused");
  ke_error_free (error);
  ke_cuda_free (demb); ke_cuda_free (dids); ke_cuda_free (dbad); ke_cuda_free (dh);
  free (emb); free (h);
}

KE_TEST (rmsnorm_residual_geglu)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  const int n = 3, hidden = 2560, inter = 10240;
  size_t nh = (size_t) n * hidden, ni = (size_t) n * inter;
  float *h = malloc (nh * 4), *y = malloc (nh * 4), *gu = malloc (2 * ni * 4);
  uint16_t w1[2560], w2[2560];
  for (size_t i = 0; i < nh; i++) {
    h[i] = gpu_rand () * 20.0f * (1 + (i % 7 == 0) * 10);
    y[i] = gpu_rand () * 3.0f;
  }
  for (size_t i = 0; i < 2 * ni; i++)
    gu[i] = gpu_rand () * 4.0f;
  fill_bf16 (w1, hidden, 2.0f);
  fill_bf16 (w2, hidden, 2.0f);
  void *dh = gpu_upload (h, nh * 4), *dy = gpu_upload (y, nh * 4), *dgu = gpu_upload (gu, 2 * ni * 4);
  void *dw1 = gpu_upload (w1, sizeof w1), *dw2 = gpu_upload (w2, sizeof w2);
  void *ob = gpu_poisoned (ni * 2), *oq = gpu_poisoned (ni), *os = gpu_poisoned (n * 4);
  KE_REQUIRE (dh && dy && dgu && dw1 && dw2 && ob && oq && os, "device buffers");
  ke_norm_out out = { ob, oq, os };
  ke_error *error = NULL;
  double *ref = malloc (ni * sizeof (double)), *row = malloc (inter * sizeof (double));

  /* RMSNorm of h. */
  KE_REQUIRE (ke_cuda_rmsnorm (dh, dw1, n, hidden, EPS, &out, NULL, &error), "rmsnorm: %s",
              error->message);
  for (int t = 0; t < n; t++) {
    for (int i = 0; i < hidden; i++)
      row[i] = h[(size_t) t * hidden + i];
    ref_rmsnorm (row, w1, hidden, ref + (size_t) t * hidden);
  }
  check_norm_out ("rmsnorm", ref, n, hidden, ob, oq, os);

  /* h += rmsnorm(y, w1); out = rmsnorm(h, w2). */
  ke_cuda_memset (ob, 0xff, ni * 2, NULL);
  ke_cuda_memset (oq, 0xff, ni, NULL);
  KE_REQUIRE (ke_cuda_residual_norm (dh, dy, dw1, dw2, n, hidden, EPS, &out, NULL, &error),
              "residual norm: %s", error->message);
  float *h2 = malloc (nh * 4);
  KE_REQUIRE (gpu_download (h2, dh, nh * 4), "download");
  nmse_acc eh = { 0 };
  for (int t = 0; t < n; t++) {
    double yn[2560], hn[2560];
    for (int i = 0; i < hidden; i++)
      row[i] = y[(size_t) t * hidden + i];
    ref_rmsnorm (row, w1, hidden, yn);
    for (int i = 0; i < hidden; i++) {
      hn[i] = h[(size_t) t * hidden + i] + yn[i];
      nmse_add (&eh, h2[(size_t) t * hidden + i], hn[i]);
    }
    ref_rmsnorm (hn, w2, hidden, ref + (size_t) t * hidden);
  }
  ke_tap_diag ("residual add: h rel %.2e", nmse_rel (&eh));
  if (nmse_rel (&eh) >= 1e-6) {
    double yn[2560];
    for (int i = 0; i < hidden; i++)
      row[i] = y[i];
    ref_rmsnorm (row, w1, hidden, yn);
    for (int i = 0; i < 4; i++)
      ke_tap_diag ("  [%d] h %.6g  y %.6g  rmsnorm(y) %.6g  got h' %.6g", i, h[i], y[i], yn[i],
                   h2[i]);
  }
  KE_CHECK (eh.nan == 0 && nmse_rel (&eh) < 1e-6, "residual stream off (%.2e)", nmse_rel (&eh));
  check_norm_out ("residual + post-norm + norm", ref, n, hidden, ob, oq, os);

  /* GeGLU. */
  ke_cuda_memset (ob, 0xff, ni * 2, NULL);
  ke_cuda_memset (oq, 0xff, ni, NULL);
  KE_REQUIRE (ke_cuda_geglu (dgu, n, inter, &out, NULL, &error), "geglu: %s", error->message);
  for (int t = 0; t < n; t++)
    for (int i = 0; i < inter; i++) {
      double g = rb (gu[(size_t) t * 2 * inter + i]), u = rb (gu[(size_t) t * 2 * inter + inter + i]);
      double act = rb (0.5 * g * (1.0 + tanh (sqrt (2.0 / M_PI) * (g + 0.044715 * g * g * g))));
      ref[(size_t) t * inter + i] = act * u;
    }
  check_norm_out ("geglu", ref, n, inter, ob, oq, os);

  KE_CHECK (!ke_cuda_geglu (dgu, n, 20000, &out, NULL, &error) &&
            error->code == KE_ERROR_INVALID_ARGUMENT, "a width over the limit must be refused");
  ke_error_free (error);
  ke_cuda_free (dh); ke_cuda_free (dy); ke_cuda_free (dgu); ke_cuda_free (dw1);
  ke_cuda_free (dw2); ke_cuda_free (ob); ke_cuda_free (oq); ke_cuda_free (os);
  free (h); free (y); free (gu); free (ref); free (row); free (h2);
}

/* QK-norm + RoPE at a few positions, into a ring cache (capacity 64, positions beyond it). */
static void
check_rope (float theta, float scaling, int capacity, const int32_t *pos, int n_tok)
{
  const int nq = 8, nkv = 4, d = 256, nh = nq + 2 * nkv;
  size_t nqkv = (size_t) n_tok * nh * d, ncache = (size_t) nkv * capacity * d;
  float *qkv = malloc (nqkv * 4);
  for (size_t i = 0; i < nqkv; i++)
    qkv[i] = gpu_rand () * 4.0f;
  uint16_t qn[256], kn[256];
  fill_bf16 (qn, 256, 1.0f);
  fill_bf16 (kn, 256, 1.0f);
  void *dqkv = gpu_upload (qkv, nqkv * 4), *dpos = gpu_upload (pos, 4 * n_tok);
  void *dqn = gpu_upload (qn, 512), *dkn = gpu_upload (kn, 512);
  void *dq = gpu_poisoned ((size_t) n_tok * nq * d * 2);
  void *dk = gpu_poisoned (ncache * 2), *dv = gpu_poisoned (ncache * 2);
  KE_REQUIRE (dqkv && dpos && dqn && dkn && dq && dk && dv, "device buffers");
  ke_rope_args a = { .qkv = dqkv, .n_tokens = n_tok, .n_q = nq, .n_kv = nkv, .head_dim = d,
                     .pos = dpos, .q_norm = dqn, .k_norm = dkn, .eps = EPS, .theta = theta,
                     .scaling = scaling, .q_out = dq, .k_cache = dk, .v_cache = dv,
                     .capacity = capacity };
  ke_error *error = NULL;
  KE_REQUIRE (ke_cuda_qk_norm_rope (&a, NULL, &error), "rope: %s", error->message);
  uint16_t *q = malloc ((size_t) n_tok * nq * d * 2), *k = malloc (ncache * 2), *v = malloc (ncache * 2);
  KE_REQUIRE (gpu_download (q, dq, (size_t) n_tok * nq * d * 2) &&
              gpu_download (k, dk, ncache * 2) && gpu_download (v, dv, ncache * 2), "download");
  nmse_acc eq = { 0 }, ek = { 0 }, evv = { 0 };
  for (int t = 0; t < n_tok; t++) {
    int slot = pos[t] % capacity;
    for (int h = 0; h < nq + 2 * nkv; h++) {
      const float *src = qkv + ((size_t) t * nh + h) * d;
      double x[256], o[256];
      for (int i = 0; i < d; i++)
        x[i] = rb (src[i]);
      if (h >= nq + nkv) {
        for (int i = 0; i < d; i++)
          nmse_add (&evv, ke_bf16_to_f32 (v[((size_t) (h - nq - nkv) * capacity + slot) * d + i]), x[i]);
        continue;
      }
      double nx[256];
      ref_rmsnorm (x, h < nq ? qn : kn, d, nx);
      for (int i = 0; i < d; i++)
        nx[i] = rb (nx[i]);
      for (int i = 0; i < d / 2; i++) {
        /* transformers computes inv_freq and the angle in f32; so does the reference. */
        float inv_freq = (1.0f / powf (theta, (float) (2 * i) / (float) d)) / scaling;
        double ang = (float) pos[t] * inv_freq;
        o[i] = nx[i] * cos (ang) - nx[i + d / 2] * sin (ang);
        o[i + d / 2] = nx[i + d / 2] * cos (ang) + nx[i] * sin (ang);
      }
      for (int i = 0; i < d; i++) {
        if (h < nq)
          nmse_add (&eq, ke_bf16_to_f32 (q[((size_t) t * nq + h) * d + i]), o[i]);
        else
          nmse_add (&ek, ke_bf16_to_f32 (k[((size_t) (h - nq) * capacity + slot) * d + i]), o[i]);
      }
    }
  }
  ke_tap_diag ("rope theta %.0e /%.0f cap %d: q rel %.2e  k rel %.2e  v rel %.2e  unwritten %zu",
               theta, scaling, capacity, nmse_rel (&eq), nmse_rel (&ek), nmse_rel (&evv),
               eq.nan + ek.nan + evv.nan);
  KE_CHECK (eq.nan + ek.nan + evv.nan == 0, "unwritten q/k/v");
  KE_CHECK (nmse_rel (&eq) < 4e-3 && nmse_rel (&ek) < 4e-3, "q/k off");
  KE_CHECK (nmse_rel (&evv) == 0, "v must be copied exactly");
  ke_cuda_free (dqkv); ke_cuda_free (dpos); ke_cuda_free (dqn); ke_cuda_free (dkn);
  ke_cuda_free (dq); ke_cuda_free (dk); ke_cuda_free (dv);
  free (qkv); free (q); free (k); free (v);
}

KE_TEST (qk_norm_rope)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  /* Distinct slots within each call (the unwritten check reads only those). */
  const int32_t local_pos[4] = { 0, 1, 1023 + 64 + 5, 2 * 64 + 3 }; /* ring of 64: slots 0,1,4,3 */
  check_rope (10000.0f, 1.0f, 64, local_pos, 4);
  const int32_t global_pos[3] = { 7, 4095, 30001 };
  check_rope (1000000.0f, 8.0f, 32768, global_pos, 3);
  ke_rope_args bad = { .n_tokens = 1, .n_q = 8, .n_kv = 3, .head_dim = 256 };
  ke_error *error = NULL;
  KE_CHECK (!ke_cuda_qk_norm_rope (&bad, NULL, &error) && error->code == KE_ERROR_INVALID_ARGUMENT,
            "8 q heads over 3 kv heads must be refused");
  ke_error_free (error);
}

int
main (int argc, char **argv)
{
  gpu_test_init_seed ();
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (embed_gather),
    KE_TAP_ENTRY (rmsnorm_residual_geglu),
    KE_TAP_ENTRY (qk_norm_rope),
  };
  return ke_tap_run (argc, argv, tests, 3);
}
