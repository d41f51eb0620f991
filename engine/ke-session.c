/* ke-session.c — a conversation's context: token history, KV cache, prefix reuse, sampling.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The session remembers, for every context position, the token id and (for image soft
 * tokens) a 64-bit FNV-1a hash of the image's size and RGB pixels.  ke_session_prefill
 * keeps the longest prefix of the new prompt that matches (same ids, same images), backs
 * up to the start of an image run if the match ends inside one (an image's tokens attend
 * to each other bidirectionally, so an image is always computed whole), and computes the
 * rest in batches that never split an image.  Only images at or after the reuse point go
 * through the vision tower, and those only when the model's image-embedding cache does not
 * hold them already (a regenerated or edited turn after an image).
 *
 * History vs. cache: the last sampled token is appended to the history before it has
 * been run through the model (it is only needed when generation continues), so n_kv <=
 * n_ids; whatever is pending is computed by the next generate or prefill.
 */
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-backend.h"
#include "ke-image-cache.h"
#include "cpu/ke-cpu.h"

struct ke_session {
  ke_model *model;
  ke_backend *backend;
  const ke_config *config;
  ke_kv_cache *kv;
  uint32_t capacity;
  ke_token *ids;       /* [capacity] history */
  uint64_t *image;     /* [capacity] image hash per position, 0 for text */
  size_t n_ids;
  size_t n_kv;         /* positions whose keys/values are in the cache */
  float *logits;       /* [vocab]: after position n_kv - 1 when logits_valid */
  bool logits_valid;
  ke_sampler *sampler;
  ke_token *generated; /* [capacity] tokens of the current reply */
};

void
ke_session_options_init (ke_session_options *options)
{
  memset (options, 0, sizeof *options);
}

ke_session *
ke_session_new (ke_model *model, const ke_session_options *options, ke_error **error)
{
  if (!model) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No model given.");
    return NULL;
  }
  const ke_model_info *info = ke_model_get_info (model);
  uint32_t capacity = options && options->context_length ? options->context_length
                                                         : info->max_context;
  if (capacity > info->max_context) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                  "A context of %u tokens exceeds the model's maximum (%u).", capacity,
                  info->max_context);
    return NULL;
  }
  if (capacity == 0) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "A context needs at least one token.");
    return NULL;
  }
  ke_session *s = calloc (1, sizeof *s);
  if (!s) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  s->model = model;
  s->backend = ke_model_backend (model);
  s->config = ke_model_config (model);
  s->capacity = capacity;
  s->ids = ke_malloc_array (capacity, sizeof (ke_token));
  s->image = ke_malloc_array (capacity, sizeof (uint64_t));
  s->generated = ke_malloc_array (capacity, sizeof (ke_token));
  s->logits = ke_malloc_array (info->vocab_size, sizeof (float));
  if (!s->ids || !s->image || !s->generated || !s->logits) {
    ke_session_free (s);
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory for a session of %u tokens.",
                  capacity);
    return NULL;
  }
  s->sampler = ke_sampler_new (info->vocab_size, error);
  if (!s->sampler) {
    ke_session_free (s);
    return NULL;
  }
  s->kv = s->backend->ops->kv_new (s->backend, capacity, error);
  if (!s->kv) {
    ke_session_free (s);
    return NULL;
  }
  return s;
}

void
ke_session_free (ke_session *session)
{
  if (!session)
    return;
  if (session->kv)
    session->backend->ops->kv_free (session->backend, session->kv);
  ke_sampler_free (session->sampler);
  free (session->ids);
  free (session->image);
  free (session->generated);
  free (session->logits);
  free (session);
}

size_t
ke_session_n_tokens (const ke_session *session)
{
  return session->n_ids;
}

bool
ke_session_truncate (ke_session *session, size_t n_tokens, ke_error **error)
{
  if (n_tokens > session->n_ids)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Cannot truncate a context of %zu tokens to %zu.", session->n_ids,
                         n_tokens);
  session->n_ids = n_tokens;
  if (session->n_kv > n_tokens) {
    session->n_kv = n_tokens;
    session->logits_valid = false;
  }
  return true;
}

