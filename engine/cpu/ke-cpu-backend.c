/* ke-cpu-backend.c — the CPU backend behind the ke_backend vtable (see ke-backend.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-backend.h"
#include "ke-cpu.h"
#include "ke-cpu-backend-private.h"

typedef struct {
  ke_backend base;
  ke_cpu_pool *pool;
  ke_cpu_text *text;
  /* per-forward scratch */
  const float **image_rows;
  int32_t *group;
} cpu_backend;


static void
cpu_destroy (ke_backend *backend)
{
  cpu_backend *cpu = (cpu_backend *) backend;
  ke_cpu_text_free (cpu->text);
  ke_cpu_pool_free (cpu->pool);
  free (cpu->image_rows);
  free (cpu->group);
  free (cpu);
}

static ke_kv_cache *
cpu_kv_new (ke_backend *backend, uint32_t capacity, ke_error **error)
{
  return (ke_kv_cache *) ke_cpu_kv_new (backend->config, capacity, error);
}

static void
cpu_kv_free (ke_backend *backend, ke_kv_cache *kv)
{
  (void) backend;
  ke_cpu_kv_free ((ke_cpu_kv *) kv);
}

ke_image_embeds *
ke_cpu_encode_image (ke_cpu_pool *pool, const ke_config *config, const ke_weights *weights,
                     const ke_image *image, ke_error **error)
{
  if (!config->has_vision) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED, "This model does not take images.");
    return NULL;
  }
  if (config->preprocess.do_resize && (config->preprocess.width != config->vision.image_size ||
                                       config->preprocess.height != config->vision.image_size)) {
    ke_set_error (error, KE_ERROR_FORMAT,
                  "The preprocessor size %u×%u does not match the vision tower's %u.",
                  config->preprocess.width, config->preprocess.height, config->vision.image_size);
    return NULL;
  }
  if (!config->preprocess.do_resize &&
      (image->width != config->vision.image_size || image->height != config->vision.image_size)) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                  "Without resizing, images must be %u×%u.", config->vision.image_size,
                  config->vision.image_size);
    return NULL;
  }
  float *pixels = ke_image_preprocess (image, &config->preprocess, error);
  if (!pixels)
    return NULL;
  uint32_t rows = config->mm_tokens_per_image, width = config->text.hidden_size;
  ke_image_embeds *e = malloc (sizeof *e + (size_t) rows * width * sizeof (float));
  if (!e) {
    free (pixels);
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory for image embeddings.");
    return NULL;
  }
  e->rows = rows;
  e->width = width;
  bool ok = ke_cpu_vision_encode (pool, config, weights, pixels, e->data, error);
  free (pixels);
  if (!ok) {
    free (e);
    return NULL;
  }
  return e;
}

static ke_image_embeds *
cpu_encode_image (ke_backend *backend, const ke_image *image, ke_error **error)
{
  cpu_backend *cpu = (cpu_backend *) backend;
  return ke_cpu_encode_image (cpu->pool, backend->config, backend->weights, image, error);
}

void
ke_cpu_embeds_free (ke_backend *backend, ke_image_embeds *embeds)
{
  (void) backend;
  free (embeds);
}

bool
ke_cpu_batch_rows (const ke_backend *backend, const ke_batch *batch, const float **image_rows,
                   int32_t *group, ke_error **error)
{
  uint32_t n = batch->n_tokens;
  if (n == 0 || n > backend->max_batch)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "A batch holds 1 to %u tokens, not %u.", backend->max_batch, n);
  for (uint32_t t = 0; t < n; t++) {
    image_rows[t] = NULL;
    group[t] = -1;
  }
  uint32_t mm = backend->config->mm_tokens_per_image;
  for (uint32_t i = 0; i < batch->n_images; i++) {
    const ke_batch_image *img = &batch->images[i];
    if (!img->embeds || img->start > n || n - img->start < mm || img->embeds->rows != mm)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "Image %u of the batch does not fit at position %u.", i, img->start);
    for (uint32_t r = 0; r < mm; r++) {
      image_rows[img->start + r] = img->embeds->data + (size_t) r * img->embeds->width;
      group[img->start + r] = (int32_t) i;
    }
  }
  return true;
}

static bool
cpu_forward (ke_backend *backend, ke_kv_cache *kv, const ke_batch *batch, ke_error **error)
{
  cpu_backend *cpu = (cpu_backend *) backend;
  uint32_t n = batch->n_tokens;
  if (!ke_cpu_batch_rows (backend, batch, cpu->image_rows, cpu->group, error))
    return false;
  return ke_cpu_text_forward (cpu->text, (ke_cpu_kv *) kv, batch->ids,
                              (const float *const *) cpu->image_rows, cpu->group, n,
                              batch->pos0, batch->logits, batch->all_logits, error);
}

static const ke_backend_ops cpu_ops = {
  .name = "cpu",
  .destroy = cpu_destroy,
  .kv_new = cpu_kv_new,
  .kv_free = cpu_kv_free,
  .encode_image = cpu_encode_image,
  .embeds_free = ke_cpu_embeds_free,
  .forward = cpu_forward,
};

void
ke_cpu_model_name (char *buf, size_t len)
{
  snprintf (buf, len, "CPU");
  FILE *f = fopen ("/proc/cpuinfo", "r");
  if (!f)
    return;
  char line[512];
  while (fgets (line, sizeof line, f)) {
    if (strncmp (line, "model name", 10) == 0) {
      char *colon = strchr (line, ':');
      if (colon) {
        colon++;
        while (*colon == ' ' || *colon == '\t')
          colon++;
        colon[strcspn (colon, "\n")] = '\0';
        snprintf (buf, len, "%s", colon);
      }
      break;
    }
  }
  fclose (f);
}

ke_backend *
ke_cpu_backend_new (const ke_config *config, const ke_weights *weights,
                    const ke_model_options *options, ke_error **error)
{
  if (options && options->tensor_parallel > 0)
    return ke_cpu_tp_backend_new (config, weights, options, error);
  cpu_backend *cpu = calloc (1, sizeof *cpu);
  if (!cpu) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  cpu->base.ops = &cpu_ops;
  cpu->base.config = config;
  cpu->base.weights = weights;
  cpu->base.max_batch = KE_CPU_MAX_BATCH;
  if (config->has_vision && config->mm_tokens_per_image > cpu->base.max_batch)
    cpu->base.max_batch = config->mm_tokens_per_image;
  ke_cpu_model_name (cpu->base.device_name, sizeof cpu->base.device_name);
  cpu->image_rows = calloc (cpu->base.max_batch, sizeof (float *));
  cpu->group = calloc (cpu->base.max_batch, sizeof (int32_t));
  if (!cpu->image_rows || !cpu->group) {
    cpu_destroy (&cpu->base);
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  cpu->pool = ke_cpu_pool_new (options ? options->n_threads : 0, error);
  if (!cpu->pool) {
    cpu_destroy (&cpu->base);
    return NULL;
  }
  cpu->text = ke_cpu_text_new (config, weights, cpu->pool,
                               !(options && options->skip_act_quant), cpu->base.max_batch, error);
  if (!cpu->text) {
    cpu_destroy (&cpu->base);
    return NULL;
  }
  return &cpu->base;
}
