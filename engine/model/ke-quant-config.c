/* ke-quant-config.c — compressed-tensors quantization_config: FP8-dynamic or refused.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "ke-json.h"
#include "ke-quant-config.h"

/* Checks one quantization-args object against the expected FP8 form.  `strategy` is
 * "channel" for weights and "token" for activations. */
static bool
check_args (yyjson_val *args, const char *what, const char *group, const char *role,
            const char *strategy, bool dynamic, ke_error **error)
{
  if (!yyjson_is_obj (args))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: quantization group %s: %s must be an object",
                         what, group, role);
  uint32_t bits = 0;
  const char *type = NULL, *strat = NULL;
  bool dyn = !dynamic, sym = false;
  yyjson_val *gs = yyjson_obj_get (args, "group_size");
  yyjson_val *bs = yyjson_obj_get (args, "block_structure");
  if (!ke_json_get_u32 (args, "num_bits", what, &bits, error) ||
      !ke_json_get_str (args, "type", what, &type, error) ||
      !ke_json_get_str (args, "strategy", what, &strat, error) ||
      !ke_json_get_bool (args, "dynamic", what, &dyn, error) ||
      !ke_json_get_bool (args, "symmetric", what, &sym, error))
    return false;
  if (bits != 8 || type == NULL || strcmp (type, "float") != 0 || strat == NULL ||
      strcmp (strat, strategy) != 0 || dyn != dynamic || !sym ||
      (gs && !yyjson_is_null (gs)) || (bs && !yyjson_is_null (bs)))
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "%s: unsupported quantization scheme in group %s: %s num_bits=%u "
                         "type=%.16s strategy=%.16s dynamic=%s symmetric=%s (Kestrel runs FP8 "
                         "e4m3 with %s %s scales)",
                         what, group, role, bits, type ? type : "?", strat ? strat : "?",
                         dyn ? "true" : "false", sym ? "true" : "false",
                         dynamic ? "dynamic" : "static", strategy);
  return true;
}

static bool
check_format (yyjson_val *obj, const char *what, ke_error **error)
{
  const char *format = NULL;
  if (!ke_json_get_str (obj, "format", what, &format, error))
    return false;
  if (format && strcmp (format, "float-quantized") != 0)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "%s: compressed-tensors format \"%.32s\" is not supported (only float-quantized)",
                         what, format);
  return true;
}

static bool
parse_group (yyjson_val *key, yyjson_val *g, const char *what, ke_quant_config *quant,
             bool *first, ke_error **error)
{
  const char *group = yyjson_get_str (key);
  if (!yyjson_is_obj (g))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: quantization group %s must be an object",
                         what, group);
  if (!check_format (g, what, error))
    return false;
  yyjson_val *targets = yyjson_obj_get (g, "targets");
  if (!yyjson_is_arr (targets) || yyjson_arr_size (targets) != 1 ||
      !yyjson_equals_str (yyjson_arr_get_first (targets), "Linear"))
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "%s: quantization group %s: only targets [\"Linear\"] are supported",
                         what, group);
  yyjson_val *out = yyjson_obj_get (g, "output_activations");
  if (out && !yyjson_is_null (out))
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "%s: quantization group %s: output activation quantization is not supported",
                         what, group);
  if (!check_args (yyjson_obj_get (g, "weights"), what, group, "weights", "channel", false, error))
    return false;
  yyjson_val *in = yyjson_obj_get (g, "input_activations");
  bool act = in && !yyjson_is_null (in);
  if (act && !check_args (in, what, group, "input_activations", "token", true, error))
    return false;
  if (!*first && act != quant->act_dynamic)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "%s: quantization groups disagree about input activations", what);
  quant->act_dynamic = act;
  *first = false;
  return true;
}

