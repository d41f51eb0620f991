/* test-flash-prefill.c — prefill attention (ke_cuda_flash_prefill, the tensor-core kernel, and
 * ke_cuda_attn_prefill_simt, the f32 one) against a CPU double reference: causal, sliding
 * window over a wrapped ring cache, bidirectional image runs (longer than the window too),
 * GQA 8/4 and other head groupings, head_dim 64/128/256, several chunks through the real
 * KV scatter; then the kernels' speed on the Gemma 3 4b shape.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every cache slot holds random keys/values (a slot read outside the window changes the
 * answer); outputs are poisoned (NaN) before each call.
 */
#include <time.h>

#include "ke-cuda-prefill.h"
#include "gpu-test-util.h"

typedef struct {
  int hd, nq, nkv, n, pos0, cap, window;
  int n_img, img_start[4], img_len[4];
} attn_case;

enum { IMPL_FLASH, IMPL_SIMT };

static const char *const impl_name[] = { "flash", "simt" };

static bool
run_impl (int impl, const ke_attn_prefill_args *a, ke_error **error)
{
  return impl == IMPL_FLASH ? ke_cuda_flash_prefill (a, NULL, error)
                            : ke_cuda_attn_prefill_simt (a, NULL, error);
}

static bool
visible (int i, int j, int window, int gi, int gj)
{
  if (gi >= 0 && gi == gj)
    return true;
  return j <= i && (window == 0 || j + window > i);
}

/* o_ref[t][h][:] for the case: keys before pos0 from the cache ring, the batch's from new. */
static void
reference (const attn_case *c, const uint16_t *q, const uint16_t *kc, const uint16_t *vc,
           const uint16_t *kn, const uint16_t *vn, const int32_t *group, float scale,
           double *o_ref)
{
  const int hd = c->hd, G = c->nq / c->nkv, n_keys = c->pos0 + c->n;
  double *s = malloc (sizeof (double) * n_keys);
  for (int t = 0; t < c->n; t++)
    for (int h = 0; h < c->nq; h++) {
      const int i = c->pos0 + t, kvh = h / G;
      const uint16_t *qr = q + ((size_t) t * c->nq + h) * hd;
      double mx = -INFINITY;
      for (int j = 0; j < n_keys; j++) {
        const int gj = j >= c->pos0 ? group[j - c->pos0] : -1;
        s[j] = -INFINITY;
        if (!visible (i, j, c->window, group[t], gj))
          continue;
        const uint16_t *kr = j < c->pos0 ? kc + ((size_t) kvh * c->cap + j % c->cap) * hd
                                         : kn + ((size_t) kvh * c->n + j % c->n) * hd;
        double dot = 0;
        for (int d = 0; d < hd; d++)
          dot += (double) ke_bf16_to_f32 (qr[d]) * ke_bf16_to_f32 (kr[d]);
        s[j] = dot * scale;
        mx = fmax (mx, s[j]);
      }
      double sum = 0;
      for (int j = 0; j < n_keys; j++)
        sum += (s[j] = s[j] == -INFINITY ? 0.0 : exp (s[j] - mx));
      double *out = o_ref + ((size_t) t * c->nq + h) * hd;
      for (int d = 0; d < hd; d++)
        out[d] = 0;
      for (int j = 0; j < n_keys; j++) {
        if (s[j] == 0.0)
          continue;
        const uint16_t *vr = j < c->pos0 ? vc + ((size_t) kvh * c->cap + j % c->cap) * hd
                                         : vn + ((size_t) kvh * c->n + j % c->n) * hd;
        for (int d = 0; d < hd; d++)
          out[d] += s[j] * ke_bf16_to_f32 (vr[d]);
      }
      for (int d = 0; d < hd; d++)
        out[d] /= sum;
    }
  free (s);
}

