/* ke-encode.c — text → ids, exactly as Hugging Face `tokenizers`
 * encode(text, add_special_tokens=False) for a BPE model without pre-tokenizer.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Without a pre-tokenizer a pasted document is one BPE word.  Before merging (ke-bpe.c,
 * O(n log n)), the word is cut at symbol boundaries that no merge can ever span (see
 * ke-tokenizer-internal.h); the parts are merged independently, which gives the same
 * result (merges on one side never change the candidate pairs of the other) with small
 * working sets that stay in cache.
 */
#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wctype.h>

#include "ke-encoder.h"

static inline ke_token
char_id (const ke_tokenizer *tok, uint32_t cp)
{
  if (cp < 0x10000)
    return tok->bmp_id[cp];
  uint32_t id;
  return ke_u64_map_get (&tok->astral_id, cp, &id) ? (ke_token) id : -1;
}

/* model.rs merge_word + tokenize: one word (valid UTF-8, non-empty) → ids. */
static bool
bpe_word (ke_encoder *enc, const char *word, size_t len)
{
  const ke_tokenizer *tok = enc->tok;
  if (tok->ignore_merges) {
    int32_t id = ke_str_map_get (&tok->vocab, word, len);
    if (id >= 0)
      return ke_enc_emit (enc, id);
  }
  const unsigned char *s = (const unsigned char *) word;
  enc->n_sym = 0;
  bool unk_pending = false;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = ke_utf8_next (s + i, len - i, &cp);
    ke_token id = char_id (tok, cp);
    if (id >= 0) {
      if (unk_pending && !ke_enc_push_sym (enc, tok->unk_id))
        return false;
      unk_pending = false;
      if (!ke_enc_push_sym (enc, id))
        return false;
    } else {
      bool all_bytes = tok->byte_fallback;
      for (size_t k = 0; all_bytes && k < n; k++)
        all_bytes = tok->byte_id[s[i + k]] >= 0;
      if (all_bytes) {
        /* as in HF, a pending unk is not flushed before byte pieces */
        for (size_t k = 0; k < n; k++)
          if (!ke_enc_push_sym (enc, tok->byte_id[s[i + k]]))
            return false;
      } else if (tok->has_unk_token) {
        if (tok->unk_id < 0)
          return ke_set_error (enc->error, KE_ERROR_FORMAT,
                               "The tokenizer's unk token is not in its vocabulary");
        if (unk_pending && !tok->fuse_unk && !ke_enc_push_sym (enc, tok->unk_id))
          return false;
        unk_pending = true;
      } /* else: HF drops the character */
    }
    i += n;
  }
  if (unk_pending && !ke_enc_push_sym (enc, tok->unk_id))
    return false;

  /* cut where no merge can span, merge each part */
  ke_token *sym = enc->sym;
  size_t n = enc->n_sym, start = 0;
  if (n == 0)
    return true;
  if (tok->n_merges == 0) {
    for (size_t i = 0; i < n; i++)
      if (!ke_enc_emit (enc, sym[i]))
        return false;
    return true;
  }
  for (size_t i = 1; i < n; i++) {
    uint64_t pair = (uint64_t) tok->last_cp[sym[i - 1]] << 32 | tok->first_cp[sym[i]];
    uint32_t dummy;
    if (!ke_u64_map_get (&tok->joinable, pair, &dummy)) {
      if (!ke_bpe_merge_part (enc, sym + start, i - start))
        return false;
      start = i;
    }
  }
  return ke_bpe_merge_part (enc, sym + start, n - start);
}

/* ---- added tokens -------------------------------------------------------------------- */

/* regex-syntax's is_word_character: exact for ASCII; beyond ASCII, glibc's Unicode
 * alphanumeric classes (an approximation of \w, used only by single_word tokens). */
static locale_t utf8_locale;
static pthread_once_t utf8_locale_once = PTHREAD_ONCE_INIT;

static void
utf8_locale_init (void)
{
  utf8_locale = newlocale (LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);
}

static bool
is_word_char (uint32_t cp)
{
  if (cp < 0x80)
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
           cp == '_';
  pthread_once (&utf8_locale_once, utf8_locale_init);
  return utf8_locale != (locale_t) 0 && iswalnum_l ((wint_t) cp, utf8_locale);
}

