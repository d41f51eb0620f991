/* ke-gen-config.c — shapes and JSON files of generated checkpoints.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * config.json is written sparse, as Google's: only what differs from transformers'
 * defaults (plus the keys Google always writes), so that loading it exercises the
 * default-filling of ke-config.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ke-gen-private.h"
#include "ke-json.h"

const char *const ke_gen_shape_names[] = { "tiny", "tiny-text", "1b", "4b", "12b", "27b", NULL };

/* 1b/4b/12b/27b from Google's published config.json files; tiny is Kestrel's CI shape
 * (docs/checkpoints.md). */
static const ke_gen_shape shapes[] = {
  { "tiny", true, 128, 256, 6, 4, 2, 32, 32.0f, 16, 16448, 131072, 8.0f,
    64, 128, 2, 4, 4, 32, 16 },
  /* tiny's text decoder as a Gemma3ForCausalLM (the 1b architecture). */
  { "tiny-text", false, 128, 256, 6, 4, 2, 32, 32.0f, 16, 16448, 131072, 8.0f,
    0, 0, 0, 0, 0, 0, 0 },
  { "1b", false, 1152, 6912, 26, 4, 1, 256, 256.0f, 512, 262144, 32768, 1.0f,
    0, 0, 0, 0, 0, 0, 0 },
  { "4b", true, 2560, 10240, 34, 8, 4, 256, 256.0f, 1024, 262208, 131072, 8.0f,
    1152, 4304, 27, 16, 14, 896, 256 },
  { "12b", true, 3840, 15360, 48, 16, 8, 256, 256.0f, 1024, 262208, 131072, 8.0f,
    1152, 4304, 27, 16, 14, 896, 256 },
  { "27b", true, 5376, 21504, 62, 32, 16, 128, 168.0f, 1024, 262208, 131072, 8.0f,
    1152, 4304, 27, 16, 14, 896, 256 },
};

void
ke_gen_options_init (ke_gen_options *options)
{
  memset (options, 0, sizeof *options);
  options->shape = "tiny";
  options->vision_layers = -1;
  options->format = KE_GEN_FP8;
  options->layout = KE_LAYOUT_4_50;
  options->n_shards = 1;
  options->seed = 0;
  options->scale_dtype = KE_DTYPE_BF16;
}

bool
ke_gen_resolve_shape (const ke_gen_options *options, ke_gen_shape *shape, ke_error **error)
{
  const char *name = options->shape ? options->shape : "tiny";
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    if (strcmp (shapes[i].name, name) == 0) {
      *shape = shapes[i];
      if (options->layers < 0 || options->layers > KE_MAX_LAYERS)
        return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "layers must be 1..%d", KE_MAX_LAYERS);
      if (options->layers > 0)
        shape->layers = (uint32_t) options->layers;
      if (options->vision_layers >= 0) {
        if (!shape->vision)
          return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "shape %s has no vision tower", name);
        if (options->vision_layers == 0 || options->vision_layers > KE_MAX_LAYERS)
          return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "vision layers must be 1..%d",
                               KE_MAX_LAYERS);
        shape->v_layers = (uint32_t) options->vision_layers;
      }
      return true;
    }
  return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                       "unknown shape \"%s\" (tiny, tiny-text, 1b, 4b, 12b or 27b)", name);
}

bool
ke_gen_read_tokens (const char *tokenizer_path, ke_gen_tokens *tokens, ke_error **error)
{
  yyjson_doc *doc = ke_json_read_file (tokenizer_path, 256u << 20, error);
  if (doc == NULL)
    return false;
  static const char *const pieces[] = { "<bos>", "<pad>", "<start_of_image>", "<end_of_image>",
                                        "<image_soft_token>", "<eos>", "<end_of_turn>" };
  int32_t ids[7] = { -1, -1, -1, -1, -1, -1, -1 };
  yyjson_val *added = yyjson_obj_get (yyjson_doc_get_root (doc), "added_tokens");
  size_t i, n;
  yyjson_val *v;
  yyjson_arr_foreach (added, i, n, v) {
    yyjson_val *content = yyjson_obj_get (v, "content");
    yyjson_val *id = yyjson_obj_get (v, "id");
    if (!yyjson_is_str (content) || !yyjson_is_uint (id) || yyjson_get_uint (id) > INT32_MAX)
      continue;
    for (size_t k = 0; k < 7; k++)
      if (strcmp (yyjson_get_str (content), pieces[k]) == 0)
        ids[k] = (int32_t) yyjson_get_uint (id);
  }
  yyjson_doc_free (doc);
  for (size_t k = 0; k < 7; k++)
    if (ids[k] < 0)
      return ke_set_error (error, KE_ERROR_FORMAT, "%s: no added token %s", tokenizer_path,
                           pieces[k]);
  *tokens = (ke_gen_tokens) { true, ids[0], ids[1], ids[2], ids[3], ids[4], { ids[5], ids[6] } };
  return true;
}