static void
check_case (const char *name, const attn_case *c, int impl)
{
  const int hd = c->hd;
  const float scale = 1.0f / sqrtf ((float) hd);
  size_t nqv = (size_t) c->n * c->nq * hd, ncache = (size_t) c->nkv * c->cap * hd;
  size_t nnew = (size_t) c->nkv * c->n * hd;
  uint16_t *q = malloc (nqv * 2), *kc = malloc (ncache * 2), *vc = malloc (ncache * 2);
  uint16_t *kn = malloc (nnew * 2), *vn = malloc (nnew * 2), *o = malloc (nqv * 2);
  int32_t *group = malloc (sizeof (int32_t) * c->n), gs[4], gl[4];
  double *o_ref = malloc (sizeof (double) * nqv);
  fill_bf16 (q, nqv, 2.0f);
  fill_bf16 (kc, ncache, 2.0f);
  fill_bf16 (vc, ncache, 1.0f);
  fill_bf16 (kn, nnew, 2.0f);
  fill_bf16 (vn, nnew, 1.0f);
  for (int t = 0; t < c->n; t++)
    group[t] = -1;
  for (int g = 0; g < c->n_img; g++) {
    gs[g] = c->img_start[g];
    gl[g] = c->img_len[g];
    for (int r = 0; r < gl[g]; r++)
      group[gs[g] + r] = g;
  }
  void *dq = gpu_upload (q, nqv * 2), *dkc = gpu_upload (kc, ncache * 2);
  void *dvc = gpu_upload (vc, ncache * 2), *dkn = gpu_upload (kn, nnew * 2);
  void *dvn = gpu_upload (vn, nnew * 2), *dg = gpu_upload (group, 4 * (size_t) c->n);
  void *dgs = gpu_upload (gs, sizeof gs), *dgl = gpu_upload (gl, sizeof gl);
  void *dout = gpu_poisoned (nqv * 2);
  KE_REQUIRE (dq && dkc && dvc && dkn && dvn && dg && dgs && dgl && dout, "device buffers");
  ke_attn_prefill_args a = { .q = dq, .k_cache = dkc, .v_cache = dvc, .k_new = dkn,
                             .v_new = dvn, .group = dg, .group_start = dgs, .group_len = dgl,
                             .n_tokens = c->n, .pos0 = c->pos0, .n_q = c->nq, .n_kv = c->nkv,
                             .head_dim = hd, .capacity = c->cap, .window = c->window,
                             .scale = scale, .o = dout };
  ke_error *error = NULL;
  for (int rep = 0; rep < 2; rep++) {
    KE_REQUIRE (ke_cuda_memset (dout, 0xff, nqv * 2, &error), "poison: %s", error->message);
    KE_REQUIRE (run_impl (impl, &a, &error), "attention: %s", error->message);
  }
  KE_REQUIRE (gpu_download (o, dout, nqv * 2), "download");
  reference (c, q, kc, vc, kn, vn, group, scale, o_ref);
  nmse_acc e = { 0 };
  for (size_t x = 0; x < nqv; x++)
    nmse_add (&e, ke_bf16_to_f32 (o[x]), o_ref[x]);
  ke_tap_diag ("%-5s %-28s hd %3d heads %d/%d n %4d pos0 %4d cap %4d window %4d images %d: "
               "rel %.2e unwritten %zu", impl_name[impl], name, hd, c->nq, c->nkv, c->n,
               c->pos0, c->cap, c->window, c->n_img, nmse_rel (&e), e.nan);
  KE_CHECK (e.nan == 0, "%s: unwritten outputs", name);
  KE_CHECK (nmse_rel (&e) < 8e-3, "%s: relative error %.2e", name, nmse_rel (&e));
  ke_cuda_free (dq); ke_cuda_free (dkc); ke_cuda_free (dvc); ke_cuda_free (dkn);
  ke_cuda_free (dvn); ke_cuda_free (dg); ke_cuda_free (dgs); ke_cuda_free (dgl);
  ke_cuda_free (dout);
  free (q); free (kc); free (vc); free (kn); free (vn); free (o); free (group); free (o_ref);
}

