/* test-tokenizer.c — the tokenizer against Hugging Face `tokenizers` (the fixture's
 * cases.ref), its flags on a small hand-written tokenizer.json, and decoding rules.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "ke-tokenizer-internal.h"
#include "ke-tap.h"
#include "test-text-util.h"

static void check_cases (void);

KE_TEST (fixture_cases)
{
  check_cases ();
}

/* The same with every BPE part merged through the heap (no small-part shortcut). */
KE_TEST (fixture_cases_heap_path)
{
  size_t saved = ke_bpe_small_max;
  ke_bpe_small_max = 0;
  check_cases ();
  ke_bpe_small_max = saved;
}

/* The same with long parts merged in small blocks: independence checks and fusing. */
KE_TEST (fixture_cases_blocked)
{
  size_t saved = ke_bpe_block;
  ke_bpe_block = 96;
  check_cases ();
  ke_bpe_block = saved;
}

/* Blocked merging against one run over the whole part, on long texts without spaces. */
KE_TEST (blocked_equals_whole)
{
  ke_tokenizer *tok = tt_fixture_tokenizer ();
  if (tok == NULL)
    KE_SKIP ("KESTREL_SHARED_DIR/tokenizer-fixture not found");
  static const char *const pool[] = { "a", "e", "i", "o", "n", "t", "s", "r", "l", "th", "in",
                                      "er", "\xc3\xa9", "\xe3\x81\x82", "-", "=", "0", "1",
                                      "\xd0\xb0", "\xd0\xbd", "_", "." };
  unsigned long long rng = 42;
  char *text = malloc (64 * 1024);
  size_t saved = ke_bpe_block, mismatches = 0;
  for (int iter = 0; iter < 80; iter++) {
    size_t len = 0, target = 200 + (size_t) (ke_test_rand_u64 (&rng) % 30000);
    /* a small alphabet per text makes long runs of mergeable pairs */
    size_t alpha = 2 + (size_t) (ke_test_rand_u64 (&rng) % 20);
    while (len < target) {
      const char *p = pool[ke_test_rand_u64 (&rng) % alpha];
      memcpy (text + len, p, strlen (p));
      len += strlen (p);
    }
    ke_token *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    ke_bpe_block = (size_t) 1 << 40;
    bool ok = ke_tokenizer_encode (tok, text, len, &a, &na, NULL);
    ke_bpe_block = 96 + (size_t) (ke_test_rand_u64 (&rng) % 400);
    ok = ok && ke_tokenizer_encode (tok, text, len, &b, &nb, NULL);
    KE_CHECK (ok, "encode");
    if (ok && (na != nb || memcmp (a, b, na * sizeof *a) != 0))
      mismatches++;
    free (a);
    free (b);
  }
  ke_bpe_block = saved;
  KE_CHECK (mismatches == 0, "%zu texts differ", mismatches);
  free (text);
  ke_tokenizer_free (tok);
}

static void
check_cases (void)
{
  ke_tokenizer *tok = tt_fixture_tokenizer ();
  if (tok == NULL)
    KE_SKIP ("KESTREL_SHARED_DIR/tokenizer-fixture not found");
  char *path = tt_shared_path ("tokenizer-fixture/cases.ref");
  tt_cases cases;
  bool loaded = tt_cases_load (path, &cases);
  KE_REQUIRE (loaded, "cannot read %s", path);
  KE_CHECK (cases.n == 3616, "%zu cases", cases.n);
  size_t bad_ids = 0, bad_text = 0;
  for (size_t c = 0; c < cases.n; c++) {
    const tt_case *k = &cases.items[c];
    ke_token *ids = NULL;
    size_t n = 0;
    ke_error *error = NULL;
    bool ok = ke_tokenizer_encode (tok, k->text, k->text_len, &ids, &n, &error);
    KE_CHECK (ok, "case %zu: %s", c, error ? error->message : "");
    ke_error_free (error);
    if (ok && (n != k->n_ids || memcmp (ids, k->ids, n * sizeof *ids) != 0)) {
      if (bad_ids++ < 5)
        KE_CHECK (false, "case %zu: ids differ (%zu vs %zu expected)", c, n, k->n_ids);
    }
    free (ids);
    size_t len = 0;
    char *text = ke_tokenizer_decode (tok, k->ids, k->n_ids, 0, &len, NULL);
    KE_CHECK (text != NULL, "case %zu: decode failed", c);
    if (text && (len != k->decoded_len || memcmp (text, k->decoded, len) != 0)) {
      if (bad_text++ < 5)
        KE_CHECK (false, "case %zu: decoded text differs", c);
    }
    free (text);
  }
  KE_CHECK (bad_ids == 0, "%zu cases with wrong ids", bad_ids);
  KE_CHECK (bad_text == 0, "%zu cases with wrong decode", bad_text);
  tt_cases_clear (&cases);
  free (path);
  ke_tokenizer_free (tok);
}

