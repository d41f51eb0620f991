/* ke-config.c — config.json of Gemma 3 with transformers' defaults, validated.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Google's config.json lists only what differs from the defaults of transformers'
 * Gemma3TextConfig / SiglipVisionConfig / Gemma3Config, so every default below is the
 * value those classes have (transformers 4.50–5), not the 4b value.  Sources and values:
 * ../shared/gemma3/README.md.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ke-config.h"
#include "ke-config-private.h"
#include "ke-json.h"

/* Upper bounds that keep every product of dimensions far from 64-bit overflow and
 * refuse absurd values early (the largest Gemma 3 has hidden 5376, vocab 262208). */
#define KE_MAX_DIM (1u << 20)
#define KE_MAX_VOCAB (1u << 22)

static void
text_defaults (ke_text_config *t)
{
  /* transformers Gemma3TextConfig.__init__ defaults. */
  t->vocab_size = 262208;
  t->hidden_size = 2304;
  t->intermediate_size = 9216;
  t->num_hidden_layers = 26;
  t->num_attention_heads = 8;
  t->num_key_value_heads = 4;
  t->head_dim = 256;
  t->sliding_window = 4096;
  t->max_position_embeddings = 131072;
  t->query_pre_attn_scalar = 256.0f;
  t->rms_norm_eps = 1e-6f;
  t->rope_theta = 1000000.0f;
  t->rope_local_base_freq = 10000.0f;
  t->rope_scaling_factor = 1.0f;
  t->final_logit_softcapping = 0.0f;
  t->attn_logit_softcapping = 0.0f;
  t->tie_word_embeddings = true;
}

static void
vision_defaults (ke_vision_config *v)
{
  /* transformers SiglipVisionConfig.__init__ defaults. */
  v->hidden_size = 768;
  v->intermediate_size = 3072;
  v->num_hidden_layers = 12;
  v->num_attention_heads = 12;
  v->num_channels = 3;
  v->image_size = 224;
  v->patch_size = 16;
  v->layer_norm_eps = 1e-6f;
}

static void
generation_defaults (ke_generation_config *g)
{
  /* transformers GenerationConfig defaults (used for keys the file leaves out). */
  g->do_sample = false;
  g->temperature = 1.0f;
  g->top_k = 50;
  g->top_p = 1.0f;
  g->min_p = 0.0f;
  g->repetition_penalty = 1.0f;
}

static void
preprocess_defaults (ke_preprocess_config *p, uint32_t image_size)
{
  /* Gemma3ImageProcessor defaults, except the size: without a preprocessor_config.json
   * the only size that works is the vision tower's. */
  p->width = p->height = image_size;
  for (int i = 0; i < 3; i++) {
    p->image_mean[i] = 0.5f;
    p->image_std[i] = 0.5f;
  }
  p->rescale_factor = 1.0f / 255.0f;
  p->resample = 2;
  p->do_resize = p->do_rescale = p->do_normalize = p->do_convert_rgb = true;
  p->do_pan_and_scan = false;
  p->pan_and_scan_min_crop_size = 256;
  p->pan_and_scan_max_num_crops = 4;
  p->pan_and_scan_min_ratio_to_activate = 1.2f;
}

/* A string member that, when present, must equal one of the accepted values. */
static bool
check_str_choice (yyjson_val *obj, const char *key, const char *what, const char *const *ok,
                  ke_error **error)
{
  const char *s = NULL;
  if (!ke_json_get_str (obj, key, what, &s, error))
    return false;
  if (s == NULL)
    return true;
  for (size_t i = 0; ok[i]; i++)
    if (strcmp (s, ok[i]) == 0)
      return true;
  return ke_set_error (error, KE_ERROR_UNSUPPORTED, "%s: %s \"%s\" is not supported (expected \"%s\")",
                       what, key, s, ok[0]);
}

