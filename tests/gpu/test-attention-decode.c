/* test-attention-decode.c — split-K decode attention (ke_cuda_attn_decode) and the fused
 * RoPE + KV write + attention cluster kernel (ke_cuda_attn_decode_fused) against a CPU
 * double reference: short contexts, sliding windows over a wrapped ring, long global ones.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The cache holds random bf16 keys/values in every slot (so reading a slot outside the
 * window changes the answer); the output is poisoned before each call.
 */
#include "ke-cuda-kernels.h"
#include "gpu-test-util.h"

/* o (bf16 [8, 256], from the device) against softmax(q·K·scale)·V in double over the keys
 * max(0, pos − window + 1) … pos of the cache (slot j % capacity). */
static void
ref_attn_compare (const uint16_t *q, const uint16_t *k, const uint16_t *v, const uint16_t *o,
                  int pos, int window, int capacity, float scale, nmse_acc *e)
{
  const int nq = 8, nkv = 4, d = 256, g = nq / nkv;
  int lo = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
  double *s = malloc (sizeof (double) * (pos - lo + 1));
  for (int h = 0; h < nq; h++) {
    int kvh = h / g;
    double mx = -INFINITY;
    for (int j = lo; j <= pos; j++) {
      const uint16_t *kr = k + ((size_t) kvh * capacity + j % capacity) * d;
      double dot = 0;
      for (int i = 0; i < d; i++)
        dot += (double) ke_bf16_to_f32 (q[h * d + i]) * ke_bf16_to_f32 (kr[i]);
      s[j - lo] = dot * scale;
      mx = fmax (mx, s[j - lo]);
    }
    double sum = 0;
    for (int j = lo; j <= pos; j++)
      sum += (s[j - lo] = exp (s[j - lo] - mx));
    for (int i = 0; i < d; i++) {
      double acc = 0;
      for (int j = lo; j <= pos; j++)
        acc += s[j - lo] * ke_bf16_to_f32 (v[((size_t) kvh * capacity + j % capacity) * d + i]);
      nmse_add (e, ke_bf16_to_f32 (o[h * d + i]), acc / sum);
    }
  }
  free (s);
}

static void
check_attn (int pos, int window, int capacity, int n_splits)
{
  const int nq = 8, nkv = 4, d = 256;
  const float scale = 1.0f / 16.0f; /* query_pre_attn_scalar 256 */
  size_t ncache = (size_t) nkv * capacity * d;
  uint16_t *q = malloc ((size_t) nq * d * 2), *k = malloc (ncache * 2), *v = malloc (ncache * 2);
  fill_bf16 (q, (size_t) nq * d, 2.0f);
  fill_bf16 (k, ncache, 2.0f);
  fill_bf16 (v, ncache, 1.0f);
  size_t wsf = ke_cuda_attn_decode_workspace_floats (nq, d, n_splits);
  void *dq = gpu_upload (q, (size_t) nq * d * 2), *dk = gpu_upload (k, ncache * 2);
  void *dv = gpu_upload (v, ncache * 2), *dpos = gpu_upload (&pos, 4);
  void *dws = gpu_poisoned (wsf * 4), *dout = gpu_poisoned ((size_t) nq * d * 2);
  KE_REQUIRE (dq && dk && dv && dpos && dws && dout, "device buffers");
  ke_attn_decode_args a = { .q = dq, .k_cache = dk, .v_cache = dv, .pos = dpos, .n_q = nq,
                            .n_kv = nkv, .head_dim = d, .capacity = capacity, .window = window,
                            .scale = scale, .n_splits = n_splits, .workspace = dws, .o = dout };
  ke_error *error = NULL;
  /* Twice, re-poisoned: a call must not depend on what an earlier one left behind. */
  for (int rep = 0; rep < 2; rep++) {
    KE_REQUIRE (ke_cuda_memset (dout, 0xff, (size_t) nq * d * 2, &error), "poison: %s",
                error->message);
    KE_REQUIRE (ke_cuda_attn_decode (&a, NULL, &error), "attention: %s", error->message);
  }
  uint16_t *o = malloc ((size_t) nq * d * 2);
  KE_REQUIRE (gpu_download (o, dout, (size_t) nq * d * 2), "download");

  nmse_acc e = { 0 };
  ref_attn_compare (q, k, v, o, pos, window, capacity, scale, &e);
  ke_tap_diag ("pos %-6d window %-5d capacity %-6d splits %-3d: rel %.2e unwritten %zu", pos,
               window, capacity, n_splits, nmse_rel (&e), e.nan);
  KE_CHECK (e.nan == 0, "unwritten outputs");
  KE_CHECK (nmse_rel (&e) < 4e-3, "relative error %.2e", nmse_rel (&e)); /* bf16 output */
  ke_cuda_free (dq); ke_cuda_free (dk); ke_cuda_free (dv); ke_cuda_free (dpos);
  ke_cuda_free (dws); ke_cuda_free (dout);
  free (q); free (k); free (v); free (o);
}