/* The real Gemma 3 tokenizer (not in the repository) against the 120 hand-written golden
 * cases made with HF from gemma-3-4b-it (decode with skip_special_tokens=True).  Runs when
 * KESTREL_GEMMA3_TOKENIZER names its tokenizer.json or tokenizer.model, or
 * KESTREL_MODEL_DIR a folder that has one.  Two golden lines hold characters that were
 * guessed when the file was transcribed (see gemma3/README.md): they are not checked. */
KE_TEST (gemma3_golden)
{
  const char *file = getenv ("KESTREL_GEMMA3_TOKENIZER");
  const char *dir = getenv ("KESTREL_MODEL_DIR");
  if ((file == NULL || !*file) && (dir == NULL || !*dir))
    KE_SKIP ("set KESTREL_GEMMA3_TOKENIZER or KESTREL_MODEL_DIR to check the real tokenizer");
  ke_error *error = NULL;
  ke_tokenizer *tok;
  if (file && *file) {
    size_t n = strlen (file);
    tok = n > 6 && strcmp (file + n - 6, ".model") == 0
            ? ke_tokenizer_new_from_sentencepiece (file, NULL, &error)
            : ke_tokenizer_new_from_file (file, &error);
  } else {
    tok = ke_tokenizer_new_from_dir (dir, &error);
  }
  KE_REQUIRE (tok != NULL, "%s", error ? error->message : "");
  char *path = tt_shared_path ("gemma3/tokenizer_golden_handwritten.txt");
  tt_cases cases;
  bool loaded = tt_cases_load (path, &cases);
  free (path);
  KE_REQUIRE (loaded, "tokenizer_golden_handwritten.txt");
  KE_CHECK (cases.n == 120, "%zu golden cases", cases.n);
  size_t checked = 0;
  for (size_t c = 0; c < cases.n; c++) {
    const tt_case *k = &cases.items[c];
    if ((k->text_len >= 5 && memcmp (k->text, "rare:", 5) == 0) ||
        (k->text_len >= 11 && memcmp (k->text, "zero width:", 11) == 0))
      continue;
    ke_token *ids = NULL;
    size_t n = 0, len = 0;
    bool ok = ke_tokenizer_encode (tok, k->text, k->text_len, &ids, &n, NULL);
    KE_CHECK (ok && n == k->n_ids && memcmp (ids, k->ids, n * sizeof *ids) == 0,
              "golden case %zu: ids differ", c);
    char *text = ke_tokenizer_decode (tok, k->ids, k->n_ids, KE_DECODE_SKIP_SPECIAL, &len, NULL);
    KE_CHECK (text && len == k->decoded_len && memcmp (text, k->decoded, len) == 0,
              "golden case %zu: decoded text differs", c);
    free (ids);
    free (text);
    checked++;
  }
  printf ("# %zu golden cases checked\n", checked);
  tt_cases_clear (&cases);
  ke_tokenizer_free (tok);
}

/* Every added-token flag, unk fusing and byte fallback against Hugging Face tokenizers
 * 0.23.2 itself: data/hf-flags (made by its gen-hf-flags.py on a machine with tokenizers). */
