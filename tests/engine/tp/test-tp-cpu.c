/* test-tp-cpu.c — the CPU backend's tensor-parallel ranks against its plain path.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The same weights run plain (tensor_parallel 0) and split over N ranks (1, 2, 4): the
 * logits of every prompt position must agree, and 64 greedy tokens must be identical.
 *  - W8A16 (skip_act_quant): the ranks compute the same products; only the order of the
 *    final sums of o_proj/down_proj differs (per rank, then across ranks), so the logits
 *    agree to float32 rounding.
 *  - W8A8 (the default): a row-parallel linear quantizes its input slice per rank, with
 *    the slice's own per-token scale (as vLLM does), so the logits differ by FP8 rounding
 *    noise; bounded more loosely.
 * Models: the tiny generated checkpoint (4 query / 2 KV heads: N ∈ {1, 2}), an in-memory
 * model with 8 query / 4 KV heads, MLP 160 and a vocabulary of 301 (N = 4 gives shards of
 * 2 heads, 1 KV head, 40 columns and 76/75 vocabulary rows), and the test model with
 * images (the image rows come from rank 0's vision tower).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Its model builders are used; its float64 reference is not (the plain path is). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../cpu/ke-test-model.h"
#pragma GCC diagnostic pop
#include "ke-internal.h"
#include "ke-backend.h"
#include "ke-checkpoint-writer.h"
#include "../model/ckpt-test-util.h"

#define REQUIRE_OK(expr, ...)                                                              \
  do {                                                                                     \
    bool ok_ = (expr);                                                                     \
    KE_REQUIRE (ok_, __VA_ARGS__);                                                         \
  } while (0)

#define N_GREEDY 64

static test_model tm_wide; /* 8 / 4 heads, vocab 301 */
static test_model tm_vis;  /* ke-test-model.h's model, with vision */
static char *ckpt_dir; /* tiny_checkpoint_in_tmp () */

/* A text-only model of the given shape, weights as ke-test-model.h makes them. */
static void
wide_init (test_model *m, unsigned long long seed)
{
  memset (m, 0, sizeof *m);
  m->rng = seed;
  ke_config *c = &m->config;
  strcpy (c->architecture, "Gemma3ForCausalLM");
  ke_text_config *t = &c->text;
  t->vocab_size = 301;
  t->hidden_size = 96;
  t->intermediate_size = 160;
  t->num_hidden_layers = 3;
  t->num_attention_heads = 8;
  t->num_key_value_heads = 4;
  t->head_dim = 16;
  t->sliding_window = 6;
  t->max_position_embeddings = 4096;
  t->query_pre_attn_scalar = 16;
  t->rms_norm_eps = 1e-6f;
  t->rope_theta = 1e6f;
  t->rope_local_base_freq = 1e4f;
  t->rope_scaling_factor = 8.0f;
  t->final_logit_softcapping = 30.0f; /* applied per shard before the gather */
  t->tie_word_embeddings = true;
  t->layer_kind[1] = KE_LAYER_GLOBAL;
  c->bos_token_id = 2;
  c->eos_token_ids[0] = 1;
  c->n_eos = 1;
  c->generation.repetition_penalty = 1.0f;
  tm_text_weights (m);
}

static ke_model *
open_mem (test_model *m, uint32_t tp, bool act_quant, ke_error **error)
{
  ke_model_options o;
  ke_model_options_init (&o);
  o.backend = KE_BACKEND_CPU;
  o.n_threads = 2;
  o.skip_act_quant = !act_quant;
  o.tensor_parallel = tp;
  return ke_model_new_internal (&m->config, &m->weights, &o, NULL, NULL, NULL, "test", 0, error);
}

static ke_model *
open_dir (uint32_t tp, bool act_quant, ke_error **error)
{
  ke_model_options o;
  ke_model_options_init (&o);
  o.backend = KE_BACKEND_CPU;
  o.n_threads = 2;
  o.skip_act_quant = !act_quant;
  o.tensor_parallel = tp;
  return ke_model_open (ckpt_dir, &o, NULL, NULL, error);
}

typedef struct {
  float *logits;       /* [n_prompt, vocab] */
  ke_token greedy[N_GREEDY];
  size_t n_greedy;
} run_result;

static bool
collect (ke_token token, void *user_data)
{
  run_result *r = user_data;
  if (r->n_greedy < N_GREEDY)
    r->greedy[r->n_greedy++] = token;
  return true;
}

/* All-position logits of the prompt, then up to N_GREEDY greedy tokens (an eos would
 * stop early; the tests check that all N_GREEDY came). */
