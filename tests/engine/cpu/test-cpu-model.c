/* test-cpu-model.c — the CPU backend and sessions on a small random Gemma 3 built in
 * memory, against the float64 reference in ke-test-model.h.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ke-test-model.h"
#include "ke-internal.h"
#include "ke-backend.h"

/* KE_REQUIRE evaluates its condition twice: run side effects once, then require. */
#define REQUIRE_OK(expr, ...)                                                              \
  do {                                                                                     \
    bool ok_ = (expr);                                                                     \
    KE_REQUIRE (ok_, __VA_ARGS__);                                                         \
  } while (0)

#define IMG 299
#define BOI 297
#define EOI 298

static test_model tm;
static uint8_t image_a[40 * 30 * 4], image_b[20 * 20 * 3];
static ke_image img_a = { 40, 30, 4, 40 * 4, image_a };
static ke_image img_b = { 20, 20, 3, 20 * 3, image_b };

static ke_model *
open_model (bool act_quant, int threads)
{
  ke_model_options o;
  ke_model_options_init (&o);
  o.backend = KE_BACKEND_CPU;
  o.n_threads = threads;
  o.skip_act_quant = !act_quant;
  ke_error *error = NULL;
  ke_model *m = ke_model_new_internal (&tm.config, &tm.weights, &o, NULL, NULL, NULL, "test",
                                       0, &error);
  if (!m)
    printf ("# model: %s\n", error->message);
  ke_error_free (error);
  return m;
}

/* A prompt with image runs at the given starts, the rest pseudo-random text ids. */
static size_t
make_prompt (ke_token *ids, size_t n, const size_t *image_starts, size_t n_images,
             unsigned long long seed)
{
  for (size_t i = 0; i < n; i++)
    ids[i] = (ke_token) (3 + ke_test_rand_u64 (&seed) % 290);
  ids[0] = 2;
  for (size_t k = 0; k < n_images; k++) {
    size_t s = image_starts[k];
    ids[s - 1] = BOI;
    for (size_t i = 0; i < 4; i++)
      ids[s + i] = IMG;
    ids[s + 4] = EOI;
  }
  return n;
}

/* Reference logits for a prompt: vision per image, then the text model. */
static void
reference (const ke_token *ids, size_t n, const ke_image *const *images, size_t n_images,
           bool aq, double *logits)
{
  const double **rows = calloc (n, sizeof *rows);
  int *group = malloc (n * sizeof (int));
  double *emb = calloc (n_images ? n_images * 4 * 72 : 1, sizeof (double));
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    group[i] = -1;
  for (size_t i = 0; i < n; i++) {
    if (ids[i] == IMG && (i == 0 || ids[i - 1] != IMG)) {
      ke_error *error = NULL;
      float *px = ke_image_preprocess (images[k], &tm.config.preprocess, &error);
      ke_error_free (error);
      ref_vision (&tm, px, emb + k * 4 * 72);
      free (px);
      for (size_t r = 0; r < 4; r++) {
        rows[i + r] = emb + (k * 4 + r) * 72;
        group[i + r] = (int) k;
      }
      k++;
    }
  }
  ref_text (&tm, ids, n, rows, group, aq, logits);
  free (rows);
  free (group);
  free (emb);
}

static bool
prefill (ke_session *s, const ke_token *ids, size_t n, const ke_image **images, size_t n_images,
         float *logits, ke_stats *stats)
{
  ke_prompt p = { .ids = (ke_token *) ids, .n_ids = n, .images = images, .n_images = n_images };
  ke_error *error = NULL;
  bool ok = ke_session_prefill (s, &p, logits, stats, &error);
  if (!ok)
    printf ("# prefill: %s\n", error->message);
  ke_error_free (error);
  return ok;
}