static bool
parse_ignore (yyjson_val *ign, const char *what, ke_quant_config *quant, ke_error **error)
{
  if (ign == NULL || yyjson_is_null (ign))
    return true;
  if (!yyjson_is_arr (ign))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: quantization ignore must be an array", what);
  quant->ignore = ke_calloc_array (yyjson_arr_size (ign) + 1, sizeof *quant->ignore);
  if (quant->ignore == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  size_t i, n;
  yyjson_val *v;
  yyjson_arr_foreach (ign, i, n, v) {
    if (!yyjson_is_str (v))
      return ke_set_error (error, KE_ERROR_FORMAT, "%s: quantization ignore[%zu] is not a string",
                           what, i);
    ke_quant_ignore *e = &quant->ignore[quant->n_ignore];
    const char *s = yyjson_get_str (v);
    e->pattern = ke_strdup (s);
    if (e->pattern == NULL)
      return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    quant->n_ignore++;
    if (strncmp (s, "re:", 3) == 0) {
      char *anchored = ke_strdup_printf ("^(%s)", s + 3);
      if (anchored == NULL)
        return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
      int rc = regcomp (&e->regex, anchored, REG_EXTENDED | REG_NOSUB);
      free (anchored);
      if (rc != 0)
        return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                             "%s: quantization ignore regex \"%.200s\" cannot be compiled", what, s);
      e->is_regex = true;
    }
  }
  return true;
}

bool
ke_quant_config_parse (yyjson_val *qc, const char *what, ke_quant_config *quant,
                       ke_error **error)
{
  memset (quant, 0, sizeof *quant);
  quant->scheme = KE_QUANT_NONE;
  if (qc == NULL || yyjson_is_null (qc))
    return true;
  if (!yyjson_is_obj (qc))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: quantization_config must be an object", what);
  const char *method = NULL;
  if (!ke_json_get_str (qc, "quant_method", what, &method, error))
    return false;
  if (method == NULL || strcmp (method, "compressed-tensors") != 0)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "%s: quantization method \"%.64s\" is not supported (only compressed-tensors FP8-dynamic)",
                         what, method ? method : "(none)");
  if (!check_format (qc, what, error))
    return false;
  yyjson_val *kv = yyjson_obj_get (qc, "kv_cache_scheme");
  if (kv && !yyjson_is_null (kv))
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "%s: kv_cache_scheme is not supported", what);
  yyjson_val *sp = yyjson_obj_get (qc, "sparsity_config");
  if (sp && !yyjson_is_null (sp) && !(yyjson_is_obj (sp) && yyjson_obj_size (sp) == 0))
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "%s: sparsity_config is not supported", what);
  yyjson_val *groups = yyjson_obj_get (qc, "config_groups");
  if (!yyjson_is_obj (groups) || yyjson_obj_size (groups) == 0)
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "%s: quantization_config has no config_groups", what);
  bool first = true;
  size_t i, n;
  yyjson_val *k, *g;
  yyjson_obj_foreach (groups, i, n, k, g) {
    if (!parse_group (k, g, what, quant, &first, error))
      return false;
  }
  if (!parse_ignore (yyjson_obj_get (qc, "ignore"), what, quant, error))
    return false;
  quant->scheme = KE_QUANT_FP8_DYNAMIC;
  return true;
}

bool
ke_quant_config_parse_json (const char *json, size_t len, const char *what,
                            ke_quant_config *quant, ke_error **error)
{
  memset (quant, 0, sizeof *quant);
  yyjson_doc *doc = ke_json_parse (json, len, what, error);
  if (doc == NULL)
    return false;
  yyjson_val *root = yyjson_doc_get_root (doc);
  bool ok = yyjson_is_obj (root)
              ? ke_quant_config_parse (yyjson_obj_get (root, "quantization_config"), what, quant, error)
              : ke_set_error (error, KE_ERROR_FORMAT, "%s: the top level must be a JSON object", what);
  yyjson_doc_free (doc);
  return ok;
}

void
ke_quant_config_clear (ke_quant_config *quant)
{
  for (size_t i = 0; i < quant->n_ignore; i++) {
    if (quant->ignore[i].is_regex)
      regfree (&quant->ignore[i].regex);
    free (quant->ignore[i].pattern);
  }
  free (quant->ignore);
  memset (quant, 0, sizeof *quant);
}

bool
ke_quant_config_ignores (const ke_quant_config *quant, const char *module)
{
  for (size_t i = 0; i < quant->n_ignore; i++) {
    const ke_quant_ignore *e = &quant->ignore[i];
    if (e->is_regex ? regexec (&e->regex, module, 0, NULL, 0) == 0
                    : strcmp (e->pattern, module) == 0)
      return true;
  }
  return false;
}