static const struct {
  const char *name;
  attn_case c;
} cases[] = {
  { "global, first chunk", { 256, 8, 4, 300, 0, 512, 0, 0, { 0 }, { 0 } } },
  { "global, after a chunk", { 256, 8, 4, 333, 517, 1024, 0, 0, { 0 }, { 0 } } },
  { "sliding, wrapped ring", { 256, 8, 4, 700, 3001, 1100, 1024, 0, { 0 }, { 0 } } },
  { "sliding, window < chunk", { 256, 8, 4, 500, 40, 300, 100, 0, { 0 }, { 0 } } },
  { "images, global", { 256, 8, 4, 260, 50, 512, 0, 2, { 10, 120 }, { 64, 100 } } },
  { "images longer than window", { 256, 8, 4, 260, 50, 512, 32, 3, { 0, 70, 200 },
                                   { 40, 100, 60 } } },
  { "hd 128, MHA", { 128, 4, 4, 150, 70, 256, 64, 1, { 20 }, { 40 } } },
  { "hd 64, 4 heads per kv", { 64, 8, 2, 90, 13, 128, 0, 1, { 33 }, { 16 } } },
  { "a single token", { 256, 8, 4, 1, 77, 128, 1024, 0, { 0 }, { 0 } } },
};

KE_TEST (flash_prefill_cases)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case (cases[i].name, &cases[i].c, IMPL_FLASH);
}

KE_TEST (simt_prefill_cases)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case (cases[i].name, &cases[i].c, IMPL_SIMT);
}

/* A long prompt in chunks, as the backend runs it: each chunk's keys go to k_new/v_new
 * (slot p % chunk), attention, then ke_cuda_kv_scatter into the ring of `cap` slots.
 * Reference: sliding-window attention over the whole prompt. */
