/* ke-replay-backend.c — a backend that replays scripted model turns (tests and demos).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * It does no model math.  forward() remembers the context's ids and answers with logits
 * that put all the mass on the next token of the scripted reply for the current model
 * turn: the n-th "<start_of_turn>model\n" in the context starts reply n of the script, and
 * the tokens after it say how far into that reply the context already is.  After a reply's
 * last token comes <end_of_turn>.  Everything above the backend — sessions, prefix reuse,
 * the sampler, the eos handling, the engine worker, streaming — runs for real, which is
 * what end-to-end tests of the app need from a model that can, say, call tools.
 *
 * The script may also say "device_sessions": N — the replay "device" then holds at most N
 * sessions' caches and answers KE_ERROR_DEVICE_MEMORY for one more, as the CUDA backend
 * does when a KV cache does not fit in GPU memory.  That lets the app's session eviction
 * be tested on machines without a GPU.
 */
#include <stdlib.h>
#include <string.h>
#include <yyjson.h>

#include "ke-backend.h"
#include "ke-internal.h"

#define KE_REPLAY_MAX_BATCH 512u
#define KE_REPLAY_MAX_SCRIPT (16u << 20)

typedef struct {
  ke_token *ids;
  size_t n;
} token_run;

typedef struct {
  ke_backend base;
  uint32_t vocab;
  token_run *replies;
  size_t n_replies;
  token_run turn_start;   /* "<start_of_turn>model\n" */
  ke_token end_of_turn;
  int64_t device_sessions; /* caches that fit on the simulated device; < 0: no limit */
  int64_t live_sessions;
} replay_backend;

struct ke_kv_cache {
  ke_token *ids;          /* the context so far, by position */
  uint32_t capacity;
};

static void
replay_destroy (ke_backend *backend)
{
  replay_backend *r = (replay_backend *) backend;
  for (size_t i = 0; i < r->n_replies; i++)
    free (r->replies[i].ids);
  free (r->replies);
  free (r->turn_start.ids);
  free (r);
}

static ke_kv_cache *
replay_kv_new (ke_backend *backend, uint32_t capacity, ke_error **error)
{
  replay_backend *r = (replay_backend *) backend;
  if (r->device_sessions >= 0 && r->live_sessions >= r->device_sessions) {
    ke_set_error (error, KE_ERROR_DEVICE_MEMORY,
                  "Not enough device memory for another session: the replay device holds %lld.",
                  (long long) r->device_sessions);
    return NULL;
  }
  ke_kv_cache *kv = calloc (1, sizeof *kv);
  if (kv)
    kv->ids = ke_calloc_array (capacity, sizeof (ke_token));
  if (!kv || !kv->ids) {
    free (kv);
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory for a replay session.");
    return NULL;
  }
  kv->capacity = capacity;
  r->live_sessions++;
  return kv;
}

static void
replay_kv_free (ke_backend *backend, ke_kv_cache *kv)
{
  if (kv) {
    ((replay_backend *) backend)->live_sessions--;
    free (kv->ids);
    free (kv);
  }
}

static ke_image_embeds *
replay_encode_image (ke_backend *backend, const ke_image *image, ke_error **error)
{
  ke_set_error (error, KE_ERROR_UNSUPPORTED, "The replay backend takes no images.");
  return NULL;
}

static void
replay_embeds_free (ke_backend *backend, ke_image_embeds *embeds)
{
}

/* The scripted token that follows context[0 .. end). */
static ke_token
next_token (const replay_backend *r, const ke_token *context, size_t end)
{
  size_t turns = 0, reply_start = 0;
  const token_run *ts = &r->turn_start;
  for (size_t i = 0; ts->n > 0 && i + ts->n <= end; i++) {
    if (memcmp (context + i, ts->ids, ts->n * sizeof (ke_token)) == 0) {
      turns++;
      reply_start = i + ts->n;
    }
  }
  if (turns == 0 || turns > r->n_replies)
    return r->end_of_turn;
  const token_run *reply = &r->replies[turns - 1];
  size_t offset = end - reply_start;
  return offset < reply->n ? reply->ids[offset] : r->end_of_turn;
}

static void
one_hot (float *logits, uint32_t vocab, ke_token token)
{
  for (uint32_t v = 0; v < vocab; v++)
    logits[v] = -1e4f;
  if (token >= 0 && (uint32_t) token < vocab)
    logits[token] = 1e4f;
}

