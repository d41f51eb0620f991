/* ke-tokenizer-internal.h — the tokenizer's data, shared by its loader, encoder and
 * decoders (not public API).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The pipeline is Hugging Face `tokenizers`' for a BPE model without pre-tokenizer (the
 * form Gemma 3's tokenizer.json has):
 *   1. added tokens with normalized=false are cut out of the raw text (leftmost-longest);
 *   2. each remaining piece is normalized (Replace / Prepend steps), and added tokens with
 *      normalized=true are cut out of the normalized piece;
 *   3. each remaining piece is one BPE word: characters → ids (byte fallback, fused unk),
 *      then merges by rank with a heap (word.rs's merge_all).
 * Decoding: id → piece (added tokens first), per-piece Replace steps, ByteFallback over
 * runs of <0xNN> pieces, concatenation (Fuse).
 */
#pragma once

#include "ke-internal.h"
#include "ke-text-hash.h"

/* A growable byte buffer; the arena of pieces is one, addressed by 32-bit offsets. */
typedef struct {
  char *data;
  size_t len, cap;
} ke_buf;

bool ke_buf_reserve (ke_buf *buf, size_t extra);
bool ke_buf_append (ke_buf *buf, const void *data, size_t len);
/* Appends and NUL-terminates (the NUL is not counted in len); *off receives the offset. */
bool ke_buf_append_str (ke_buf *buf, const void *data, size_t len, uint32_t *off);
void ke_buf_clear (ke_buf *buf);

/* A string-to-string replacement (normalizer Replace, decoder Replace). */
typedef struct {
  uint32_t pattern_off, pattern_len; /* into the arena; pattern_len > 0 */
  uint32_t content_off, content_len;
} ke_replace;

typedef enum {
  KE_NORM_REPLACE,
  KE_NORM_PREPEND,
} ke_norm_kind;

typedef struct {
  ke_norm_kind kind;
  ke_replace replace;          /* KE_NORM_REPLACE */
  uint32_t text_off, text_len; /* KE_NORM_PREPEND */
} ke_norm_step;

typedef struct {
  uint32_t content_off, content_len;
  ke_token id;
  bool special, normalized, lstrip, rstrip, single_word;
} ke_added_token;

/* A byte trie of added-token patterns, matched leftmost-longest like aho-corasick's
 * MatchKind::LeftmostLongest.  Node 0 is the root. */
typedef struct {
  ke_u64_map edges;  /* (node << 8 | byte) → child node */
  int32_t *term;     /* node → added-token index, or -1 */
  uint32_t n_nodes, cap_nodes;
  bool first[256];   /* bytes that start some pattern */
} ke_trie;

enum {
  KE_PIECE_SPECIAL = 1 << 0, /* HF is_special_token(piece): skipped by SKIP_SPECIAL */
};

struct ke_tokenizer {
  ke_buf arena;   /* every string, NUL-terminated */
  const char *arena_base; /* == arena.data once loading is done (the maps read through it) */

  /* ids: every id below n_ids has a piece or piece_len[id] == UINT32_MAX */
  uint32_t n_ids;
  uint32_t *piece_off, *piece_len; /* id → piece (added-token content wins) */
  uint8_t *piece_flags;
  /* Decoder output per id: the piece after the decoder's Replace steps, and the byte it
   * stands for when it has the <0xNN> form (ByteFallback), else -1. */
  uint32_t *dec_off, *dec_len;
  int16_t *dec_byte;

  /* BPE model */
  ke_str_map vocab;             /* model vocab: piece → id */
  ke_u64_map merges;            /* (left << 32 | right) → rank */
  /* The same packed in 8-byte slots (rank << 44 | left << 22 | right; all ones = free),
   * a quarter of the memory, when ids < 2^22 and ranks < 2^20 - 1 (Gemma: 2^18, ~2^19). */
  uint64_t *pmerges;
  size_t pmerges_mask;
  ke_token *rank_new_id;        /* rank → merged id */
  size_t n_merges;
  ke_token byte_id[256];        /* <0xNN> pieces, or -1 */
  ke_token *bmp_id;             /* [0x10000] one-code-point pieces, or -1 */
  ke_u64_map astral_id;         /* code points above U+FFFF → id */
  bool byte_fallback, fuse_unk, ignore_merges;
  bool has_unk_token;           /* model.unk_token is set */
  ke_token unk_id;              /* its id in the vocab, or -1 (then unk is an error) */
  /* Merge-locality data: a BPE symbol boundary between code points a|b can only ever be
   * merged over when some merge result contains "ab"; boundaries that cannot split the
   * word into independent parts (exact, and it keeps the heaps small). */
  uint32_t *first_cp, *last_cp; /* per model id: first / last code point of its piece */
  ke_u64_map joinable;          /* (a << 32 | b) pairs adjacent inside some merge result */

