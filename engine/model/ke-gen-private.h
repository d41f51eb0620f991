/* ke-gen-private.h — shared by the checkpoint writer's files (engine/model only).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <yyjson.h>

#include "ke-checkpoint-writer.h"
#include "ke-internal.h"

typedef struct ke_gen_shape {
  const char *name;
  bool vision;
  uint32_t hidden, intermediate, layers, heads, kv_heads, head_dim;
  float query_pre_attn_scalar;
  uint32_t sliding_window, vocab, max_position;
  float rope_factor;          /* 1: no rope_scaling */
  uint32_t v_hidden, v_intermediate, v_layers, v_heads, patch, image, mm_tokens;
} ke_gen_shape;

typedef struct ke_gen_tokens {
  bool from_tokenizer;        /* false: the real Gemma 3 ids (config keys left to defaults) */
  int32_t bos, pad, boi, eoi, image;
  int32_t eos[2];
} ke_gen_tokens;

bool ke_gen_resolve_shape (const ke_gen_options *options, ke_gen_shape *shape, ke_error **error);
bool ke_gen_read_tokens (const char *tokenizer_path, ke_gen_tokens *tokens, ke_error **error);
/* The config.json document (the caller frees it). */
yyjson_mut_doc *ke_gen_config_json (const ke_gen_shape *shape, const ke_gen_tokens *tokens,
                                    const ke_gen_options *options);
bool ke_gen_write_side_files (const char *out_dir, const ke_gen_shape *shape,
                              const ke_gen_tokens *tokens, const ke_gen_options *options,
                              ke_error **error);
bool ke_gen_write_json (yyjson_mut_doc *doc, const char *path, ke_error **error);