/* rope_scaling: null, {"rope_type"|"type": "default"} or {"rope_type": "linear", "factor": F}. */
static bool
parse_rope_scaling (yyjson_val *rs, const char *what, const char *key, float *factor,
                    ke_error **error)
{
  if (rs == NULL || yyjson_is_null (rs))
    return true;
  if (!yyjson_is_obj (rs))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"%s\" must be an object or null", what,
                         key);
  const char *type = NULL;
  if (!ke_json_get_str (rs, "rope_type", what, &type, error) ||
      (type == NULL && !ke_json_get_str (rs, "type", what, &type, error)))
    return false;
  if (type == NULL || strcmp (type, "default") == 0) {
    *factor = 1.0f;
    return true;
  }
  if (strcmp (type, "linear") != 0)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "%s: rope scaling type \"%s\" is not supported (only linear)", what, type);
  float f = 1.0f;
  if (!ke_json_get_float (rs, "factor", what, &f, error))
    return false;
  if (!(f >= 1.0f && f <= 1024.0f))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: rope scaling factor %g out of range",
                         what, (double) f);
  *factor = f;
  return true;
}

/* transformers 5 writes rope_parameters: {"full_attention": {...}, "sliding_attention":
 * {...}} with rope_theta inside (or one flat dict for both). */
static bool
parse_rope_parameters (yyjson_val *rp, ke_text_config *t, const char *what, ke_error **error)
{
  if (!yyjson_is_obj (rp))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"rope_parameters\" must be an object",
                         what);
  yyjson_val *full = yyjson_obj_get (rp, "full_attention");
  yyjson_val *sliding = yyjson_obj_get (rp, "sliding_attention");
  if (full == NULL && sliding == NULL)
    full = rp; /* one set for every layer kind */
  if (full) {
    if (!yyjson_is_obj (full))
      return ke_set_error (error, KE_ERROR_FORMAT, "%s: rope_parameters.full_attention must be an object", what);
    if (!ke_json_get_float (full, "rope_theta", what, &t->rope_theta, error) ||
        !parse_rope_scaling (full, what, "rope_parameters.full_attention",
                             &t->rope_scaling_factor, error))
      return false;
  }
  if (sliding) {
    float local_factor = 1.0f;
    if (!yyjson_is_obj (sliding))
      return ke_set_error (error, KE_ERROR_FORMAT, "%s: rope_parameters.sliding_attention must be an object", what);
    if (!ke_json_get_float (sliding, "rope_theta", what, &t->rope_local_base_freq, error) ||
        !parse_rope_scaling (sliding, what, "rope_parameters.sliding_attention", &local_factor,
                             error))
      return false;
    if (local_factor != 1.0f)
      return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                           "%s: rope scaling on sliding-window layers is not supported", what);
  }
  return true;
}

