/* ke-checkpoint.c — opening a Hugging Face Gemma 3 folder: config, safetensors files
 * (single or sharded), the name table; the public ke_checkpoint API.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The binding of names to roles and the shape checks are in ke-checkpoint-bind.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ke-checkpoint-private.h"
#include "ke-json.h"

#define MAX_WARNINGS 64

void
ke_checkpoint_options_init (ke_checkpoint_options *options)
{
  options->quantize_bf16 = true;
}

bool
ke_ckpt_report (ke_checkpoint *cp, double fraction, const char *stage, ke_error **error)
{
  if (cp->progress && !cp->progress (fraction, stage, cp->user_data))
    return ke_set_error (error, KE_ERROR_CANCELLED, "Loading %s was cancelled", cp->dir);
  return true;
}

void *
ke_ckpt_alloc (ke_checkpoint *cp, size_t bytes)
{
  if (cp->n_owned == cp->cap_owned) {
    size_t cap = cp->cap_owned ? cp->cap_owned * 2 : 64;
    void **grown = ke_realloc_array (cp->owned, cap, sizeof *grown);
    if (grown == NULL)
      return NULL;
    cp->owned = grown;
    cp->cap_owned = cap;
  }
  size_t rounded;
  if (!ke_add_size (bytes, 63, &rounded))
    return NULL;
  rounded &= ~(size_t) 63;
  void *p = aligned_alloc (64, rounded ? rounded : 64);
  if (p == NULL)
    return NULL;
  cp->owned[cp->n_owned++] = p;
  cp->stats.owned_bytes += bytes;
  return p;
}

void
ke_ckpt_warn (ke_checkpoint *cp, const char *fmt, ...)
{
  if (cp->n_warnings >= MAX_WARNINGS) {
    cp->stats.n_warnings_dropped++;
    return;
  }
  if (cp->n_warnings == cp->cap_warnings) {
    size_t cap = cp->cap_warnings ? cp->cap_warnings * 2 : 8;
    char **grown = ke_realloc_array (cp->warnings, cap, sizeof *grown);
    if (grown == NULL)
      return;
    cp->warnings = grown;
    cp->cap_warnings = cap;
  }
  char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r >= 0)
    cp->warnings[cp->n_warnings++] = msg;
}

static int
cmp_entry (const void *a, const void *b)
{
  return strcmp (((const ke_ckpt_entry *) a)->name, ((const ke_ckpt_entry *) b)->name);
}

ke_ckpt_entry *
ke_ckpt_find (ke_checkpoint *cp, const char *name)
{
  ke_ckpt_entry key = { .name = name };
  return bsearch (&key, cp->entries, cp->n_entries, sizeof key, cmp_entry);
}

static bool
add_file (ke_checkpoint *cp, const char *name, ke_error **error)
{
  char *path = ke_path_join (cp->dir, name);
  if (path == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  ke_st_file *f = &cp->files[cp->n_files++];
  bool ok = ke_st_open (path, f, error);
  free (path);
  if (ok)
    cp->stats.file_bytes += f->size;
  return ok;
}

/* A shard name from an index must be a plain file name in the folder. */
static bool
shard_name_ok (const char *s)
{
  return s[0] != '\0' && s[0] != '.' && strchr (s, '/') == NULL && strchr (s, '\\') == NULL;
}

