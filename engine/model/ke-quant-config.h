/* ke-quant-config.h — the `quantization_config` of config.json (compressed-tensors).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Kestrel runs one scheme: compressed-tensors "float-quantized" FP8 e4m3 weights with
 * static symmetric per-channel scales and dynamic per-token FP8 input activations (what
 * llm-compressor's FP8_DYNAMIC preset writes).  Any other method or scheme is refused
 * with a message that names it.  `ignore` entries are module names or "re:" regexes
 * (matched from the start of the module name, as Python's re.match).
 */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include <yyjson.h>

#include "ke-internal.h"
#include "ke-weights.h"

typedef struct ke_quant_ignore {
  char *pattern;           /* as written, "re:" included */
  bool is_regex;
  regex_t regex;           /* compiled "^(…)" when is_regex */
} ke_quant_ignore;

typedef struct ke_quant_config {
  ke_quant_scheme scheme;  /* NONE when config.json has no quantization_config */
  bool act_dynamic;        /* input activations: dynamic per-token FP8 (false: weight-only) */
  ke_quant_ignore *ignore;
  size_t n_ignore;
} ke_quant_config;

/* `qc` is config.json's quantization_config value (NULL or null: unquantized). */
bool ke_quant_config_parse (yyjson_val *qc, const char *what, ke_quant_config *quant,
                            ke_error **error);
/* Parses config.json text and its quantization_config (for the loader and the fuzzer). */
bool ke_quant_config_parse_json (const char *json, size_t len, const char *what,
                                 ke_quant_config *quant, ke_error **error);
void ke_quant_config_clear (ke_quant_config *quant);

/* True when `module` (a tensor name without ".weight") is in the ignore list. */
bool ke_quant_config_ignores (const ke_quant_config *quant, const char *module);
