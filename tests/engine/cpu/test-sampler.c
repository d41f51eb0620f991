/* test-sampler.c — the sampler: filters by definition, statistics, determinism.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ke-tap.h"
#include "ke-internal.h"
#include "ke-cpu.h"

static ke_sampling
params (float temperature)
{
  ke_sampling p;
  ke_sampling_init (&p, NULL);
  p.temperature = temperature;
  return p;
}

/* Frequencies of each id over n draws from log(probs). */
static void
draw (ke_sampler *s, const double *probs, uint32_t v, const ke_sampling *p, int n,
      double *freq, uint64_t seed)
{
  ke_rng rng;
  ke_rng_seed (&rng, seed);
  float logits[16];
  memset (freq, 0, v * sizeof (double));
  for (int i = 0; i < n; i++) {
    for (uint32_t k = 0; k < v; k++)
      logits[k] = (float) log (probs[k]);
    ke_token t = ke_sampler_sample (s, logits, v, p, NULL, 0, NULL, 0, &rng);
    freq[t] += 1.0 / n;
  }
}

KE_TEST (greedy)
{
  ke_error *error = NULL;
  ke_sampler *s = ke_sampler_new (8, &error);
  KE_REQUIRE (s, "sampler");
  ke_sampling p = params (0.0f);
  ke_rng rng;
  ke_rng_seed (&rng, 1);
  float l[5] = { 0.1f, 2.0f, -1.0f, 2.0f, 1.9f };
  KE_CHECK (ke_sampler_sample (s, l, 5, &p, NULL, 0, NULL, 0, &rng) == 1, "argmax, lowest id on ties");
  ke_sampler_free (s);
}

KE_TEST (penalties)
{
  ke_error *error = NULL;
  ke_sampler *s = ke_sampler_new (8, &error);
  KE_REQUIRE (s, "sampler");
  ke_rng rng;
  ke_rng_seed (&rng, 1);
  ke_sampling p = params (0.0f);
  ke_token hist[3] = { 0, 1, 0 };
  /* HF repetition penalty: positive logits divided, negative multiplied, once per id */
  p.repetition_penalty = 2.0f;
  float l[3] = { 3.0f, -2.0f, 1.0f };
  KE_CHECK (ke_sampler_sample (s, l, 3, &p, hist, 3, NULL, 0, &rng) == 0, "3/2 > 1");
  KE_CHECK (l[0] == 1.5f && l[1] == -4.0f && l[2] == 1.0f, "penalized %g %g %g", l[0], l[1], l[2]);
  p.repetition_penalty = 4.0f;
  float l2[3] = { 3.0f, -2.0f, 1.0f };
  KE_CHECK (ke_sampler_sample (s, l2, 3, &p, hist, 3, NULL, 0, &rng) == 2, "3/4 < 1");
  /* presence penalty over generated tokens only */
  p.repetition_penalty = 1.0f;
  p.presence_penalty = 0.5f;
  float l3[2] = { 1.0f, 0.9f };
  ke_token gen[2] = { 0, 0 };
  KE_CHECK (ke_sampler_sample (s, l3, 2, &p, hist, 3, gen, 2, &rng) == 1, "presence");
  KE_CHECK (l3[0] == 0.5f, "subtracted once: %g", l3[0]);
  float l4[2] = { 1.0f, 0.9f };
  KE_CHECK (ke_sampler_sample (s, l4, 2, &p, hist, 3, NULL, 0, &rng) == 0,
            "prompt tokens carry no presence penalty");
  ke_sampler_free (s);
}

