/* ke-bpe.c — BPE merges of one word part, exactly as Hugging Face `tokenizers`' word.rs
 * merge_all, in O(n log n) and cache-friendly.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "ke-encoder.h"

/* A 4-ary min-heap of (rank << 32 | position): half the depth of a binary heap, and the
 * four children of a node are adjacent in memory. */
static inline void
heap_sift_down (uint64_t *heap, size_t n, size_t i)
{
  uint64_t v = heap[i];
  for (;;) {
    size_t c = 4 * i + 1;
    if (c >= n)
      break;
    size_t end = c + 4 < n ? c + 4 : n, m = c;
    for (size_t k = c + 1; k < end; k++)
      if (heap[k] < heap[m])
        m = k;
    if (heap[m] >= v)
      break;
    heap[i] = heap[m];
    i = m;
  }
  heap[i] = v;
}

static inline void
heap_push (uint64_t *heap, size_t *n, uint64_t v)
{
  size_t i = (*n)++;
  while (i > 0) {
    size_t p = (i - 1) / 4;
    if (heap[p] <= v)
      break;
    heap[i] = heap[p];
    i = p;
  }
  heap[i] = v;
}

/* Stable LSD radix sort of (rank << 32 | position) keys by rank; returns the buffer that
 * holds the result (a or tmp). */
static uint64_t *
sort_by_rank (uint64_t *a, uint64_t *tmp, size_t n, uint64_t max_rank)
{
  for (unsigned shift = 0; shift < 32 && (max_rank >> shift) > 0; shift += 11) {
    size_t count[2048] = { 0 };
    for (size_t i = 0; i < n; i++)
      count[(a[i] >> (32 + shift)) & 2047]++;
    size_t sum = 0;
    for (size_t d = 0; d < 2048; d++) {
      size_t c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++)
      tmp[count[(a[i] >> (32 + shift)) & 2047]++] = a[i];
    uint64_t *t = a;
    a = tmp;
    tmp = t;
  }
  return a;
}

#define merge_of ke_tokenizer_merge_rank

/* Chunks up to this many symbols are merged by merge_small; a test sets it to 0 to check
 * the heap path on the whole fixture. */
size_t ke_bpe_small_max = 48;

/* merge_all for small chunks, without the heap.  word.rs's heap pops the smallest
 * (rank, position) entry and skips expired ones (where the pair there no longer merges
 * into the entry's id).  An expired entry can never pass that check: the string a
 * position's pair covers only grows, and different strings have different ids.  So
 * merge_all is exactly "merge the current pair of smallest (rank, position) until none
 * merges", which this does with a rank per current pair and a linear scan. */
static bool
merge_small (ke_encoder *enc, ke_token *sym, size_t n)
{
  const ke_tokenizer *tok = enc->tok;
  uint32_t rk[64];
  for (size_t i = 0; i + 1 < n; i++)
    if (!merge_of (tok, sym[i], sym[i + 1], &rk[i]))
      rk[i] = UINT32_MAX;
  size_t m = n;
  for (;;) {
    uint32_t best = UINT32_MAX;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < m; i++)
      if (rk[i] < best) {
        best = rk[i];
        bi = i;
      }
    if (best == UINT32_MAX)
      break;
    sym[bi] = tok->rank_new_id[best];
    /* drop symbol bi+1 and the pair (bi+1, bi+2); pairs bi-1 and bi are recomputed */
    if (bi + 2 < m) {
      memmove (sym + bi + 1, sym + bi + 2, (m - bi - 2) * sizeof *sym);
      memmove (rk + bi + 1, rk + bi + 2, (m - bi - 3) * sizeof *rk);
    }
    m--;
    if (bi > 0 && !merge_of (tok, sym[bi - 1], sym[bi], &rk[bi - 1]))
      rk[bi - 1] = UINT32_MAX;
    if (bi + 1 < m && !merge_of (tok, sym[bi], sym[bi + 1], &rk[bi]))
      rk[bi] = UINT32_MAX;
  }
  for (size_t i = 0; i < m; i++)
    if (!ke_enc_emit (enc, sym[i]))
      return false;
  return true;
}