typedef struct {
  size_t start;            /* position of the run's first token in the prompt */
  const ke_image *image;
  ke_hash128 key;
  uint64_t hash;           /* key.lo, per position in the history */
} image_run;

/* Finds the prompt's image runs and checks them against the images. */
static bool
find_image_runs (const ke_session *s, const ke_prompt *prompt, image_run *runs,
                 ke_error **error)
{
  const ke_config *c = s->config;
  size_t n_runs = 0, mm = c->mm_tokens_per_image;
  if (!c->has_vision) { /* a text-only model: its image id (if any) is just a token */
    if (prompt->n_images)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "The prompt has images but the model takes no images.");
    return true;
  }
  for (size_t i = 0; i < prompt->n_ids;) {
    if (prompt->ids[i] != c->image_token_id) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < prompt->n_ids && prompt->ids[j] == c->image_token_id)
      j++;
    if (j - i != mm)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "An image takes exactly %zu image tokens; the prompt has a run of "
                           "%zu at position %zu.", mm, j - i, i);
    if (n_runs >= prompt->n_images)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "The prompt has more image runs than images (%zu).",
                           prompt->n_images);
    const ke_image *image = prompt->images[n_runs];
    if (!ke_image_validate (image, error)) {
      ke_error_prefix (error, "Image %zu", n_runs + 1);
      return false;
    }
    runs[n_runs].start = i;
    runs[n_runs].image = image;
    runs[n_runs].key = ke_image_hash (image);
    runs[n_runs].hash = runs[n_runs].key.lo;
    n_runs++;
    i = j;
  }
  if (n_runs != prompt->n_images)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "The prompt has %zu runs of the image token %d but %zu images (does "
                         "the tokenizer's <image_soft_token> match config.json's "
                         "image_token_index?).", n_runs, c->image_token_id, prompt->n_images);
  return true;
}

/* Runs history positions [from, to) through the model, encoding the images whose runs
 * lie there; logits of position to - 1 land in s->logits, and with all_logits != NULL
 * those of every position p in all_logits[(p - from) * vocab]. */
static bool
compute (ke_session *s, size_t from, size_t to, const image_run *runs, size_t n_runs,
         float *all_logits, ke_stats *stats, ke_error **error)
{
  size_t vocab = s->config->text.vocab_size;
  ke_backend *b = s->backend;
  size_t mm = s->config->mm_tokens_per_image;
  ke_batch_image *batch_images = NULL;
  const ke_image_embeds **embeds = NULL;
  ke_image_cache *cache = ke_model_image_cache (s->model);
  size_t max_images = b->max_batch / (mm ? mm : 1) + 1;
  batch_images = ke_calloc_array (max_images, sizeof *batch_images);
  embeds = ke_calloc_array (max_images, sizeof *embeds);
  if (!batch_images || !embeds) {
    free (batch_images);
    free (embeds);
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
  }
  bool ok = true;
  size_t r = 0; /* first run not yet passed */
  while (r < n_runs && runs[r].start < from)
    r++;
  for (size_t pos = from; ok && pos < to;) {
    size_t end = pos + b->max_batch < to ? pos + b->max_batch : to;
    /* never split an image run: stop before a run that would straddle the end */
    for (size_t k = r; k < n_runs && runs[k].start < end; k++)
      if (runs[k].start + mm > end) {
        end = runs[k].start;
        break;
      }
    size_t n_img = 0;
    while (r < n_runs && runs[r].start + mm <= end) {
      bool encoded = false;
      embeds[n_img] = ke_image_cache_acquire (cache, runs[r].image, runs[r].key, &encoded, error);
      if (!embeds[n_img]) {
        ok = false;
        break;
      }
      if (stats && encoded)
        stats->images_encoded++;
      else if (stats)
        stats->image_cache_hits++;
      batch_images[n_img].start = (uint32_t) (runs[r].start - pos);
      batch_images[n_img].embeds = embeds[n_img];
      n_img++;
      r++;
    }
    if (ok) {
      ke_batch batch = {
        .ids = s->ids + pos,
        .n_tokens = (uint32_t) (end - pos),
        .pos0 = (uint32_t) pos,
        .images = batch_images,
        .n_images = (uint32_t) n_img,
        .logits = all_logits ? all_logits + (pos - from) * vocab : end == to ? s->logits : NULL,
        .all_logits = all_logits != NULL,
      };
      ok = b->ops->forward (b, s->kv, &batch, error);
      if (ok && all_logits && end == to)
        memcpy (s->logits, all_logits + (to - 1 - from) * vocab, vocab * sizeof (float));
    }
    for (size_t i = 0; i < n_img; i++)
      ke_image_cache_release (cache, embeds[i]);
    if (ok) {
      s->n_kv = end;
      pos = end;
    }
  }
  free (batch_images);
  free (embeds);
  s->logits_valid = ok && s->n_kv == to;
  return ok;
}