static const char *
transformers_version (ke_name_layout layout)
{
  switch (layout) {
  case KE_LAYOUT_4_52: return "4.52.4";
  case KE_LAYOUT_5: return "5.0.0";
  case KE_LAYOUT_4_50:
  default: return "4.50.0.dev0";
  }
}

static void
add_eos (yyjson_mut_doc *doc, yyjson_mut_val *obj, const ke_gen_tokens *tokens)
{
  yyjson_mut_val *eos = yyjson_mut_arr (doc);
  yyjson_mut_arr_add_int (doc, eos, tokens->from_tokenizer ? tokens->eos[0] : 1);
  yyjson_mut_arr_add_int (doc, eos, tokens->from_tokenizer ? tokens->eos[1] : 106);
  yyjson_mut_obj_add_val (doc, obj, "eos_token_id", eos);
}

static void
add_rope_scaling (yyjson_mut_doc *doc, yyjson_mut_val *obj, float factor)
{
  if (factor == 1.0f) {
    yyjson_mut_obj_add_null (doc, obj, "rope_scaling");
    return;
  }
  yyjson_mut_val *rs = yyjson_mut_obj (doc);
  yyjson_mut_obj_add_real (doc, rs, "factor", factor);
  yyjson_mut_obj_add_str (doc, rs, "rope_type", "linear");
  yyjson_mut_obj_add_val (doc, obj, "rope_scaling", rs);
}

/* compressed-tensors FP8_DYNAMIC, as llm-compressor writes it. */
static yyjson_mut_val *
quantization_config (yyjson_mut_doc *doc, const ke_gen_shape *shape, ke_name_layout layout)
{
  yyjson_mut_val *qc = yyjson_mut_obj (doc);
  yyjson_mut_val *groups = yyjson_mut_obj (doc);
  yyjson_mut_val *g = yyjson_mut_obj (doc);
  yyjson_mut_val *in = yyjson_mut_obj (doc);
  yyjson_mut_obj_add_null (doc, in, "actorder");
  yyjson_mut_obj_add_null (doc, in, "block_structure");
  yyjson_mut_obj_add_bool (doc, in, "dynamic", true);
  yyjson_mut_obj_add_null (doc, in, "group_size");
  yyjson_mut_obj_add_int (doc, in, "num_bits", 8);
  yyjson_mut_obj_add_null (doc, in, "observer");
  yyjson_mut_obj_add_null (doc, in, "observer_kwargs");
  yyjson_mut_obj_add_str (doc, in, "strategy", "token");
  yyjson_mut_obj_add_bool (doc, in, "symmetric", true);
  yyjson_mut_obj_add_str (doc, in, "type", "float");
  yyjson_mut_obj_add_val (doc, g, "input_activations", in);
  yyjson_mut_obj_add_null (doc, g, "output_activations");
  yyjson_mut_val *targets = yyjson_mut_arr (doc);
  yyjson_mut_arr_add_str (doc, targets, "Linear");
  yyjson_mut_obj_add_val (doc, g, "targets", targets);
  yyjson_mut_val *w = yyjson_mut_obj (doc);
  yyjson_mut_obj_add_null (doc, w, "actorder");
  yyjson_mut_obj_add_null (doc, w, "block_structure");
  yyjson_mut_obj_add_bool (doc, w, "dynamic", false);
  yyjson_mut_obj_add_null (doc, w, "group_size");
  yyjson_mut_obj_add_int (doc, w, "num_bits", 8);
  yyjson_mut_obj_add_str (doc, w, "observer", "minmax");
  yyjson_mut_obj_add_val (doc, w, "observer_kwargs", yyjson_mut_obj (doc));
  yyjson_mut_obj_add_str (doc, w, "strategy", "channel");
  yyjson_mut_obj_add_bool (doc, w, "symmetric", true);
  yyjson_mut_obj_add_str (doc, w, "type", "float");
  yyjson_mut_obj_add_val (doc, g, "weights", w);
  yyjson_mut_obj_add_val (doc, groups, "group_0", g);
  yyjson_mut_obj_add_val (doc, qc, "config_groups", groups);
  yyjson_mut_obj_add_str (doc, qc, "format", "float-quantized");
  yyjson_mut_obj_add_real (doc, qc, "global_compression_ratio", 1.0);
  yyjson_mut_val *ignore = yyjson_mut_arr (doc);
  yyjson_mut_arr_add_str (doc, ignore, "lm_head");
  if (shape->vision) {
    yyjson_mut_arr_add_str (doc, ignore, ke_layouts[layout].ignore_vision);
    yyjson_mut_arr_add_str (doc, ignore, ke_layouts[layout].ignore_projector);
  }
  yyjson_mut_obj_add_val (doc, qc, "ignore", ignore);
  yyjson_mut_obj_add_null (doc, qc, "kv_cache_scheme");
  yyjson_mut_obj_add_str (doc, qc, "quant_method", "compressed-tensors");
  yyjson_mut_obj_add_str (doc, qc, "quantization_status", "compressed");
  yyjson_mut_obj_add_val (doc, qc, "sparsity_config", yyjson_mut_obj (doc));
  yyjson_mut_obj_add_str (doc, qc, "version", "0.9.4");
  return qc;
}

