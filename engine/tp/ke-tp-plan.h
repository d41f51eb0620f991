/* ke-tp-plan.h — how a Gemma 3 text decoder is split over N tensor-parallel ranks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Megatron-style, as vLLM runs Gemma 3 with --tensor-parallel-size N:
 *
 *   column-parallel (output channels split, no communication):
 *     q_proj            [heads·hd, H]  → rank r: heads   [r·heads/N,  (r+1)·heads/N)
 *     k_proj, v_proj    [kv·hd, H]     → rank r: kv heads[r·kv/N,     (r+1)·kv/N)
 *     gate_proj, up_proj[I, H]         → rank r: columns [r·I/N,      (r+1)·I/N)
 *   row-parallel (input channels split; the partial outputs are summed by an all-reduce):
 *     o_proj            [H, heads·hd]  → rank r: input slice of its own heads
 *     down_proj         [H, I]         → rank r: input slice of its own MLP columns
 *   vocabulary-parallel:
 *     lm_head           [V, H]         → rank r: a contiguous block of rows (balanced: the
 *                                        first V mod N ranks hold one row more); the
 *                                        logits are all-gathered for sampling.
 *   replicated: embeddings (and the tied lm_head's source), every norm, q/k norms,
 *   the vision tower and projector (run once, on rank 0).
 *
 * A rank's query heads use exactly the KV heads it holds (GQA groups never straddle
 * ranks) because N divides both head counts.  Per-channel FP8 scales travel with their
 * rows; a row-parallel view keeps the full scale vector (the scale is per output row).
 *
 * The views point into the loader's tensors: nothing is copied.  A column-parallel view
 * is a contiguous block of rows.  A row-parallel view is a block of columns, so its rows
 * are `row_stride` elements apart (the full input width) — consumers must honour it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ke-engine.h"
#include "ke-config.h"
#include "ke-weights.h"

#define KE_TP_MAX_RANKS 8

typedef struct ke_tp_range {
  uint32_t first;
  uint32_t count;
} ke_tp_range;

typedef struct ke_tp_shard {
  uint32_t rank;
  ke_tp_range q_heads;  /* query heads (q_proj rows / hd, o_proj columns / hd) */
  ke_tp_range kv_heads; /* key/value heads (k_proj, v_proj rows / hd) */
  ke_tp_range mlp;      /* intermediate channels (gate/up rows, down_proj columns) */
  ke_tp_range vocab;    /* lm_head rows */
} ke_tp_shard;

typedef struct ke_tp_plan {
  uint32_t n_ranks;
  uint32_t head_dim;
  uint32_t vocab_size;
  uint32_t vocab_stride; /* ceil(V / N): the per-rank block of the logits all-gather */
  ke_tp_shard shards[KE_TP_MAX_RANKS];
} ke_tp_plan;

/* Plans `n_ranks` ranks for this text config.  KE_ERROR_INVALID_ARGUMENT, naming the
 * numbers, unless 1 <= n_ranks <= KE_TP_MAX_RANKS and n_ranks divides the query heads,
 * the KV heads and intermediate_size, and the vocabulary has at least n_ranks rows.
 * (Gemma 3 4b: 8 query / 4 KV heads, 10240 → N ∈ {1, 2, 4}.) */
bool ke_tp_plan_init (ke_tp_plan *plan, const ke_text_config *text, uint32_t n_ranks,
                      ke_error **error);

/* What a GPU offers, for ke_tp_check_devices (filled by the CUDA backend's caller). */
typedef struct ke_tp_device {
  int index;      /* CUDA ordinal */
  char name[128];
  int cc_major, cc_minor;
} ke_tp_device;

/* Checks a device list for tensor parallelism: no duplicates, no negative index, and one
 * compute capability for all (the kernels are built and tuned per architecture; mixed
 * GPUs would also run at the slowest one's pace).  n == 0 is refused. */
bool ke_tp_check_devices (const ke_tp_device *devices, size_t n, ke_error **error);

/* ke_parse_device_list (ke-engine.h) is implemented in ke-tp-plan.c. */

/* ---- sharded weight views ------------------------------------------------------------- */

/* One rank's weights: a ke_weights whose text linears are views of this rank's shard
 * (embeddings, norms, vision and projector are the model's own, shared).  The shapes of
 * the views are the local ones (q_proj [local heads·hd, H], o_proj [H, local heads·hd],
 * lm_head [local vocab, H], …).  o_proj / down_proj rows are `o_row_stride` /
 * `down_row_stride` elements apart; every other view is dense. */
typedef struct ke_tp_rank_weights {
  ke_weights weights;
  size_t o_row_stride;    /* heads·hd */
  size_t down_row_stride; /* intermediate_size */
} ke_tp_rank_weights;

/* Fills `out` for rank `rank` of `plan`; checks every text linear's shape against the
 * config first (KE_ERROR_FORMAT naming the tensor).  Free with ke_tp_rank_weights_clear. */
bool ke_tp_rank_weights_init (ke_tp_rank_weights *out, const ke_tp_plan *plan, uint32_t rank,
                              const ke_config *config, const ke_weights *weights,
                              ke_error **error);
void ke_tp_rank_weights_clear (ke_tp_rank_weights *rank_weights);

/* The views themselves (exposed for tests and the CUDA upload):
 * rows [first, first + count) of a Linear [out, in], with the scale (and bias) rows. */
bool ke_tp_view_rows (const ke_linear *linear, uint32_t first, uint32_t count, ke_linear *view,
                      ke_error **error);
/* columns [first, first + count) of a Linear [out, in]: rows stay `in` elements apart; the
 * scale is kept whole; a bias is kept on rank 0 only (keep_bias), since the all-reduce
 * sums the ranks' outputs. */
bool ke_tp_view_cols (const ke_linear *linear, uint32_t first, uint32_t count, bool keep_bias,
                      ke_linear *view, ke_error **error);
