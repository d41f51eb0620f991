/* ke-config-files.c — generation_config.json and preprocessor_config.json, and loading
 * all three configuration files of a model folder.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ke-config-private.h"
#include "ke-json.h"

bool
ke_generation_config_parse (const char *json, size_t len, const char *filename,
                            ke_config *config, ke_error **error)
{
  const char *what = filename ? filename : "generation_config.json";
  yyjson_doc *doc = ke_json_parse (json, len, what, error);
  if (doc == NULL)
    return false;
  bool ok = false;
  yyjson_val *root = yyjson_doc_get_root (doc);
  ke_generation_config *g = &config->generation;
  if (!yyjson_is_obj (root)) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: the top level must be a JSON object", what);
    goto out;
  }
  if (!ke_json_get_bool (root, "do_sample", what, &g->do_sample, error) ||
      !ke_json_get_float (root, "temperature", what, &g->temperature, error) ||
      !ke_json_get_i32 (root, "top_k", what, &g->top_k, error) ||
      !ke_json_get_float (root, "top_p", what, &g->top_p, error) ||
      !ke_json_get_float (root, "min_p", what, &g->min_p, error) ||
      !ke_json_get_float (root, "repetition_penalty", what, &g->repetition_penalty, error) ||
      /* generate() stops on generation_config's eos ids: they win over config.json's. */
      !ke_config_parse_eos (root, what, config, error))
    goto out;
  if (g->temperature < 0 || g->top_k < 0 || !(g->top_p > 0 && g->top_p <= 1) ||
      g->min_p < 0 || g->min_p > 1 || !(g->repetition_penalty > 0)) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: a sampling value is out of range", what);
    goto out;
  }
  for (uint32_t i = 0; i < config->n_eos; i++)
    if (!ke_config_check_token (config->eos_token_ids[i], config->text.vocab_size, what, "eos_token_id", error))
      goto out;
  ok = true;
out:
  yyjson_doc_free (doc);
  return ok;
}

static bool
get_float3 (yyjson_val *o, const char *key, const char *what, float out[3], ke_error **error)
{
  yyjson_val *a = yyjson_obj_get (o, key);
  if (a == NULL || yyjson_is_null (a))
    return true;
  if (yyjson_is_num (a)) { /* a single number applies to every channel */
    float f = (float) yyjson_get_num (a);
    out[0] = out[1] = out[2] = f;
  } else if (yyjson_is_arr (a) && yyjson_arr_size (a) == 3) {
    for (size_t i = 0; i < 3; i++) {
      yyjson_val *v = yyjson_arr_get (a, i);
      if (!yyjson_is_num (v))
        goto bad;
      out[i] = (float) yyjson_get_num (v);
    }
  } else {
    goto bad;
  }
  for (int i = 0; i < 3; i++)
    if (!isfinite (out[i]))
      goto bad;
  return true;
bad:
  return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"%s\" must be 3 finite numbers", what, key);
}

bool
ke_preprocess_config_parse (const char *json, size_t len, const char *filename,
                            ke_config *config, ke_error **error)
{
  const char *what = filename ? filename : "preprocessor_config.json";
  yyjson_doc *doc = ke_json_parse (json, len, what, error);
  if (doc == NULL)
    return false;
  bool ok = false;
  yyjson_val *root = yyjson_doc_get_root (doc);
  ke_preprocess_config *p = &config->preprocess;
  yyjson_val *size = NULL;
  if (!yyjson_is_obj (root)) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: the top level must be a JSON object", what);
    goto out;
  }
  if (!ke_json_get_obj (root, "size", what, &size, error) ||
      (size && (!ke_json_get_u32 (size, "width", what, &p->width, error) ||
                !ke_json_get_u32 (size, "height", what, &p->height, error))) ||
      !get_float3 (root, "image_mean", what, p->image_mean, error) ||
      !get_float3 (root, "image_std", what, p->image_std, error) ||
      !ke_json_get_float (root, "rescale_factor", what, &p->rescale_factor, error) ||
      !ke_json_get_i32 (root, "resample", what, &p->resample, error) ||
      !ke_json_get_bool (root, "do_resize", what, &p->do_resize, error) ||
      !ke_json_get_bool (root, "do_rescale", what, &p->do_rescale, error) ||
      !ke_json_get_bool (root, "do_normalize", what, &p->do_normalize, error) ||
      !ke_json_get_bool (root, "do_convert_rgb", what, &p->do_convert_rgb, error) ||
      !ke_json_get_bool (root, "do_pan_and_scan", what, &p->do_pan_and_scan, error) ||
      !ke_json_get_u32 (root, "pan_and_scan_min_crop_size", what, &p->pan_and_scan_min_crop_size, error) ||
      !ke_json_get_u32 (root, "pan_and_scan_max_num_crops", what, &p->pan_and_scan_max_num_crops, error) ||
      !ke_json_get_float (root, "pan_and_scan_min_ratio_to_activate", what,
                          &p->pan_and_scan_min_ratio_to_activate, error))
    goto out;
  for (int i = 0; i < 3; i++)
    if (!(p->image_std[i] > 0)) {
      ke_set_error (error, KE_ERROR_FORMAT, "%s: image_std must be positive", what);
      goto out;
    }
  if (p->resample < 0 || p->resample > 5) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: resample %d is not a PIL filter", what, p->resample);
    goto out;
  }
  if (config->has_vision && (p->width != config->vision.image_size || p->height != config->vision.image_size)) {
    ke_set_error (error, KE_ERROR_FORMAT,
                  "%s: size %u×%u differs from the vision tower's image_size %u", what, p->width,
                  p->height, config->vision.image_size);
    goto out;
  }
  ok = true;
out:
  yyjson_doc_free (doc);
  return ok;
}

/* Reads an optional JSON file in the model folder and applies `parse` to it. */
static bool
load_optional (const char *model_dir, const char *name, ke_config *config,
               bool (*parse) (const char *, size_t, const char *, ke_config *, ke_error **),
               ke_error **error)
{
  char *path = ke_path_join (model_dir, name);
  if (path == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  bool ok = true;
  if (ke_file_exists (path)) {
    char *text = NULL;
    size_t len = 0;
    ok = ke_read_file (path, 1u << 20, &text, &len, error) &&
         parse (text, len, path, config, error);
    free (text);
  }
  free (path);
  return ok;
}

bool
ke_config_load (const char *model_dir, ke_config *config, ke_error **error)
{
  char *path = ke_path_join (model_dir, "config.json");
  if (path == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  char *text = NULL;
  size_t len = 0;
  bool ok = ke_read_file (path, 4u << 20, &text, &len, error) &&
            ke_config_parse (text, len, path, config, error);
  free (text);
  free (path);
  if (!ok)
    return false;
  return load_optional (model_dir, "generation_config.json", config, ke_generation_config_parse,
                        error) &&
         (!config->has_vision ||
          load_optional (model_dir, "preprocessor_config.json", config,
                         ke_preprocess_config_parse, error));
}