/* One logged merge of merge_run: its key (local position), the id it made, and whether
 * it changed the part's first or last symbol. */
enum { LOG_FIRST = 1, LOG_LAST = 2 };

typedef struct merge_event_s {
  uint64_t key;
  ke_token id;
  uint32_t flags;
} merge_event;

static bool
log_event (ke_encoder *enc, uint64_t key, ke_token id, uint32_t flags)
{
  if (KE_UNLIKELY (enc->n_log == enc->cap_log) &&
      !ke_enc_grow ((void **) &enc->log, &enc->cap_log, enc->n_log + 1, sizeof *enc->log))
    return ke_enc_oom (enc);
  enc->log[enc->n_log++] = (merge_event) { key, id, flags };
  return true;
}

/* word.rs merge_all over sym[0..n); the surviving symbols are written back to sym[0..*m).
 * With `logging`, every merge is appended to enc->log; with `starts`, the position where
 * each surviving symbol starts is written there.
 *
 * The initial pairs are known up front, so instead of heapifying them they are sorted by
 * (rank, position) — a radix sort, positions being ascending already — and consumed in
 * order; only the pairs that merges create go through the heap, and each pop takes the
 * smaller of the two heads: the same order as word.rs's single heap.  Each node keeps the
 * rank of the pair it starts, so an entry is current iff its rank is the node's (the
 * expiry test of merge_small's comment, without a hash lookup), and a node is one cache
 * line access.  Each merge pushes at most two pairs and there are fewer than n merges. */
static bool
merge_run (ke_encoder *enc, ke_token *sym, size_t n, bool logging, size_t *m,
           int32_t *starts)
{
  const ke_tokenizer *tok = enc->tok;
  if (n > INT32_MAX / 4)
    return ke_set_error (enc->error, KE_ERROR_INVALID_ARGUMENT, "Text too long to tokenize");
  if (n > enc->cap_chunk) {
    size_t cap = n < 1024 ? 1024 : n;
    ke_bpe_node *nd = ke_realloc_array (enc->nodes, cap, sizeof *nd);
    if (nd == NULL)
      return ke_enc_oom (enc);
    enc->nodes = nd;
    uint64_t *in = ke_realloc_array (enc->init, cap, sizeof *in);
    if (in == NULL)
      return ke_enc_oom (enc);
    enc->init = in;
    uint64_t *hp = ke_realloc_array (enc->heap, cap, 2 * sizeof *hp);
    if (hp == NULL)
      return ke_enc_oom (enc);
    enc->heap = hp;
    enc->cap_chunk = cap;
  }
  ke_bpe_node *nodes = enc->nodes;
  uint64_t *heap = enc->heap;

  size_t ni = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t rank = UINT32_MAX;
    if (i + 1 < n && merge_of (tok, sym[i], sym[i + 1], &rank))
      enc->init[ni++] = (uint64_t) rank << 32 | i;
    nodes[i] = (ke_bpe_node) { sym[i], (int32_t) i - 1, i + 1 < n ? (int32_t) i + 1 : -1, rank };
  }
  const uint64_t *init = sort_by_rank (enc->init, heap, ni, tok->n_merges);
  if (init == heap) { /* the heap is needed: move the sorted keys back */
    memcpy (enc->init, heap, ni * sizeof *heap);
    init = enc->init;
  }

  size_t h = 0, ic = 0;
  for (;;) {
    uint64_t top;
    if (ic < ni && (h == 0 || init[ic] <= heap[0])) {
      top = init[ic++];
    } else if (h > 0) {
      top = heap[0];
      heap[0] = heap[--h];
      if (h > 0)
        heap_sift_down (heap, h, 0);
    } else {
      break;
    }
    uint32_t pos = (uint32_t) top;
    uint32_t rank = (uint32_t) (top >> 32);
    ke_bpe_node *p = &nodes[pos];
    if (p->rank != rank)
      continue; /* expired: removed, or its pair changed */
    ke_bpe_node *q = &nodes[p->next];
    p->id = tok->rank_new_id[rank];
    p->next = q->next;
    q->id = -1;
    q->rank = UINT32_MAX;
    if (logging && !log_event (enc, top, p->id,
                               (pos == 0 ? LOG_FIRST : 0) | (p->next < 0 ? LOG_LAST : 0)))
      return false;
    uint32_t cur;
    if (p->prev >= 0) {
      ke_bpe_node *l = &nodes[p->prev];
      l->rank = merge_of (tok, l->id, p->id, &cur) ? cur : UINT32_MAX;
      if (l->rank != UINT32_MAX)
        heap_push (heap, &h, (uint64_t) cur << 32 | (uint32_t) p->prev);
    }
    p->rank = UINT32_MAX;
    if (p->next >= 0) {
      ke_bpe_node *r = &nodes[p->next];
      r->prev = (int32_t) pos;
      if (merge_of (tok, p->id, r->id, &cur)) {
        p->rank = cur;
        heap_push (heap, &h, (uint64_t) cur << 32 | pos);
      }
    }
  }
  size_t k = 0;
  for (int32_t i = 0; i >= 0; i = nodes[i].next) {
    if (starts)
      starts[k] = i;
    sym[k++] = nodes[i].id;
  }
  *m = k;
  return true;
}

