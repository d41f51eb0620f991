/* test-cpu-e2e.c — the CPU backend end to end on a generated tiny checkpoint:
 * tokenize (chat builder) → prefill with an image → greedy generate → detokenize, and the
 * result against golden ids recorded from transformers (tests/gpu/record_goldens.py).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The case must stay in sync with record_goldens.py: user turn [image, "Describe the
 * image."], image 40×30 RGB with pixel (x, y, c) = (7x + 13y + 50c) mod 256, greedy, up to
 * 16 new tokens, with FP8 activation quantization (W8A8) and without (W8A16).  Until tests/engine/cpu/golden/tiny-seed1.txt exists, the golden test
 * reports SKIP (the end-to-end run itself is still checked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ke-tap.h"
#include "ke-internal.h"
#include "ke-checkpoint-writer.h"
#include "../model/ckpt-test-util.h"

#define MAX_NEW 16

static char *ckpt_dir; /* tiny_checkpoint_in_tmp () */
static uint8_t pixels[40 * 30 * 3];
static ke_image image = { 40, 30, 3, 40 * 3, pixels };

typedef struct {
  ke_token ids[64];
  int n;
} collect;

static bool
on_token (ke_token t, void *data)
{
  collect *c = data;
  if (c->n < 64)
    c->ids[c->n++] = t;
  return true;
}

typedef struct {
  ke_prompt prompt;
  collect reply;
  char *text;
  ke_stats prefill, gen;
} run_result;

static bool
run_case (ke_model *model, run_result *r, ke_error **error)
{
  memset (r, 0, sizeof *r);
  const ke_tokenizer *tok = ke_model_get_tokenizer (model);
  if (!tok)
    return ke_set_error (error, KE_ERROR_FAILED, "the checkpoint has no tokenizer");
  const char *text = "Describe the image.";
  ke_chat_part parts[2] = {
    { .kind = KE_PART_IMAGE, .image = &image },
    { .kind = KE_PART_TEXT, .text = text, .text_len = strlen (text) },
  };
  ke_chat_message msg = { .role = KE_ROLE_USER, .parts = parts, .n_parts = 2 };
  ke_chat_options co;
  ke_chat_options_init (&co);
  if (!ke_chat_build (tok, &msg, 1, &co, ke_model_get_info (model)->mm_tokens_per_image,
                      &r->prompt, error))
    return false;
  ke_session *s = ke_session_new (model, NULL, error);
  if (!s)
    return false;
  ke_sampling sp;
  ke_sampling_init (&sp, NULL); /* greedy */
  sp.max_tokens = MAX_NEW;
  bool ok = ke_session_prefill (s, &r->prompt, NULL, &r->prefill, error) &&
            ke_session_generate (s, &sp, on_token, &r->reply, &r->gen, error);
  ke_session_free (s);
  if (!ok)
    return false;
  size_t len;
  r->text = ke_tokenizer_decode (tok, r->reply.ids, (size_t) r->reply.n, KE_DECODE_SKIP_SPECIAL,
                                 &len, error);
  return r->text != NULL;
}

static void
run_result_clear (run_result *r)
{
  ke_prompt_clear (&r->prompt);
  free (r->text);
}

static ke_model *
open_model (bool act_quant)
{
  ke_model_options o;
  ke_model_options_init (&o);
  o.backend = KE_BACKEND_CPU;
  o.n_threads = 2;
  o.skip_act_quant = !act_quant;
  ke_error *error = NULL;
  ke_model *m = ke_model_open (ckpt_dir, &o, NULL, NULL, &error);
  if (!m) {
    printf ("# open: %s\n", error->message);
    ke_error_free (error);
  }
  return m;
}

