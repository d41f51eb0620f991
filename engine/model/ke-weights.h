/* ke-weights.h — the validated tensors of one Gemma 3 checkpoint, by role.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The loader (ke-checkpoint.c) maps the safetensors files, resolves every name layout
 * transformers has written, checks every shape against the config, and hands the backends
 * this struct.  Tensor data points into the memory-mapped files where it can be used as
 * is, or into buffers the checkpoint owns (scales converted to f32, weights quantized at
 * load from a bf16 checkpoint).  Shapes are row-major, PyTorch order ([out, in] for
 * Linear weights).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ke-engine.h"
#include "ke-config.h"

typedef enum {
  KE_DTYPE_F32,
  KE_DTYPE_F16,
  KE_DTYPE_BF16,
  KE_DTYPE_F8_E4M3,
} ke_dtype;

size_t ke_dtype_size (ke_dtype dtype);
const char *ke_dtype_name (ke_dtype dtype);

#define KE_MAX_DIMS 4

typedef struct ke_tensor {
  const char *name;        /* name in the checkpoint, for messages */
  ke_dtype dtype;
  uint32_t ndim;
  int64_t shape[KE_MAX_DIMS];
  const void *data;        /* NULL when the tensor is absent (optional tensors only) */
  size_t nbytes;
} ke_tensor;

/* A Linear layer.  FP8: weight F8_E4M3 [out, in] with scale F32 [out] (per output channel,
 * w_real = w_fp8 * scale[out]).  BF16 (modules in the quantization `ignore` list): weight
 * BF16 [out, in], scale.data NULL.  bias is absent (data NULL) for the text decoder and
 * present (same dtype as the layer's compute dtype, [out]) in the vision tower. */
typedef struct ke_linear {
  ke_tensor weight;
  ke_tensor scale;
  ke_tensor bias;
} ke_linear;

typedef struct ke_text_layer {
  ke_tensor input_layernorm;           /* [hidden] */
  ke_linear q_proj;                    /* [heads*head_dim, hidden] */
  ke_linear k_proj;                    /* [kv_heads*head_dim, hidden] */
  ke_linear v_proj;                    /* [kv_heads*head_dim, hidden] */
  ke_linear o_proj;                    /* [hidden, heads*head_dim] */
  ke_tensor q_norm;                    /* [head_dim] */
  ke_tensor k_norm;                    /* [head_dim] */
  ke_tensor post_attention_layernorm;  /* [hidden] */
  ke_tensor pre_feedforward_layernorm; /* [hidden] */
  ke_linear gate_proj;                 /* [intermediate, hidden] */
  ke_linear up_proj;                   /* [intermediate, hidden] */
  ke_linear down_proj;                 /* [hidden, intermediate] */
  ke_tensor post_feedforward_layernorm;/* [hidden] */
} ke_text_layer;

typedef struct ke_vision_layer {
  ke_tensor layer_norm1_weight, layer_norm1_bias; /* [vh] */
  ke_linear q_proj, k_proj, v_proj, out_proj;     /* [vh, vh] + bias [vh] */
  ke_tensor layer_norm2_weight, layer_norm2_bias; /* [vh] */
  ke_linear fc1;                                  /* [vi, vh] + bias */
  ke_linear fc2;                                  /* [vh, vi] + bias */
} ke_vision_layer;

typedef struct ke_weights {
  /* text */
  ke_tensor embed_tokens;               /* [vocab, hidden], BF16 (or F16/F32) */
  ke_text_layer *layers;                /* [num_hidden_layers] */
  ke_tensor norm;                       /* [hidden] */
  ke_linear lm_head;                    /* [vocab, hidden]; the embedding when tied */
  /* vision (has_vision only) */
  ke_tensor patch_embedding_weight;     /* [vh, 3, patch, patch] */
  ke_tensor patch_embedding_bias;       /* [vh] */
  ke_tensor position_embedding;         /* [n_patches, vh] */
  ke_vision_layer *vision_layers;       /* [vision num_hidden_layers] */
  ke_tensor post_layernorm_weight, post_layernorm_bias; /* [vh] */
  /* projector */
  ke_tensor mm_input_projection_weight; /* [vh, hidden] (a Parameter, used as x @ W) */
  ke_tensor mm_soft_emb_norm;           /* [vh], Gemma RMSNorm (1 + w) */
} ke_weights;

typedef enum {
  KE_QUANT_NONE,        /* bf16/f16/f32 checkpoint used as is (only when asked) */
  KE_QUANT_FP8_DYNAMIC, /* FP8 e4m3 weights, per-channel scales, dynamic per-token acts */
} ke_quant_scheme;

typedef struct ke_checkpoint ke_checkpoint;

typedef struct ke_checkpoint_options {
  /* Quantize an unquantized checkpoint's text linears to FP8 at load (round to nearest,
   * per-channel absmax / 448) so every checkpoint runs the same scheme.  Default true. */
  bool quantize_bf16;
} ke_checkpoint_options;

void ke_checkpoint_options_init (ke_checkpoint_options *options);

/* Opens a Hugging Face model folder: config, safetensors (single or sharded), quantization
 * config; validates everything; fills the weights. */
ke_checkpoint *ke_checkpoint_open (const char *model_dir, const ke_checkpoint_options *options,
                                   ke_progress_fn progress, void *user_data, ke_error **error);
void ke_checkpoint_free (ke_checkpoint *checkpoint);

const ke_config *ke_checkpoint_config (const ke_checkpoint *checkpoint);
const ke_weights *ke_checkpoint_weights (const ke_checkpoint *checkpoint);
ke_quant_scheme ke_checkpoint_quant_scheme (const ke_checkpoint *checkpoint);
/* Bytes of the safetensors files, and parameter count. */
uint64_t ke_checkpoint_file_bytes (const ke_checkpoint *checkpoint);
uint64_t ke_checkpoint_n_params (const ke_checkpoint *checkpoint);

/* ---- additions for inspect and the backends (additive) ---------------------------- */

/* What the loader found and made, for `kestrel-cli inspect` and logs. */
typedef struct ke_checkpoint_stats {
  const char *layout;          /* "transformers 4.52-4.57", "Gemma3ForCausalLM", "mixed: …" */
  size_t n_files;              /* safetensors files */
  uint64_t file_bytes;         /* their total size */
  uint64_t params_text;        /* embedding, decoder layers, final norm, untied lm_head */
  uint64_t params_vision;
  uint64_t params_projector;
  uint64_t file_bytes_by_dtype[4]; /* tensor data as stored, by ke_dtype */
  uint64_t device_bytes;       /* the tensors handed to backends (FP8 + f32 scales, the rest
                                * as stored; a tied lm_head counted once) */
  uint64_t owned_bytes;        /* host buffers the loader allocated (scales, copies, quantized) */
  uint32_t n_fp8_linears;      /* Linear layers handed over as FP8 */
  uint32_t n_float_linears;    /* … and as BF16/F16/F32 */
  bool quantized_at_load;      /* FP8 made from a bf16 checkpoint by the loader */
  bool act_dynamic;            /* FP8 with dynamic per-token activation quantization */
  bool lm_head_tied;
  size_t n_warnings_dropped;   /* beyond the first 64 warnings */
} ke_checkpoint_stats;

const ke_checkpoint_stats *ke_checkpoint_get_stats (const ke_checkpoint *checkpoint);
/* Non-fatal findings (unknown extra tensors, …), one sentence each. */
size_t ke_checkpoint_n_warnings (const ke_checkpoint *checkpoint);
const char *ke_checkpoint_warning (const ke_checkpoint *checkpoint, size_t i);
