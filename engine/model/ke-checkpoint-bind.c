/* ke-checkpoint-bind.c — checkpoint names → ke_weights roles, every shape checked against
 * the config, scales converted, bf16 text linears quantized at load.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ke-checkpoint-names.h"
#include "ke-checkpoint-private.h"

#define NAME_MAX_LEN 512


static const char *
where_missing (ke_checkpoint *cp)
{
  /* The single file, or the index of a sharded checkpoint. */
  if (cp->index_path)
    return cp->index_path;
  return cp->n_files == 1 && cp->files[0].path ? cp->files[0].path : "model.safetensors";
}

static void
format_shape (char *buf, size_t size, uint32_t ndim, const int64_t *shape)
{
  size_t off = (size_t) snprintf (buf, size, "[");
  for (uint32_t i = 0; i < ndim && off < size; i++)
    off += (size_t) snprintf (buf + off, size - off, "%s%lld", i ? ", " : "", (long long) shape[i]);
  if (off < size)
    snprintf (buf + off, size - off, "]");
}

static bool
check_shape (const ke_ckpt_entry *e, uint32_t ndim, const int64_t *want, ke_error **error)
{
  const ke_st_tensor *t = e->tensor;
  bool same = t->ndim == ndim;
  for (uint32_t i = 0; same && i < ndim; i++)
    same = t->shape[i] == want[i];
  if (same)
    return true;
  char have_s[128], want_s[128];
  format_shape (have_s, sizeof have_s, t->ndim, t->shape);
  format_shape (want_s, sizeof want_s, ndim, want);
  return ke_set_error (error, KE_ERROR_FORMAT,
                       "%s: tensor %s has shape %s, but the config needs %s", e->file->path,
                       e->name, have_s, want_s);
}

static void
count_params (ke_checkpoint *cp, ke_ckpt_part part, uint64_t n)
{
  switch (part) {
  case KE_CKPT_TEXT: cp->stats.params_text += n; break;
  case KE_CKPT_VISION: cp->stats.params_vision += n; break;
  case KE_CKPT_PROJECTOR: cp->stats.params_projector += n; break;
  default: break;
  }
}

/* Points `out` at the entry's data, or at an aligned copy when the mapping's address is
 * not a multiple of the element size (the data of a safetensors file is packed). */
static bool
use_data (ke_checkpoint *cp, ke_ckpt_entry *e, ke_tensor *out, ke_error **error)
{
  const ke_st_tensor *t = e->tensor;
  memset (out, 0, sizeof *out);
  out->name = e->name;
  out->dtype = t->dtype;
  out->ndim = t->ndim;
  memcpy (out->shape, t->shape, sizeof out->shape);
  out->nbytes = t->nbytes;
  size_t align = ke_dtype_size (t->dtype);
  if (align > 1 && ((uintptr_t) t->data % align) != 0) {
    void *copy = ke_ckpt_alloc (cp, t->nbytes);
    if (copy == NULL)
      return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory copying tensor %s", e->name);
    memcpy (copy, t->data, t->nbytes);
    out->data = copy;
  } else {
    out->data = t->data;
  }
  e->used = true;
  cp->stats.device_bytes += t->nbytes;
  return true;
}

static bool
is_float (const ke_st_tensor *t)
{
  return t->dtype_known && t->dtype != KE_DTYPE_F8_E4M3;
}

static bool
bind_float (ke_checkpoint *cp, const char *name, ke_ckpt_part part, uint32_t ndim,
            const int64_t *shape, ke_tensor *out, ke_error **error)
{
  ke_ckpt_entry *e = ke_ckpt_find (cp, name);
  if (e == NULL)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s is missing", where_missing (cp),
                         name);
  if (!is_float (e->tensor))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s has dtype %s, expected BF16, F16 or F32",
                         e->file->path, name, e->tensor->dtype_name);
  if (!check_shape (e, ndim, shape, error) || !use_data (cp, e, out, error))
    return false;
  count_params (cp, part, e->tensor->n_elements);
  return true;
}