KE_TEST (end_to_end_runs)
{
  ke_model *m = open_model (true);
  KE_REQUIRE (m, "model");
  ke_error *error = NULL;
  run_result a, b;
  bool ok_a = run_case (m, &a, &error);
  KE_REQUIRE (ok_a, "run: %s", error ? error->message : "");
  bool ok_b = run_case (m, &b, &error);
  KE_REQUIRE (ok_b, "second run: %s", error ? error->message : "");
  const ke_model_info *info = ke_model_get_info (m);
  size_t n_img = 0;
  for (size_t i = 0; i < a.prompt.n_ids; i++)
    n_img += a.prompt.ids[i] == ke_tokenizer_special (ke_model_get_tokenizer (m),
                                                      KE_SPECIAL_IMAGE_SOFT_TOKEN);
  KE_CHECK (n_img == info->mm_tokens_per_image && a.prompt.n_images == 1, "one image run");
  KE_CHECK (a.prefill.images_encoded == 1 && a.prefill.prompt_tokens == a.prompt.n_ids,
            "prefill stats");
  KE_CHECK (a.reply.n >= 1 && a.reply.n <= MAX_NEW, "generated %d tokens", a.reply.n);
  KE_CHECK (a.reply.n == b.reply.n && memcmp (a.reply.ids, b.reply.ids, sizeof (ke_token) * a.reply.n) == 0,
            "greedy generation is deterministic");
  ke_tap_diag ("prompt %zu tokens, reply %d tokens: \"%s\"", a.prompt.n_ids, a.reply.n, a.text);
  run_result_clear (&a);
  run_result_clear (&b);
  ke_error_free (error);
  ke_model_free (m);
}

static char *
golden_path (void)
{
  const char *src = getenv ("KESTREL_SOURCE_DIR");
  return ke_strdup_printf ("%s/tests/engine/cpu/golden/tiny-seed1.txt", src ? src : ".");
}

/* Parses "key v v v" lines of the golden file (as doubles). */
static size_t
golden_values (const char *contents, const char *key, double *out, size_t max)
{
  size_t klen = strlen (key), n = 0;
  for (const char *line = contents; line && *line;) {
    const char *next = strchr (line, '\n');
    if (strncmp (line, key, klen) == 0 && line[klen] == ' ') {
      const char *p = line + klen;
      char *end;
      while (n < max) {
        double v = strtod (p, &end);
        if (end == p || (next && end > next))
          break;
        out[n++] = v;
        p = end;
      }
      return n;
    }
    line = next ? next + 1 : NULL;
  }
  return 0;
}

static size_t
golden_ids (const char *contents, const char *key, ke_token *out, size_t max)
{
  static double v[4096];
  size_t n = golden_values (contents, key, v, max < 4096 ? max : 4096);
  for (size_t i = 0; i < n; i++)
    out[i] = (ke_token) v[i];
  return n;
}