static bool
run (ke_model *model, const ke_prompt *prompt, run_result *out, ke_error **error)
{
  const ke_model_info *info = ke_model_get_info (model);
  memset (out, 0, sizeof *out);
  out->logits = malloc (prompt->n_ids * info->vocab_size * sizeof (float));
  for (size_t i = 0; i < prompt->n_ids * info->vocab_size; i++)
    out->logits[i] = NAN;
  ke_session *s = ke_session_new (model, NULL, error);
  if (!s)
    return false;
  bool ok = ke_session_prefill_all (s, prompt, out->logits, NULL, error);
  ke_sampling sp;
  ke_sampling_init (&sp, NULL); /* greedy */
  sp.max_tokens = N_GREEDY;
  ok = ok && ke_session_generate (s, &sp, collect, out, NULL, error);
  ke_session_free (s);
  return ok;
}

static double
max_abs (const float *x, size_t n)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = fmax (m, fabs (x[i]));
  return m;
}

static double
max_diff (const float *a, const float *b, size_t n, size_t *nan_count)
{
  double m = 0.0;
  *nan_count = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite (a[i]) || !isfinite (b[i])) {
      (*nan_count)++;
      continue;
    }
    m = fmax (m, fabs ((double) a[i] - b[i]));
  }
  return m;
}

/* Compares TP=n against the plain run; tol is relative to the largest |logit|. */
static void
compare (const char *what, ke_model *plain_model, ke_model *tp_model, const ke_prompt *prompt,
         double tol, bool same_greedy, bool bitwise)
{
  ke_error *error = NULL;
  run_result a, b;
  bool ok_a = run (plain_model, prompt, &a, &error);
  KE_CHECK (ok_a, "%s: plain run: %s", what, error ? error->message : "");
  ke_error_free (error);
  error = NULL;
  bool ok_b = run (tp_model, prompt, &b, &error);
  KE_CHECK (ok_b, "%s: tensor-parallel run: %s", what, error ? error->message : "");
  ke_error_free (error);
  if (ok_a && ok_b) {
    size_t n = prompt->n_ids * ke_model_get_info (plain_model)->vocab_size, nans = 0;
    double scale = max_abs (a.logits, n), diff = max_diff (a.logits, b.logits, n, &nans);
    ke_tap_diag ("%s: max |Δlogit| %.3g (max |logit| %.3g, relative %.3g; bound %.3g)", what,
                 diff, scale, diff / fmax (scale, 1e-30), tol);
    KE_CHECK (nans == 0, "%s: %zu logits not finite (a rank left its block unwritten?)", what,
              nans);
    KE_CHECK (diff <= tol * fmax (scale, 1.0), "%s: logits agree", what);
    if (bitwise)
      KE_CHECK (memcmp (a.logits, b.logits, n * sizeof (float)) == 0, "%s: bitwise equal", what);
    size_t same = 0;
    while (same < a.n_greedy && same < b.n_greedy && a.greedy[same] == b.greedy[same])
      same++;
    ke_tap_diag ("%s: greedy: %zu and %zu tokens, first %zu identical", what, a.n_greedy,
                 b.n_greedy, same);
    if (same_greedy)
      KE_CHECK (a.n_greedy == b.n_greedy && same == a.n_greedy && a.n_greedy == N_GREEDY,
                "%s: %d greedy tokens identical", what, N_GREEDY);
  }
  free (a.logits);
  free (b.logits);
}

static void
text_prompt (ke_token *ids, size_t n, uint32_t vocab, unsigned long long seed)
{
  ids[0] = 2;
  for (size_t i = 1; i < n; i++)
    ids[i] = (ke_token) (3 + ke_test_rand_u64 (&seed) % (vocab - 4));
}

KE_TEST (wide_model_ranks_1_2_4)
{
  ke_token ids[19];
  text_prompt (ids, 19, 301, 11);
  ke_prompt prompt = { .ids = ids, .n_ids = 19 };
  ke_error *error = NULL;
  for (int aq = 0; aq < 2; aq++) {
    ke_model *plain = open_mem (&tm_wide, 0, aq, &error);
    KE_REQUIRE (plain, "plain model: %s", error ? error->message : "");
    static const uint32_t ns[] = { 1, 2, 4 };
    for (size_t k = 0; k < 3; k++) {
      ke_model *tp = open_mem (&tm_wide, ns[k], aq, &error);
      KE_REQUIRE (tp, "TP=%u: %s", ns[k], error ? error->message : "");
      KE_CHECK (strstr (ke_model_get_info (tp)->device_name, "tensor-parallel rank") != NULL,
                "the TP backend runs (%s)", ke_model_get_info (tp)->device_name);
      char what[64];
      snprintf (what, sizeof what, "8/4 heads, vocab 301, %s, TP=%u", aq ? "W8A8" : "W8A16",
                ns[k]);
      /* TP=1 is the plain computation exactly; more ranks only reorder sums (W8A16) or
       * requantize slices (W8A8). */
      double tol = ns[k] == 1 ? 0.0 : aq ? 0.05 : 2e-5;
      compare (what, plain, tp, &prompt, tol, ns[k] == 1 || !aq, ns[k] == 1);
      ke_model_free (tp);
    }
    ke_model_free (plain);
  }
}