KE_TEST (attn_decode_short)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  check_attn (0, 0, 64, 0);     /* a single key */
  check_attn (5, 0, 64, 0);
  check_attn (63, 1024, 1024, 0);
  check_attn (200, 0, 512, 3);  /* uneven splits */
}

KE_TEST (attn_decode_sliding_ring)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  check_attn (1023, 1024, 1024, 0); /* the window exactly full, not yet wrapped */
  check_attn (1024, 1024, 1024, 0); /* first wrap: key 0 leaves */
  check_attn (5000, 1024, 1024, 16);
  check_attn (777, 100, 128, 0);    /* window smaller than the ring */
}

KE_TEST (attn_decode_long_global)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  check_attn (8191, 0, 8192, 0);
  check_attn (20000, 0, 32768, 64);
  check_attn (20000, 0, 32768, 256);
}

/* ---- fused QK-norm + RoPE + KV write + attention (ke_cuda_attn_decode_fused) ---------- */

#define EPS 1e-6f

/* One head of the f32 projection → bf16, RMSNorm (1 + w) → bf16, rotate_half RoPE → bf16
 * bits, as transformers computes it (inv_freq and the angle in f32). */
static void
ref_norm_rope (const float *src, const uint16_t *w, int pos, float theta, float scaling,
               uint16_t *out)
{
  const int d = 256;
  double x[256], ss = 0;
  for (int i = 0; i < d; i++) {
    x[i] = ke_round_bf16 (src[i]);
    ss += x[i] * x[i];
  }
  double inv = 1.0 / sqrt (ss / d + EPS);
  for (int i = 0; i < d; i++)
    x[i] = ke_round_bf16 ((float) (x[i] * inv * (1.0 + ke_bf16_to_f32 (w[i]))));
  for (int i = 0; i < d / 2; i++) {
    float inv_freq = (1.0f / powf (theta, (float) (2 * i) / (float) d)) / scaling;
    double ang = (float) pos * inv_freq;
    out[i] = ke_f32_to_bf16 ((float) (x[i] * cos (ang) - x[i + d / 2] * sin (ang)));
    out[i + d / 2] = ke_f32_to_bf16 ((float) (x[i + d / 2] * cos (ang) + x[i] * sin (ang)));
  }
}

/* Random projection and cache; the fused kernel must write q_out, the new key (normed,
 * rotated) and value into slot pos % capacity, leave every other slot as it was, and give
 * the attention over the window with the new key included. */