static void
check_against_reference (const char *what, const ke_token *ids, size_t n,
                         const ke_image **images, size_t n_images, bool aq, double tol)
{
  ke_model *m = open_model (aq, 2);
  KE_REQUIRE (m, "model");
  ke_error *error = NULL;
  ke_session *s = ke_session_new (m, NULL, &error);
  KE_REQUIRE (s, "session");
  float got[300];
  double want[300];
  ke_stats st = { 0 };
  REQUIRE_OK (prefill (s, ids, n, images, n_images, got, &st), "prefill");
  reference (ids, n, images, n_images, aq, want);
  double d = rel_diff (got, want, 300);
  int top_got = 0, top_want = 0;
  for (int i = 1; i < 300; i++) {
    if (got[i] > got[top_got])
      top_got = i;
    if (want[i] > want[top_want])
      top_want = i;
  }
  ke_tap_diag ("%s (%s): |Δ|/|ref| = %.3g, top-1 %d vs %d, images encoded %u", what,
               aq ? "W8A8" : "W8A16", d, top_got, top_want, st.images_encoded);
  KE_CHECK (d < tol, "%s: relative difference %g", what, d);
  KE_CHECK (top_got == top_want, "%s: top-1 %d vs %d", what, top_got, top_want);
  KE_CHECK (st.images_encoded == n_images, "images encoded %u", st.images_encoded);
  ke_session_free (s);
  ke_model_free (m);
}

KE_TEST (text_matches_reference)
{
  ke_token ids[21];
  make_prompt (ids, 21, NULL, 0, 5); /* longer than the window (8): sliding layers differ */
  check_against_reference ("text", ids, 21, NULL, 0, false, 1e-4);
  check_against_reference ("text", ids, 21, NULL, 0, true, 1e-3);
}

KE_TEST (images_match_reference)
{
  ke_token ids[30];
  size_t starts[2] = { 4, 16 };
  make_prompt (ids, 30, starts, 2, 6);
  const ke_image *images[2] = { &img_a, &img_b };
  check_against_reference ("two images", ids, 30, images, 2, false, 1e-4);
  check_against_reference ("two images", ids, 30, images, 2, true, 1e-3);
  /* an image run straddling the 512-token batch limit, far beyond the window */
  static ke_token long_ids[600];
  size_t far[1] = { 509 };
  make_prompt (long_ids, 600, far, 1, 7);
  check_against_reference ("600 tokens, image at 509", long_ids, 600, images, 1, false, 1e-4);
}

KE_TEST (vision_matches_reference)
{
  ke_error *error = NULL;
  float *px = ke_image_preprocess (&img_a, &tm.config.preprocess, &error);
  KE_REQUIRE (px, "preprocess");
  float got[4 * 72];
  double want[4 * 72];
  ke_cpu_pool *pool = ke_cpu_pool_new (2, &error);
  bool ok = ke_cpu_vision_encode (pool, &tm.config, &tm.weights, px, got, &error);
  KE_REQUIRE (ok, "vision");
  ref_vision (&tm, px, want);
  double d = rel_diff (got, want, 4 * 72);
  ke_tap_diag ("vision tower + projector: |Δ|/|ref| = %.3g", d);
  KE_CHECK (d < 1e-5, "vision: relative difference %g", d);
  ke_cpu_pool_free (pool);
  free (px);
}