KE_TEST (distribution)
{
  ke_error *error = NULL;
  ke_sampler *s = ke_sampler_new (8, &error);
  KE_REQUIRE (s, "sampler");
  const double probs[4] = { 0.5, 0.3, 0.15, 0.05 };
  double f[4];
  const int n = 40000; /* binomial sd <= 0.0025: 0.012 is ~5 sd */
  ke_sampling p = params (1.0f);
  draw (s, probs, 4, &p, n, f, 11);
  for (int i = 0; i < 4; i++)
    KE_CHECK (fabs (f[i] - probs[i]) < 0.012, "plain: f[%d] = %.4f", i, f[i]);
  /* top-k 2 → 0.5/0.8, 0.3/0.8 */
  p.top_k = 2;
  draw (s, probs, 4, &p, n, f, 12);
  KE_CHECK (fabs (f[0] - 0.625) < 0.012 && fabs (f[1] - 0.375) < 0.012 && f[2] == 0 && f[3] == 0,
            "top-k: %.4f %.4f %.4f %.4f", f[0], f[1], f[2], f[3]);
  /* top-p 0.8 (HF): ascending cumulative 0.05, 0.2, 0.5, 1 — drop those <= 0.2 */
  p.top_k = 0;
  p.top_p = 0.8f;
  draw (s, probs, 4, &p, n, f, 13);
  KE_CHECK (fabs (f[0] - 0.625) < 0.012 && f[2] == 0 && f[3] == 0, "top-p 0.8: %.4f %.4f %.4f",
            f[0], f[1], f[2]);
  /* top-p 0.85: drop only the 0.05 */
  p.top_p = 0.85f;
  draw (s, probs, 4, &p, n, f, 14);
  KE_CHECK (f[2] > 0.1 && f[3] == 0, "top-p 0.85: %.4f %.4f", f[2], f[3]);
  /* min-p 0.5: keep p >= 0.25 */
  p.top_p = 1.0f;
  p.min_p = 0.5f;
  draw (s, probs, 4, &p, n, f, 15);
  KE_CHECK (fabs (f[0] - 0.625) < 0.012 && f[2] == 0, "min-p: %.4f %.4f", f[0], f[2]);
  /* temperature 0.5 squares the odds: 0.25 : 0.09 : 0.0225 : 0.0025 */
  p.min_p = 0.0f;
  p.temperature = 0.5f;
  draw (s, probs, 4, &p, n, f, 16);
  double z = 0.25 + 0.09 + 0.0225 + 0.0025;
  KE_CHECK (fabs (f[0] - 0.25 / z) < 0.012 && fabs (f[1] - 0.09 / z) < 0.012, "temperature: %.4f %.4f",
            f[0], f[1]);
  ke_sampler_free (s);
}

KE_TEST (determinism)
{
  ke_error *error = NULL;
  ke_sampler *s = ke_sampler_new (16, &error);
  KE_REQUIRE (s, "sampler");
  ke_sampling p = params (1.0f);
  ke_token a[64], b[64], c[64];
  for (int run = 0; run < 3; run++) {
    ke_rng rng;
    ke_rng_seed (&rng, run == 2 ? 43 : 42);
    for (int i = 0; i < 64; i++) {
      float l[16];
      for (int k = 0; k < 16; k++)
        l[k] = (float) (k % 5);
      ke_token t = ke_sampler_sample (s, l, 16, &p, NULL, 0, NULL, 0, &rng);
      (run == 0 ? a : run == 1 ? b : c)[i] = t;
    }
  }
  KE_CHECK (memcmp (a, b, sizeof a) == 0, "same seed, same tokens");
  KE_CHECK (memcmp (a, c, sizeof a) != 0, "another seed, other tokens");
  ke_sampler_free (s);
}

KE_TEST (sampling_defaults)
{
  ke_sampling p;
  ke_sampling_init (&p, NULL);
  KE_CHECK (p.temperature == 0.0f && p.top_k == 0 && p.top_p == 1.0f && p.min_p == 0.0f &&
            p.repetition_penalty == 1.0f && p.presence_penalty == 0.0f, "greedy defaults");
}

KE_TAP_MAIN (KE_TAP_ENTRY (greedy), KE_TAP_ENTRY (penalties), KE_TAP_ENTRY (distribution),
             KE_TAP_ENTRY (determinism), KE_TAP_ENTRY (sampling_defaults))
