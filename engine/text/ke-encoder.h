/* ke-encoder.h — the encoder's working state, shared by ke-encode.c (added tokens,
 * normalization, characters → BPE symbols) and ke-bpe.c (the merges).  Not public API.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdlib.h>

#include "ke-tokenizer-internal.h"

struct merge_event_s;

/* A BPE symbol in merge_run's list; rank is that of the pair it starts, or UINT32_MAX. */
typedef struct {
  ke_token id;
  int32_t prev, next;
  uint32_t rank;
} ke_bpe_node;

typedef struct ke_encoder {
  const ke_tokenizer *tok;
  ke_token *ids;
  size_t n_ids, cap_ids;
  ke_buf norm;            /* the normalized piece being split */
  ke_token *sym;          /* BPE symbols of the current word */
  size_t n_sym, cap_sym;
  ke_bpe_node *nodes;        /* linked list over a part of sym */
  uint64_t *init;         /* the word's initial pairs, (rank << 32 | position) */
  struct merge_event_s *log; /* merge_blocked: the merges of each block */
  size_t n_log, cap_log;
  ke_token *out_sym;      /* merge_blocked: each block's merged symbols */
  size_t n_out, cap_out;
  uint64_t *heap;         /* pairs created by merges [2 * cap_chunk] */
  size_t cap_chunk;
  ke_error **error;
} ke_encoder;

static inline bool
ke_enc_oom (ke_encoder *enc)
{
  return ke_set_error (enc->error, KE_ERROR_NO_MEMORY, "Out of memory while tokenizing");
}

static inline bool
ke_enc_grow (void **ptr, size_t *cap, size_t need, size_t size)
{
  if (need <= *cap)
    return true;
  size_t c = *cap ? *cap : 64;
  while (c < need) {
    if (c > SIZE_MAX / 4)
      return false;
    c *= 2;
  }
  void *p = ke_realloc_array (*ptr, c, size);
  if (p == NULL)
    return false;
  *ptr = p;
  *cap = c;
  return true;
}

static inline bool
ke_enc_emit (ke_encoder *enc, ke_token id)
{
  if (KE_UNLIKELY (enc->n_ids == enc->cap_ids) &&
      !ke_enc_grow ((void **) &enc->ids, &enc->cap_ids, enc->n_ids + 1, sizeof *enc->ids))
    return ke_enc_oom (enc);
  enc->ids[enc->n_ids++] = id;
  return true;
}

static inline bool
ke_enc_push_sym (ke_encoder *enc, ke_token id)
{
  if (KE_UNLIKELY (enc->n_sym == enc->cap_sym) &&
      !ke_enc_grow ((void **) &enc->sym, &enc->cap_sym, enc->n_sym + 1, sizeof *enc->sym))
    return ke_enc_oom (enc);
  enc->sym[enc->n_sym++] = id;
  return true;
}


/* Merges one part of a BPE word (sym[0..n), cut where no merge can span; sym is used as
 * scratch) exactly as word.rs's merge_all, and emits the surviving symbols. */
bool ke_bpe_merge_part (ke_encoder *enc, ke_token *sym, size_t n);