KE_TEST (prefix_reuse_equals_scratch)
{
  ke_model *m = open_model (true, 2);
  KE_REQUIRE (m, "model");
  ke_error *error = NULL;
  ke_session *warm = ke_session_new (m, NULL, &error);
  ke_session *cold = ke_session_new (m, NULL, &error);
  KE_REQUIRE (warm && cold, "sessions");
  ke_token ids[40];
  size_t starts[2] = { 4, 24 };
  make_prompt (ids, 40, starts, 2, 9);
  const ke_image *images[2] = { &img_a, &img_b };
  float a[300], b[300];
  ke_stats st = { 0 };

  /* turn 1: first 20 tokens (image A) */
  REQUIRE_OK (prefill (warm, ids, 20, images, 1, a, &st), "turn 1");
  KE_CHECK (st.cached_tokens == 0 && st.images_encoded == 1, "turn 1 stats");
  /* turn 2: all 40 (adds image B): only the new 20 are computed, image A not re-encoded */
  REQUIRE_OK (prefill (warm, ids, 40, images, 2, a, &st), "turn 2");
  KE_CHECK (st.cached_tokens == 20 && st.images_encoded == 1, "turn 2: cached %u, encoded %u",
            st.cached_tokens, st.images_encoded);
  REQUIRE_OK (prefill (cold, ids, 40, images, 2, b, &st), "scratch");
  KE_CHECK (memcmp (a, b, sizeof a) == 0, "logits after reuse == logits from scratch");

  /* the same prompt again: nothing to compute, the same logits */
  REQUIRE_OK (prefill (warm, ids, 40, images, 2, a, &st), "repeat");
  KE_CHECK (st.cached_tokens == 40 && st.images_encoded == 0 && memcmp (a, b, sizeof a) == 0,
            "repeat: cached %u", st.cached_tokens);

  /* another image B' at the same place: resume at B's run (24), B' encoded */
  uint8_t other[20 * 20 * 3];
  memcpy (other, image_b, sizeof other);
  other[100] ^= 1;
  ke_image img_c = img_b;
  img_c.pixels = other;
  const ke_image *images2[2] = { &img_a, &img_c };
  REQUIRE_OK (prefill (warm, ids, 40, images2, 2, a, &st), "changed image");
  KE_CHECK (st.cached_tokens == 24 && st.images_encoded == 1, "changed image: cached %u",
            st.cached_tokens);
  REQUIRE_OK (prefill (cold, ids, 40, images2, 2, b, &st), "changed image, scratch");
  KE_CHECK (memcmp (a, b, sizeof a) == 0, "changed image: reuse == scratch");

  /* truncate inside image A's run, then the full prompt: back up to the run's start; both
   * images come from the model's embedding cache, not the tower */
  KE_CHECK (ke_session_truncate (warm, 6, &error), "truncate");
  KE_CHECK (ke_session_n_tokens (warm) == 6, "n_tokens after truncate");
  REQUIRE_OK (prefill (warm, ids, 40, images2, 2, a, &st), "after truncate");
  KE_CHECK (st.cached_tokens == 4 && st.images_encoded == 0 && st.image_cache_hits == 2,
            "after truncate: cached %u, enc %u, cache hits %u", st.cached_tokens,
            st.images_encoded, st.image_cache_hits);
  KE_CHECK (memcmp (a, b, sizeof a) == 0, "after truncate: == scratch");
  KE_CHECK (!ke_session_truncate (warm, 41, &error) && error, "truncate beyond the end");
  ke_error_free (error);
  ke_session_free (warm);
  ke_session_free (cold);
  ke_model_free (m);
}

typedef struct {
  ke_token got[64];
  int n;
  int stop_after;
} collect;

static bool
on_token (ke_token t, void *data)
{
  collect *c = data;
  c->got[c->n++] = t;
  return c->stop_after == 0 || c->n < c->stop_after;
}

KE_TEST (generate_greedy_and_continue)
{
  ke_model *m = open_model (true, 1);
  KE_REQUIRE (m, "model");
  ke_error *error = NULL;
  ke_session *s = ke_session_new (m, NULL, &error);
  KE_REQUIRE (s, "session");
  ke_token ids[12];
  make_prompt (ids, 12, NULL, 0, 3);
  float logits[300];
  REQUIRE_OK (prefill (s, ids, 12, NULL, 0, logits, NULL), "prefill");
  int argmax = 0;
  for (int i = 1; i < 300; i++)
    if (logits[i] > logits[argmax])
      argmax = i;

  ke_sampling p;
  ke_sampling_init (&p, NULL);
  p.max_tokens = 10;
  /* one run of up to 10 tokens (it may end early on an eos id: 1 or 106) */
  collect one = { .n = 0 };
  ke_stats st = { 0 };
  REQUIRE_OK (ke_session_generate (s, &p, on_token, &one, &st, &error), "generate");
  KE_CHECK (one.n >= 1 && one.got[0] == argmax, "first token is the argmax (%d vs %d)",
            one.got[0], argmax);
  KE_CHECK (st.generated_tokens == (uint32_t) one.n, "stats count %u", st.generated_tokens);

  /* the same from scratch in two calls: 4 tokens, then the rest */
  ke_session *s2 = ke_session_new (m, NULL, &error);
  REQUIRE_OK (s2 && prefill (s2, ids, 12, NULL, 0, NULL, NULL), "second session");
  collect two = { .n = 0, .stop_after = 4 };
  REQUIRE_OK (ke_session_generate (s2, &p, on_token, &two, NULL, &error), "generate 4");
  KE_CHECK (two.n == (one.n < 4 ? one.n : 4), "callback stop after 4: %d", two.n);
  two.stop_after = 0;
  p.max_tokens = (uint32_t) (10 - two.n);
  if (one.n > 4)
    REQUIRE_OK (ke_session_generate (s2, &p, on_token, &two, NULL, &error), "generate rest");
  KE_CHECK (two.n == one.n && memcmp (one.got, two.got, (size_t) one.n * sizeof (ke_token)) == 0,
            "continued generation equals one run (%d vs %d tokens)", two.n, one.n);
  KE_CHECK (ke_session_n_tokens (s) == 12 + (size_t) one.n -
                                         (one.n && (one.got[one.n - 1] == 1 || one.got[one.n - 1] == 106)),
            "context holds prompt + reply (eos excluded)");
  ke_session_free (s);
  ke_session_free (s2);
  ke_model_free (m);
}