static void
check_fused (int pos, int window, int capacity, float theta, float scaling, int cluster)
{
  const int nq = 8, nkv = 4, d = 256, nh = nq + 2 * nkv;
  const float scale = 1.0f / 16.0f;
  size_t ncache = (size_t) nkv * capacity * d;
  float *qkv = malloc ((size_t) nh * d * 4);
  for (int i = 0; i < nh * d; i++)
    qkv[i] = gpu_rand () * 4.0f;
  uint16_t qn[256], kn[256];
  fill_bf16 (qn, 256, 1.0f);
  fill_bf16 (kn, 256, 1.0f);
  uint16_t *k = malloc (ncache * 2), *v = malloc (ncache * 2);
  fill_bf16 (k, ncache, 2.0f);
  fill_bf16 (v, ncache, 1.0f);
  void *dqkv = gpu_upload (qkv, (size_t) nh * d * 4), *dqn = gpu_upload (qn, 512);
  void *dkn = gpu_upload (kn, 512), *dk = gpu_upload (k, ncache * 2);
  void *dv = gpu_upload (v, ncache * 2), *dpos = gpu_upload (&pos, 4);
  void *dq = gpu_poisoned ((size_t) nq * d * 2), *dout = gpu_poisoned ((size_t) nq * d * 2);
  KE_REQUIRE (dqkv && dqn && dkn && dk && dv && dpos && dq && dout, "device buffers");
  ke_rope_args r = { .qkv = dqkv, .n_tokens = 1, .n_q = nq, .n_kv = nkv, .head_dim = d,
                     .pos = dpos, .q_norm = dqn, .k_norm = dkn, .eps = EPS, .theta = theta,
                     .scaling = scaling, .q_out = dq, .k_cache = dk, .v_cache = dv,
                     .capacity = capacity };
  ke_attn_decode_args a = { .q = dq, .k_cache = dk, .v_cache = dv, .pos = dpos, .n_q = nq,
                            .n_kv = nkv, .head_dim = d, .capacity = capacity, .window = window,
                            .scale = scale, .n_splits = cluster, .workspace = NULL, .o = dout };
  ke_error *error = NULL;
  for (int rep = 0; rep < 2; rep++) {
    KE_REQUIRE (ke_cuda_memset (dout, 0xff, (size_t) nq * d * 2, &error), "poison: %s",
                error->message);
    KE_REQUIRE (ke_cuda_attn_decode_fused (&r, &a, NULL, &error), "fused: %s", error->message);
  }
  uint16_t *o = malloc ((size_t) nq * d * 2), *qo = malloc ((size_t) nq * d * 2);
  uint16_t *k2 = malloc (ncache * 2), *v2 = malloc (ncache * 2);
  KE_REQUIRE (gpu_download (o, dout, (size_t) nq * d * 2) &&
              gpu_download (qo, dq, (size_t) nq * d * 2) && gpu_download (k2, dk, ncache * 2) &&
              gpu_download (v2, dv, ncache * 2), "download");

  /* reference q, new k and v, and the cache as it must be afterwards */
  uint16_t *qr = malloc ((size_t) nq * d * 2);
  nmse_acc eq = { 0 }, ek = { 0 }, e = { 0 };
  for (int h = 0; h < nq; h++)
    ref_norm_rope (qkv + (size_t) h * d, qn, pos, theta, scaling, qr + (size_t) h * d);
  for (int i = 0; i < nq * d; i++)
    nmse_add (&eq, ke_bf16_to_f32 (qo[i]), ke_bf16_to_f32 (qr[i]));
  const int slot = pos % capacity;
  size_t v_diff = 0, other_diff = 0;
  for (int h = 0; h < nkv; h++) {
    uint16_t kref[256];
    ref_norm_rope (qkv + (size_t) (nq + h) * d, kn, pos, theta, scaling, kref);
    for (int i = 0; i < d; i++) {
      size_t at = ((size_t) h * capacity + slot) * d + i;
      nmse_add (&ek, ke_bf16_to_f32 (k2[at]), ke_bf16_to_f32 (kref[i]));
      k[at] = kref[i];
      v[at] = ke_f32_to_bf16 (ke_round_bf16 (qkv[(size_t) (nq + nkv + h) * d + i]));
      v_diff += v2[at] != v[at];
    }
  }
  for (size_t i = 0; i < ncache; i++)
    if (i / d % capacity != (size_t) slot)
      other_diff += (k2[i] != k[i]) + (v2[i] != v[i]);
  /* the attention reference uses the device's q (checked above) and the reference cache */
  ref_attn_compare (qo, k, v, o, pos, window, capacity, scale, &e);
  ke_tap_diag ("fused pos %-6d window %-5d capacity %-5d cluster %-2d: o rel %.2e  q rel %.2e  "
               "k rel %.2e  v diff %zu  other slots changed %zu  unwritten %zu",
               pos, window, capacity, cluster, nmse_rel (&e), nmse_rel (&eq), nmse_rel (&ek),
               v_diff, other_diff, e.nan + eq.nan);
  KE_CHECK (e.nan == 0 && eq.nan == 0 && ek.nan == 0, "unwritten outputs");
  KE_CHECK (nmse_rel (&e) < 4e-3, "attention relative error %.2e", nmse_rel (&e));
  KE_CHECK (nmse_rel (&eq) < 4e-3 && nmse_rel (&ek) < 4e-3, "q/k off");
  KE_CHECK (v_diff == 0, "the value must be copied exactly");
  KE_CHECK (other_diff == 0, "%zu cache values outside slot %d changed", other_diff, slot);
  ke_cuda_free (dqkv); ke_cuda_free (dqn); ke_cuda_free (dkn); ke_cuda_free (dk);
  ke_cuda_free (dv); ke_cuda_free (dpos); ke_cuda_free (dq); ke_cuda_free (dout);
  free (qkv); free (k); free (v); free (o); free (qo); free (k2); free (v2); free (qr);
}