static bool
open_sharded (ke_checkpoint *cp, const char *index_path, ke_error **error)
{
  yyjson_doc *doc = ke_json_read_file (index_path, 64u << 20, error);
  if (doc == NULL)
    return false;
  bool ok = false;
  const char **shards = NULL;
  yyjson_val *root = yyjson_doc_get_root (doc);
  yyjson_val *map = yyjson_is_obj (root) ? yyjson_obj_get (root, "weight_map") : NULL;
  if (!yyjson_is_obj (map) || yyjson_obj_size (map) == 0) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: no \"weight_map\" object", index_path);
    goto out;
  }
  size_t n_names = yyjson_obj_size (map);
  shards = ke_calloc_array (n_names, sizeof *shards);
  cp->files = ke_calloc_array (n_names, sizeof *cp->files);
  cp->entries = ke_calloc_array (n_names, sizeof *cp->entries);
  if (shards == NULL || cp->files == NULL || cp->entries == NULL) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    goto out;
  }
  /* The distinct shard names, in order of first appearance. */
  size_t n_shards = 0, i, n;
  yyjson_val *k, *v;
  yyjson_obj_foreach (map, i, n, k, v) {
    if (!yyjson_is_str (v) || !shard_name_ok (yyjson_get_str (v))) {
      ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s: shard must be a file name in the folder",
                    index_path, yyjson_get_str (k));
      goto out;
    }
    size_t s = 0;
    while (s < n_shards && strcmp (shards[s], yyjson_get_str (v)) != 0)
      s++;
    if (s == n_shards)
      shards[n_shards++] = yyjson_get_str (v);
  }
  for (size_t s = 0; s < n_shards; s++) {
    char *path = ke_path_join (cp->dir, shards[s]);
    bool exists = path && ke_file_exists (path);
    free (path);
    if (!exists) {
      ke_set_error (error, KE_ERROR_IO, "%s lists shard %s, which is missing from %s", index_path,
                    shards[s], cp->dir);
      goto out;
    }
    if (!add_file (cp, shards[s], error) ||
        !ke_ckpt_report (cp, 0.02 + 0.08 * (double) (s + 1) / (double) n_shards,
                         "Mapping weights", error))
      goto out;
  }
  yyjson_obj_foreach (map, i, n, k, v) {
    size_t s = 0;
    while (strcmp (shards[s], yyjson_get_str (v)) != 0)
      s++;
    const ke_st_tensor *t = ke_st_find (&cp->files[s], yyjson_get_str (k));
    if (t == NULL) {
      ke_set_error (error, KE_ERROR_FORMAT, "%s lists tensor %s in %s, which does not contain it",
                    index_path, yyjson_get_str (k), cp->files[s].path);
      goto out;
    }
    cp->entries[cp->n_entries++] = (ke_ckpt_entry) { t->name, t, &cp->files[s], false };
  }
  for (size_t s = 0; s < n_shards; s++)
    for (size_t t = 0; t < cp->files[s].n_tensors; t++) {
      const ke_st_tensor *tt = &cp->files[s].tensors[t];
      yyjson_val *listed = yyjson_obj_get (map, tt->name);
      if (listed == NULL || !yyjson_equals_str (listed, shards[s]))
        ke_ckpt_warn (cp, "%s: tensor %s is not listed for this shard in the index, ignored",
                      cp->files[s].path, tt->name);
    }
  qsort (cp->entries, cp->n_entries, sizeof *cp->entries, cmp_entry);
  for (size_t e = 1; e < cp->n_entries; e++)
    if (strcmp (cp->entries[e - 1].name, cp->entries[e].name) == 0) {
      ke_set_error (error, KE_ERROR_FORMAT, "%s lists tensor %s twice", index_path,
                    cp->entries[e].name);
      goto out;
    }
  ok = true;
out:
  free (shards);
  yyjson_doc_free (doc);
  return ok;
}