/* Text keys: Google's always-written ones, and the rest where they differ from
 * Gemma3TextConfig's defaults. */
static void
add_text_keys (yyjson_mut_doc *doc, yyjson_mut_val *t, const ke_gen_shape *s,
               const ke_gen_options *o)
{
  if (s->head_dim != 256)
    yyjson_mut_obj_add_uint (doc, t, "head_dim", s->head_dim);
  yyjson_mut_obj_add_uint (doc, t, "hidden_size", s->hidden);
  yyjson_mut_obj_add_uint (doc, t, "intermediate_size", s->intermediate);
  if (s->max_position != 131072)
    yyjson_mut_obj_add_uint (doc, t, "max_position_embeddings", s->max_position);
  yyjson_mut_obj_add_str (doc, t, "model_type", "gemma3_text");
  if (s->heads != 8)
    yyjson_mut_obj_add_uint (doc, t, "num_attention_heads", s->heads);
  yyjson_mut_obj_add_uint (doc, t, "num_hidden_layers", s->layers);
  if (s->kv_heads != 4)
    yyjson_mut_obj_add_uint (doc, t, "num_key_value_heads", s->kv_heads);
  /* An integer in Google's configs (transformers 5 validates it as int). */
  if (s->query_pre_attn_scalar != 256.0f) {
    float q = s->query_pre_attn_scalar;
    if (q == (float) (uint32_t) q)
      yyjson_mut_obj_add_uint (doc, t, "query_pre_attn_scalar", (uint32_t) q);
    else
      yyjson_mut_obj_add_real (doc, t, "query_pre_attn_scalar", q);
  }
  add_rope_scaling (doc, t, s->rope_factor);
  yyjson_mut_obj_add_uint (doc, t, "sliding_window", s->sliding_window);
  if (o->untied_lm_head)
    yyjson_mut_obj_add_bool (doc, t, "tie_word_embeddings", false);
  if (s->vocab != 262208)
    yyjson_mut_obj_add_uint (doc, t, "vocab_size", s->vocab);
}