KE_TEST (bad_prompts_are_errors)
{
  ke_model *m = open_model (true, 1);
  KE_REQUIRE (m, "model");
  ke_error *error = NULL;
  ke_session *s = ke_session_new (m, NULL, &error);
  KE_REQUIRE (s, "session");
  ke_token ids[12];
  size_t starts[1] = { 4 };
  make_prompt (ids, 12, starts, 1, 3);
  const ke_image *images[1] = { &img_a };
  ke_prompt p = { .ids = ids, .n_ids = 12, .images = images, .n_images = 0 };
  KE_CHECK (!ke_session_prefill (s, &p, NULL, NULL, &error) && error &&
            error->code == KE_ERROR_INVALID_ARGUMENT, "image run without an image");
  ke_error_free (error), error = NULL;
  p.n_images = 1;
  ids[5] = 7; /* a run of 1 image token */
  KE_CHECK (!ke_session_prefill (s, &p, NULL, NULL, &error), "short image run");
  ke_error_free (error), error = NULL;
  ids[5] = IMG;
  ids[9] = 300; /* outside the vocabulary */
  KE_CHECK (!ke_session_prefill (s, &p, NULL, NULL, &error), "id outside the vocabulary");
  ke_error_free (error), error = NULL;
  ids[9] = 5;
  uint8_t px[3] = { 1, 2, 3 };
  ke_image bad = { 1, 1, 2, 3, px };
  images[0] = &bad;
  KE_CHECK (!ke_session_prefill (s, &p, NULL, NULL, &error), "invalid image");
  ke_error_free (error), error = NULL;
  ke_session_options so;
  ke_session_options_init (&so);
  so.context_length = 8;
  ke_session *small = ke_session_new (m, &so, &error);
  KE_REQUIRE (small, "small session");
  images[0] = &img_a;
  KE_CHECK (!ke_session_prefill (small, &p, NULL, NULL, &error) && error->code == KE_ERROR_CONTEXT_FULL,
            "prompt longer than the context");
  ke_error_free (error), error = NULL;
  ke_sampling sp;
  ke_sampling_init (&sp, NULL);
  KE_CHECK (!ke_session_generate (small, &sp, NULL, NULL, NULL, &error), "generate before prefill");
  ke_error_free (error);
  ke_session_free (small);
  ke_session_free (s);
  ke_model_free (m);
}

int
main (int argc, char **argv)
{
  tm_init (&tm, 1234, 8);
  unsigned long long r = 99;
  for (size_t i = 0; i < sizeof image_a; i++)
    image_a[i] = (uint8_t) ke_test_rand_u64 (&r);
  for (size_t i = 0; i < sizeof image_b; i++)
    image_b[i] = (uint8_t) ke_test_rand_u64 (&r);
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (text_matches_reference),   KE_TAP_ENTRY (vision_matches_reference),
    KE_TAP_ENTRY (images_match_reference),
    KE_TAP_ENTRY (prefix_reuse_equals_scratch), KE_TAP_ENTRY (generate_greedy_and_continue),
    KE_TAP_ENTRY (bad_prompts_are_errors),
  };
  int rc = ke_tap_run (argc, argv, tests, (int) (sizeof tests / sizeof tests[0]));
  tm_clear (&tm);
  return rc;
}