static uint32_t
last_cp_of (const char *s, size_t len)
{
  size_t k = len - 1;
  while (k > 0 && ((unsigned char) s[k] & 0xc0) == 0x80)
    k--;
  uint32_t cp;
  ke_utf8_next ((const unsigned char *) s + k, len - k, &cp);
  return cp;
}

typedef bool (*gap_fn) (ke_encoder *enc, const char *s, size_t len);

/* AddedVocabulary::find_matches + split_with_indices: added tokens out of s, the gaps
 * between them handed to `gap` (empty gaps are dropped, as PreTokenizedString does). */
static bool
split_added (ke_encoder *enc, const ke_trie *trie, const char *s, size_t len, gap_fn gap)
{
  const ke_tokenizer *tok = enc->tok;
  if (trie->n_nodes == 0)
    return len == 0 || gap (enc, s, len);
  const unsigned char *u = (const unsigned char *) s;
  size_t start_offset = 0, pos = 0;
  while (pos < len) {
    if (!trie->first[u[pos]]) {
      pos++;
      continue;
    }
    uint32_t node = 0;
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t j = pos; j < len; j++) {
      uint32_t child;
      if (!ke_u64_map_get (&trie->edges, (uint64_t) node << 8 | u[j], &child))
        break;
      node = child;
      if (trie->term[node] >= 0) {
        best = trie->term[node];
        best_end = j + 1;
      }
    }
    if (best < 0) {
      pos++;
      continue;
    }
    const ke_added_token *t = &tok->added[best];
    size_t start = pos, stop = best_end;
    pos = best_end;
    if (t->single_word) {
      uint32_t cp;
      bool start_space = start == 0 || !is_word_char (last_cp_of (s, start));
      bool stop_space = stop == len ||
                        (ke_utf8_next (u + stop, len - stop, &cp), !is_word_char (cp));
      if (!start_space || !stop_space)
        continue;
    }
    if (t->lstrip) {
      size_t k = start;
      while (k > 0) {
        size_t b = k - 1;
        while (b > 0 && (u[b] & 0xc0) == 0x80)
          b--;
        uint32_t cp;
        ke_utf8_next (u + b, k - b, &cp);
        if (!ke_unicode_is_space (cp))
          break;
        k = b;
      }
      start = k > start_offset ? k : start_offset;
    }
    if (t->rstrip) {
      while (stop < len) {
        uint32_t cp;
        size_t n = ke_utf8_next (u + stop, len - stop, &cp);
        if (!ke_unicode_is_space (cp))
          break;
        stop += n;
      }
    }
    if (start_offset < start && !gap (enc, s + start_offset, start - start_offset))
      return false;
    if (!ke_enc_emit (enc, t->id))
      return false;
    start_offset = stop;
  }
  if (start_offset < len)
    return gap (enc, s + start_offset, len - start_offset);
  return true;
}

/* A piece between non-normalized added tokens: normalize it, then cut out the
 * normalized added tokens, and BPE the rest. */
static bool
raw_gap (ke_encoder *enc, const char *s, size_t len)
{
  enc->norm.len = 0;
  if (!ke_tokenizer_normalize (enc->tok, s, len, &enc->norm))
    return ke_enc_oom (enc);
  /* bpe_word does not touch enc->norm, so the pieces may point into it */
  return split_added (enc, &enc->tok->norm_trie, enc->norm.data, enc->norm.len, bpe_word);
}

bool
ke_tokenizer_encode (const ke_tokenizer *tok, const char *text, size_t len, ke_token **ids,
                     size_t *n_ids, ke_error **error)
{
  if (tok == NULL || ids == NULL || n_ids == NULL || (text == NULL && len > 0))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "ke_tokenizer_encode: bad arguments");
  size_t bad;
  if (!ke_utf8_validate (text, len, &bad))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "The text is not valid UTF-8 (at byte %zu)", bad);
  ke_encoder enc = { .tok = tok, .error = error };
  bool ok = len == 0 || split_added (&enc, &tok->raw_trie, text, len, raw_gap);
  ke_buf_clear (&enc.norm);
  free (enc.sym);
  free (enc.nodes);
  free (enc.log);
  free (enc.out_sym);
  free (enc.heap);
  free (enc.init);
  if (!ok) {
    free (enc.ids);
    return false;
  }
  if (enc.ids == NULL && (enc.ids = malloc (sizeof *enc.ids)) == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory while tokenizing");
  *ids = enc.ids;
  *n_ids = enc.n_ids;
  return true;
}