yyjson_mut_doc *
ke_gen_config_json (const ke_gen_shape *s, const ke_gen_tokens *tok, const ke_gen_options *o)
{
  yyjson_mut_doc *doc = yyjson_mut_doc_new (NULL);
  if (doc == NULL)
    return NULL;
  yyjson_mut_val *root = yyjson_mut_obj (doc);
  yyjson_mut_doc_set_root (doc, root);
  yyjson_mut_val *archs = yyjson_mut_arr (doc);
  yyjson_mut_arr_add_str (doc, archs, s->vision ? "Gemma3ForConditionalGeneration"
                                                : "Gemma3ForCausalLM");
  yyjson_mut_obj_add_val (doc, root, "architectures", archs);
  if (s->vision) {
    yyjson_mut_obj_add_int (doc, root, "boi_token_index", tok->from_tokenizer ? tok->boi : 255999);
    yyjson_mut_obj_add_int (doc, root, "eoi_token_index", tok->from_tokenizer ? tok->eoi : 256000);
    add_eos (doc, root, tok);
    yyjson_mut_obj_add_int (doc, root, "image_token_index",
                            tok->from_tokenizer ? tok->image : 262144);
    yyjson_mut_obj_add_real (doc, root, "initializer_range", 0.02);
    yyjson_mut_obj_add_uint (doc, root, "mm_tokens_per_image", s->mm_tokens);
    yyjson_mut_obj_add_str (doc, root, "model_type", "gemma3");
    if (o->format == KE_GEN_FP8)
      yyjson_mut_obj_add_val (doc, root, "quantization_config", quantization_config (doc, s, o->layout));
    yyjson_mut_val *t = yyjson_mut_obj (doc);
    if (tok->from_tokenizer) {
      yyjson_mut_obj_add_int (doc, t, "bos_token_id", tok->bos);
      yyjson_mut_obj_add_int (doc, t, "pad_token_id", tok->pad);
    }
    add_text_keys (doc, t, s, o);
    yyjson_mut_obj_add_val (doc, root, "text_config", t);
    if (o->untied_lm_head)
      yyjson_mut_obj_add_bool (doc, root, "tie_word_embeddings", false);
    yyjson_mut_obj_add_str (doc, root, "torch_dtype", "bfloat16");
    yyjson_mut_obj_add_str (doc, root, "transformers_version", transformers_version (o->layout));
    yyjson_mut_val *v = yyjson_mut_obj (doc);
    yyjson_mut_obj_add_uint (doc, v, "hidden_size", s->v_hidden);
    yyjson_mut_obj_add_uint (doc, v, "image_size", s->image);
    yyjson_mut_obj_add_uint (doc, v, "intermediate_size", s->v_intermediate);
    yyjson_mut_obj_add_str (doc, v, "model_type", "siglip_vision_model");
    yyjson_mut_obj_add_uint (doc, v, "num_attention_heads", s->v_heads);
    yyjson_mut_obj_add_uint (doc, v, "num_hidden_layers", s->v_layers);
    yyjson_mut_obj_add_uint (doc, v, "patch_size", s->patch);
    yyjson_mut_obj_add_bool (doc, v, "vision_use_head", false);
    yyjson_mut_obj_add_val (doc, root, "vision_config", v);
  } else {
    /* Gemma3ForCausalLM: one flat text config. */
    yyjson_mut_obj_add_int (doc, root, "bos_token_id", tok->from_tokenizer ? tok->bos : 2);
    add_eos (doc, root, tok);
    yyjson_mut_obj_add_int (doc, root, "pad_token_id", tok->from_tokenizer ? tok->pad : 0);
    add_text_keys (doc, root, s, o);
    if (o->format == KE_GEN_FP8)
      yyjson_mut_obj_add_val (doc, root, "quantization_config", quantization_config (doc, s, o->layout));
    yyjson_mut_obj_add_str (doc, root, "torch_dtype", "bfloat16");
    yyjson_mut_obj_add_str (doc, root, "transformers_version", transformers_version (o->layout));
  }
  return doc;
}