static bool
validate_scales (const char *file, const char *name, const float *scale, size_t n,
                 ke_error **error)
{
  for (size_t r = 0; r < n; r++)
    if (!isfinite (scale[r]) || !(scale[r] > 0.0f))
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "%s: tensor %s: scale of row %zu is %g (scales must be finite and positive)",
                           file, name, r, (double) scale[r]);
  return true;
}

/* weight_scale of an FP8 Linear: [out, 1] or [out], any float dtype → owned f32 [out]. */
static bool
bind_scale (ke_checkpoint *cp, const char *module, ke_ckpt_entry *s, int64_t out_f,
            ke_tensor *out, ke_error **error)
{
  if (s == NULL)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s.weight_scale is missing (the FP8 "
                         "weight %s.weight needs it)", where_missing (cp), module, module);
  const ke_st_tensor *t = s->tensor;
  if (!is_float (t))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s has dtype %s, expected BF16, F16 or F32",
                         s->file->path, s->name, t->dtype_name);
  bool shape_ok = (t->ndim == 1 && t->shape[0] == out_f) ||
                  (t->ndim == 2 && t->shape[0] == out_f && t->shape[1] == 1);
  if (!shape_ok) {
    const int64_t want[2] = { out_f, 1 };
    return check_shape (s, 2, want, error);
  }
  float *f = ke_ckpt_alloc (cp, (size_t) out_f * sizeof (float));
  if (f == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  ke_convert_to_f32 (t->data, t->dtype, (size_t) out_f, f);
  if (!validate_scales (s->file->path, s->name, f, (size_t) out_f, error))
    return false;
  s->used = true;
  *out = (ke_tensor) { .name = s->name, .dtype = KE_DTYPE_F32, .ndim = 1, .shape = { out_f },
                       .data = f, .nbytes = (size_t) out_f * sizeof (float) };
  cp->stats.device_bytes += out->nbytes;
  return true;
}

static bool
quantize_at_load (ke_checkpoint *cp, ke_ckpt_entry *e, int64_t out_f, int64_t in_f,
                  ke_linear *lin, ke_error **error)
{
  size_t rows = (size_t) out_f, cols = (size_t) in_f;
  uint8_t *q = ke_ckpt_alloc (cp, rows * cols);
  float *scale = ke_ckpt_alloc (cp, rows * sizeof (float));
  if (q == NULL || scale == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory quantizing %s", e->name);
  ke_quantize_fp8_rows (e->tensor->data, e->tensor->dtype, rows, cols, q, scale);
  for (size_t r = 0; r < rows; r++)
    if (!isfinite (scale[r]))
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "%s: tensor %s: row %zu has non-finite values (cannot quantize it)",
                           e->file->path, e->name, r);
  e->used = true;
  lin->weight = (ke_tensor) { .name = e->name, .dtype = KE_DTYPE_F8_E4M3, .ndim = 2,
                              .shape = { out_f, in_f }, .data = q, .nbytes = rows * cols };
  lin->scale = (ke_tensor) { .name = e->name, .dtype = KE_DTYPE_F32, .ndim = 1,
                             .shape = { out_f }, .data = scale, .nbytes = rows * sizeof (float) };
  cp->stats.device_bytes += lin->weight.nbytes + lin->scale.nbytes;
  return true;
}

/* A Linear `module` (tensor names module.weight, module.weight_scale, module.bias).
 * `text_linear`: one of the decoder's q/k/v/o/gate/up/down, quantized at load when the
 * checkpoint is unquantized. */