static bool
parse_text (yyjson_val *o, ke_text_config *t, const char *what, ke_error **error)
{
  static const char *const act_ok[] = { "gelu_pytorch_tanh", NULL };
  uint32_t pattern = 6;
  bool attention_bias = false;
  if (!ke_json_get_u32 (o, "vocab_size", what, &t->vocab_size, error) ||
      !ke_json_get_u32 (o, "hidden_size", what, &t->hidden_size, error) ||
      !ke_json_get_u32 (o, "intermediate_size", what, &t->intermediate_size, error) ||
      !ke_json_get_u32 (o, "num_hidden_layers", what, &t->num_hidden_layers, error) ||
      !ke_json_get_u32 (o, "num_attention_heads", what, &t->num_attention_heads, error) ||
      !ke_json_get_u32 (o, "num_key_value_heads", what, &t->num_key_value_heads, error) ||
      !ke_json_get_u32 (o, "head_dim", what, &t->head_dim, error) ||
      !ke_json_get_u32 (o, "sliding_window", what, &t->sliding_window, error) ||
      !ke_json_get_u32 (o, "max_position_embeddings", what, &t->max_position_embeddings, error) ||
      !ke_json_get_float (o, "query_pre_attn_scalar", what, &t->query_pre_attn_scalar, error) ||
      !ke_json_get_float (o, "rms_norm_eps", what, &t->rms_norm_eps, error) ||
      !ke_json_get_float (o, "rope_theta", what, &t->rope_theta, error) ||
      !ke_json_get_float (o, "rope_local_base_freq", what, &t->rope_local_base_freq, error) ||
      !ke_json_get_float (o, "final_logit_softcapping", what, &t->final_logit_softcapping, error) ||
      !ke_json_get_float (o, "attn_logit_softcapping", what, &t->attn_logit_softcapping, error) ||
      !ke_json_get_bool (o, "tie_word_embeddings", what, &t->tie_word_embeddings, error) ||
      !ke_json_get_u32 (o, "sliding_window_pattern", what, &pattern, error) ||
      !ke_json_get_bool (o, "attention_bias", what, &attention_bias, error) ||
      !check_str_choice (o, "hidden_activation", what, act_ok, error) ||
      !parse_rope_scaling (yyjson_obj_get (o, "rope_scaling"), what, "rope_scaling",
                           &t->rope_scaling_factor, error))
    return false;
  yyjson_val *rp = yyjson_obj_get (o, "rope_parameters");
  if (rp && !yyjson_is_null (rp) && !parse_rope_parameters (rp, t, what, error))
    return false;
  if (attention_bias)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "%s: attention_bias true is not supported",
                         what);
  if (t->num_hidden_layers == 0 || t->num_hidden_layers > KE_MAX_LAYERS)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: num_hidden_layers %u out of range 1..%d",
                         what, t->num_hidden_layers, KE_MAX_LAYERS);

  yyjson_val *lt = yyjson_obj_get (o, "layer_types");
  if (lt && !yyjson_is_null (lt)) {
    if (!yyjson_is_arr (lt) || yyjson_arr_size (lt) != t->num_hidden_layers)
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "%s: \"layer_types\" must be an array of num_hidden_layers (%u) strings",
                           what, t->num_hidden_layers);
    size_t i, n;
    yyjson_val *v;
    yyjson_arr_foreach (lt, i, n, v) {
      const char *s = yyjson_get_str (v);
      if (s && strcmp (s, "sliding_attention") == 0)
        t->layer_kind[i] = KE_LAYER_SLIDING;
      else if (s && strcmp (s, "full_attention") == 0)
        t->layer_kind[i] = KE_LAYER_GLOBAL;
      else
        return ke_set_error (error, KE_ERROR_FORMAT,
                             "%s: layer_types[%zu] must be \"sliding_attention\" or \"full_attention\"",
                             what, i);
    }
  } else {
    if (pattern == 0)
      return ke_set_error (error, KE_ERROR_FORMAT, "%s: sliding_window_pattern must be positive", what);
    /* Gemma3TextConfig: layer i is global when (i + 1) % pattern == 0. */
    for (uint32_t i = 0; i < t->num_hidden_layers; i++)
      t->layer_kind[i] = ((i + 1) % pattern) ? KE_LAYER_SLIDING : KE_LAYER_GLOBAL;
  }
  return true;
}

static bool
parse_vision (yyjson_val *o, ke_vision_config *v, const char *what, ke_error **error)
{
  static const char *const act_ok[] = { "gelu_pytorch_tanh", NULL };
  return ke_json_get_u32 (o, "hidden_size", what, &v->hidden_size, error) &&
         ke_json_get_u32 (o, "intermediate_size", what, &v->intermediate_size, error) &&
         ke_json_get_u32 (o, "num_hidden_layers", what, &v->num_hidden_layers, error) &&
         ke_json_get_u32 (o, "num_attention_heads", what, &v->num_attention_heads, error) &&
         ke_json_get_u32 (o, "num_channels", what, &v->num_channels, error) &&
         ke_json_get_u32 (o, "image_size", what, &v->image_size, error) &&
         ke_json_get_u32 (o, "patch_size", what, &v->patch_size, error) &&
         ke_json_get_float (o, "layer_norm_eps", what, &v->layer_norm_eps, error) &&
         check_str_choice (o, "hidden_act", what, act_ok, error);
}

