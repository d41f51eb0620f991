/* ke-checkpoint-writer.h — random-weight Gemma 3 checkpoints in the published format.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Writes a Hugging Face folder exactly as transformers/llm-compressor would: sparse
 * config.json (+ quantization_config for fp8), generation_config.json,
 * preprocessor_config.json, tokenizer.json (copied), and model.safetensors or
 * model-0000i-of-0000n.safetensors + model.safetensors.index.json.  Weights are seeded and
 * reproducible: every row of every tensor is drawn from its own stream (seed, tensor role,
 * row), so the values do not depend on the layout, the shard count or the thread count.
 * A bf16 checkpoint holds exactly the dequantized weights of the fp8 checkpoint of the
 * same seed and shape.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ke-engine.h"
#include "ke-checkpoint-names.h"
#include "ke-config.h"
#include "ke-weights.h"

typedef enum {
  KE_GEN_FP8,  /* compressed-tensors FP8-dynamic, as llm-compressor writes it */
  KE_GEN_BF16, /* unquantized, as google/gemma-3-*-it */
} ke_gen_format;

typedef struct ke_gen_options {
  const char *shape;          /* "tiny", "1b", "4b", "12b", "27b" */
  int32_t layers;             /* text layers; 0 = the shape's */
  int32_t vision_layers;      /* -1 = the shape's */
  ke_gen_format format;
  ke_name_layout layout;      /* ignored for 1b (Gemma3ForCausalLM) */
  uint32_t n_shards;          /* 0 or 1: model.safetensors; n: sharded with an index */
  uint64_t seed;
  const char *tokenizer_path; /* NULL: $KESTREL_SHARED_DIR/tokenizer-fixture/tokenizer.json */
  bool untied_lm_head;        /* write lm_head.weight and tie_word_embeddings false */
  int n_threads;              /* 0: all cores */
  ke_dtype scale_dtype;       /* weight_scale dtype: BF16 (default, as llm-compressor), F16, F32 */
  bool scale_1d;              /* weight_scale [out] instead of [out, 1] */
} ke_gen_options;

void ke_gen_options_init (ke_gen_options *options);

/* Known shape names, NULL-terminated. */
extern const char *const ke_gen_shape_names[];

/* Creates out_dir if needed and writes the checkpoint into it. */
bool ke_gen_checkpoint (const char *out_dir, const ke_gen_options *options,
                        ke_progress_fn progress, void *user_data, ke_error **error);
