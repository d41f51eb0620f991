/* ke-checkpoint-names.h — the tensor-name layouts transformers has written for Gemma 3.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Shared by the loader (which detects the layout of each part) and the checkpoint writer.
 * Gemma3ForConditionalGeneration:
 *   4.50–4.51  language_model.model.…        vision_tower.vision_model.…        multi_modal_projector.…
 *   4.52–4.57  model.language_model.…        model.vision_tower.vision_model.…  model.multi_modal_projector.…
 *   5          language_model.model.…        vision_tower.…  (no vision_model.)  multi_modal_projector.…
 * Gemma3ForCausalLM: model.…  (embed_tokens, layers.N, norm) and lm_head.weight.
 */
#pragma once

#include <stddef.h>

typedef enum {
  KE_LAYOUT_4_50,
  KE_LAYOUT_4_52,
  KE_LAYOUT_5,
  KE_LAYOUT_COUNT,
} ke_name_layout;

typedef struct ke_layout_names {
  const char *label;     /* "transformers 4.50–4.51" */
  const char *text;      /* prefix of embed_tokens / layers / norm */
  const char *lm_head;   /* full name of the untied lm_head weight */
  const char *vision;    /* prefix of embeddings / encoder / post_layernorm */
  const char *projector; /* prefix of mm_input_projection_weight / mm_soft_emb_norm */
  const char *ignore_vision;    /* compressed-tensors ignore regexes llm-compressor writes */
  const char *ignore_projector;
} ke_layout_names;

static const ke_layout_names ke_layouts[KE_LAYOUT_COUNT] = {
  { "transformers 4.50-4.51", "language_model.model.", "language_model.lm_head.weight",
    "vision_tower.vision_model.", "multi_modal_projector.", "re:vision_tower.*",
    "re:multi_modal_projector.*" },
  { "transformers 4.52-4.57", "model.language_model.", "lm_head.weight",
    "model.vision_tower.vision_model.", "model.multi_modal_projector.",
    "re:model.vision_tower.*", "re:model.multi_modal_projector.*" },
  { "transformers 5", "language_model.model.", "lm_head.weight", "vision_tower.",
    "multi_modal_projector.", "re:vision_tower.*", "re:multi_modal_projector.*" },
};

/* Gemma3ForCausalLM (text only). */
#define KE_CAUSAL_TEXT_PREFIX "model."
#define KE_CAUSAL_LM_HEAD "lm_head.weight"

/* Suffixes under <text>layers.N. of the text decoder's Linear layers, in ke_text_layer
 * order, and their shape in units of the config. */
#define KE_TEXT_LINEARS                                                                    \
  X (q_proj, "self_attn.q_proj")                                                           \
  X (k_proj, "self_attn.k_proj")                                                           \
  X (v_proj, "self_attn.v_proj")                                                           \
  X (o_proj, "self_attn.o_proj")                                                           \
  X (gate_proj, "mlp.gate_proj")                                                           \
  X (up_proj, "mlp.up_proj")                                                               \
  X (down_proj, "mlp.down_proj")

/* buf = a + b + c (c may be NULL), cut at size − 1 bytes: names here are far shorter, and
 * a cut name would only be reported as missing. */
static inline void
ke_name_join (char *buf, size_t size, const char *a, const char *b, const char *c)
{
  size_t off = 0;
  const char *parts[3] = { a, b, c };
  for (int i = 0; i < 3; i++)
    for (const char *s = parts[i]; s && *s && off + 1 < size; s++)
      buf[off++] = *s;
  buf[off] = '\0';
}
