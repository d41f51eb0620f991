/* test-detokenizer.c — property test of the streaming detokenizer: on random id sequences
 * (byte-fallback runs cut anywhere, valid and invalid, special tokens, unknown ids) every
 * delta is valid UTF-8 and the deltas concatenate to ke_tokenizer_decode().
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "ke-tokenizer-internal.h"
#include "ke-tap.h"
#include "test-text-util.h"

typedef struct {
  ke_token byte_ids[256];
  ke_token specials[KE_SPECIAL_COUNT];
  size_t n_ids;
} id_pool;

static void
random_sequence (unsigned long long *rng, const id_pool *pool, ke_token *ids, size_t *n,
                 size_t max)
{
  static const char *const utf8_samples[] = {
    "\xc3\xa9", "\xe3\x81\x82", "\xf0\x9f\x98\x80", "\xe2\x82\xac", "A", "\xd0\x96",
  };
  size_t k = 0;
  while (k < max) {
    unsigned r = (unsigned) (ke_test_rand_u64 (rng) % 100);
    if (r < 35) { /* any id, including out-of-range ones */
      ids[k++] = (ke_token) (ke_test_rand_u64 (rng) % (pool->n_ids + 8)) - 2;
    } else if (r < 60) { /* a valid character as byte pieces, maybe cut short */
      const char *s = utf8_samples[ke_test_rand_u64 (rng) % 6];
      size_t len = strlen (s);
      if (ke_test_rand_u64 (rng) % 4 == 0)
        len = (size_t) (ke_test_rand_u64 (rng) % len) + 1;
      for (size_t i = 0; i < len && k < max; i++)
        ids[k++] = pool->byte_ids[(unsigned char) s[i]];
    } else if (r < 75) { /* a random byte piece */
      ids[k++] = pool->byte_ids[ke_test_rand_u64 (rng) % 256];
    } else { /* a special token */
      ke_token s = pool->specials[ke_test_rand_u64 (rng) % KE_SPECIAL_COUNT];
      ids[k++] = s >= 0 ? s : 0;
    }
  }
  *n = k;
}

KE_TEST (streaming_equals_decode)
{
  ke_tokenizer *tok = tt_fixture_tokenizer ();
  if (tok == NULL)
    KE_SKIP ("KESTREL_SHARED_DIR/tokenizer-fixture not found");
  id_pool pool = { .n_ids = ke_tokenizer_vocab_size (tok) };
  for (int b = 0; b < 256; b++) {
    char name[8];
    snprintf (name, sizeof name, "<0x%02X>", b);
    pool.byte_ids[b] = ke_tokenizer_piece_to_id (tok, name);
    KE_REQUIRE (pool.byte_ids[b] >= 0, "no byte piece %s", name);
  }
  for (int s = 0; s < KE_SPECIAL_COUNT; s++)
    pool.specials[s] = ke_tokenizer_special (tok, (ke_special_token) s);

  unsigned long long rng = 0x5eed;
  ke_token ids[96];
  ke_buf streamed = { 0 };
  size_t failures = 0, deltas = 0;
  for (int iter = 0; iter < 4000 && failures < 5; iter++) {
    size_t n;
    random_sequence (&rng, &pool, ids, &n, 1 + (size_t) (ke_test_rand_u64 (&rng) % 95));
    unsigned flags = iter % 2 ? KE_DECODE_SKIP_SPECIAL : 0;
    size_t full_len;
    char *full = ke_tokenizer_decode (tok, ids, n, flags, &full_len, NULL);
    KE_REQUIRE (full != NULL, "decode failed");
    ke_detokenizer *d = ke_detokenizer_new (tok, flags);
    KE_REQUIRE (d != NULL, "detokenizer");
    /* reuse after reset must behave like a fresh one */
    ke_detokenizer_push (d, pool.byte_ids[0xe3], NULL);
    ke_detokenizer_reset (d);
    streamed.len = 0;
    for (size_t i = 0; i <= n; i++) {
      size_t len;
      const char *delta = i < n ? ke_detokenizer_push (d, ids[i], &len)
                                : ke_detokenizer_flush (d, &len);
      KE_CHECK (delta != NULL && delta[len] == '\0', "delta not terminated");
      if (!ke_utf8_validate (delta, len, NULL)) {
        failures++;
        KE_CHECK (false, "iteration %d: delta %zu is not valid UTF-8", iter, i);
      }
      deltas += len > 0;
      ke_buf_append (&streamed, delta, len);
    }
    if (streamed.len != full_len || memcmp (streamed.data, full, full_len) != 0) {
      failures++;
      KE_CHECK (false, "iteration %d: streamed text differs from decode", iter);
    }
    ke_detokenizer_free (d);
    free (full);
  }
  KE_CHECK (deltas > 1000, "only %zu non-empty deltas", deltas);
  ke_buf_clear (&streamed);
  ke_tokenizer_free (tok);
}

KE_TEST (byte_run_is_held_until_it_ends)
{
  ke_tokenizer *tok = tt_fixture_tokenizer ();
  if (tok == NULL)
    KE_SKIP ("KESTREL_SHARED_DIR/tokenizer-fixture not found");
  ke_detokenizer *d = ke_detokenizer_new (tok, 0);
  size_t len;
  ke_detokenizer_push (d, ke_tokenizer_piece_to_id (tok, "<0xE3>"), &len);
  KE_CHECK (len == 0, "partial character emitted");
  ke_detokenizer_push (d, ke_tokenizer_piece_to_id (tok, "<0x81>"), &len);
  KE_CHECK (len == 0, "partial character emitted");
  ke_detokenizer_push (d, ke_tokenizer_piece_to_id (tok, "<0x82>"), &len);
  KE_CHECK (len == 0, "run emitted before it ended");
  const char *s = ke_detokenizer_push (d, ke_tokenizer_piece_to_id (tok, "a"), &len);
  KE_CHECK (len == 4 && memcmp (s, "\xe3\x81\x82" "a", 4) == 0, "run + a");
  s = ke_detokenizer_push (d, ke_tokenizer_piece_to_id (tok, "<0xF0>"), &len);
  s = ke_detokenizer_flush (d, &len);
  KE_CHECK (len == 3 && memcmp (s, "\xef\xbf\xbd", 3) == 0, "flush of a cut run");
  ke_detokenizer_free (d);
  ke_tokenizer_free (tok);
}

KE_TAP_MAIN (KE_TAP_ENTRY (streaming_equals_decode),
             KE_TAP_ENTRY (byte_run_is_held_until_it_ends))