/* eos_token_id: an integer or an array of integers. */
bool
ke_config_parse_eos (yyjson_val *o, const char *what, ke_config *config, ke_error **error)
{
  yyjson_val *e = yyjson_obj_get (o, "eos_token_id");
  if (e == NULL || yyjson_is_null (e))
    return true;
  if (yyjson_is_int (e)) {
    int32_t id = -1;
    if (!ke_json_get_i32 (o, "eos_token_id", what, &id, error))
      return false;
    config->eos_token_ids[0] = id;
    config->n_eos = 1;
    return true;
  }
  if (!yyjson_is_arr (e) || yyjson_arr_size (e) == 0 || yyjson_arr_size (e) > KE_MAX_EOS)
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "%s: \"eos_token_id\" must be an integer or an array of 1..%d integers",
                         what, KE_MAX_EOS);
  size_t i, n;
  yyjson_val *v;
  yyjson_arr_foreach (e, i, n, v) {
    if (!yyjson_is_int (v) || yyjson_get_sint (v) < 0 || yyjson_get_sint (v) > INT32_MAX ||
        (yyjson_is_uint (v) && yyjson_get_uint (v) > INT32_MAX))
      return ke_set_error (error, KE_ERROR_FORMAT, "%s: eos_token_id[%zu] is not a token id",
                           what, i);
    config->eos_token_ids[i] = (int32_t) yyjson_get_sint (v);
  }
  config->n_eos = (uint32_t) n;
  return true;
}

static bool
check_dim (uint32_t v, uint32_t max, const char *what, const char *name, ke_error **error)
{
  if (v == 0 || v > max)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: %s %u out of range 1..%u", what, name, v,
                         max);
  return true;
}

static bool
check_positive (float v, const char *what, const char *name, ke_error **error)
{
  if (!(v > 0.0f) || !isfinite (v))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: %s must be a positive number", what, name);
  return true;
}

bool
ke_config_check_token (int32_t id, uint32_t vocab, const char *what, const char *name, ke_error **error)
{
  if (id < 0 || (uint32_t) id >= vocab)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: %s %d is outside the vocabulary (%u)", what,
                         name, id, vocab);
  return true;
}