/* Long parts are merged in blocks of about this many symbols (tests lower it). */
size_t ke_bpe_block = 4096;

typedef struct {
  size_t start, len;      /* the block's symbols in the part */
  size_t out_off, out_n;  /* its merged symbols in enc->out_sym */
  size_t log_off, log_n;  /* its merges in enc->log */
} bpe_block;

/* Would the merge run over the whole of L·R merge across their boundary?  The whole run
 * pops, at each step, the smaller next merge of L's and R's own runs — unless the pair
 * across the boundary (L's current last symbol, R's current first) merges with a smaller
 * key: then it crosses.  Walking both logs in that order decides it exactly. */
static bool
blocks_independent (const ke_encoder *enc, const ke_token *orig, const bpe_block *L,
                    const bpe_block *R)
{
  const ke_tokenizer *tok = enc->tok;
  const merge_event *lg = enc->log + L->log_off, *rg = enc->log + R->log_off;
  size_t i = 0, j = 0;
  ke_token lcur = orig[L->start + L->len - 1], rcur = orig[R->start];
  uint64_t lpos = L->start + L->len - 1;
  for (;;) {
    uint32_t rank;
    uint64_t kb = merge_of (tok, lcur, rcur, &rank) ? (uint64_t) rank << 32 | lpos : UINT64_MAX;
    uint64_t kl = i < L->log_n ? lg[i].key + L->start : UINT64_MAX;
    uint64_t kr = j < R->log_n ? rg[j].key + R->start : UINT64_MAX;
    uint64_t next = kl < kr ? kl : kr;
    if (kb < next || (next == UINT64_MAX && kb != UINT64_MAX))
      return false;
    if (next == UINT64_MAX)
      return true;
    if (kl < kr) {
      if (lg[i].flags & LOG_LAST) {
        lcur = lg[i].id;
        lpos = (uint32_t) kl;
      }
      i++;
    } else {
      if (rg[j].flags & LOG_FIRST)
        rcur = rg[j].id;
      j++;
    }
  }
}

static bool
run_block (ke_encoder *enc, const ke_token *orig, bpe_block *b)
{
  size_t need = enc->n_out + b->len;
  if (!ke_enc_grow ((void **) &enc->out_sym, &enc->cap_out, need, sizeof *enc->out_sym))
    return ke_enc_oom (enc);
  ke_token *out = enc->out_sym + enc->n_out;
  memcpy (out, orig + b->start, b->len * sizeof *out);
  b->out_off = enc->n_out;
  b->log_off = enc->n_log;
  size_t m;
  if (!merge_run (enc, out, b->len, true, &m, NULL))
    return false;
  b->out_n = m;
  b->log_n = enc->n_log - b->log_off;
  enc->n_out += m;
  return true;
}

/* A long part: merged block by block, adjacent blocks checked for independence and fused
 * (merged again as one) where a merge would cross.  Exact: the result is merge_run's over
 * the whole part.  If fusing redoes more than half the part, the whole part is merged in
 * one run instead, so the worst case stays O(n log n). */
