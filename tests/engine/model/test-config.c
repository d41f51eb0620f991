/* test-config.c — config.json / generation_config.json / preprocessor_config.json:
 * transformers' defaults, every Gemma 3 size from its config alone, and bad input.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ke-config.h"
#include "ke-quant-config.h"
#include "ke-tap.h"

/* Google's gemma-3-4b-it config.json (values: ../shared/gemma3/README.md). */
static const char gemma_4b[] =
  "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"boi_token_index\": 255999,"
  " \"eoi_token_index\": 256000, \"eos_token_id\": [1, 106], \"image_token_index\": 262144,"
  " \"initializer_range\": 0.02, \"mm_tokens_per_image\": 256, \"model_type\": \"gemma3\","
  " \"text_config\": {\"hidden_size\": 2560, \"intermediate_size\": 10240, \"model_type\": \"gemma3_text\","
  " \"num_hidden_layers\": 34, \"rope_scaling\": {\"factor\": 8.0, \"rope_type\": \"linear\"},"
  " \"sliding_window\": 1024}, \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.50.0.dev0\","
  " \"vision_config\": {\"hidden_size\": 1152, \"image_size\": 896, \"intermediate_size\": 4304,"
  " \"model_type\": \"siglip_vision_model\", \"num_attention_heads\": 16, \"num_hidden_layers\": 27,"
  " \"patch_size\": 14, \"vision_use_head\": false}}";

/* gemma-3-1b-it (Gemma3ForCausalLM, flat). */
static const char gemma_1b[] =
  "{\"architectures\": [\"Gemma3ForCausalLM\"], \"attention_bias\": false, \"attn_logit_softcapping\": null,"
  " \"bos_token_id\": 2, \"eos_token_id\": [1, 106], \"final_logit_softcapping\": null, \"head_dim\": 256,"
  " \"hidden_activation\": \"gelu_pytorch_tanh\", \"hidden_size\": 1152, \"intermediate_size\": 6912,"
  " \"max_position_embeddings\": 32768, \"model_type\": \"gemma3_text\", \"num_attention_heads\": 4,"
  " \"num_hidden_layers\": 26, \"num_key_value_heads\": 1, \"pad_token_id\": 0, \"query_pre_attn_scalar\": 256,"
  " \"rms_norm_eps\": 1e-06, \"rope_local_base_freq\": 10000, \"rope_scaling\": null, \"rope_theta\": 1000000,"
  " \"sliding_window\": 512, \"sliding_window_pattern\": 6, \"vocab_size\": 262144}";

static const char gemma_27b_text[] =
  "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"mm_tokens_per_image\": 256,"
  " \"text_config\": {\"head_dim\": 128, \"hidden_size\": 5376, \"intermediate_size\": 21504,"
  " \"model_type\": \"gemma3_text\", \"num_attention_heads\": 32, \"num_hidden_layers\": 62,"
  " \"num_key_value_heads\": 16, \"query_pre_attn_scalar\": 168, \"rope_scaling\": {\"factor\": 8.0,"
  " \"rope_type\": \"linear\"}, \"sliding_window\": 1024}, \"vision_config\": {\"hidden_size\": 1152,"
  " \"image_size\": 896, \"intermediate_size\": 4304, \"num_attention_heads\": 16,"
  " \"num_hidden_layers\": 27, \"patch_size\": 14, \"vision_use_head\": false}}";

static bool
parse (const char *json, ke_config *c, ke_error **error)
{
  return ke_config_parse (json, strlen (json), "config.json", c, error);
}