static bool
bind_linear (ke_checkpoint *cp, const char *module, ke_ckpt_part part, int64_t out_f, int64_t in_f,
             bool has_bias, bool text_linear, ke_linear *lin, ke_error **error)
{
  char wname[NAME_MAX_LEN], sname[NAME_MAX_LEN], bname[NAME_MAX_LEN];
  ke_name_join (wname, sizeof wname, module, ".weight", NULL);
  ke_name_join (sname, sizeof sname, module, ".weight_scale", NULL);
  ke_name_join (bname, sizeof bname, module, ".bias", NULL);
  memset (lin, 0, sizeof *lin);
  ke_ckpt_entry *w = ke_ckpt_find (cp, wname);
  ke_ckpt_entry *s = ke_ckpt_find (cp, sname);
  if (w == NULL)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s is missing", where_missing (cp),
                         wname);
  const int64_t shape[2] = { out_f, in_f };
  if (!w->tensor->dtype_known)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s has dtype %s, expected F8_E4M3 or BF16",
                         w->file->path, wname, w->tensor->dtype_name);
  if (!check_shape (w, 2, shape, error))
    return false;
  bool file_fp8 = cp->quant.scheme == KE_QUANT_FP8_DYNAMIC;
  bool ignored = !file_fp8 || ke_quant_config_ignores (&cp->quant, module);

  if (w->tensor->dtype == KE_DTYPE_F8_E4M3) {
    if (!file_fp8)
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "%s: tensor %s is F8_E4M3 but config.json has no compressed-tensors "
                           "quantization_config", w->file->path, wname);
    if (ignored)
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "%s: tensor %s is F8_E4M3 but module %s is in the quantization ignore list",
                           w->file->path, wname, module);
    if (!bind_scale (cp, module, s, out_f, &lin->scale, error) ||
        !use_data (cp, w, &lin->weight, error))
      return false;
    cp->stats.n_fp8_linears++;
  } else {
    if (!ignored)
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "%s: tensor %s is %s, but the quantization_config quantizes module %s "
                           "(it is not in the ignore list): expected F8_E4M3",
                           w->file->path, wname, w->tensor->dtype_name, module);
    if (s != NULL)
      return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s exists but %s is not FP8",
                           s->file->path, sname, wname);
    if (text_linear && cp->stats.quantized_at_load) {
      if (!quantize_at_load (cp, w, out_f, in_f, lin, error))
        return false;
      cp->stats.n_fp8_linears++;
    } else {
      if (!use_data (cp, w, &lin->weight, error))
        return false;
      cp->stats.n_float_linears++;
    }
  }
  count_params (cp, part, (uint64_t) out_f * (uint64_t) in_f);
  if (has_bias) {
    const int64_t bshape[1] = { out_f };
    if (!bind_float (cp, bname, part, 1, bshape, &lin->bias, error))
      return false;
  }
  return true;
}

/* The first prefix P of `candidates` for which P + probe exists. */
static const char *
detect_prefix (ke_checkpoint *cp, const char *const *candidates, const char *probe)
{
  char name[NAME_MAX_LEN];
  for (size_t i = 0; candidates[i]; i++) {
    ke_name_join (name, sizeof name, candidates[i], probe, NULL);
    if (ke_ckpt_find (cp, name))
      return candidates[i];
  }
  return NULL;
}

static bool
missing_part (ke_checkpoint *cp, const char *const *candidates, const char *probe,
              ke_error **error)
{
  char tried[NAME_MAX_LEN * 2] = "";
  size_t off = 0;
  for (size_t i = 0; candidates[i] && off < sizeof tried; i++)
    off += (size_t) snprintf (tried + off, sizeof tried - off, "%s%s%s", i ? ", " : "",
                              candidates[i], probe);
  return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s is missing (looked for %s)",
                       where_missing (cp), probe, tried);
}

