/* test-sampler.c — the device sampler (ke-cuda-sample.cu) against the CPU sampler
 * (engine/cpu/ke-sampler.c) on the same logits, for many settings and seeds.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Both consume one xoshiro256** stream (the draw u is made on the host), so they must pick
 * the same token.  Checked per case:
 *  - greedy: the same token, always;
 *  - sampling: the same candidates in the same order after top-k / top-p / min-p (ids are
 *    compared exactly: penalties and temperature are exact IEEE operations on both sides, so
 *    the sort keys are bit-identical), probabilities within 1e-5, and the same token.
 *    expf and the order of double sums differ by an ulp between host and device, so a cut
 *    or a draw may land on the other side of a boundary when it lies within 1e-6 of it;
 *    such cases are counted (and reported), and must stay rare.
 * Logits: random normals at several scales, with ties (copied values), -inf entries and
 * -0.0, on a 262 208-token vocabulary (Gemma 3) and a small one.
 */
#include <stdlib.h>
#include <string.h>

#include "ke-cuda-kernels.h"
#include "ke-cpu.h"
#include "gpu-test-util.h"

typedef struct {
  int mismatch_hard; /* differences no rounding explains */
  int boundary;      /* differences at a boundary (within 1e-6) */
  int cases;
  double max_prob_rel;
} tally;

static double
gauss (void)
{
  double s = 0;
  for (int i = 0; i < 6; i++)
    s += gpu_rand ();
  return s / sqrt (2.0); /* ~ N(0, 1): six U(-1,1) have variance 2 */
}

static void
make_logits (float *l, int vocab, float scale)
{
  for (int i = 0; i < vocab; i++)
    l[i] = (float) (gauss () * scale);
  for (int i = 0; i < vocab / 50; i++) { /* ties, including among the largest */
    int a = (int) ((gpu_rand () * 0.5 + 0.5) * vocab) % vocab;
    int b = (int) ((gpu_rand () * 0.5 + 0.5) * vocab) % vocab;
    l[b] = l[a];
  }
  for (int i = 0; i < 16; i++)
    l[(int) ((gpu_rand () * 0.5 + 0.5) * vocab) % vocab] = -INFINITY;
  l[(int) ((gpu_rand () * 0.5 + 0.5) * vocab) % vocab] = -0.0f;
  /* a few peaks, so that top-p keeps few tokens in some cases */
  for (int i = 0; i < 3; i++)
    l[(int) ((gpu_rand () * 0.5 + 0.5) * vocab) % vocab] = 4.0f * scale;
}

/* Whether the cut of the CPU's candidate list between n_a and n_b can be explained by a
 * probability within tol of a top-p or min-p threshold. */
static bool
cut_at_boundary (const float *probs, uint32_t n_topk, uint32_t n_a, uint32_t n_b,
                 const ke_sampling *p, double tol)
{
  uint32_t r = n_a < n_b ? n_a : n_b;
  if (p->top_p > 0.0f && p->top_p < 1.0f) {
    double tail = 0;
    for (uint32_t i = r; i < n_topk; i++)
      tail += probs[i];
    if (fabs (tail - (1.0 - (double) p->top_p)) <= tol)
      return true;
  }
  if (p->min_p > 0.0f && r < n_topk && fabs (probs[r] - p->min_p * probs[0]) <= tol * probs[0])
    return true;
  return false;
}

