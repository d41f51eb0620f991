/* ke-config.h — a Gemma 3 checkpoint's configuration, with transformers' defaults filled.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Filled from config.json (Gemma3ForConditionalGeneration or Gemma3ForCausalLM),
 * generation_config.json and preprocessor_config.json.  Values and their sources:
 * ../shared/gemma3/README.md and transformers' configuration_gemma3.py / siglip.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ke-engine.h"

#define KE_MAX_LAYERS 256
#define KE_MAX_EOS 8

typedef enum {
  KE_LAYER_SLIDING = 0, /* "sliding_attention": local, window `sliding_window`, rope_local_base_freq */
  KE_LAYER_GLOBAL = 1,  /* "full_attention": rope_theta with rope_scaling */
} ke_layer_kind;

typedef struct ke_text_config {
  uint32_t vocab_size;             /* 262208 */
  uint32_t hidden_size;            /* 2560 */
  uint32_t intermediate_size;      /* 10240 */
  uint32_t num_hidden_layers;      /* 34 */
  uint32_t num_attention_heads;    /* 8 */
  uint32_t num_key_value_heads;    /* 4 */
  uint32_t head_dim;               /* 256 */
  uint32_t sliding_window;         /* 1024 */
  uint32_t max_position_embeddings;/* 131072 */
  float query_pre_attn_scalar;     /* 256 */
  float rms_norm_eps;              /* 1e-6 */
  float rope_theta;                /* 1e6, global layers */
  float rope_local_base_freq;      /* 1e4, sliding layers */
  float rope_scaling_factor;       /* 8 (linear) on global layers; 1 = none */
  float final_logit_softcapping;   /* 0 = none */
  float attn_logit_softcapping;    /* 0 = none */
  bool tie_word_embeddings;        /* true */
  ke_layer_kind layer_kind[KE_MAX_LAYERS];
} ke_text_config;

typedef struct ke_vision_config {
  uint32_t hidden_size;            /* 1152 */
  uint32_t intermediate_size;      /* 4304 */
  uint32_t num_hidden_layers;      /* 27 */
  uint32_t num_attention_heads;    /* 16 */
  uint32_t num_channels;           /* 3 */
  uint32_t image_size;             /* 896 */
  uint32_t patch_size;             /* 14 */
  float layer_norm_eps;            /* 1e-6 */
} ke_vision_config;

typedef struct ke_preprocess_config {
  uint32_t width, height;          /* 896 × 896 */
  float image_mean[3], image_std[3];/* 0.5 */
  float rescale_factor;            /* 1/255 */
  int resample;                    /* PIL: 2 = bilinear, 3 = bicubic */
  bool do_resize, do_rescale, do_normalize, do_convert_rgb;
  bool do_pan_and_scan;            /* false */
  uint32_t pan_and_scan_min_crop_size;       /* 256 */
  uint32_t pan_and_scan_max_num_crops;       /* 4 */
  float pan_and_scan_min_ratio_to_activate;  /* 1.2 */
} ke_preprocess_config;

typedef struct ke_generation_config {
  bool do_sample;
  float temperature;               /* 1.0 when absent */
  int32_t top_k;                   /* 64 */
  float top_p;                     /* 0.95 */
  float min_p;                     /* 0 */
  float repetition_penalty;        /* 1 */
} ke_generation_config;

typedef struct ke_config {
  char architecture[64];           /* "Gemma3ForConditionalGeneration" / "Gemma3ForCausalLM" */
  bool has_vision;
  ke_text_config text;
  ke_vision_config vision;
  uint32_t mm_tokens_per_image;    /* 256 */
  int32_t boi_token_id;            /* 255999 */
  int32_t eoi_token_id;            /* 256000 */
  int32_t image_token_id;          /* 262144 */
  int32_t bos_token_id, pad_token_id;
  int32_t eos_token_ids[KE_MAX_EOS];
  uint32_t n_eos;                  /* [1, 106] */
  ke_generation_config generation;
  ke_preprocess_config preprocess;
} ke_config;

/* Reads DIR/config.json (required), DIR/generation_config.json and
 * DIR/preprocessor_config.json (optional), fills defaults, and validates every value
 * (positive sizes, divisibility, heads × head_dim, patch grid pooling to a square, …). */
bool ke_config_load (const char *model_dir, ke_config *config, ke_error **error);

/* Parses config.json text alone (for tests and the fuzzer). */
bool ke_config_parse (const char *json, size_t len, const char *filename, ke_config *config,
                      ke_error **error);

/* Apply generation_config.json / preprocessor_config.json text to a config already filled
 * by ke_config_parse() (for tests and the fuzzer; ke_config_load() calls them).  The eos
 * ids of generation_config.json replace config.json's, as generate() uses them. */
bool ke_generation_config_parse (const char *json, size_t len, const char *filename,
                                 ke_config *config, ke_error **error);
bool ke_preprocess_config_parse (const char *json, size_t len, const char *filename,
                                 ke_config *config, ke_error **error);