KE_TEST (wrong_rank_counts_refused)
{
  static const uint32_t bad[] = { 3, 8, 9 };
  for (size_t i = 0; i < 3; i++) {
    ke_error *error = NULL;
    ke_model *m = open_mem (&tm_wide, bad[i], false, &error);
    KE_CHECK (!m && error && error->code == KE_ERROR_INVALID_ARGUMENT,
              "TP=%u refused: %s", bad[i], error ? error->message : "(accepted)");
    ke_model_free (m);
    ke_error_free (error);
  }
}

/* Images: the soft tokens come from rank 0's vision tower; TP=2 over 4 / 2 heads. */
KE_TEST (images_ranks_2)
{
  static uint8_t pixels[20 * 20 * 3];
  for (size_t i = 0; i < sizeof pixels; i++)
    pixels[i] = (uint8_t) (i * 7 % 251);
  ke_image img = { 20, 20, 3, 60, pixels };
  const ke_image *images[1] = { &img };
  ke_token ids[16];
  text_prompt (ids, 16, 296, 5);
  ids[4] = 297;
  for (int i = 0; i < 4; i++)
    ids[5 + i] = 299;
  ids[9] = 298;
  ke_prompt prompt = { .ids = ids, .n_ids = 16, .images = images, .n_images = 1 };
  ke_error *error = NULL;
  ke_model *plain = open_mem (&tm_vis, 0, false, &error);
  KE_REQUIRE (plain, "plain: %s", error ? error->message : "");
  ke_model *tp = open_mem (&tm_vis, 2, false, &error);
  KE_REQUIRE (tp, "TP=2: %s", error ? error->message : "");
  compare ("vision model, W8A16, TP=2, one image", plain, tp, &prompt, 2e-5, true, false);
  ke_model_free (tp);
  ke_model_free (plain);
}

/* The generated tiny checkpoint through ke_model_open: 4 / 2 heads, MLP 256, vocab 16448. */
KE_TEST (tiny_checkpoint_ranks_2)
{
  ke_token ids[24];
  text_prompt (ids, 24, 16000, 3);
  ke_prompt prompt = { .ids = ids, .n_ids = 24 };
  ke_error *error = NULL;
  for (int aq = 0; aq < 2; aq++) {
    ke_model *plain = open_dir (0, aq, &error);
    KE_REQUIRE (plain, "plain: %s", error ? error->message : "");
    ke_model *tp = open_dir (2, aq, &error);
    KE_REQUIRE (tp, "TP=2: %s", error ? error->message : "");
    compare (aq ? "tiny checkpoint, W8A8, TP=2" : "tiny checkpoint, W8A16, TP=2", plain, tp,
             &prompt, aq ? 0.05 : 2e-5, !aq, false);
    ke_model_free (tp);
    ke_model_free (plain);
  }
  ke_model *four = open_dir (4, false, &error);
  KE_CHECK (!four && error && strstr (error->message, "2 key/value heads"),
            "TP=4 refused for 2 KV heads: %s", error ? error->message : "(accepted)");
  ke_model_free (four);
  ke_error_free (error);
}

int
main (int argc, char **argv)
{
  wide_init (&tm_wide, 1234);
  tm_init (&tm_vis, 99, 8);
  if (!(ckpt_dir = tiny_checkpoint_in_tmp (7)))
    return 1;
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (wide_model_ranks_1_2_4),
    KE_TAP_ENTRY (wrong_rank_counts_refused),
    KE_TAP_ENTRY (images_ranks_2),
    KE_TAP_ENTRY (tiny_checkpoint_ranks_2),
  };
  int rc = ke_tap_run (argc, argv, tests, (int) (sizeof tests / sizeof tests[0]));
  rm_dir (ckpt_dir);
  free (ckpt_dir);
  tm_clear (&tm_wide);
  tm_clear (&tm_vis);
  return rc;
}