KE_TEST (hf_flags_cases)
{
  const char *src = getenv ("KESTREL_SOURCE_DIR");
  if (src == NULL)
    KE_SKIP ("KESTREL_SOURCE_DIR not set");
  char json[4096], ref[4096];
  snprintf (json, sizeof json, "%s/tests/engine/text/data/hf-flags/tokenizer.json", src);
  snprintf (ref, sizeof ref, "%s/tests/engine/text/data/hf-flags/cases.ref", src);
  ke_error *error = NULL;
  ke_tokenizer *tok = ke_tokenizer_new_from_file (json, &error);
  KE_REQUIRE (tok != NULL, "%s", error ? error->message : "");
  tt_cases cases;
  bool loaded = tt_cases_load (ref, &cases);
  KE_REQUIRE (loaded, "cannot read %s", ref);
  KE_CHECK (cases.n == 1500, "%zu cases", cases.n);
  size_t bad_ids = 0, bad_text = 0, bad_skip = 0;
  for (size_t c = 0; c < cases.n; c++) {
    const tt_case *k = &cases.items[c];
    ke_token *ids = NULL;
    size_t n = 0, len = 0;
    bool ok = ke_tokenizer_encode (tok, k->text, k->text_len, &ids, &n, NULL);
    if (!ok || n != k->n_ids || memcmp (ids, k->ids, n * sizeof *ids) != 0)
      bad_ids++;
    free (ids);
    char *text = ke_tokenizer_decode (tok, k->ids, k->n_ids, 0, &len, NULL);
    if (text == NULL || len != k->decoded_len || memcmp (text, k->decoded, len) != 0)
      bad_text++;
    free (text);
    text = ke_tokenizer_decode (tok, k->ids, k->n_ids, KE_DECODE_SKIP_SPECIAL, &len, NULL);
    if (text == NULL || k->decoded_skip == NULL || len != k->decoded_skip_len ||
        memcmp (text, k->decoded_skip, len) != 0)
      bad_skip++;
    free (text);
  }
  KE_CHECK (bad_ids == 0 && bad_text == 0 && bad_skip == 0,
            "%zu ids, %zu decodes, %zu skipping decodes differ", bad_ids, bad_text, bad_skip);
  tt_cases_clear (&cases);
  ke_tokenizer_free (tok);
}

/* Long lines without spaces (one BPE part each) against Hugging Face tokenizers 0.23.2
 * (data/hf-long), through the default path (blocks), small blocks, and one heap run. */
KE_TEST (hf_long_cases)
{
  const char *src = getenv ("KESTREL_SOURCE_DIR");
  if (src == NULL)
    KE_SKIP ("KESTREL_SOURCE_DIR not set");
  char json[4096], ref[4096];
  snprintf (json, sizeof json, "%s/tests/engine/text/data/hf-long/tokenizer.json", src);
  snprintf (ref, sizeof ref, "%s/tests/engine/text/data/hf-long/cases.ref", src);
  ke_error *error = NULL;
  ke_tokenizer *tok = ke_tokenizer_new_from_file (json, &error);
  KE_REQUIRE (tok != NULL, "%s", error ? error->message : "");
  tt_cases cases;
  bool loaded = tt_cases_load (ref, &cases);
  KE_REQUIRE (loaded, "cannot read %s", ref);
  KE_CHECK (cases.n == 6, "%zu cases", cases.n);
  size_t saved_block = ke_bpe_block, saved_small = ke_bpe_small_max;
  for (int mode = 0; mode < 3; mode++) {
    ke_bpe_block = mode == 1 ? 96 : mode == 2 ? (size_t) 1 << 40 : saved_block;
    ke_bpe_small_max = mode == 2 ? 0 : saved_small;
    for (size_t c = 0; c < cases.n; c++) {
      const tt_case *k = &cases.items[c];
      ke_token *ids = NULL;
      size_t n = 0;
      bool ok = ke_tokenizer_encode (tok, k->text, k->text_len, &ids, &n, NULL);
      KE_CHECK (ok && n == k->n_ids && memcmp (ids, k->ids, n * sizeof *ids) == 0,
                "mode %d, case %zu: ids differ", mode, c);
      free (ids);
    }
  }
  ke_bpe_block = saved_block;
  ke_bpe_small_max = saved_small;
  for (size_t c = 0; c < cases.n; c++) {
    size_t len;
    char *text = ke_tokenizer_decode (tok, cases.items[c].ids, cases.items[c].n_ids, 0, &len, NULL);
    KE_CHECK (text && len == cases.items[c].decoded_len &&
              memcmp (text, cases.items[c].decoded, len) == 0, "case %zu: decode differs", c);
    free (text);
  }
  tt_cases_clear (&cases);
  ke_tokenizer_free (tok);
}