KE_TEST (test_4b_defaults)
{
  ke_config c;
  ke_error *error = NULL;
  {
    bool ok_ = parse (gemma_4b, &c, &error);
    KE_REQUIRE (ok_, "%s", error ? error->message : "");
  }
  const ke_text_config *t = &c.text;
  KE_CHECK (strcmp (c.architecture, "Gemma3ForConditionalGeneration") == 0, "%s", c.architecture);
  KE_CHECK (c.has_vision, "vision");
  KE_CHECK (t->vocab_size == 262208, "vocab %u", t->vocab_size);
  KE_CHECK (t->hidden_size == 2560 && t->intermediate_size == 10240, "sizes");
  KE_CHECK (t->num_hidden_layers == 34, "layers");
  KE_CHECK (t->num_attention_heads == 8 && t->num_key_value_heads == 4, "heads %u/%u",
            t->num_attention_heads, t->num_key_value_heads);
  KE_CHECK (t->head_dim == 256 && t->query_pre_attn_scalar == 256.0f, "head_dim");
  KE_CHECK (t->sliding_window == 1024, "window %u", t->sliding_window);
  KE_CHECK (t->rope_theta == 1e6f && t->rope_local_base_freq == 1e4f, "rope");
  KE_CHECK (t->rope_scaling_factor == 8.0f, "factor %g", (double) t->rope_scaling_factor);
  KE_CHECK (t->rms_norm_eps == 1e-6f, "eps");
  KE_CHECK (t->final_logit_softcapping == 0 && t->attn_logit_softcapping == 0, "softcap");
  KE_CHECK (t->tie_word_embeddings, "tie");
  KE_CHECK (t->max_position_embeddings == 131072, "max pos");
  for (uint32_t i = 0; i < 34; i++)
    KE_CHECK (t->layer_kind[i] == ((i % 6 == 5) ? KE_LAYER_GLOBAL : KE_LAYER_SLIDING), "layer %u", i);
  KE_CHECK (c.vision.hidden_size == 1152 && c.vision.intermediate_size == 4304 &&
            c.vision.num_hidden_layers == 27 && c.vision.num_attention_heads == 16 &&
            c.vision.patch_size == 14 && c.vision.image_size == 896 && c.vision.num_channels == 3,
            "vision");
  KE_CHECK (c.vision.layer_norm_eps == 1e-6f, "vision eps");
  KE_CHECK (c.mm_tokens_per_image == 256, "mm tokens");
  KE_CHECK (c.boi_token_id == 255999 && c.eoi_token_id == 256000 && c.image_token_id == 262144, "ids");
  KE_CHECK (c.n_eos == 2 && c.eos_token_ids[0] == 1 && c.eos_token_ids[1] == 106, "eos");
  KE_CHECK (c.bos_token_id == 2 && c.pad_token_id == 0, "bos/pad");
  KE_CHECK (c.preprocess.width == 896 && c.preprocess.height == 896, "preprocess size");
  KE_CHECK (c.generation.top_k == 50 && c.generation.top_p == 1.0f && !c.generation.do_sample,
            "GenerationConfig defaults without a generation_config.json");
}

KE_TEST (test_empty_text_config_is_transformers_default)
{
  ke_config c;
  ke_error *error = NULL;
  /* SiglipVisionConfig's own default (224 px, patch 16: 14×14 patches) cannot pool to 256
   * tokens, so transformers itself fails on it; give a valid grid. */
  KE_CHECK (!parse ("{\"model_type\": \"gemma3\"}", &c, &error), "14x14 grid accepted");
  ke_error_free (error);
  error = NULL;
  bool ok = parse ("{\"model_type\": \"gemma3\", \"vision_config\": {\"image_size\": 256}}", &c, &error);
  KE_REQUIRE (ok, "%s", error ? error->message : "");
  /* Gemma3TextConfig() and SiglipVisionConfig() defaults. */
  KE_CHECK (c.text.hidden_size == 2304 && c.text.intermediate_size == 9216 &&
            c.text.num_hidden_layers == 26 && c.text.sliding_window == 4096 &&
            c.text.rope_scaling_factor == 1.0f, "text defaults");
  KE_CHECK (c.vision.hidden_size == 768 && c.vision.num_hidden_layers == 12 &&
            c.vision.image_size == 256 && c.vision.patch_size == 16, "vision defaults");
}

