/* ke-model.c — ke_model: a checkpoint's config + weights bound to one backend.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * ke_model_open (ke-model-open.c) reads the files; this part picks the backend and
 * describes the model.  Tests build models around in-memory weights with
 * ke_model_new_internal.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-backend.h"
#if KE_HAVE_CUDA
#include "ke-cuda.h"
#include "ke-comm.h"
#include "ke-tp-cuda.h"
#endif

/* Contexts above this need an explicit max_context (the KV cache grows with it). */
#define KE_DEFAULT_MAX_CONTEXT 8192u

struct ke_model {
  const ke_config *config;
  const ke_weights *weights;
  void *owner;
  void (*owner_free) (void *owner);
  const ke_tokenizer *tokenizer; /* owned by `owner` when not NULL */
  ke_backend *backend;
  ke_model_options options;
  ke_model_info info;
  char quantization[64];
};

void
ke_model_options_init (ke_model_options *options)
{
  memset (options, 0, sizeof *options);
  options->backend = KE_BACKEND_AUTO;
}

#if KE_HAVE_CUDA
/* The CUDA backend on options->device, or on the GPUs of options->devices.  Several GPUs
 * are checked as tensor parallelism needs them (heads divisible, GPUs present and alike,
 * NCCL loadable), then refused: the CUDA forward is not split over ranks yet
 * (docs/tensor-parallel.md says what remains). */
static ke_backend *
cuda_backend_new (const ke_config *config, const ke_weights *weights,
                  const ke_model_options *options, ke_error **error)
{
  if (options->tensor_parallel > 1) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                  "tensor_parallel is for the CPU backend; on the GPU, list the GPUs that "
                  "share the model in devices.");
    return NULL;
  }
  if (options->n_devices <= 1) {
    ke_model_options one = *options;
    if (options->n_devices == 1) {
      if (!options->devices) {
        ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "n_devices is 1 but devices is NULL.");
        return NULL;
      }
      one.device = options->devices[0];
    }
    return ke_cuda_backend_new (config, weights, &one, error);
  }
  ke_tp_plan plan;
  ke_tp_device infos[KE_TP_MAX_RANKS];
  if (!ke_tp_cuda_check (config, options->devices, options->n_devices, &plan, infos, error) ||
      !ke_nccl_available (NULL, error))
    return NULL;
  ke_set_error (error, KE_ERROR_UNSUPPORTED,
                "Sharing the model over %zu GPUs (tensor parallelism) is not implemented in the "
                "CUDA backend yet; choose one GPU.", options->n_devices);
  return NULL;
}
#endif

ke_model *
ke_model_new_internal (const ke_config *config, const ke_weights *weights,
                       const ke_model_options *options, void *owner,
                       void (*owner_free) (void *owner), const ke_tokenizer *tokenizer,
                       const char *quantization, uint64_t n_params, ke_error **error)
{
  ke_model_options defaults;
  if (!options) {
    ke_model_options_init (&defaults);
    options = &defaults;
  }
  ke_model *model = calloc (1, sizeof *model);
  if (!model) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    goto fail;
  }
  model->config = config;
  model->weights = weights;
  model->options = *options;

  switch (options->backend) {
  case KE_BACKEND_CPU:
    model->backend = ke_cpu_backend_new (config, weights, options, error);
    break;
  case KE_BACKEND_AUTO:
    /* CUDA when there is a GPU; its errors (KE_ERROR_DEVICE_MEMORY, KE_ERROR_UNSUPPORTED, …)
     * go to the caller, which may fall back to the CPU visibly (the app's engine worker
     * does).  The CPU without a GPU or without CUDA in the build. */
#if KE_HAVE_CUDA
    if (ke_cuda_device_count () > 0) {
      model->backend = cuda_backend_new (config, weights, options, error);
      break;
    }
#endif
    model->backend = ke_cpu_backend_new (config, weights, options, error);
    break;
  case KE_BACKEND_CUDA:
#if KE_HAVE_CUDA
    model->backend = cuda_backend_new (config, weights, options, error);
#else
    ke_set_error (error, KE_ERROR_UNSUPPORTED,
                  "The CUDA backend is not part of this build; use the CPU backend.");
#endif
    break;
  case KE_BACKEND_REPLAY:
    model->backend = ke_replay_backend_new (config, weights, tokenizer, options, error);
    break;
  default:
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Unknown backend %d.", (int) options->backend);
    break;
  }
  if (!model->backend)
    goto fail;

  model->options.devices = NULL; /* borrowed: not valid after this call */
  model->options.n_devices = 0;
  model->owner = owner;
  model->owner_free = owner_free;
  model->tokenizer = tokenizer;
  snprintf (model->quantization, sizeof model->quantization, "%s",
            quantization ? quantization : "unknown");

  uint32_t max_context = options->max_context ? options->max_context : KE_DEFAULT_MAX_CONTEXT;
  if (config->text.max_position_embeddings && max_context > config->text.max_position_embeddings)
    max_context = config->text.max_position_embeddings;

  ke_model_info *info = &model->info;
  info->architecture = config->architecture;
  info->backend = model->backend->ops->name;
  info->device_name = model->backend->device_name;
  info->quantization = model->quantization;
  info->vocab_size = config->text.vocab_size;
  info->hidden_size = config->text.hidden_size;
  info->n_layers = config->text.num_hidden_layers;
  info->max_context = max_context;
  info->has_vision = config->has_vision;
  info->mm_tokens_per_image = config->has_vision ? config->mm_tokens_per_image : 0;
  info->image_size = config->has_vision ? config->vision.image_size : 0;
  info->n_params = n_params;
  info->device_bytes = model->backend->device_bytes;
  return model;

fail:
  if (model && model->backend)
    model->backend->ops->destroy (model->backend);
  free (model);
  if (owner && owner_free)
    owner_free (owner);
  return NULL;
}

void
ke_model_free (ke_model *model)
{
  if (!model)
    return;
  model->backend->ops->destroy (model->backend);
  if (model->owner && model->owner_free)
    model->owner_free (model->owner);
  free (model);
}

const ke_model_info *
ke_model_get_info (const ke_model *model)
{
  return &model->info;
}

const ke_tokenizer *
ke_model_get_tokenizer (const ke_model *model)
{
  return model->tokenizer;
}

ke_backend *
ke_model_backend (const ke_model *model)
{
  return model->backend;
}

const ke_config *
ke_model_config (const ke_model *model)
{
  return model->config;
}

void
ke_sampling_init (ke_sampling *sampling, const ke_model *model)
{
  memset (sampling, 0, sizeof *sampling);
  sampling->temperature = 0.0f;
  sampling->top_k = 0;
  sampling->top_p = 1.0f;
  sampling->min_p = 0.0f;
  sampling->repetition_penalty = 1.0f;
  sampling->presence_penalty = 0.0f;
  if (!model)
    return;
  const ke_generation_config *g = &model->config->generation;
  if (g->do_sample) {
    sampling->temperature = g->temperature > 0.0f ? g->temperature : 1.0f;
    sampling->top_k = g->top_k;
    sampling->top_p = g->top_p > 0.0f ? g->top_p : 1.0f;
    sampling->min_p = g->min_p;
  }
  if (g->repetition_penalty > 0.0f)
    sampling->repetition_penalty = g->repetition_penalty;
}