KE_TEST (fixture_specials)
{
  ke_tokenizer *tok = tt_fixture_tokenizer ();
  if (tok == NULL)
    KE_SKIP ("KESTREL_SHARED_DIR/tokenizer-fixture not found");
  /* ids as the fixture's README lists them (read from the file, not hard-coded there) */
  KE_CHECK (ke_tokenizer_special (tok, KE_SPECIAL_PAD) == 0, "pad");
  KE_CHECK (ke_tokenizer_special (tok, KE_SPECIAL_EOS) == 1, "eos");
  KE_CHECK (ke_tokenizer_special (tok, KE_SPECIAL_BOS) == 2, "bos");
  KE_CHECK (ke_tokenizer_special (tok, KE_SPECIAL_UNK) == 3, "unk");
  KE_CHECK (ke_tokenizer_special (tok, KE_SPECIAL_IMAGE_SOFT_TOKEN) == 16384, "soft");
  KE_CHECK (ke_tokenizer_vocab_size (tok) == 16385, "vocab %zu", ke_tokenizer_vocab_size (tok));
  ke_token sot = ke_tokenizer_special (tok, KE_SPECIAL_START_OF_TURN);
  KE_CHECK (sot >= 0 && ke_tokenizer_is_special (tok, sot), "start_of_turn %d", sot);
  KE_CHECK (!ke_tokenizer_is_special (tok, ke_tokenizer_piece_to_id (tok, "<unused0>")),
            "<unused0> is not special");
  size_t len;
  const char *piece = ke_tokenizer_id_to_piece (tok, 2, &len);
  KE_CHECK (piece && len == 5 && memcmp (piece, "<bos>", 5) == 0, "piece of 2");
  KE_CHECK (ke_tokenizer_id_to_piece (tok, 16385, &len) == NULL, "out of range");
  KE_CHECK (ke_tokenizer_id_to_piece (tok, -1, &len) == NULL, "negative");

  /* added tokens match anywhere, even inside words */
  ke_token *ids;
  size_t n;
  bool ok = ke_tokenizer_encode (tok, "x<bos>y", 7, &ids, &n, NULL);
  KE_REQUIRE (ok, "encode");
  KE_CHECK (n == 3 && ids[1] == 2, "x<bos>y → %zu ids", n);
  free (ids);

  /* invalid UTF-8 is refused */
  ke_error *error = NULL;
  KE_CHECK (!ke_tokenizer_encode (tok, "a\xff", 2, &ids, &n, &error), "invalid utf-8");
  KE_CHECK (error && error->code == KE_ERROR_INVALID_ARGUMENT, "error code");
  ke_error_free (error);
  error = NULL;
  KE_CHECK (!ke_tokenizer_encode (tok, "\xed\xa0\x80", 3, &ids, &n, &error), "surrogate");
  ke_error_free (error);
  ok = ke_tokenizer_encode (tok, "", 0, &ids, &n, NULL);
  KE_REQUIRE (ok, "empty");
  KE_CHECK (n == 0, "empty gives no ids");
  free (ids);
  ke_tokenizer_free (tok);
}

static char *
decode_str (const ke_tokenizer *tok, const ke_token *ids, size_t n, unsigned flags)
{
  return ke_tokenizer_decode (tok, ids, n, flags, NULL, NULL);
}