static bool
bind_text_layer (ke_checkpoint *cp, uint32_t l, ke_text_layer *L, ke_error **error)
{
  const ke_text_config *t = &cp->config.text;
  const int64_t h = t->hidden_size, inter = t->intermediate_size, hd = t->head_dim;
  const int64_t q = (int64_t) t->num_attention_heads * hd, kv = (int64_t) t->num_key_value_heads * hd;
  char p[NAME_MAX_LEN], n[NAME_MAX_LEN];
  snprintf (p, sizeof p, "%slayers.%u.", cp->text_prefix, l);
  const int64_t vh[1] = { h }, vd[1] = { hd };
#define NORM(field, suffix, shape)                                                         \
  (ke_name_join (n, sizeof n, p, suffix, NULL),                                              \
   bind_float (cp, n, KE_CKPT_TEXT, 1, shape, &L->field, error))
#define LIN(field, suffix, o, i)                                                           \
  (ke_name_join (n, sizeof n, p, suffix, NULL),                                              \
   bind_linear (cp, n, KE_CKPT_TEXT, o, i, false, true, &L->field, error))
  return NORM (input_layernorm, "input_layernorm.weight", vh) &&
         LIN (q_proj, "self_attn.q_proj", q, h) && LIN (k_proj, "self_attn.k_proj", kv, h) &&
         LIN (v_proj, "self_attn.v_proj", kv, h) && LIN (o_proj, "self_attn.o_proj", h, q) &&
         NORM (q_norm, "self_attn.q_norm.weight", vd) &&
         NORM (k_norm, "self_attn.k_norm.weight", vd) &&
         NORM (post_attention_layernorm, "post_attention_layernorm.weight", vh) &&
         NORM (pre_feedforward_layernorm, "pre_feedforward_layernorm.weight", vh) &&
         LIN (gate_proj, "mlp.gate_proj", inter, h) && LIN (up_proj, "mlp.up_proj", inter, h) &&
         LIN (down_proj, "mlp.down_proj", h, inter) &&
         NORM (post_feedforward_layernorm, "post_feedforward_layernorm.weight", vh);
#undef NORM
#undef LIN
}

static bool
bind_vision_layer (ke_checkpoint *cp, uint32_t l, ke_vision_layer *L, ke_error **error)
{
  const ke_vision_config *v = &cp->config.vision;
  const int64_t h = v->hidden_size, inter = v->intermediate_size;
  const int64_t vh[1] = { h };
  char p[NAME_MAX_LEN], n[NAME_MAX_LEN];
  snprintf (p, sizeof p, "%sencoder.layers.%u.", cp->vision_prefix, l);
#define NORM(field, suffix)                                                                \
  (ke_name_join (n, sizeof n, p, suffix, NULL),                                              \
   bind_float (cp, n, KE_CKPT_VISION, 1, vh, &L->field, error))
#define LIN(field, suffix, o, i)                                                           \
  (ke_name_join (n, sizeof n, p, suffix, NULL),                                              \
   bind_linear (cp, n, KE_CKPT_VISION, o, i, true, false, &L->field, error))
  return NORM (layer_norm1_weight, "layer_norm1.weight") &&
         NORM (layer_norm1_bias, "layer_norm1.bias") &&
         LIN (q_proj, "self_attn.q_proj", h, h) && LIN (k_proj, "self_attn.k_proj", h, h) &&
         LIN (v_proj, "self_attn.v_proj", h, h) && LIN (out_proj, "self_attn.out_proj", h, h) &&
         NORM (layer_norm2_weight, "layer_norm2.weight") &&
         NORM (layer_norm2_bias, "layer_norm2.bias") && LIN (fc1, "mlp.fc1", inter, h) &&
         LIN (fc2, "mlp.fc2", h, inter);
#undef NORM
#undef LIN
}