KE_TEST (flash_prefill_chunks_through_ring)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  const int hd = 256, nq = 8, nkv = 4, window = 1024, cap = 1024 + 64;
  const int chunks[] = { 1500, 600, 37 }, n_chunks = 3;
  int total = 0;
  for (int c = 0; c < n_chunks; c++)
    total += chunks[c];
  const float scale = 1.0f / 16.0f;
  /* truth[kvh][p][d] */
  size_t nkvt = (size_t) nkv * total * hd;
  uint16_t *kt = malloc (nkvt * 2), *vt = malloc (nkvt * 2);
  uint16_t *q = malloc ((size_t) total * nq * hd * 2), *o = malloc ((size_t) total * nq * hd * 2);
  uint16_t *kn = malloc ((size_t) nkv * chunks[0] * hd * 2);
  uint16_t *vn = malloc ((size_t) nkv * chunks[0] * hd * 2);
  int32_t *group = malloc (4 * (size_t) chunks[0]), zero = 0;
  fill_bf16 (kt, nkvt, 2.0f);
  fill_bf16 (vt, nkvt, 1.0f);
  fill_bf16 (q, (size_t) total * nq * hd, 2.0f);
  for (int t = 0; t < chunks[0]; t++)
    group[t] = -1;
  size_t ring = (size_t) nkv * cap * hd;
  void *dkc = gpu_poisoned (ring * 2), *dvc = gpu_poisoned (ring * 2);
  void *dkn = gpu_upload (NULL, (size_t) nkv * chunks[0] * hd * 2);
  void *dvn = gpu_upload (NULL, (size_t) nkv * chunks[0] * hd * 2);
  void *dq = gpu_upload (q, (size_t) total * nq * hd * 2);
  void *dout = gpu_poisoned ((size_t) total * nq * hd * 2);
  void *dg = gpu_upload (group, 4 * (size_t) chunks[0]), *dz = gpu_upload (&zero, 4);
  KE_REQUIRE (dkc && dvc && dkn && dvn && dq && dout && dg && dz, "device buffers");
  ke_error *error = NULL;
  int pos0 = 0;
  for (int c = 0; c < n_chunks; c++) {
    const int n = chunks[c];
    for (int h = 0; h < nkv; h++)
      for (int t = 0; t < n; t++) {
        const int p = pos0 + t;
        memcpy (kn + ((size_t) h * n + p % n) * hd, kt + ((size_t) h * total + p) * hd, hd * 2);
        memcpy (vn + ((size_t) h * n + p % n) * hd, vt + ((size_t) h * total + p) * hd, hd * 2);
      }
    KE_REQUIRE (ke_cuda_memcpy_h2d (dkn, kn, (size_t) nkv * n * hd * 2, &error) &&
                ke_cuda_memcpy_h2d (dvn, vn, (size_t) nkv * n * hd * 2, &error),
                "upload: %s", error->message);
    ke_attn_prefill_args a = { .q = (uint16_t *) dq + (size_t) pos0 * nq * hd, .k_cache = dkc,
                               .v_cache = dvc, .k_new = dkn, .v_new = dvn, .group = dg,
                               .group_start = dz, .group_len = dz, .n_tokens = n, .pos0 = pos0,
                               .n_q = nq, .n_kv = nkv, .head_dim = hd, .capacity = cap,
                               .window = window, .scale = scale,
                               .o = (uint16_t *) dout + (size_t) pos0 * nq * hd };
    KE_REQUIRE (ke_cuda_attn_prefill (&a, NULL, &error) &&
                ke_cuda_kv_scatter (dkn, dvn, dkc, dvc, n, pos0, cap, nkv, hd, NULL, &error) &&
                ke_cuda_synchronize (&error), "chunk %d: %s", c, error->message);
    pos0 += n;
  }
  KE_REQUIRE (gpu_download (o, dout, (size_t) total * nq * hd * 2), "download");
  nmse_acc e = { 0 };
  double *s = malloc (sizeof (double) * window), acc[256];
  for (int i = 0; i < total; i++)
    for (int h = 0; h < nq; h++) {
      const int kvh = h / (nq / nkv), lo = i - window + 1 > 0 ? i - window + 1 : 0;
      const uint16_t *qr = q + ((size_t) i * nq + h) * hd;
      double mx = -INFINITY, sum = 0;
      for (int j = lo; j <= i; j++) {
        const uint16_t *kr = kt + ((size_t) kvh * total + j) * hd;
        double dot = 0;
        for (int d = 0; d < hd; d++)
          dot += (double) ke_bf16_to_f32 (qr[d]) * ke_bf16_to_f32 (kr[d]);
        s[j - lo] = dot * scale;
        mx = fmax (mx, s[j - lo]);
      }
      for (int d = 0; d < hd; d++)
        acc[d] = 0;
      for (int j = lo; j <= i; j++) {
        const double p = exp (s[j - lo] - mx);
        const uint16_t *vr = vt + ((size_t) kvh * total + j) * hd;
        sum += p;
        for (int d = 0; d < hd; d++)
          acc[d] += p * ke_bf16_to_f32 (vr[d]);
      }
      for (int d = 0; d < hd; d++)
        nmse_add (&e, ke_bf16_to_f32 (o[((size_t) i * nq + h) * hd + d]), acc[d] / sum);
    }
  ke_tap_diag ("chunks 1500 + 600 + 37 through a ring of %d, window %d: rel %.2e unwritten %zu",
               cap, window, nmse_rel (&e), e.nan);
  KE_CHECK (e.nan == 0, "unwritten outputs");
  KE_CHECK (nmse_rel (&e) < 8e-3, "relative error %.2e", nmse_rel (&e));
  ke_cuda_free (dkc); ke_cuda_free (dvc); ke_cuda_free (dkn); ke_cuda_free (dvn);
  ke_cuda_free (dq); ke_cuda_free (dout); ke_cuda_free (dg); ke_cuda_free (dz);
  free (kt); free (vt); free (q); free (o); free (kn); free (vn); free (group); free (s);
}

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Time per call (ms: mean of back-to-back launches after a warm-up) and
 * TFLOP/s counting only the visible (query, key) pairs: 4·head_dim FLOP per pair and head. */