static bool
prefill (ke_session *s, const ke_prompt *prompt, float *logits, float *all_logits,
         ke_stats *stats, ke_error **error)
{
  double t0 = ke_now ();
  if (!prompt || (!prompt->ids && prompt->n_ids) || (prompt->n_images && !prompt->images))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Invalid prompt.");
  if (prompt->n_ids == 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "The prompt is empty.");
  if (prompt->n_ids > s->capacity)
    return ke_set_error (error, KE_ERROR_CONTEXT_FULL,
                         "The prompt (%zu tokens) does not fit in the context (%u).",
                         prompt->n_ids, s->capacity);
  for (size_t i = 0; i < prompt->n_ids; i++)
    if (prompt->ids[i] < 0 || (uint32_t) prompt->ids[i] >= s->config->text.vocab_size)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "Token id %d at position %zu is outside the vocabulary (%u).",
                           prompt->ids[i], i, s->config->text.vocab_size);
  image_run *runs = ke_calloc_array (prompt->n_images + 1, sizeof *runs);
  if (!runs)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
  if (!find_image_runs (s, prompt, runs, error)) {
    free (runs);
    return false;
  }
  size_t n = prompt->n_ids, mm = s->config->mm_tokens_per_image;

  /* per-position image hashes of the prompt, compared against the history */
  size_t p = 0, limit = s->n_kv < n ? s->n_kv : n, r = 0;
  for (; p < limit; p++) {
    while (r < prompt->n_images && runs[r].start + mm <= p)
      r++;
    uint64_t h = (r < prompt->n_images && runs[r].start <= p) ? runs[r].hash : 0;
    if (s->ids[p] != prompt->ids[p] || s->image[p] != h)
      break;
  }
  if (p == n && !(s->logits_valid && s->n_kv == n))
    p = n - 1; /* recompute the last position for its logits */
  if (all_logits)
    p = 0; /* every position's logits: compute everything */
  for (size_t k = 0; k < prompt->n_images; k++) /* never resume inside an image */
    if (runs[k].start < p && p < runs[k].start + mm)
      p = runs[k].start;

  /* the new history */
  s->n_kv = p < s->n_kv ? p : s->n_kv;
  if (s->n_kv < n)
    s->logits_valid = false;
  memcpy (s->ids, prompt->ids, n * sizeof (ke_token));
  memset (s->image, 0, n * sizeof (uint64_t));
  for (size_t k = 0; k < prompt->n_images; k++)
    for (size_t i = 0; i < mm; i++)
      s->image[runs[k].start + i] = runs[k].hash;
  s->n_ids = n;

  if (stats) {
    stats->prompt_tokens = (uint32_t) n;
    stats->cached_tokens = (uint32_t) s->n_kv;
    stats->images_encoded = 0;
    stats->image_cache_hits = 0;
  }
  bool ok = true;
  if (s->n_kv < n)
    ok = compute (s, s->n_kv, n, runs, prompt->n_images, all_logits, stats, error);
  free (runs);
  if (!ok)
    return false;
  if (logits)
    memcpy (logits, s->logits, s->config->text.vocab_size * sizeof (float));
  if (stats)
    stats->prefill_seconds = ke_now () - t0;
  return true;
}

bool
ke_session_prefill (ke_session *s, const ke_prompt *prompt, float *logits, ke_stats *stats,
                    ke_error **error)
{
  return prefill (s, prompt, logits, NULL, stats, error);
}

bool
ke_session_prefill_all (ke_session *s, const ke_prompt *prompt, float *logits,
                        ke_stats *stats, ke_error **error)
{
  if (!logits)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No logits buffer given.");
  return prefill (s, prompt, NULL, logits, stats, error);
}

