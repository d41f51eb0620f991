/* ke-model-open.c — ke_model_open: checkpoint + tokenizer from a folder, then a backend.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Kept apart from ke-model.c so that code which builds models from in-memory weights
 * (the engine tests) does not pull in the loader and the tokenizer.
 */
#include <stdlib.h>

#include "ke-internal.h"
#include "ke-backend.h"

typedef struct {
  ke_checkpoint *checkpoint;
  ke_tokenizer *tokenizer;
} model_files;

static void
model_files_free (void *data)
{
  model_files *files = data;
  ke_tokenizer_free (files->tokenizer);
  ke_checkpoint_free (files->checkpoint);
  free (files);
}

static bool
has_tokenizer (const char *dir)
{
  char *json = ke_path_join (dir, "tokenizer.json");
  char *model = ke_path_join (dir, "tokenizer.model");
  bool found = (json && ke_file_exists (json)) || (model && ke_file_exists (model));
  free (json);
  free (model);
  return found;
}

ke_model *
ke_model_open (const char *model_dir, const ke_model_options *options,
               ke_progress_fn progress, void *user_data, ke_error **error)
{
  if (!model_dir) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No model folder given.");
    return NULL;
  }
  model_files *files = calloc (1, sizeof *files);
  if (!files) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  ke_checkpoint_options copts;
  ke_checkpoint_options_init (&copts);
  files->checkpoint = ke_checkpoint_open (model_dir, &copts, progress, user_data, error);
  if (!files->checkpoint) {
    model_files_free (files);
    return NULL;
  }
  /* A folder without tokenizer files still runs on ids (ke_model_get_tokenizer → NULL). */
  if (has_tokenizer (model_dir)) {
    files->tokenizer = ke_tokenizer_new_from_dir (model_dir, error);
    if (!files->tokenizer) {
      model_files_free (files);
      return NULL;
    }
  }
  if (progress && !progress (1.0, "Preparing the backend", user_data)) {
    model_files_free (files);
    ke_set_error (error, KE_ERROR_CANCELLED, "Loading was cancelled.");
    return NULL;
  }
  const char *quantization = "bf16";
  if (ke_checkpoint_quant_scheme (files->checkpoint) == KE_QUANT_FP8_DYNAMIC)
    quantization = "fp8-dynamic (compressed-tensors)";
  return ke_model_new_internal (ke_checkpoint_config (files->checkpoint),
                                ke_checkpoint_weights (files->checkpoint), options, files,
                                model_files_free, files->tokenizer, quantization,
                                ke_checkpoint_n_params (files->checkpoint), error);
}
