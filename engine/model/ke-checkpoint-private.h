/* ke-checkpoint-private.h — the loader's state, shared by its files (engine/model only).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "ke-config.h"
#include "ke-internal.h"
#include "ke-quant-config.h"
#include "ke-safetensors.h"
#include "ke-weights.h"

typedef enum {
  KE_CKPT_TEXT,
  KE_CKPT_VISION,
  KE_CKPT_PROJECTOR,
} ke_ckpt_part;

/* One tensor name of the checkpoint and where its data is. */
typedef struct ke_ckpt_entry {
  const char *name;          /* borrowed from the file's tensor */
  const ke_st_tensor *tensor;
  const ke_st_file *file;
  bool used;
} ke_ckpt_entry;

struct ke_checkpoint {
  char *dir;
  char *index_path;          /* model.safetensors.index.json of a sharded checkpoint */
  ke_checkpoint_options options;
  ke_config config;
  ke_quant_config quant;
  ke_quant_scheme scheme;
  ke_st_file *files;
  size_t n_files;
  ke_ckpt_entry *entries;    /* sorted by name */
  size_t n_entries;
  ke_weights weights;
  void **owned;
  size_t n_owned, cap_owned;
  char **warnings;
  size_t n_warnings, cap_warnings;
  ke_checkpoint_stats stats;
  char layout[160];
  const char *text_prefix, *vision_prefix, *projector_prefix;
  ke_progress_fn progress;
  void *user_data;
};

/* ke-checkpoint.c */
bool ke_ckpt_report (ke_checkpoint *cp, double fraction, const char *stage, ke_error **error);
ke_ckpt_entry *ke_ckpt_find (ke_checkpoint *cp, const char *name);
void *ke_ckpt_alloc (ke_checkpoint *cp, size_t bytes);
void ke_ckpt_warn (ke_checkpoint *cp, const char *fmt, ...) KE_PRINTF (2, 3);

/* ke-checkpoint-bind.c: fills cp->weights from cp->entries. */
bool ke_ckpt_bind_all (ke_checkpoint *cp, ke_error **error);

/* ke-quantize.c */
/* Per-output-channel FP8 quantization of a float [rows, cols] matrix: scale[r] =
 * max(absmax_r / 448, FLT_EPSILON), q = RNE(x / scale[r]) saturated to ±448.  Rows are
 * split over threads. */
void ke_quantize_fp8_rows (const void *src, ke_dtype src_dtype, size_t rows, size_t cols,
                           uint8_t *q, float *scale);
/* The same result as ke_f32_to_fp8e4m3() (RNE, saturating, NaN → 0x7f) by bit
 * manipulation, several times faster; tested against it. */
uint8_t ke_fp8e4m3_from_f32_fast (float x);
/* Converts n values of a float dtype to f32. */
void ke_convert_to_f32 (const void *src, ke_dtype dtype, size_t n, float *dst);