static bool
replay_forward (ke_backend *backend, ke_kv_cache *kv, const ke_batch *batch, ke_error **error)
{
  replay_backend *r = (replay_backend *) backend;
  size_t end;
  if (batch->n_tokens == 0 || batch->n_tokens > r->base.max_batch ||
      !ke_add_size (batch->pos0, batch->n_tokens, &end) || end > kv->capacity)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "A replay batch of %u tokens at %u does not fit a context of %u.",
                         batch->n_tokens, batch->pos0, kv->capacity);
  memcpy (kv->ids + batch->pos0, batch->ids, batch->n_tokens * sizeof (ke_token));
  if (!batch->logits)
    return true;
  if (batch->all_logits) {
    for (uint32_t t = 0; t < batch->n_tokens; t++)
      one_hot (batch->logits + (size_t) t * r->vocab, r->vocab,
               next_token (r, kv->ids, batch->pos0 + t + 1));
  } else {
    one_hot (batch->logits, r->vocab, next_token (r, kv->ids, end));
  }
  return true;
}

static const ke_backend_ops replay_ops = {
  "replay", replay_destroy, replay_kv_new, replay_kv_free, replay_encode_image,
  replay_embeds_free, replay_forward, NULL,
};

static bool
tokenize_into (const ke_tokenizer *tokenizer, const char *text, token_run *run, ke_error **error)
{
  return ke_tokenizer_encode (tokenizer, text, strlen (text), &run->ids, &run->n, error);
}

ke_backend *
ke_replay_backend_new (const ke_config *config, const ke_weights *weights,
                       const ke_tokenizer *tokenizer, const ke_model_options *options,
                       ke_error **error)
{
  char *json = NULL;
  size_t len = 0;
  yyjson_doc *doc = NULL;
  replay_backend *r = NULL;

  if (!tokenizer || !options->replay_script) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                  "The replay backend needs a tokenizer and a script file.");
    return NULL;
  }
  if (!ke_read_file (options->replay_script, KE_REPLAY_MAX_SCRIPT, &json, &len, error))
    return NULL;
  doc = yyjson_read (json, len, 0);
  yyjson_val *replies = doc ? yyjson_obj_get (yyjson_doc_get_root (doc), "replies") : NULL;
  if (!replies || !yyjson_is_arr (replies)) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: expected {\"replies\": [\"…\", …]}",
                  options->replay_script);
    goto fail;
  }

  r = calloc (1, sizeof *r);
  if (!r || !(r->replies = ke_calloc_array (yyjson_arr_size (replies), sizeof (token_run)))) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    goto fail;
  }
  r->device_sessions = -1;
  yyjson_val *budget = yyjson_obj_get (yyjson_doc_get_root (doc), "device_sessions");
  if (budget) {
    if (!yyjson_is_uint (budget) || yyjson_get_uint (budget) > INT32_MAX) {
      ke_set_error (error, KE_ERROR_FORMAT, "%s: \"device_sessions\" must be a count",
                    options->replay_script);
      goto fail;
    }
    r->device_sessions = (int64_t) yyjson_get_uint (budget);
  }
  r->base.ops = &replay_ops;
  r->base.config = config;
  r->base.weights = weights;
  r->base.max_batch = KE_REPLAY_MAX_BATCH;
  if (config->has_vision && config->mm_tokens_per_image > r->base.max_batch)
    r->base.max_batch = config->mm_tokens_per_image;
  snprintf (r->base.device_name, sizeof r->base.device_name, "scripted replies");
  r->vocab = config->text.vocab_size;
  r->end_of_turn = ke_tokenizer_special (tokenizer, KE_SPECIAL_END_OF_TURN);

  size_t idx, max;
  yyjson_val *reply;
  yyjson_arr_foreach (replies, idx, max, reply) {
    if (!yyjson_is_str (reply)) {
      ke_set_error (error, KE_ERROR_FORMAT, "%s: reply %zu is not a string",
                    options->replay_script, idx);
      goto fail;
    }
    if (!tokenize_into (tokenizer, yyjson_get_str (reply), &r->replies[idx], error))
      goto fail;
    r->n_replies++;
  }
  if (!tokenize_into (tokenizer, "<start_of_turn>model\n", &r->turn_start, error))
    goto fail;

  yyjson_doc_free (doc);
  free (json);
  return &r->base;

fail:
  if (r)
    replay_destroy (&r->base);
  yyjson_doc_free (doc);
  free (json);
  return NULL;
}