KE_TEST (fixture_decode_rules)
{
  ke_tokenizer *tok = tt_fixture_tokenizer ();
  if (tok == NULL)
    KE_SKIP ("KESTREL_SHARED_DIR/tokenizer-fixture not found");
  ke_token e3 = ke_tokenizer_piece_to_id (tok, "<0xE3>");
  ke_token x81 = ke_tokenizer_piece_to_id (tok, "<0x81>");
  ke_token x82 = ke_tokenizer_piece_to_id (tok, "<0x82>");
  ke_token x41 = ke_tokenizer_piece_to_id (tok, "<0x41>");
  ke_token xff = ke_tokenizer_piece_to_id (tok, "<0xFF>");
  ke_token bos = ke_tokenizer_special (tok, KE_SPECIAL_BOS);
  ke_token sp = ke_tokenizer_piece_to_id (tok, "\xe2\x96\x81");
  KE_REQUIRE (e3 >= 0 && x81 >= 0 && x82 >= 0 && x41 >= 0 && xff >= 0 && sp >= 0, "pieces");
  struct {
    ke_token ids[6];
    size_t n;
    unsigned flags;
    const char *want;
  } cases[] = {
    { { e3, x81, x82 }, 3, 0, "\xe3\x81\x82" },
    { { e3, x81 }, 2, 0, "\xef\xbf\xbd\xef\xbf\xbd" },                 /* cut: one per byte */
    { { x41, xff }, 2, 0, "\xef\xbf\xbd\xef\xbf\xbd" },                /* the run is bad */
    { { x41, sp, xff }, 3, 0, "A \xef\xbf\xbd" },                      /* separate runs */
    { { e3, bos, x81, x82 }, 4, KE_DECODE_SKIP_SPECIAL, "\xe3\x81\x82" }, /* skipped: one run */
    { { e3, bos, x81, x82 }, 4, 0, "\xef\xbf\xbd<bos>\xef\xbf\xbd\xef\xbf\xbd" },
    { { bos, 99999, sp, -5 }, 4, 0, "<bos> " },                         /* unknown ids drop */
    { { bos, sp }, 2, KE_DECODE_SKIP_SPECIAL, " " },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = decode_str (tok, cases[i].ids, cases[i].n, cases[i].flags);
    KE_CHECK (got && strcmp (got, cases[i].want) == 0, "decode case %zu: '%s'", i,
              got ? got : "(null)");
    free (got);
  }
  ke_tokenizer_free (tok);
}

/* A small tokenizer.json exercising the added-token flags, unk fusing and merges.  The
 * expectations follow HF's added_vocabulary.rs / model.rs rules, worked out by hand. */
static const char small_json[] =
  "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
  "\"added_tokens\":["
  "{\"id\":0,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
  "{\"id\":9,\"content\":\"[L]\",\"single_word\":false,\"lstrip\":true,\"rstrip\":false,\"normalized\":false,\"special\":false},"
  "{\"id\":10,\"content\":\"[R]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":true,\"normalized\":false,\"special\":false},"
  "{\"id\":11,\"content\":\"[W]\",\"single_word\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":false},"
  "{\"id\":12,\"content\":\"c d\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":false},"
  "{\"id\":13,\"content\":\"[S]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
  "\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"},"
  "\"pre_tokenizer\":null,\"post_processor\":null,"
  "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]},"
  "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":null,"
  "\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":false,\"ignore_merges\":false,"
  "\"vocab\":{\"<unk>\":0,\"a\":1,\"b\":2,\"\\u2581\":3,\"ab\":4,\"c\":5,\"d\":6,\"abb\":7,\"bb\":8},"
  "\"merges\":[[\"a\",\"b\"],\"b b\",[\"ab\",\"b\"]]}}";

static bool
encode_is (const ke_tokenizer *tok, const char *text, const ke_token *want, size_t n_want)
{
  ke_token *ids;
  size_t n;
  if (!ke_tokenizer_encode (tok, text, strlen (text), &ids, &n, NULL))
    return false;
  bool same = n == n_want && memcmp (ids, want, n * sizeof *ids) == 0;
  if (!same) {
    printf ("# '%s' →", text);
    for (size_t i = 0; i < n; i++)
      printf (" %d", ids[i]);
    printf ("\n");
  }
  free (ids);
  return same;
}

#define ENCODE_IS(tok, text, ...)                                                          \
  do {                                                                                     \
    static const ke_token want_[] = { __VA_ARGS__ };                                        \
    KE_CHECK (encode_is (tok, text, want_, sizeof want_ / sizeof want_[0]), "%s", text);   \
  } while (0)