bool
ke_gen_write_json (yyjson_mut_doc *doc, const char *path, ke_error **error)
{
  yyjson_write_err err;
  if (doc == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory writing %s", path);
  if (!yyjson_mut_write_file (path, doc, YYJSON_WRITE_PRETTY_TWO_SPACES | YYJSON_WRITE_NEWLINE_AT_END,
                              NULL, &err))
    return ke_set_error (error, KE_ERROR_IO, "Cannot write %s: %s", path, err.msg ? err.msg : "error");
  return true;
}

static bool
write_doc_to (const char *out_dir, const char *name, yyjson_mut_doc *doc, ke_error **error)
{
  char *path = ke_path_join (out_dir, name);
  bool ok = path ? ke_gen_write_json (doc, path, error)
                 : ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  free (path);
  yyjson_mut_doc_free (doc);
  return ok;
}

static bool
copy_file (const char *src, const char *dst, ke_error **error)
{
  char *data = NULL;
  size_t len = 0;
  if (!ke_read_file (src, 512u << 20, &data, &len, error))
    return false;
  FILE *f = fopen (dst, "wb");
  bool ok = f && fwrite (data, 1, len, f) == len;
  if (f && fclose (f) != 0)
    ok = false;
  free (data);
  if (!ok)
    return ke_set_error (error, KE_ERROR_IO, "Cannot write %s: %s", dst, strerror (errno));
  return true;
}

bool
ke_gen_write_side_files (const char *out_dir, const ke_gen_shape *s, const ke_gen_tokens *tok,
                         const ke_gen_options *o, ke_error **error)
{
  if (!write_doc_to (out_dir, "config.json", ke_gen_config_json (s, tok, o), error))
    return false;

  yyjson_mut_doc *doc = yyjson_mut_doc_new (NULL);
  if (doc == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  yyjson_mut_val *g = yyjson_mut_obj (doc);
  yyjson_mut_doc_set_root (doc, g);
  yyjson_mut_obj_add_int (doc, g, "bos_token_id", tok->from_tokenizer ? tok->bos : 2);
  yyjson_mut_obj_add_str (doc, g, "cache_implementation", "hybrid");
  yyjson_mut_obj_add_bool (doc, g, "do_sample", true);
  add_eos (doc, g, tok);
  yyjson_mut_obj_add_int (doc, g, "pad_token_id", tok->from_tokenizer ? tok->pad : 0);
  yyjson_mut_obj_add_int (doc, g, "top_k", 64);
  yyjson_mut_obj_add_real (doc, g, "top_p", 0.95);
  yyjson_mut_obj_add_str (doc, g, "transformers_version", transformers_version (o->layout));
  if (!write_doc_to (out_dir, "generation_config.json", doc, error))
    return false;

  if (s->vision) {
    doc = yyjson_mut_doc_new (NULL);
    if (doc == NULL)
      return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    yyjson_mut_val *p = yyjson_mut_obj (doc);
    yyjson_mut_doc_set_root (doc, p);
    yyjson_mut_obj_add_null (doc, p, "do_convert_rgb");
    yyjson_mut_obj_add_bool (doc, p, "do_normalize", true);
    yyjson_mut_obj_add_null (doc, p, "do_pan_and_scan");
    yyjson_mut_obj_add_bool (doc, p, "do_rescale", true);
    yyjson_mut_obj_add_bool (doc, p, "do_resize", true);
    yyjson_mut_val *mean = yyjson_mut_arr (doc), *std = yyjson_mut_arr (doc);
    for (int i = 0; i < 3; i++) {
      yyjson_mut_arr_add_real (doc, mean, 0.5);
      yyjson_mut_arr_add_real (doc, std, 0.5);
    }
    yyjson_mut_obj_add_val (doc, p, "image_mean", mean);
    yyjson_mut_obj_add_str (doc, p, "image_processor_type", "Gemma3ImageProcessor");
    yyjson_mut_obj_add_uint (doc, p, "image_seq_length", s->mm_tokens);
    yyjson_mut_obj_add_val (doc, p, "image_std", std);
    yyjson_mut_obj_add_null (doc, p, "pan_and_scan_max_num_crops");
    yyjson_mut_obj_add_null (doc, p, "pan_and_scan_min_crop_size");
    yyjson_mut_obj_add_null (doc, p, "pan_and_scan_min_ratio_to_activate");
    yyjson_mut_obj_add_str (doc, p, "processor_class", "Gemma3Processor");
    yyjson_mut_obj_add_int (doc, p, "resample", 2);
    yyjson_mut_obj_add_real (doc, p, "rescale_factor", 1.0 / 255.0);
    yyjson_mut_val *size = yyjson_mut_obj (doc);
    yyjson_mut_obj_add_uint (doc, size, "height", s->image);
    yyjson_mut_obj_add_uint (doc, size, "width", s->image);
    yyjson_mut_obj_add_val (doc, p, "size", size);
    if (!write_doc_to (out_dir, "preprocessor_config.json", doc, error))
      return false;
  }
  char *dst = ke_path_join (out_dir, "tokenizer.json");
  bool ok = dst && copy_file (o->tokenizer_path, dst, error);
  free (dst);
  return ok;
}