  /* normalizer */
  ke_norm_step *norm;
  size_t n_norm;

  /* added tokens */
  ke_added_token *added;
  size_t n_added;
  ke_str_map added_map;         /* content → id */
  ke_trie raw_trie;             /* normalized == false, matched on the raw text */
  ke_trie norm_trie;            /* normalized == true, patterns normalized, on pieces */

  /* decoder */
  ke_replace *dec_replace;
  size_t n_dec_replace;
  bool dec_byte_fallback;

  ke_token special[KE_SPECIAL_COUNT];
};

/* Loader (ke-tokenizer-json.c / ke-sentencepiece.c) helpers shared with ke-tokenizer.c. */
ke_tokenizer *ke_tokenizer_alloc (void);
/* Builds everything derived from the vocab/merges/added tokens once the loader filled
 * them: id tables, tries, decoder tables, merge-locality data. */
bool ke_tokenizer_finish (ke_tokenizer *tok, ke_error **error);

/* ke-sentencepiece.c: tokenizer.model, with tokenizer_config.json's added tokens when
 * config_path names an existing file. */
ke_tokenizer *ke_tokenizer_new_from_sentencepiece (const char *model_path,
                                                   const char *config_path, ke_error **error);
ke_tokenizer *ke_tokenizer_new_from_sentencepiece_data (const void *data, size_t size,
                                                        const char *config_path,
                                                        ke_error **error);

bool ke_trie_insert (ke_trie *trie, const char *s, size_t len, int32_t value);
void ke_trie_clear (ke_trie *trie);

/* Applies the normalizer to text, appending to out. */
bool ke_tokenizer_normalize (const ke_tokenizer *tok, const char *text, size_t len,
                             ke_buf *out);

#define KE_PMERGE_KEY_MASK ((UINT64_C (1) << 44) - 1)

/* The merge of the pair (a, b): its rank, if any. */
static inline bool
ke_tokenizer_merge_rank (const ke_tokenizer *tok, ke_token a, ke_token b, uint32_t *rank)
{
  if (tok->pmerges != NULL) {
    uint64_t key = (uint64_t) (uint32_t) a << 22 | (uint32_t) b;
    size_t i = (size_t) ke_hash_u64 (key) & tok->pmerges_mask;
    for (;;) {
      uint64_t slot = tok->pmerges[i];
      if (slot == UINT64_MAX)
        return false;
      if ((slot & KE_PMERGE_KEY_MASK) == key) {
        *rank = (uint32_t) (slot >> 44);
        return true;
      }
      i = (i + 1) & tok->pmerges_mask;
    }
  }
  return ke_u64_map_get (&tok->merges, (uint64_t) (uint32_t) a << 32 | (uint32_t) b, rank);
}

/* BPE words cut into parts of at most this many symbols skip the heap (tests set 0). */
extern size_t ke_bpe_small_max;
/* Parts of at least twice this many symbols are merged in blocks (tests lower it). */
extern size_t ke_bpe_block;

/* Decodes one UTF-8 code point at s[0..len) (valid UTF-8 assumed); returns its length. */
static inline size_t
ke_utf8_next (const unsigned char *s, size_t len, uint32_t *cp)
{
  unsigned c = s[0];
  if (c < 0x80 || len < 2) {
    *cp = c;
    return 1;
  }
  if (c < 0xe0) {
    *cp = ((c & 0x1fu) << 6) | (s[1] & 0x3fu);
    return 2;
  }
  if (c < 0xf0 || len < 4) {
    if (len < 3) {
      *cp = c;
      return 1;
    }
    *cp = ((c & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
    return 3;
  }
  *cp = ((c & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu);
  return 4;
}

/* Unicode White_Space (Rust's char::is_whitespace). */
static inline bool
ke_unicode_is_space (uint32_t c)
{
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
         c == 0x205f || c == 0x3000;
}