KE_TEST (test_1b_causal)
{
  ke_config c;
  ke_error *error = NULL;
  {
    bool ok_ = parse (gemma_1b, &c, &error);
    KE_REQUIRE (ok_, "%s", error ? error->message : "");
  }
  KE_CHECK (!c.has_vision, "text only");
  KE_CHECK (c.text.hidden_size == 1152 && c.text.num_key_value_heads == 1 &&
            c.text.sliding_window == 512 && c.text.vocab_size == 262144 &&
            c.text.max_position_embeddings == 32768, "1b shape");
  KE_CHECK (c.text.rope_scaling_factor == 1.0f, "no scaling");
  KE_CHECK (c.text.layer_kind[5] == KE_LAYER_GLOBAL && c.text.layer_kind[4] == KE_LAYER_SLIDING, "pattern");
}

KE_TEST (test_27b)
{
  ke_config c;
  ke_error *error = NULL;
  {
    bool ok_ = parse (gemma_27b_text, &c, &error);
    KE_REQUIRE (ok_, "%s", error ? error->message : "");
  }
  KE_CHECK (c.text.head_dim == 128 && c.text.query_pre_attn_scalar == 168.0f &&
            c.text.num_hidden_layers == 62 && c.text.num_attention_heads == 32, "27b");
  KE_CHECK (c.text.vocab_size == 262208, "default vocab");
}

KE_TEST (test_layer_types_and_rope_parameters)
{
  /* transformers 5 style: layer_types and rope_parameters. */
  const char *json =
    "{\"architectures\": [\"Gemma3ForCausalLM\"], \"num_hidden_layers\": 3, \"layer_types\":"
    " [\"full_attention\", \"sliding_attention\", \"full_attention\"], \"rope_parameters\":"
    " {\"full_attention\": {\"rope_type\": \"linear\", \"factor\": 4.0, \"rope_theta\": 500000.0},"
    " \"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 20000.0}},"
    " \"eos_token_id\": 7}";
  ke_config c;
  ke_error *error = NULL;
  {
    bool ok_ = parse (json, &c, &error);
    KE_REQUIRE (ok_, "%s", error ? error->message : "");
  }
  KE_CHECK (c.text.layer_kind[0] == KE_LAYER_GLOBAL && c.text.layer_kind[1] == KE_LAYER_SLIDING &&
            c.text.layer_kind[2] == KE_LAYER_GLOBAL, "layer_types");
  KE_CHECK (c.text.rope_theta == 500000.0f && c.text.rope_scaling_factor == 4.0f &&
            c.text.rope_local_base_freq == 20000.0f, "rope_parameters");
  KE_CHECK (c.n_eos == 1 && c.eos_token_ids[0] == 7, "single eos");
}

KE_TEST (test_generation_and_preprocessor)
{
  ke_config c;
  ke_error *error = NULL;
  {
    bool ok_ = parse (gemma_4b, &c, &error);
    KE_REQUIRE (ok_, "%s", error ? error->message : "");
  }
  const char *gen = "{\"bos_token_id\": 2, \"cache_implementation\": \"hybrid\", \"do_sample\": true,"
                    " \"eos_token_id\": [1, 106, 5], \"pad_token_id\": 0, \"top_k\": 64, \"top_p\": 0.95}";
  {
    bool ok_ = ke_generation_config_parse (gen, strlen (gen), "g", &c, &error);
    KE_REQUIRE (ok_, "%s", error->message);
  }
  KE_CHECK (c.generation.do_sample && c.generation.top_k == 64 &&
            fabsf (c.generation.top_p - 0.95f) < 1e-6f && c.generation.temperature == 1.0f, "gen");
  KE_CHECK (c.n_eos == 3 && c.eos_token_ids[2] == 5, "generation eos ids win");
  const char *pre =
    "{\"do_convert_rgb\": null, \"do_normalize\": true, \"do_pan_and_scan\": null, \"image_mean\":"
    " [0.5, 0.5, 0.5], \"image_std\": [0.5, 0.5, 0.5], \"pan_and_scan_max_num_crops\": null,"
    " \"resample\": 2, \"rescale_factor\": 0.00392156862745098, \"size\": {\"height\": 896, \"width\": 896}}";
  {
    bool ok_ = ke_preprocess_config_parse (pre, strlen (pre), "p", &c, &error);
    KE_REQUIRE (ok_, "%s", error->message);
  }
  KE_CHECK (c.preprocess.resample == 2 && !c.preprocess.do_pan_and_scan &&
            c.preprocess.pan_and_scan_max_num_crops == 4 &&
            fabsf (c.preprocess.rescale_factor - 1.0f / 255.0f) < 1e-9f, "preprocess");
  const char *bad_size = "{\"size\": {\"height\": 224, \"width\": 224}}";
  KE_CHECK (!ke_preprocess_config_parse (bad_size, strlen (bad_size), "p", &c, &error) &&
            strstr (error->message, "image_size"), "size mismatch");
  ke_error_free (error);
  error = NULL;
  const char *bad_gen = "{\"top_p\": 1.5}";
  KE_CHECK (!ke_generation_config_parse (bad_gen, strlen (bad_gen), "g", &c, &error), "top_p");
  ke_error_free (error);
}