static bool
is_eos (const ke_config *c, ke_token t)
{
  for (uint32_t i = 0; i < c->n_eos; i++)
    if (c->eos_token_ids[i] == t)
      return true;
  return false;
}

bool
ke_session_generate (ke_session *s, const ke_sampling *sampling, ke_token_fn on_token,
                     void *user_data, ke_stats *stats, ke_error **error)
{
  double t0 = ke_now ();
  if (!sampling)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No sampling parameters given.");
  if (s->n_ids == 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "The session is empty: prefill a prompt first.");
  /* Generated tokens are text; anything pending after the cache is computed here. */
  ke_backend *b = s->backend;
  const bool on_device = b->ops->forward_sample != NULL;
  if (s->n_kv < s->n_ids || !s->logits_valid) {
    size_t from = s->n_kv < s->n_ids ? s->n_kv : s->n_ids - 1;
    for (size_t i = from; i < s->n_ids; i++)
      if (s->image[i])
        return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                             "The context ends inside an image; prefill the prompt again.");
    /* A backend that samples itself runs the last position in the loop below. */
    size_t to = on_device ? s->n_ids - 1 : s->n_ids;
    if (from < to && !compute (s, from, to, NULL, 0, NULL, NULL, error))
      return false;
  }
  ke_rng rng;
  ke_rng_seed (&rng, sampling->seed);
  uint32_t vocab = s->config->text.vocab_size;
  const bool greedy = !(sampling->temperature > 0.0f);
  size_t n_generated = 0;
  /* How much of ids[] / generated[] the backend's token sets hold in this reply. */
  size_t ctx_synced = 0, gen_synced = 0;
  bool sets_reset = false;
  bool ok = true;
  if (stats)
    stats->generated_tokens = 0;
  while (sampling->max_tokens == 0 || n_generated < sampling->max_tokens) {
    if (s->n_ids >= s->capacity)
      break; /* the context is full */
    ke_token t;
    if (s->logits_valid && s->n_kv == s->n_ids) {
      t = ke_sampler_sample (s->sampler, s->logits, vocab, sampling, s->ids, s->n_ids,
                             s->generated, n_generated, &rng);
    } else {
      /* on_device: the last history position runs and samples in the backend, which gets
       * only what its token sets lack; the draw comes from the same stream as above */
      ke_sample_request req = {
        .params = sampling,
        .u = greedy ? 0.0 : ke_rng_uniform (&rng),
        .reset_sets = !sets_reset,
        .add_context = s->ids + ctx_synced,
        .n_add_context = s->n_ids - ctx_synced,
        .add_generated = s->generated + gen_synced,
        .n_add_generated = n_generated - gen_synced,
      };
      ke_batch batch = {
        .ids = s->ids + s->n_ids - 1,
        .n_tokens = 1,
        .pos0 = (uint32_t) (s->n_ids - 1),
      };
      if (!b->ops->forward_sample (b, s->kv, &batch, &req, &t, error)) {
        ok = false;
        break;
      }
      s->n_kv = s->n_ids;
      sets_reset = true;
      ctx_synced = s->n_ids;
      gen_synced = n_generated;
    }
    s->logits_valid = false;
    if (stats && n_generated == 0)
      stats->time_to_first_token = ke_now () - t0;
    if (is_eos (s->config, t)) {
      if (stats)
        stats->generated_tokens++;
      if (on_token)
        on_token (t, user_data);
      break;
    }
    s->ids[s->n_ids] = t;
    s->image[s->n_ids] = 0;
    s->n_ids++;
    s->generated[n_generated++] = t;
    if (stats)
      stats->generated_tokens++;
    if (on_token && !on_token (t, user_data))
      break;
    if (sampling->max_tokens && n_generated >= sampling->max_tokens)
      break;
    if (s->n_ids >= s->capacity)
      break;
    if (!on_device && !compute (s, s->n_kv, s->n_ids, NULL, 0, NULL, NULL, error)) {
      ok = false;
      break;
    }
  }
  if (stats)
    stats->decode_seconds = ke_now () - t0;
  return ok;
}