static void
run_case (ke_cuda_sampler *gs, ke_cuda_token_sets *sets, ke_sampler *cs, int vocab,
          const ke_sampling *p, float scale, uint64_t seed, tally *t)
{
  float *logits = malloc ((size_t) vocab * 4), *work = malloc ((size_t) vocab * 4);
  float *g_probs = malloc ((size_t) vocab * 4);
  int32_t *g_ids = malloc ((size_t) vocab * 4);
  KE_REQUIRE (logits && work && g_probs && g_ids, "host buffers");
  make_logits (logits, vocab, scale);
  /* history: 600 ids from a small range (repeats), the last 40 generated */
  enum { N_HIST = 600, N_GEN = 40 };
  ke_token hist[N_HIST];
  for (int i = 0; i < N_HIST; i++)
    hist[i] = (ke_token) (((gpu_rand () * 0.5 + 0.5) * 4000.0)) % vocab;
  hist[7] = -3; /* out of range ids are ignored by both */
  hist[8] = vocab + 5;
  const ke_token *gen = hist + N_HIST - N_GEN;

  void *d_logits = gpu_upload (logits, (size_t) vocab * 4), *d_token = gpu_poisoned (4);
  KE_REQUIRE (d_logits && d_token, "device buffers");
  ke_error *error = NULL;
  bool ok = ke_cuda_token_sets_add (sets, 0, true, hist, 300, NULL, &error) &&
            ke_cuda_token_sets_add (sets, 0, false, hist + 300, N_HIST - 300, NULL, &error) &&
            ke_cuda_token_sets_add (sets, 1, true, gen, N_GEN, NULL, &error);
  ke_rng rng;
  ke_rng_seed (&rng, seed);
  const bool greedy = !(p->temperature > 0.0f);
  double u = greedy ? 0.0 : ke_rng_uniform (&rng);
  ke_cuda_sample_params gp = { .softcap = 0.0f, .temperature = p->temperature,
                               .top_k = p->top_k, .top_p = p->top_p, .min_p = p->min_p,
                               .repetition_penalty = p->repetition_penalty,
                               .presence_penalty = p->presence_penalty, .u = u };
  ok = ok && ke_cuda_sampler_run (gs, sets, d_logits, &gp, d_token, NULL, &error);
  int32_t g_tok = -1;
  int g_n = 0;
  ok = ok && gpu_download (&g_tok, d_token, 4);
  if (ok && !greedy)
    ok = ke_cuda_sampler_candidates (gs, g_ids, g_probs, &g_n, &error);
  if (!ok) {
    KE_CHECK (false, "device sampler: %s", error ? error->message : "?");
    ke_error_free (error);
    goto out;
  }

  memcpy (work, logits, (size_t) vocab * 4);
  const uint32_t *order;
  const float *probs;
  uint32_t n = ke_sampler_candidates (cs, work, (uint32_t) vocab, p, hist, N_HIST, gen, N_GEN,
                                      &order, &probs);
  t->cases++;
  if (greedy) {
    KE_CHECK (g_tok == (int32_t) order[0], "greedy: device %d, host %u", g_tok, order[0]);
    goto out;
  }
  uint32_t n_topk = p->top_k > 0 && p->top_k < vocab ? (uint32_t) p->top_k : (uint32_t) vocab;
  ke_token c_tok = ke_sampler_draw (order, probs, n, u);
  uint32_t common = (uint32_t) g_n < n ? (uint32_t) g_n : n;
  bool ids_same = true;
  for (uint32_t i = 0; i < common && ids_same; i++) {
    ids_same = (uint32_t) g_ids[i] == order[i];
    double rel = fabs ((double) g_probs[i] - probs[i]) / (probs[i] > 1e-30 ? probs[i] : 1e-30);
    if (probs[i] > 1e-20 && rel > t->max_prob_rel)
      t->max_prob_rel = rel;
  }
  if (!ids_same) {
    t->mismatch_hard++;
    KE_CHECK (false, "candidate order differs (seed %llu, T %.2f k %d p %.2f min_p %.2f)",
              (unsigned long long) seed, p->temperature, p->top_k, p->top_p, p->min_p);
    goto out;
  }
  if ((uint32_t) g_n != n) {
    if (cut_at_boundary (probs, n_topk, n, (uint32_t) g_n, p, 1e-6)) {
      t->boundary++;
    } else {
      t->mismatch_hard++;
      KE_CHECK (false, "kept %d on the device, %u on the host (T %.2f k %d p %.2f min_p %.2f)",
                g_n, n, p->temperature, p->top_k, p->top_p, p->min_p);
    }
    goto out;
  }
  if (g_tok != c_tok) {
    /* the draw's boundary: Σ up to the earlier of the two tokens vs u · total */
    double total = 0, acc = 0;
    for (uint32_t i = 0; i < n; i++)
      total += probs[i];
    bool near = false;
    for (uint32_t i = 0; i < n; i++) {
      acc += probs[i];
      if ((ke_token) order[i] == c_tok || order[i] == (uint32_t) g_tok) {
        near = fabs (acc - u * total) <= 1e-6 * total;
        break;
      }
    }
    if (near) {
      t->boundary++;
    } else {
      t->mismatch_hard++;
      KE_CHECK (false, "token: device %d, host %d (u %.9f)", g_tok, c_tok, u);
    }
  }
out:
  ke_cuda_free (d_logits);
  ke_cuda_free (d_token);
  free (logits);
  free (work);
  free (g_probs);
  free (g_ids);
}