static bool
validate (ke_config *c, const char *what, ke_error **error)
{
  ke_text_config *t = &c->text;
  if (!check_dim (t->vocab_size, KE_MAX_VOCAB, what, "vocab_size", error) ||
      !check_dim (t->hidden_size, KE_MAX_DIM, what, "hidden_size", error) ||
      !check_dim (t->intermediate_size, KE_MAX_DIM, what, "intermediate_size", error) ||
      !check_dim (t->num_attention_heads, 4096, what, "num_attention_heads", error) ||
      !check_dim (t->num_key_value_heads, 4096, what, "num_key_value_heads", error) ||
      !check_dim (t->head_dim, 4096, what, "head_dim", error) ||
      !check_dim (t->sliding_window, UINT32_MAX, what, "sliding_window", error) ||
      !check_dim (t->max_position_embeddings, UINT32_MAX, what, "max_position_embeddings", error) ||
      !check_positive (t->query_pre_attn_scalar, what, "query_pre_attn_scalar", error) ||
      !check_positive (t->rms_norm_eps, what, "rms_norm_eps", error) ||
      !check_positive (t->rope_theta, what, "rope_theta", error) ||
      !check_positive (t->rope_local_base_freq, what, "rope_local_base_freq", error) ||
      !check_positive (t->rope_scaling_factor, what, "rope scaling factor", error))
    return false;
  if (t->final_logit_softcapping < 0 || t->attn_logit_softcapping < 0)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: softcapping values must not be negative", what);
  if (t->num_attention_heads % t->num_key_value_heads != 0)
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "%s: num_attention_heads %u is not a multiple of num_key_value_heads %u",
                         what, t->num_attention_heads, t->num_key_value_heads);
  if (t->head_dim % 2 != 0)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: head_dim %u must be even (rotary)", what,
                         t->head_dim);
  if ((uint64_t) t->num_attention_heads * t->head_dim > KE_MAX_DIM)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: num_attention_heads × head_dim too large", what);

  if (c->has_vision) {
    ke_vision_config *v = &c->vision;
    if (!check_dim (v->hidden_size, KE_MAX_DIM, what, "vision hidden_size", error) ||
        !check_dim (v->intermediate_size, KE_MAX_DIM, what, "vision intermediate_size", error) ||
        !check_dim (v->num_hidden_layers, KE_MAX_LAYERS, what, "vision num_hidden_layers", error) ||
        !check_dim (v->num_attention_heads, 4096, what, "vision num_attention_heads", error) ||
        !check_dim (v->image_size, 65536, what, "vision image_size", error) ||
        !check_dim (v->patch_size, 65536, what, "vision patch_size", error) ||
        !check_positive (v->layer_norm_eps, what, "vision layer_norm_eps", error))
      return false;
    if (v->num_channels != 3)
      return ke_set_error (error, KE_ERROR_UNSUPPORTED, "%s: vision num_channels %u (only 3)",
                           what, v->num_channels);
    if (v->hidden_size % v->num_attention_heads != 0)
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "%s: vision hidden_size %u is not a multiple of its %u heads", what,
                           v->hidden_size, v->num_attention_heads);
    if (v->image_size % v->patch_size != 0)
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "%s: image_size %u is not a multiple of patch_size %u", what,
                           v->image_size, v->patch_size);
    uint32_t side = v->image_size / v->patch_size;
    uint32_t tokens_side = (uint32_t) lround (sqrt ((double) c->mm_tokens_per_image));
    if (c->mm_tokens_per_image == 0 || tokens_side * tokens_side != c->mm_tokens_per_image ||
        side % tokens_side != 0)
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "%s: mm_tokens_per_image %u must be a square whose side divides the "
                           "%u×%u patch grid",
                           what, c->mm_tokens_per_image, side, side);
    if (!ke_config_check_token (c->boi_token_id, t->vocab_size, what, "boi_token_index", error) ||
        !ke_config_check_token (c->eoi_token_id, t->vocab_size, what, "eoi_token_index", error) ||
        !ke_config_check_token (c->image_token_id, t->vocab_size, what, "image_token_index", error))
      return false;
  }
  for (uint32_t i = 0; i < c->n_eos; i++)
    if (!ke_config_check_token (c->eos_token_ids[i], t->vocab_size, what, "eos_token_id", error))
      return false;
  if (c->bos_token_id >= 0 && !ke_config_check_token (c->bos_token_id, t->vocab_size, what, "bos_token_id", error))
    return false;
  if (c->pad_token_id >= 0 && !ke_config_check_token (c->pad_token_id, t->vocab_size, what, "pad_token_id", error))
    return false;
  return true;
}