static bool
open_single (ke_checkpoint *cp, ke_error **error)
{
  cp->files = ke_calloc_array (1, sizeof *cp->files);
  if (cp->files == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  if (!add_file (cp, "model.safetensors", error))
    return false;
  const ke_st_file *f = &cp->files[0];
  cp->entries = ke_calloc_array (f->n_tensors, sizeof *cp->entries);
  if (cp->entries == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  for (size_t i = 0; i < f->n_tensors; i++) /* already sorted by name */
    cp->entries[cp->n_entries++] = (ke_ckpt_entry) { f->tensors[i].name, &f->tensors[i], f, false };
  return ke_ckpt_report (cp, 0.1, "Mapping weights", error);
}

static bool
load_quant_config (ke_checkpoint *cp, ke_error **error)
{
  char *path = ke_path_join (cp->dir, "config.json");
  char *text = NULL;
  size_t len = 0;
  bool ok = path && ke_read_file (path, 4u << 20, &text, &len, error) &&
            ke_quant_config_parse_json (text, len, path, &cp->quant, error);
  if (path == NULL)
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  free (text);
  free (path);
  return ok;
}

ke_checkpoint *
ke_checkpoint_open (const char *model_dir, const ke_checkpoint_options *options,
                    ke_progress_fn progress, void *user_data, ke_error **error)
{
  if (model_dir == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No model folder given"), NULL;
  ke_checkpoint *cp = calloc (1, sizeof *cp);
  if (cp == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory"), NULL;
  if (options)
    cp->options = *options;
  else
    ke_checkpoint_options_init (&cp->options);
  cp->progress = progress;
  cp->user_data = user_data;
  cp->dir = ke_strdup (model_dir);
  char *single = ke_path_join (model_dir, "model.safetensors");
  char *index = ke_path_join (model_dir, "model.safetensors.index.json");
  if (cp->dir == NULL || single == NULL || index == NULL) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    goto fail;
  }
  if (!ke_ckpt_report (cp, 0.0, "Reading configuration", error) ||
      !ke_config_load (model_dir, &cp->config, error) || !load_quant_config (cp, error))
    goto fail;
  if (ke_file_exists (single)) {
    if (!open_single (cp, error))
      goto fail;
  } else if (ke_file_exists (index)) {
    cp->index_path = ke_strdup (index);
    if (!open_sharded (cp, index, error))
      goto fail;
  } else {
    ke_set_error (error, KE_ERROR_IO, "%s has neither model.safetensors nor model.safetensors.index.json",
                  model_dir);
    goto fail;
  }
  cp->stats.n_files = cp->n_files;
  cp->scheme = cp->quant.scheme;
  cp->stats.act_dynamic = cp->quant.scheme == KE_QUANT_FP8_DYNAMIC && cp->quant.act_dynamic;
  if (cp->scheme == KE_QUANT_NONE && cp->options.quantize_bf16) {
    cp->scheme = KE_QUANT_FP8_DYNAMIC;
    cp->stats.quantized_at_load = true;
    cp->stats.act_dynamic = true;
  }
  if (!ke_ckpt_bind_all (cp, error))
    goto fail;
  for (size_t i = 0; i < cp->n_entries; i++)
    if (!cp->entries[i].used)
      ke_ckpt_warn (cp, "%s: unknown tensor %s (%s), ignored", cp->entries[i].file->path,
                    cp->entries[i].name, cp->entries[i].tensor->dtype_name);
  free (single);
  free (index);
  if (!ke_ckpt_report (cp, 1.0, "Ready", error)) {
    ke_checkpoint_free (cp);
    return NULL;
  }
  return cp;
fail:
  free (single);
  free (index);
  ke_checkpoint_free (cp);
  return NULL;
}

void
ke_checkpoint_free (ke_checkpoint *cp)
{
  if (cp == NULL)
    return;
  free (cp->weights.layers);
  free (cp->weights.vision_layers);
  for (size_t i = 0; i < cp->n_owned; i++)
    free (cp->owned[i]);
  free (cp->owned);
  for (size_t i = 0; i < cp->n_warnings; i++)
    free (cp->warnings[i]);
  free (cp->warnings);
  free (cp->entries);
  for (size_t i = 0; i < cp->n_files; i++)
    ke_st_close (&cp->files[i]);
  free (cp->files);
  ke_quant_config_clear (&cp->quant);
  free (cp->index_path);
  free (cp->dir);
  free (cp);
}

const ke_config *
ke_checkpoint_config (const ke_checkpoint *cp)
{
  return &cp->config;
}

const ke_weights *
ke_checkpoint_weights (const ke_checkpoint *cp)
{
  return &cp->weights;
}

ke_quant_scheme
ke_checkpoint_quant_scheme (const ke_checkpoint *cp)
{
  return cp->scheme;
}

uint64_t
ke_checkpoint_file_bytes (const ke_checkpoint *cp)
{
  return cp->stats.file_bytes;
}

uint64_t
ke_checkpoint_n_params (const ke_checkpoint *cp)
{
  return cp->stats.params_text + cp->stats.params_vision + cp->stats.params_projector;
}

const ke_checkpoint_stats *
ke_checkpoint_get_stats (const ke_checkpoint *cp)
{
  return &cp->stats;
}

size_t
ke_checkpoint_n_warnings (const ke_checkpoint *cp)
{
  return cp->n_warnings;
}

const char *
ke_checkpoint_warning (const ke_checkpoint *cp, size_t i)
{
  return i < cp->n_warnings ? cp->warnings[i] : NULL;
}