KE_TEST (attn_decode_fused)
{
  int cc = 0;
  if (!gpu_test_have_device (&cc))
    KE_SKIP ("no CUDA device");
  ke_attn_decode_args probe = { .n_q = 8, .n_kv = 4, .head_dim = 256, .capacity = 1024,
                                .window = 1024 };
  if (!ke_cuda_attn_decode_fused_usable (&probe)) {
    KE_CHECK (cc < 90, "the fused kernel must be usable on sm_90+ (cc %d)", cc);
    KE_SKIP ("no thread-block clusters before sm_90");
  }
  for (int cs = 8; cs <= 16; cs += 8) {
    check_fused (0, 1024, 1024, 1e4f, 1.0f, cs);       /* a single key */
    check_fused (5, 1024, 1024, 1e4f, 1.0f, cs);       /* fewer keys than blocks */
    check_fused (511, 0, 4096, 1e6f, 8.0f, cs);        /* global, scaled RoPE */
    check_fused (1023, 1024, 1024, 1e4f, 1.0f, cs);    /* window full, not wrapped */
    check_fused (1024, 1024, 1024, 1e4f, 1.0f, cs);    /* first wrap */
    check_fused (5000, 1024, 1024, 1e4f, 1.0f, cs);    /* wrapped ring */
    check_fused (777, 100, 128, 1e4f, 1.0f, cs);       /* window smaller than the ring */
    check_fused (4095, 0, 4096, 1e6f, 8.0f, cs);       /* the longest range it takes */
  }
  /* refusals: too long a range; the two argument sets disagreeing */
  ke_attn_decode_args big = probe;
  big.window = 0;
  big.capacity = KE_ATTN_FUSED_MAX_KEYS + 1;
  KE_CHECK (!ke_cuda_attn_decode_fused_usable (&big), "a %d-key cache must not be fused",
            big.capacity);
  ke_rope_args r = { .n_tokens = 1, .n_q = 8, .n_kv = 4, .head_dim = 256, .capacity = 512 };
  ke_error *error = NULL;
  KE_CHECK (!ke_cuda_attn_decode_fused (&r, &probe, NULL, &error) &&
            error->code == KE_ERROR_INVALID_ARGUMENT, "mismatched arguments must be refused");
  ke_error_free (error);
}

KE_TEST (attn_decode_rejects)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  ke_attn_decode_args a = { .n_q = 8, .n_kv = 4, .head_dim = 128, .capacity = 64, .scale = 1 };
  ke_error *error = NULL;
  KE_CHECK (!ke_cuda_attn_decode (&a, NULL, &error) && error->code == KE_ERROR_INVALID_ARGUMENT,
            "head_dim 128 must be refused");
  ke_error_free (error);
  error = NULL;
  a.head_dim = 256;
  a.window = 1024; /* ring of 64 */
  KE_CHECK (!ke_cuda_attn_decode (&a, NULL, &error) && error->code == KE_ERROR_INVALID_ARGUMENT,
            "a window larger than the ring must be refused");
  ke_error_free (error);
}

int
main (int argc, char **argv)
{
  gpu_test_init_seed ();
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (attn_decode_short),
    KE_TAP_ENTRY (attn_decode_sliding_ring),
    KE_TAP_ENTRY (attn_decode_long_global),
    KE_TAP_ENTRY (attn_decode_rejects),
    KE_TAP_ENTRY (attn_decode_fused),
  };
  return ke_tap_run (argc, argv, tests, 5);
}