bool
ke_config_parse (const char *json, size_t len, const char *filename, ke_config *config,
                 ke_error **error)
{
  const char *what = filename ? filename : "config.json";
  memset (config, 0, sizeof *config);
  text_defaults (&config->text);
  vision_defaults (&config->vision);
  generation_defaults (&config->generation);
  config->mm_tokens_per_image = 256;
  config->boi_token_id = 255999;
  config->eoi_token_id = 256000;
  config->image_token_id = 262144;
  config->bos_token_id = 2;
  config->pad_token_id = 0;
  config->eos_token_ids[0] = 1;
  config->eos_token_ids[1] = 106;
  config->n_eos = 2;

  yyjson_doc *doc = ke_json_parse (json, len, what, error);
  if (doc == NULL)
    return false;
  bool ok = false;
  yyjson_val *root = yyjson_doc_get_root (doc);
  if (!yyjson_is_obj (root)) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: the top level must be a JSON object", what);
    goto out;
  }

  const char *arch = NULL, *model_type = NULL;
  yyjson_val *archs = yyjson_obj_get (root, "architectures");
  if (archs && !yyjson_is_null (archs)) {
    if (!yyjson_is_arr (archs) || yyjson_arr_size (archs) != 1 ||
        !yyjson_is_str (yyjson_arr_get_first (archs))) {
      ke_set_error (error, KE_ERROR_FORMAT, "%s: \"architectures\" must be an array of one string", what);
      goto out;
    }
    arch = yyjson_get_str (yyjson_arr_get_first (archs));
  }
  if (!ke_json_get_str (root, "model_type", what, &model_type, error))
    goto out;
  if (arch == NULL && model_type != NULL) {
    if (strcmp (model_type, "gemma3") == 0)
      arch = "Gemma3ForConditionalGeneration";
    else if (strcmp (model_type, "gemma3_text") == 0)
      arch = "Gemma3ForCausalLM";
  }
  if (arch == NULL) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: no \"architectures\" or known \"model_type\"", what);
    goto out;
  }
  if (strcmp (arch, "Gemma3ForConditionalGeneration") == 0) {
    config->has_vision = true;
  } else if (strcmp (arch, "Gemma3ForCausalLM") == 0) {
    config->has_vision = false;
  } else {
    ke_set_error (error, KE_ERROR_UNSUPPORTED,
                  "%s: architecture \"%.64s\" is not supported (Gemma3ForConditionalGeneration or "
                  "Gemma3ForCausalLM)", what, arch);
    goto out;
  }
  snprintf (config->architecture, sizeof config->architecture, "%s", arch);

  if (config->has_vision) {
    yyjson_val *tc = NULL, *vc = NULL;
    if (!ke_json_get_obj (root, "text_config", what, &tc, error) ||
        !ke_json_get_obj (root, "vision_config", what, &vc, error))
      goto out;
    /* Without text_config every text value is Gemma3TextConfig's default. */
    if (!parse_text (tc, &config->text, what, error))
      goto out;
    if (vc && !parse_vision (vc, &config->vision, what, error))
      goto out;
    /* Token ids and the tie flag live at the top level of Gemma3Config (tie falls back
     * to the text config's). */
    if ((tc && (!ke_json_get_i32 (tc, "bos_token_id", what, &config->bos_token_id, error) ||
                !ke_json_get_i32 (tc, "pad_token_id", what, &config->pad_token_id, error) ||
                !ke_config_parse_eos (tc, what, config, error))) ||
        !ke_json_get_u32 (root, "mm_tokens_per_image", what, &config->mm_tokens_per_image, error) ||
        !ke_json_get_i32 (root, "boi_token_index", what, &config->boi_token_id, error) ||
        !ke_json_get_i32 (root, "eoi_token_index", what, &config->eoi_token_id, error) ||
        !ke_json_get_i32 (root, "image_token_index", what, &config->image_token_id, error) ||
        !ke_json_get_bool (root, "tie_word_embeddings", what, &config->text.tie_word_embeddings, error))
      goto out;
  } else {
    if (!parse_text (root, &config->text, what, error))
      goto out;
  }
  if (!ke_json_get_i32 (root, "bos_token_id", what, &config->bos_token_id, error) ||
      !ke_json_get_i32 (root, "pad_token_id", what, &config->pad_token_id, error) ||
      !ke_config_parse_eos (root, what, config, error))
    goto out;
  ok = validate (config, what, error);
  preprocess_defaults (&config->preprocess, config->has_vision ? config->vision.image_size : 0);
out:
  yyjson_doc_free (doc);
  return ok;
}