static void
sweep (int vocab, int n_seeds)
{
  ke_error *error = NULL;
  ke_cuda_sampler *gs = ke_cuda_sampler_new (vocab, &error);
  ke_cuda_token_sets *sets = gs ? ke_cuda_token_sets_new (vocab, &error) : NULL;
  ke_sampler *cs = ke_sampler_new ((uint32_t) vocab, &error);
  KE_REQUIRE (gs && sets && cs, "samplers: %s", error ? error->message : "?");
  static const struct {
    float temperature;
    int top_k;
    float top_p, min_p, rep, pres;
  } settings[] = {
    { 0.0f, 0, 1.0f, 0.0f, 1.0f, 0.0f },   /* greedy */
    { 0.0f, 0, 1.0f, 0.0f, 1.3f, 0.5f },   /* greedy with penalties */
    { 1.0f, 64, 0.95f, 0.0f, 1.0f, 0.0f }, /* Gemma 3's generation_config */
    { 0.7f, 40, 1.0f, 0.0f, 1.0f, 0.0f },
    { 1.0f, 0, 1.0f, 0.0f, 1.0f, 0.0f },   /* the whole vocabulary */
    { 1.0f, 0, 0.9f, 0.0f, 1.0f, 0.0f },
    { 1.3f, 0, 0.5f, 0.05f, 1.1f, 0.3f },
    { 1.0f, 0, 1.0f, 0.1f, 1.0f, 0.0f },
    { 0.8f, 1000, 0.95f, 0.02f, 1.2f, 0.0f },
    { 1.0f, 1, 1.0f, 0.0f, 1.0f, 0.0f },
    { 2.0f, 64, 0.99f, 0.0f, 1.0f, -0.4f },
  };
  const int n_set = (int) (sizeof settings / sizeof settings[0]);
  static const float scales[] = { 0.5f, 2.0f, 6.0f, 0.0f }; /* 0: all ties (but the −inf) */
  tally t = { 0 };
  for (int s = 0; s < n_seeds; s++)
    for (int k = 0; k < n_set; k++) {
      ke_sampling p = { .temperature = settings[k].temperature, .top_k = settings[k].top_k,
                        .top_p = settings[k].top_p, .min_p = settings[k].min_p,
                        .repetition_penalty = settings[k].rep,
                        .presence_penalty = settings[k].pres };
      run_case (gs, sets, cs, vocab, &p, scales[(s + k) % 4], gpu_test_seed + 1000 * s + k, &t);
    }
  ke_tap_diag ("vocab %d: %d cases, %d at a rounding boundary, %d unexplained; max prob rel. "
               "diff %.2e", vocab, t.cases, t.boundary, t.mismatch_hard, t.max_prob_rel);
  KE_CHECK (t.boundary * 50 <= t.cases, "boundary cases must be rare (%d of %d)", t.boundary,
            t.cases);
  KE_CHECK (t.max_prob_rel < 1e-5, "probabilities differ by %.2e", t.max_prob_rel);
  ke_cuda_token_sets_free (sets);
  ke_cuda_sampler_free (gs);
  ke_sampler_free (cs);
}

KE_TEST (sampler_gemma_vocab)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  sweep (262208, 12);
}

KE_TEST (sampler_small_vocab)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  sweep (1000, 30);
}

KE_TEST (sampler_rejects)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  ke_error *error = NULL;
  ke_cuda_sampler *gs = ke_cuda_sampler_new (100, &error);
  KE_REQUIRE (gs, "sampler");
  void *d = gpu_upload (NULL, 400);
  ke_cuda_sample_params p = { .temperature = 1.0f, .u = 1.0 };
  KE_CHECK (!ke_cuda_sampler_run (gs, NULL, d, &p, d, NULL, &error) &&
              error->code == KE_ERROR_INVALID_ARGUMENT, "u = 1 must be refused");
  ke_error_free (error);
  ke_cuda_free (d);
  ke_cuda_sampler_free (gs);
}

int
main (int argc, char **argv)
{
  gpu_test_init_seed ();
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (sampler_gemma_vocab),
    KE_TAP_ENTRY (sampler_small_vocab),
    KE_TAP_ENTRY (sampler_rejects),
  };
  return ke_tap_run (argc, argv, tests, 3);
}