static bool
merge_blocked (ke_encoder *enc, ke_token *sym, size_t n)
{
  size_t bs = ke_bpe_block;
  size_t nb = n / (bs / 2) + 2; /* blocks are at least bs - W >= bs / 2 long */
  bpe_block *blocks = ke_calloc_array (nb, sizeof *blocks);
  ke_token *orig = ke_malloc_array (n, sizeof *orig);
  if (blocks == NULL || orig == NULL) {
    free (blocks);
    free (orig);
    return ke_enc_oom (enc);
  }
  memcpy (orig, sym, n * sizeof *orig);
  /* Cut near each multiple of bs where a token boundary of the final result is likely:
   * merge a window of 2W symbols around the spot and take the boundary of its result
   * nearest the middle (influence rarely reaches W symbols; the independence check
   * below makes the cut exact either way). */
  enum { W = 48 };
  ke_token window[2 * W];
  int32_t starts[2 * W];
  size_t start = 0, k = 0;
  while (start < n) {
    size_t end = start + bs;
    if (end + bs / 2 >= n) {
      end = n;
    } else {
      memcpy (window, orig + end - W, sizeof window);
      size_t m = 0;
      if (!merge_run (enc, window, 2 * W, false, &m, starts)) {
        free (blocks);
        free (orig);
        return false;
      }
      size_t best = end, best_dist = SIZE_MAX;
      for (size_t j = 1; j < m; j++) {
        size_t c = end - W + (size_t) starts[j];
        size_t dist = c > end ? c - end : end - c;
        if (dist < best_dist) {
          best_dist = dist;
          best = c;
        }
      }
      end = best;
    }
    if (k == nb) { /* cannot happen (see nb); refuse rather than overrun */
      free (blocks);
      free (orig);
      return ke_set_error (enc->error, KE_ERROR_FAILED, "BPE block bookkeeping failed");
    }
    blocks[k++] = (bpe_block) { .start = start, .len = end - start };
    start = end;
  }
  nb = k;
  enc->n_out = 0;
  enc->n_log = 0;
  bool ok = true;
  for (size_t b = 0; ok && b < nb; b++)
    ok = run_block (enc, orig, &blocks[b]);
  size_t redone = 0;
  /* blocks[0..done) are final among themselves; check block b against b+1 */
  size_t b = 0;
  while (ok && b + 1 < nb) {
    if (blocks_independent (enc, orig, &blocks[b], &blocks[b + 1])) {
      b++;
      continue;
    }
    blocks[b].len += blocks[b + 1].len;
    redone += blocks[b].len;
    memmove (&blocks[b + 1], &blocks[b + 2], (nb - b - 2) * sizeof *blocks);
    nb--;
    if (redone > n / 2)
      break;
    ok = run_block (enc, orig, &blocks[b]);
    if (b > 0)
      b--; /* the block before now borders a different run */
  }
  if (ok && redone > n / 2) {
    /* too much fusing: one run over the whole part */
    size_t m;
    ok = merge_run (enc, orig, n, false, &m, NULL);
    for (size_t i = 0; ok && i < m; i++)
      ok = ke_enc_emit (enc, orig[i]);
  } else {
    for (size_t i = 0; ok && i < nb; i++)
      for (size_t j = 0; ok && j < blocks[i].out_n; j++)
        ok = ke_enc_emit (enc, enc->out_sym[blocks[i].out_off + j]);
  }
  free (blocks);
  free (orig);
  return ok;
}

bool
ke_bpe_merge_part (ke_encoder *enc, ke_token *sym, size_t n)
{
  if (n == 1)
    return ke_enc_emit (enc, sym[0]);
  if (n <= ke_bpe_small_max && n <= 64)
    return merge_small (enc, sym, n);
  if (n >= 2 * ke_bpe_block && ke_bpe_block >= 2 * 48)
    return merge_blocked (enc, sym, n);
  size_t m = 0;
  if (!merge_run (enc, sym, n, false, &m, NULL))
    return false;
  for (size_t i = 0; i < m; i++)
    if (!ke_enc_emit (enc, sym[i]))
      return false;
  return true;
}