static char *
golden_text (const char *contents)
{
  const char *p = strstr (contents, "\ngenerated_text ");
  if (!p)
    return NULL;
  p += strlen ("\ngenerated_text ");
  char *out = malloc (strlen (p) + 1), *o = out;
  for (; *p && *p != '\n'; p++) {
    if (*p == '\\' && p[1]) {
      p++;
      *o++ = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t' : *p;
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

/* Greedy ids must equal the recorded ones step by step, until a step where transformers'
 * top-1/top-2 margin was below `tie` (logit units): there two float32 implementations may
 * legitimately differ (with FP8 activation quantization, rounding-boundary flips move logits
 * by ~1e-3 relative), and the comparison stops with a diagnostic. */
static bool
compare_reply (const char *mode, const collect *got, const ke_token *want, size_t n_want,
               const double *margins, size_t n_margins, double tie, bool *full)
{
  *full = false;
  for (size_t i = 0; i < n_want; i++) {
    if (i < n_margins && margins[i] < tie) {
      ke_tap_diag ("%s: step %zu is a near tie in transformers (margin %.3g < %.3g): compared "
                   "%zu of %zu steps", mode, i, margins[i], tie, i, n_want);
      return true;
    }
    if ((size_t) got->n <= i || got->ids[i] != want[i]) {
      ke_tap_diag ("%s: step %zu: %d, transformers %d (margin %.3g)", mode, i,
                   (size_t) got->n > i ? got->ids[i] : -1, want[i],
                   i < n_margins ? margins[i] : -1.0);
      return false;
    }
  }
  *full = (size_t) got->n == n_want;
  if (!*full)
    ke_tap_diag ("%s: %d tokens, transformers %zu", mode, got->n, n_want);
  return *full;
}

KE_TEST (golden_ids_from_transformers)
{
  char *path = golden_path ();
  char *contents = NULL;
  size_t len;
  ke_error *error = NULL;
  if (!ke_file_exists (path)) {
    free (path);
    KE_SKIP ("no goldens yet: run tests/gpu/record_goldens.py on the GPU machine "
             "(tests/gpu/run-compare-transformers.sh --goldens) and commit golden/tiny-seed1.txt");
  }
  bool read = ke_read_file (path, 1 << 20, &contents, &len, &error);
  free (path);
  KE_REQUIRE (read, "read goldens: %s", error ? error->message : "");
  static ke_token want_prompt[4096], want8[64], want16[64];
  static double margins8[64], margins16[64];
  size_t n_prompt = golden_ids (contents, "prompt_ids", want_prompt, 4096);
  size_t n8 = golden_ids (contents, "generated_ids_w8a8", want8, 64);
  size_t n16 = golden_ids (contents, "generated_ids_w8a16", want16, 64);
  size_t nm8 = golden_values (contents, "margins_w8a8", margins8, 64);
  size_t nm16 = golden_values (contents, "margins_w8a16", margins16, 64);
  if (n8 == 0) /* the first recording's format: one W8A8 sequence, no per-step margins */
    n8 = golden_ids (contents, "generated_ids", want8, 64);
  char *want_text = golden_text (contents);
  KE_REQUIRE (n_prompt > 0 && n8 > 0 && want_text, "malformed golden file");
  if (n16 == 0)
    ke_tap_diag ("the golden file has no W8A16 sequence (recorded by an older "
                 "record_goldens.py): W8A8 only");

  for (int mode = 0; mode < (n16 ? 2 : 1); mode++) {
    bool act_quant = mode == 0;
    ke_model *m = open_model (act_quant);
    KE_REQUIRE (m, "model");
    run_result r;
    bool ok = run_case (m, &r, &error);
    KE_REQUIRE (ok, "run: %s", error ? error->message : "");
    KE_CHECK (r.prompt.n_ids == n_prompt &&
                memcmp (r.prompt.ids, want_prompt, n_prompt * sizeof (ke_token)) == 0,
              "prompt ids differ from the recorded ones (%zu vs %zu ids)", r.prompt.n_ids,
              n_prompt);
    bool full = false;
    if (act_quant) {
      KE_CHECK (compare_reply ("W8A8", &r.reply, want8, n8, margins8, nm8, 0.05, &full),
                "W8A8 greedy ids differ from transformers'");
      if (full)
        KE_CHECK (strcmp (r.text, want_text) == 0, "text \"%s\" vs \"%s\"", r.text, want_text);
    } else {
      KE_CHECK (compare_reply ("W8A16", &r.reply, want16, n16, margins16, nm16, 1e-3, &full),
                "W8A16 greedy ids differ from transformers'");
    }
    run_result_clear (&r);
    ke_model_free (m);
  }
  free (want_text);
  free (contents);
  ke_error_free (error);
}

int
main (int argc, char **argv)
{
  for (uint32_t y = 0; y < 30; y++)
    for (uint32_t x = 0; x < 40; x++)
      for (uint32_t c = 0; c < 3; c++)
        pixels[(y * 40 + x) * 3 + c] = (uint8_t) ((7 * x + 13 * y + 50 * c) % 256);

  if (!(ckpt_dir = tiny_checkpoint_in_tmp (1)))
    return 1;
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (end_to_end_runs),
    KE_TAP_ENTRY (golden_ids_from_transformers),
  };
  int rc = ke_tap_run (argc, argv, tests, 2);
  rm_dir (ckpt_dir);
  free (ckpt_dir);
  return rc;
}
