/* fuzz-config.c — libFuzzer target: config.json text (and the same text as
 * generation_config.json / preprocessor_config.json / quantization_config).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ke-config.h"
#include "ke-quant-config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check (bool ok, ke_error **error)
{
  if (!ok && (*error == NULL || (*error)->message == NULL))
    abort (); /* every failure must explain itself */
  ke_error_free (*error);
  *error = NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size ? size : 1);
  if (text == NULL)
    return 0;
  memcpy (text, data, size);
  ke_error *error = NULL;
  ke_config config;
  bool ok = ke_config_parse (text, size, "config.json", &config, &error);
  check (ok, &error);
  if (ok) {
    /* An accepted config must satisfy what the loader relies on. */
    const ke_text_config *t = &config.text;
    if (t->num_hidden_layers == 0 || t->num_hidden_layers > KE_MAX_LAYERS ||
        t->num_key_value_heads == 0 || t->num_attention_heads % t->num_key_value_heads != 0 ||
        config.n_eos > KE_MAX_EOS)
      abort ();
    if (config.has_vision && (config.vision.patch_size == 0 ||
                              config.vision.image_size % config.vision.patch_size != 0))
      abort ();
    check (ke_generation_config_parse (text, size, "generation_config.json", &config, &error),
           &error);
    check (ke_preprocess_config_parse (text, size, "preprocessor_config.json", &config, &error),
           &error);
  }
  ke_quant_config quant;
  ok = ke_quant_config_parse_json (text, size, "config.json", &quant, &error);
  check (ok, &error);
  if (ok) {
    ke_quant_config_ignores (&quant, "language_model.model.layers.0.self_attn.q_proj");
    ke_quant_config_ignores (&quant, "vision_tower.vision_model.encoder.layers.0.mlp.fc1");
  }
  ke_quant_config_clear (&quant);
  free (text);
  return 0;
}