static bool
bind_lm_head (ke_checkpoint *cp, ke_error **error)
{
  static const char *const modules[] = { "lm_head", "language_model.lm_head", "model.lm_head",
                                         NULL };
  const ke_text_config *t = &cp->config.text;
  ke_weights *w = &cp->weights;
  char name[NAME_MAX_LEN];
  for (size_t i = 0; modules[i]; i++) {
    ke_name_join (name, sizeof name, modules[i], ".weight", NULL);
    ke_ckpt_entry *e = ke_ckpt_find (cp, name);
    if (e == NULL)
      continue;
    if (t->tie_word_embeddings) {
      /* transformers ties it to the embedding whatever the file holds. */
      e->used = true;
      ke_name_join (name, sizeof name, modules[i], ".weight_scale", NULL);
      ke_ckpt_entry *s = ke_ckpt_find (cp, name);
      if (s)
        s->used = true;
      ke_ckpt_warn (cp, "%s: tensor %s is ignored: tie_word_embeddings is true, so the "
                    "embedding is the lm_head", e->file->path, e->name);
      break;
    }
    return bind_linear (cp, modules[i], KE_CKPT_TEXT, t->vocab_size, t->hidden_size, false,
                        false, &w->lm_head, error);
  }
  if (!t->tie_word_embeddings)
    ke_ckpt_warn (cp, "tie_word_embeddings is false but there is no lm_head.weight: using the "
                  "embedding");
  memset (&w->lm_head, 0, sizeof w->lm_head);
  w->lm_head.weight = w->embed_tokens;
  cp->stats.lm_head_tied = true;
  return true;
}

