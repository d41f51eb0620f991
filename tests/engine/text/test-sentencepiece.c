/* test-sentencepiece.c — the tokenizer built from the fixture's tokenizer.model must be the
 * one its tokenizer.json describes: same merges (ranks included), same ids and decoding on
 * all of cases.ref; tokenizer_config.json's added tokens apply; bad files are refused.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ke-tokenizer-internal.h"
#include "ke-tap.h"
#include "test-text-util.h"

static ke_tokenizer *
spm_fixture (const char *config)
{
  char *path = tt_shared_path ("tokenizer-fixture/tokenizer.model");
  if (path == NULL)
    return NULL;
  ke_error *error = NULL;
  ke_tokenizer *tok = ke_tokenizer_new_from_sentencepiece (path, config, &error);
  if (tok == NULL)
    printf ("# %s\n", error ? error->message : "cannot load");
  ke_error_free (error);
  free (path);
  return tok;
}

KE_TEST (same_as_tokenizer_json)
{
  ke_tokenizer *json = tt_fixture_tokenizer ();
  ke_tokenizer *spm = spm_fixture (NULL);
  if (json == NULL || spm == NULL) {
    ke_tokenizer_free (json);
    ke_tokenizer_free (spm);
    KE_SKIP ("KESTREL_SHARED_DIR/tokenizer-fixture not found");
  }
  KE_CHECK (spm->n_merges == json->n_merges, "%zu merges vs %zu", spm->n_merges, json->n_merges);
  size_t differ = 0;
  for (size_t i = 0; i <= json->merges.mask; i++) {
    const ke_u64_slot *s = &json->merges.slots[i];
    if (s->key == KE_U64_MAP_EMPTY)
      continue;
    uint32_t rank;
    if (!ke_tokenizer_merge_rank (spm, (ke_token) (s->key >> 32), (ke_token) (uint32_t) s->key,
                                  &rank) || rank != s->value)
      differ++;
  }
  KE_CHECK (differ == 0, "%zu merges differ", differ);
  /* the .model has no <image_soft_token>: that comes from tokenizer_config.json */
  KE_CHECK (ke_tokenizer_vocab_size (spm) == 16384, "vocab %zu", ke_tokenizer_vocab_size (spm));
  KE_CHECK (ke_tokenizer_special (spm, KE_SPECIAL_BOS) == 2, "bos");
  KE_CHECK (ke_tokenizer_special (spm, KE_SPECIAL_UNK) == 3, "unk");

  char *path = tt_shared_path ("tokenizer-fixture/cases.ref");
  tt_cases cases;
  bool loaded = tt_cases_load (path, &cases);
  free (path);
  KE_REQUIRE (loaded, "cases.ref");
  size_t bad = 0;
  for (size_t c = 0; c < cases.n; c++) {
    const tt_case *k = &cases.items[c];
    ke_token *ids = NULL;
    size_t n = 0, len = 0;
    bool ok = ke_tokenizer_encode (spm, k->text, k->text_len, &ids, &n, NULL);
    char *text = ke_tokenizer_decode (spm, k->ids, k->n_ids, 0, &len, NULL);
    if (!ok || n != k->n_ids || memcmp (ids, k->ids, n * sizeof *ids) != 0 || text == NULL ||
        len != k->decoded_len || memcmp (text, k->decoded, len) != 0)
      bad++;
    free (ids);
    free (text);
  }
  KE_CHECK (bad == 0, "%zu of %zu cases differ", bad, cases.n);
  tt_cases_clear (&cases);
  ke_tokenizer_free (json);
  ke_tokenizer_free (spm);
}

KE_TEST (tokenizer_config_added_tokens)
{
  char config[] = "/tmp/kestrel-spm-config-XXXXXX";
  int fd = mkstemp (config);
  KE_REQUIRE (fd >= 0, "mkstemp");
  static const char json[] =
    "{\"added_tokens_decoder\": {"
    "\"4\": {\"content\": \"<start_of_turn>\", \"special\": true, \"normalized\": false},"
    "\"16384\": {\"content\": \"<image_soft_token>\", \"special\": true, \"normalized\": false}}}";
  bool written = write (fd, json, sizeof json - 1) == (ssize_t) sizeof json - 1;
  KE_REQUIRE (written, "write"); /* (KE_REQUIRE evaluates its condition twice) */
  close (fd);
  ke_tokenizer *tok = spm_fixture (config);
  unlink (config);
  if (tok == NULL)
    KE_SKIP ("KESTREL_SHARED_DIR/tokenizer-fixture not found");
  KE_CHECK (ke_tokenizer_special (tok, KE_SPECIAL_IMAGE_SOFT_TOKEN) == 16384, "soft token");
  KE_CHECK (ke_tokenizer_is_special (tok, 4), "start_of_turn made special");
  KE_CHECK (!ke_tokenizer_is_special (tok, 5), "end_of_turn not special here");
  ke_token *ids;
  size_t n;
  bool ok = ke_tokenizer_encode (tok, "a<image_soft_token>b", 20, &ids, &n, NULL);
  KE_REQUIRE (ok, "encode");
  KE_CHECK (n == 3 && ids[1] == 16384, "soft token matched");
  free (ids);
  ke_tokenizer_free (tok);
}

KE_TEST (bad_models)
{
  char *path = tt_shared_path ("tokenizer-fixture/tokenizer.model");
  size_t len;
  char *data = path ? tt_read_all (path, &len) : NULL;
  free (path);
  if (data == NULL)
    KE_SKIP ("KESTREL_SHARED_DIR/tokenizer-fixture not found");
  char name[] = "/tmp/kestrel-spm-bad-XXXXXX";
  unsigned long long rng = 7;
  for (int i = 0; i < 40; i++) {
    int fd = mkstemp (name);
    KE_REQUIRE (fd >= 0, "mkstemp");
    /* truncated, or with a few bytes flipped */
    size_t cut = i < 20 ? (size_t) (ke_test_rand_u64 (&rng) % len) : len;
    char *copy = malloc (len);
    memcpy (copy, data, len);
    for (int k = 0; i >= 20 && k < 8; k++)
      copy[ke_test_rand_u64 (&rng) % len] ^= (char) (1 + ke_test_rand_u64 (&rng) % 255);
    bool written = write (fd, copy, cut) == (ssize_t) cut;
    KE_REQUIRE (written, "write");
    close (fd);
    free (copy);
    ke_error *error = NULL;
    ke_tokenizer *tok = ke_tokenizer_new_from_sentencepiece (name, NULL, &error);
    /* either refused with a message, or a tokenizer that works */
    KE_CHECK (tok != NULL || (error && error->message[0]), "refused without a message");
    if (tok) {
      ke_token *ids = NULL;
      size_t n;
      if (ke_tokenizer_encode (tok, "Hello world", 11, &ids, &n, NULL))
        free (ke_tokenizer_decode (tok, ids, n, 0, NULL, NULL));
      free (ids);
    }
    ke_error_free (error);
    ke_tokenizer_free (tok);
    unlink (name);
    strcpy (name, "/tmp/kestrel-spm-bad-XXXXXX");
  }
  free (data);
}

KE_TAP_MAIN (KE_TAP_ENTRY (same_as_tokenizer_json), KE_TAP_ENTRY (tokenizer_config_added_tokens),
             KE_TAP_ENTRY (bad_models))