static void
bench_shape (int n, int pos0, int window)
{
  const int hd = 256, nq = 8, nkv = 4, cap = window ? window + 2048 : pos0 + n;
  size_t nqv = (size_t) n * nq * hd, ncache = (size_t) nkv * cap * hd, nnew = (size_t) nkv * n * hd;
  uint16_t *h = malloc ((ncache > nqv ? ncache : nqv) * 2);
  fill_bf16 (h, ncache > nqv ? ncache : nqv, 1.0f);
  int32_t *group = malloc (4 * (size_t) n), zero = 0;
  for (int t = 0; t < n; t++)
    group[t] = -1;
  void *dq = gpu_upload (h, nqv * 2), *dkc = gpu_upload (h, ncache * 2);
  void *dvc = gpu_upload (h, ncache * 2), *dkn = gpu_upload (h, nnew * 2);
  void *dvn = gpu_upload (h, nnew * 2), *dout = gpu_poisoned (nqv * 2);
  void *dg = gpu_upload (group, 4 * (size_t) n), *dz = gpu_upload (&zero, 4);
  KE_REQUIRE (dq && dkc && dvc && dkn && dvn && dout && dg && dz, "device buffers");
  double pairs = 0;
  for (int t = 0; t < n; t++) {
    const int i = pos0 + t, lo = window && i - window + 1 > 0 ? i - window + 1 : 0;
    pairs += i - lo + 1;
  }
  const double flop = pairs * nq * hd * 4.0;
  ke_attn_prefill_args a = { .q = dq, .k_cache = dkc, .v_cache = dvc, .k_new = dkn,
                             .v_new = dvn, .group = dg, .group_start = dz, .group_len = dz,
                             .n_tokens = n, .pos0 = pos0, .n_q = nq, .n_kv = nkv, .head_dim = hd,
                             .capacity = cap, .window = window, .scale = 1.0f / 16.0f,
                             .o = dout };
  double ms[2];
  ke_error *error = NULL;
  for (int impl = 0; impl < 2; impl++) {
    const int reps = impl == IMPL_SIMT ? 3 : 20;
    bool ok = true;
    double t0 = 0;
    for (int r = -1; r < reps && ok; r++) { /* r = -1: warm-up */
      if (r == 0) {
        ok = ke_cuda_synchronize (&error);
        t0 = now_s ();
      }
      ok = ok && run_impl (impl, &a, &error);
    }
    KE_REQUIRE (ok && ke_cuda_synchronize (&error), "bench: %s", error->message);
    ms[impl] = (now_s () - t0) * 1e3 / reps;
  }
  ke_tap_diag ("bench hd 256, 8/4 heads, %4d queries at pos0 %5d, window %4d: flash %.3f ms "
               "(%.0f TFLOP/s), simt %.3f ms (%.1f TFLOP/s), %.1f×", n, pos0, window, ms[0],
               flop / ms[0] * 1e-9, ms[1], flop / ms[1] * 1e-9, ms[1] / ms[0]);
  ke_cuda_free (dq); ke_cuda_free (dkc); ke_cuda_free (dvc); ke_cuda_free (dkn);
  ke_cuda_free (dvn); ke_cuda_free (dout); ke_cuda_free (dg); ke_cuda_free (dz);
  free (h); free (group);
}

KE_TEST (flash_prefill_speed)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  bench_shape (512, 0, 0);
  bench_shape (2048, 0, 0);
  bench_shape (2048, 0, 1024);
  bench_shape (2048, 2048, 0);
  bench_shape (2048, 14336, 0);
  bench_shape (2048, 14336, 1024);
}

int
main (int argc, char **argv)
{
  gpu_test_init_seed ();
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (flash_prefill_cases),
    KE_TAP_ENTRY (simt_prefill_cases),
    KE_TAP_ENTRY (flash_prefill_chunks_through_ring),
    KE_TAP_ENTRY (flash_prefill_speed),
  };
  return ke_tap_run (argc, argv, tests, 4);
}
