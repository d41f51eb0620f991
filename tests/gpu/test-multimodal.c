/* test-multimodal.c — multimodal prompts on the CUDA backend (GPU vision tower + prefill)
 * against the CPU backend on a generated tiny checkpoint: logits at every position with
 * one and with two images, and the six-step conversation of tests/image-conversation.h
 * (each image through the tower exactly once, by ke_stats.images_encoded) whose step-5
 * logits must match the CPU backend's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ke-tap.h"
#include "ke-internal.h"
#include "ke-cuda.h"
#include "ke-checkpoint-writer.h"
#include "../image-conversation.h"

static char root[256];

static ke_model *
open_model (ke_backend_kind kind)
{
  ke_model_options o;
  ke_model_options_init (&o);
  o.backend = kind;
  o.skip_act_quant = true; /* W8A16 on both: the comparison is about the images */
  o.max_context = 2048;
  ke_error *error = NULL;
  ke_model *m = ke_model_open (root, &o, NULL, NULL, &error);
  if (!m) {
    ke_tap_diag ("open (%s): %s", kind == KE_BACKEND_CUDA ? "cuda" : "cpu", error->message);
    ke_error_free (error);
  }
  return m;
}

static uint32_t
argmax (const float *x, uint32_t n)
{
  uint32_t best = 0;
  for (uint32_t i = 1; i < n; i++)
    if (x[i] > x[best])
      best = i;
  return best;
}

/* max|g − c| / max|c| */
static double
rel_err (const float *g, const float *c, uint32_t n)
{
  double num = 0, den = 0;
  for (uint32_t i = 0; i < n; i++) {
    double d = fabs ((double) g[i] - c[i]);
    if (!(d <= num))
      num = d;
    den = fmax (den, fabs (c[i]));
  }
  return den > 0 ? num / den : num;
}

static void
compare_prompt (ke_model *cpu, ke_model *gpu, int step, const char *what)
{
  conv_images im;
  conv_images_init (&im);
  ke_prompt p = { 0 };
  ke_error *error = NULL;
  KE_REQUIRE (conv_prompt (gpu, &im, step, &p, &error), "prompt: %s", error ? error->message : "");
  uint32_t vocab = ke_model_get_info (gpu)->vocab_size, n = (uint32_t) p.n_ids;
  float *lc = malloc ((size_t) n * vocab * 4), *lg = malloc ((size_t) n * vocab * 4);
  ke_session *sc = ke_session_new (cpu, NULL, &error);
  ke_session *sg = sc ? ke_session_new (gpu, NULL, &error) : NULL;
  KE_REQUIRE (lc && lg && sc && sg, "sessions: %s", error ? error->message : "");
  ke_stats st = { 0 };
  bool ok = ke_session_prefill_all (sc, &p, lc, NULL, &error) &&
            ke_session_prefill_all (sg, &p, lg, &st, &error);
  KE_CHECK (ok, "prefill: %s", error ? error->message : "");
  /* A top-1 difference is an error unless it is a near tie: the CPU's logits of the two
   * tokens closer than twice the row's largest |GPU − CPU| (a random tiny model has such
   * ties; bf16 activations move logits by ~1 %). */
  double worst = 0;
  uint32_t diff = 0, ties = 0;
  for (uint32_t i = 0; ok && i < n; i++) {
    const float *g = lg + (size_t) i * vocab, *c = lc + (size_t) i * vocab;
    double e = rel_err (g, c, vocab);
    worst = e > worst || isnan (e) ? e : worst;
    uint32_t tg = argmax (g, vocab), tc = argmax (c, vocab);
    if (tg == tc)
      continue;
    double max_abs = 0;
    for (uint32_t v = 0; v < vocab; v++)
      max_abs = fmax (max_abs, fabs ((double) g[v] - c[v]));
    if ((double) c[tc] - c[tg] <= 2 * max_abs)
      ties++;
    else
      diff++;
  }
  ke_tap_diag ("%s: %u positions, %zu images: CUDA vs CPU logits rel. error max %.3g, top-1 "
               "differs at %u (+ %u near ties)", what, n, p.n_images, worst, diff, ties);
  KE_CHECK (worst < 3e-2 && diff == 0 && ties <= n / 20, "%s: logits differ", what);
  ke_error_free (error);
  ke_session_free (sc);
  ke_session_free (sg);
  ke_prompt_clear (&p);
  free (lc);
  free (lg);
}

KE_TEST (one_and_two_images)
{
  if (ke_cuda_device_count () == 0)
    KE_SKIP ("no CUDA device");
  ke_model *cpu = open_model (KE_BACKEND_CPU), *gpu = open_model (KE_BACKEND_CUDA);
  KE_REQUIRE (cpu && gpu, "models");
  compare_prompt (cpu, gpu, 1, "one image");
  compare_prompt (cpu, gpu, 2, "two images, two turns");
  compare_prompt (cpu, gpu, 5, "two images, system prompt");
  ke_model_free (cpu);
  ke_model_free (gpu);
}

KE_TEST (conversation_encodes_each_image_once)
{
  if (ke_cuda_device_count () == 0)
    KE_SKIP ("no CUDA device");
  ke_model *cpu = open_model (KE_BACKEND_CPU), *gpu = open_model (KE_BACKEND_CUDA);
  KE_REQUIRE (cpu && gpu, "models");
  uint32_t vocab = ke_model_get_info (gpu)->vocab_size, total_g = 0, total_c = 0;
  float *lg = malloc (vocab * 4), *lc = malloc (vocab * 4);
  KE_REQUIRE (lg && lc, "memory");
  conv_run (gpu, lg, &total_g);
  conv_run (cpu, lc, &total_c);
  double e = rel_err (lg, lc, vocab);
  ke_tap_diag ("conversation: %u tower runs on CUDA, %u on the CPU; step 5 logits rel. error "
               "%.3g, top-1 %s", total_g, total_c, e,
               argmax (lg, vocab) == argmax (lc, vocab) ? "same" : "differs");
  KE_CHECK (total_g == 2 && total_c == 2, "each image must be encoded once");
  KE_CHECK (e < 3e-2 && argmax (lg, vocab) == argmax (lc, vocab), "step 5 logits differ");
  free (lg);
  free (lc);
  ke_model_free (cpu);
  ke_model_free (gpu);
}

int
main (int argc, char **argv)
{
  const char *tmp = getenv ("TMPDIR");
  snprintf (root, sizeof root, "%s/kestrel-mm-XXXXXX", tmp ? tmp : "/tmp");
  if (!mkdtemp (root)) {
    printf ("Bail out! cannot create a temporary folder\n");
    return 1;
  }
  bool have = ke_cuda_device_count () > 0;
  ke_gen_options g;
  ke_gen_options_init (&g);
  g.shape = "tiny";
  g.seed = 7;
  ke_error *error = NULL;
  if (have && !ke_gen_checkpoint (root, &g, NULL, NULL, &error)) {
    printf ("Bail out! gen-checkpoint: %s\n", error->message);
    ke_error_free (error);
    return 1;
  }
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (one_and_two_images),
    KE_TAP_ENTRY (conversation_encodes_each_image_once),
  };
  int rc = ke_tap_run (argc, argv, tests, (int) (sizeof tests / sizeof tests[0]));
  char cmd[320];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system (cmd) != 0)
    fprintf (stderr, "# could not remove %s\n", root);
  return rc;
}