static bool
bind_text (ke_checkpoint *cp, double progress_end, ke_error **error)
{
  static const char *const cond_prefixes[] = { "language_model.model.", "model.language_model.",
                                               NULL };
  static const char *const causal_prefixes[] = { KE_CAUSAL_TEXT_PREFIX, "language_model.model.",
                                                 "model.language_model.", NULL };
  const char *const *cands = cp->config.has_vision ? cond_prefixes : causal_prefixes;
  const ke_text_config *t = &cp->config.text;
  ke_weights *w = &cp->weights;
  cp->text_prefix = detect_prefix (cp, cands, "embed_tokens.weight");
  if (cp->text_prefix == NULL)
    return missing_part (cp, cands, "embed_tokens.weight", error);
  char n[NAME_MAX_LEN];
  const int64_t emb[2] = { t->vocab_size, t->hidden_size }, vh[1] = { t->hidden_size };
  ke_name_join (n, sizeof n, cp->text_prefix, "embed_tokens.weight", NULL);
  if (!bind_float (cp, n, KE_CKPT_TEXT, 2, emb, &w->embed_tokens, error))
    return false;
  w->layers = ke_calloc_array (t->num_hidden_layers, sizeof *w->layers);
  if (w->layers == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  for (uint32_t l = 0; l < t->num_hidden_layers; l++) {
    if (!bind_text_layer (cp, l, &w->layers[l], error) ||
        !ke_ckpt_report (cp, 0.1 + (progress_end - 0.1) * (l + 1) / t->num_hidden_layers,
                         cp->stats.quantized_at_load ? "Quantizing weights" : "Checking weights",
                         error))
      return false;
  }
  ke_name_join (n, sizeof n, cp->text_prefix, "norm.weight", NULL);
  return bind_float (cp, n, KE_CKPT_TEXT, 1, vh, &w->norm, error) && bind_lm_head (cp, error);
}

static bool
bind_vision (ke_checkpoint *cp, ke_error **error)
{
  static const char *const vision_prefixes[] = { "vision_tower.vision_model.",
                                                 "model.vision_tower.vision_model.",
                                                 "vision_tower.", "model.vision_tower.", NULL };
  static const char *const projector_prefixes[] = { "multi_modal_projector.",
                                                    "model.multi_modal_projector.", NULL };
  const ke_vision_config *v = &cp->config.vision;
  ke_weights *w = &cp->weights;
  cp->vision_prefix = detect_prefix (cp, vision_prefixes, "embeddings.patch_embedding.weight");
  if (cp->vision_prefix == NULL)
    return missing_part (cp, vision_prefixes, "embeddings.patch_embedding.weight", error);
  cp->projector_prefix = detect_prefix (cp, projector_prefixes, "mm_input_projection_weight");
  if (cp->projector_prefix == NULL)
    return missing_part (cp, projector_prefixes, "mm_input_projection_weight", error);

  const int64_t h = v->hidden_size, p = v->patch_size, side = v->image_size / v->patch_size;
  const int64_t patch[4] = { h, v->num_channels, p, p }, vh[1] = { h };
  const int64_t pos[2] = { side * side, h };
  const int64_t proj[2] = { h, cp->config.text.hidden_size };
  char n[NAME_MAX_LEN];
#define VFLOAT(field, suffix, nd, shape)                                                   \
  (ke_name_join (n, sizeof n, cp->vision_prefix, suffix, NULL),                              \
   bind_float (cp, n, KE_CKPT_VISION, nd, shape, &w->field, error))
  if (!VFLOAT (patch_embedding_weight, "embeddings.patch_embedding.weight", 4, patch) ||
      !VFLOAT (patch_embedding_bias, "embeddings.patch_embedding.bias", 1, vh) ||
      !VFLOAT (position_embedding, "embeddings.position_embedding.weight", 2, pos))
    return false;
  w->vision_layers = ke_calloc_array (v->num_hidden_layers, sizeof *w->vision_layers);
  if (w->vision_layers == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  for (uint32_t l = 0; l < v->num_hidden_layers; l++)
    if (!bind_vision_layer (cp, l, &w->vision_layers[l], error) ||
        !ke_ckpt_report (cp, 0.8 + 0.19 * (l + 1) / v->num_hidden_layers, "Checking weights",
                         error))
      return false;
  if (!VFLOAT (post_layernorm_weight, "post_layernorm.weight", 1, vh) ||
      !VFLOAT (post_layernorm_bias, "post_layernorm.bias", 1, vh))
    return false;
#undef VFLOAT
  ke_name_join (n, sizeof n, cp->projector_prefix, "mm_input_projection_weight", NULL);
  if (!bind_float (cp, n, KE_CKPT_PROJECTOR, 2, proj, &w->mm_input_projection_weight, error))
    return false;
  ke_name_join (n, sizeof n, cp->projector_prefix, "mm_soft_emb_norm.weight", NULL);
  return bind_float (cp, n, KE_CKPT_PROJECTOR, 1, vh, &w->mm_soft_emb_norm, error);
}

static void
describe_layout (ke_checkpoint *cp)
{
  if (!cp->config.has_vision) {
    snprintf (cp->layout, sizeof cp->layout, "Gemma3ForCausalLM (%s…)", cp->text_prefix);
  } else {
    snprintf (cp->layout, sizeof cp->layout, "mixed: %s… %s… %s…", cp->text_prefix,
              cp->vision_prefix, cp->projector_prefix);
    for (int i = 0; i < KE_LAYOUT_COUNT; i++)
      if (strcmp (cp->text_prefix, ke_layouts[i].text) == 0 &&
          strcmp (cp->vision_prefix, ke_layouts[i].vision) == 0 &&
          strcmp (cp->projector_prefix, ke_layouts[i].projector) == 0)
        snprintf (cp->layout, sizeof cp->layout, "%s", ke_layouts[i].label);
  }
  cp->stats.layout = cp->layout;
}

bool
ke_ckpt_bind_all (ke_checkpoint *cp, ke_error **error)
{
  if (!bind_text (cp, cp->config.has_vision ? 0.8 : 0.99, error))
    return false;
  if (cp->config.has_vision && !bind_vision (cp, error))
    return false;
  describe_layout (cp);
  for (size_t i = 0; i < cp->n_entries; i++) {
    const ke_st_tensor *t = cp->entries[i].tensor;
    if (t->dtype_known)
      cp->stats.file_bytes_by_dtype[t->dtype] += t->nbytes;
  }
  return true;
}