/* Each must fail with a message containing `needle`. */
static const struct {
  const char *json;
  const char *needle;
} bad_configs[] = {
  { "{\"architectures\": [\"LlamaForCausalLM\"]}", "LlamaForCausalLM" },
  { "{}", "architectures" },
  { "[1, 2]", "object" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"num_attention_heads\": 6, \"num_key_value_heads\": 4}", "multiple" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"num_hidden_layers\": 0}", "num_hidden_layers" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"num_hidden_layers\": 100000}", "num_hidden_layers" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"hidden_size\": -5}", "hidden_size" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"hidden_size\": 1e300}", "hidden_size" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"hidden_size\": \"2560\"}", "hidden_size" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"vocab_size\": 0}", "vocab_size" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"rms_norm_eps\": -1}", "rms_norm_eps" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}}", "yarn" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"hidden_activation\": \"relu\"}", "relu" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"num_hidden_layers\": 2, \"layer_types\": [\"full_attention\"]}", "layer_types" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"eos_token_id\": [1, 999999999]}", "eos_token_id" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"head_dim\": 33}", "head_dim" },
  { "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"mm_tokens_per_image\": 250}", "mm_tokens_per_image" },
  { "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"vision_config\": {\"image_size\": 100, \"patch_size\": 14}}", "patch_size" },
  { "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"vision_config\": {\"image_size\": 256}, \"image_token_index\": 300000}", "image_token_index" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"hidden_size\": 128,", "invalid JSON" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"]} trailing", "invalid JSON" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"x\": \"\xc3\x28\"}", "UTF-8" },
  { "{\"architectures\": [\"Gemma3ForCausalLM\"], \"x\": \"\xed\xa0\x80\"}", "UTF-8" },
  { "", "invalid JSON" },
};

KE_TEST (test_bad_configs)
{
  for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
    ke_config c;
    ke_error *error = NULL;
    bool ok = parse (bad_configs[i].json, &c, &error);
    KE_CHECK (!ok, "case %zu accepted", i);
    KE_CHECK (error && error->message && strstr (error->message, bad_configs[i].needle) &&
              strstr (error->message, "config.json"),
              "case %zu: message '%s' lacks '%s' or the file name", i,
              error ? error->message : "(none)", bad_configs[i].needle);
    ke_error_free (error);
  }
}

KE_TEST (test_deep_nesting)
{
  size_t depth = 100000;
  char *json = malloc (2 * depth + 64);
  KE_REQUIRE (json != NULL, "oom");
  size_t n = (size_t) sprintf (json, "{\"architectures\": [\"Gemma3ForCausalLM\"], \"x\": ");
  for (size_t i = 0; i < depth; i++)
    json[n++] = '[';
  for (size_t i = 0; i < depth; i++)
    json[n++] = ']';
  json[n++] = '}';
  ke_config c;
  ke_error *error = NULL;
  KE_CHECK (!ke_config_parse (json, n, "config.json", &c, &error), "accepted");
  KE_CHECK (error && strstr (error->message, "nested"), "%s", error ? error->message : "");
  ke_error_free (error);
  free (json);
}

