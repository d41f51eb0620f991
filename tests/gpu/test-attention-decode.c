/* test-attention-decode.c — split-K decode attention (ke_cuda_attn_decode) against a CPU
 * double reference: short contexts, sliding windows over a wrapped ring, long global ones.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The cache holds random bf16 keys/values in every slot (so reading a slot outside the
 * window changes the answer); the output is poisoned before each call.
 */
#include "ke-cuda-kernels.h"
#include "gpu-test-util.h"

static void
check_attn (int pos, int window, int capacity, int n_splits)
{
  const int nq = 8, nkv = 4, d = 256, g = nq / nkv;
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

  int lo = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
  double *s = malloc (sizeof (double) * (pos - lo + 1));
  nmse_acc e = { 0 };
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
      nmse_add (&e, ke_bf16_to_f32 (o[h * d + i]), acc / sum);
    }
  }
  ke_tap_diag ("pos %-6d window %-5d capacity %-6d splits %-3d: rel %.2e unwritten %zu", pos,
               window, capacity, n_splits, nmse_rel (&e), e.nan);
  KE_CHECK (e.nan == 0, "unwritten outputs");
  KE_CHECK (nmse_rel (&e) < 4e-3, "relative error %.2e", nmse_rel (&e)); /* bf16 output */
  ke_cuda_free (dq); ke_cuda_free (dk); ke_cuda_free (dv); ke_cuda_free (dpos);
  ke_cuda_free (dws); ke_cuda_free (dout);
  free (q); free (k); free (v); free (o); free (s);
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
  };
  return ke_tap_run (argc, argv, tests, 4);
}