KE_TEST (added_token_flags)
{
  ke_error *error = NULL;
  ke_tokenizer *tok = ke_tokenizer_new_from_json (small_json, sizeof small_json - 1, &error);
  KE_REQUIRE (tok != NULL, "load: %s", error ? error->message : "");
  /* ids: new added tokens are numbered after the model vocab (9 pieces), whatever the
   * JSON says */
  KE_CHECK (ke_tokenizer_piece_to_id (tok, "[L]") == 9, "[L] id %d",
            ke_tokenizer_piece_to_id (tok, "[L]"));
  KE_CHECK (ke_tokenizer_piece_to_id (tok, "[S]") == 13, "[S] id");
  ENCODE_IS (tok, "a [L]b", 1, 9, 2);      /* lstrip eats the space before */
  ENCODE_IS (tok, "a[R]  b", 1, 10, 2);    /* rstrip eats the spaces after */
  ENCODE_IS (tok, "a[W]b", 1, 0, 2);       /* not a single word: "[W]" is one fused unk */
  ENCODE_IS (tok, "a [W] b", 1, 3, 11, 3, 2);
  ENCODE_IS (tok, "c d", 12);              /* normalized token matches "c▁d" */
  ENCODE_IS (tok, "c  d", 5, 3, 3, 6);
  ENCODE_IS (tok, "ab", 4);
  ENCODE_IS (tok, "abb", 7);               /* a b → ab (rank 0), then ab b (rank 2) */
  ENCODE_IS (tok, "bab", 2, 4);
  ENCODE_IS (tok, "abab", 4, 4);
  ENCODE_IS (tok, "éé", 0);                /* fused unk */
  ENCODE_IS (tok, "aéb", 1, 0, 2);
  KE_CHECK (ke_tokenizer_is_special (tok, 13) && ke_tokenizer_is_special (tok, 0) &&
            !ke_tokenizer_is_special (tok, 9), "special flags");
  ke_token ids[] = { 1, 13, 3, 2, 9 };
  char *s = ke_tokenizer_decode (tok, ids, 5, KE_DECODE_SKIP_SPECIAL, NULL, NULL);
  KE_CHECK (s && strcmp (s, "a b[L]") == 0, "decode skip: %s", s ? s : "");
  free (s);
  s = ke_tokenizer_decode (tok, ids, 5, 0, NULL, NULL);
  KE_CHECK (s && strcmp (s, "a[S] b[L]") == 0, "decode: %s", s ? s : "");
  free (s);
  ke_tokenizer_free (tok);
}

KE_TEST (bad_json)
{
  static const char *bad[] = {
    "",
    "[]",
    "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}",
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]},\"decoder\":{\"type\":\"Fuse\"}}",
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]},\"decoder\":{\"type\":\"Fuse\"}}",
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":4000000000},\"merges\":[]},\"decoder\":{\"type\":\"Fuse\"}}",
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]},\"decoder\":{\"type\":\"Fuse\"}}",
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"decoder\":{\"type\":\"Fuse\"}}",
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"decoder\":{\"type\":\"Fuse\"},\"added_tokens\":[{\"content\":5}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ke_error *error = NULL;
    ke_tokenizer *tok = ke_tokenizer_new_from_json (bad[i], strlen (bad[i]), &error);
    KE_CHECK (tok == NULL && error != NULL && error->message[0], "bad json %zu accepted", i);
    ke_error_free (error);
    ke_tokenizer_free (tok);
  }
  ke_error *error = NULL;
  KE_CHECK (ke_tokenizer_new_from_file ("/nonexistent/tokenizer.json", &error) == NULL &&
            error && error->code == KE_ERROR_IO, "missing file");
  ke_error_free (error);
}

KE_TAP_MAIN (KE_TAP_ENTRY (fixture_cases), KE_TAP_ENTRY (fixture_cases_heap_path),
             KE_TAP_ENTRY (fixture_cases_blocked), KE_TAP_ENTRY (blocked_equals_whole),
             KE_TAP_ENTRY (gemma3_golden), KE_TAP_ENTRY (hf_flags_cases),
             KE_TAP_ENTRY (hf_long_cases),
             KE_TAP_ENTRY (fixture_specials),
             KE_TAP_ENTRY (fixture_decode_rules), KE_TAP_ENTRY (added_token_flags),
             KE_TAP_ENTRY (bad_json))