KE_TEST (test_quantization_config)
{
  const char *fp8 =
    "{\"quantization_config\": {\"config_groups\": {\"group_0\": {\"input_activations\":"
    " {\"dynamic\": true, \"num_bits\": 8, \"strategy\": \"token\", \"symmetric\": true, \"type\": \"float\"},"
    " \"targets\": [\"Linear\"], \"weights\": {\"dynamic\": false, \"num_bits\": 8, \"strategy\": \"channel\","
    " \"symmetric\": true, \"type\": \"float\"}}}, \"format\": \"float-quantized\", \"ignore\":"
    " [\"lm_head\", \"re:vision_tower.*\", \"re:model\\\\.multi_modal_projector.*\"],"
    " \"quant_method\": \"compressed-tensors\"}}";
  ke_quant_config q;
  ke_error *error = NULL;
  {
    bool ok_ = ke_quant_config_parse_json (fp8, strlen (fp8), "config.json", &q, &error);
    KE_REQUIRE (ok_, "%s", error->message);
  }
  KE_CHECK (q.scheme == KE_QUANT_FP8_DYNAMIC && q.act_dynamic, "scheme");
  KE_CHECK (ke_quant_config_ignores (&q, "lm_head"), "plain name");
  KE_CHECK (!ke_quant_config_ignores (&q, "language_model.lm_head"), "plain names match exactly");
  KE_CHECK (ke_quant_config_ignores (&q, "vision_tower.vision_model.encoder.layers.0.mlp.fc1"), "re:");
  KE_CHECK (!ke_quant_config_ignores (&q, "model.vision_tower.vision_model.encoder.layers.0.mlp.fc1"),
            "re: is anchored at the start (re.match)");
  KE_CHECK (ke_quant_config_ignores (&q, "model.multi_modal_projector.x"), "escaped dot");
  KE_CHECK (!ke_quant_config_ignores (&q, "language_model.model.layers.0.mlp.up_proj"), "text linear");
  ke_quant_config_clear (&q);

  static const struct {
    const char *from, *to, *needle;
  } bad[] = {
    { "\"num_bits\": 8, \"strategy\": \"channel\"", "\"num_bits\": 4, \"strategy\": \"channel\"", "num_bits=4" },
    { "\"strategy\": \"channel\"", "\"strategy\": \"group\"", "strategy=group" },
    { "\"strategy\": \"token\"", "\"strategy\": \"tensor\"", "strategy=tensor" },
    { "\"compressed-tensors\"", "\"gptq\"", "gptq" },
    { "\"float-quantized\"", "\"pack-quantized\"", "pack-quantized" },
    { "\"type\": \"float\"}}}", "\"type\": \"int\"}}}", "type=int" },
    { "[\"Linear\"]", "[\"Embedding\"]", "targets" },
    { "\"re:vision_tower.*\"", "\"re:vision_tower(\"", "regex" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *at = strstr (fp8, bad[i].from);
    KE_REQUIRE (at != NULL, "case %zu pattern", i);
    char *json = malloc (strlen (fp8) + 64);
    KE_REQUIRE (json != NULL, "oom");
    size_t pre = (size_t) (at - fp8);
    sprintf (json, "%.*s%s%s", (int) pre, fp8, bad[i].to, at + strlen (bad[i].from));
    error = NULL;
    bool ok = ke_quant_config_parse_json (json, strlen (json), "config.json", &q, &error);
    KE_CHECK (!ok && error && strstr (error->message, bad[i].needle), "case %zu: %s", i,
              error ? error->message : "accepted");
    ke_error_free (error);
    ke_quant_config_clear (&q);
    free (json);
  }
}

KE_TAP_MAIN (KE_TAP_ENTRY (test_4b_defaults),
             KE_TAP_ENTRY (test_empty_text_config_is_transformers_default),
             KE_TAP_ENTRY (test_1b_causal), KE_TAP_ENTRY (test_27b),
             KE_TAP_ENTRY (test_layer_types_and_rope_parameters),
             KE_TAP_ENTRY (test_generation_and_preprocessor), KE_TAP_ENTRY (test_bad_configs),
             KE_TAP_ENTRY (test_deep_nesting), KE_TAP_ENTRY (test_quantization_config))
