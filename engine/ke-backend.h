/* ke-backend.h — the interface between the model/session layer and a compute backend.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * ke_model (ke-model.c) opens a checkpoint and hands its config and weights to one backend;
 * ke_session (ke-session.c) owns the token history, decides what to recompute (prefix
 * reuse), encodes each new image once, and drives the backend with batches.  A backend
 * only computes: it never sees prompts or images' identities; one that can sample on its
 * device (forward_sample) gets the sampling parameters and the draw from the session, which
 * keeps the RNG, so that both samplers give the same tokens.
 *
 * Contract of every backend (the CPU backend in engine/cpu is the reference; the CUDA
 * backend implements the same operations with the same semantics):
 *
 *  - kv_new(capacity): per-session state for `capacity` positions (the KV cache of every
 *    layer).  It holds no token ids; the session knows which positions are valid.
 *
 *  - encode_image(image): runs preprocessing (resize/rescale/normalize as
 *    Gemma3ImageProcessor), the vision tower and the multimodal projector, and returns the
 *    image's mm_tokens_per_image soft-token embeddings [mm_tokens, text hidden] in the
 *    backend's own memory (device memory for CUDA).  The session keeps the handle only
 *    for the duration of a prefill and frees it with embeds_free.
 *
 *  - forward(kv, batch): computes positions batch->pos0 .. pos0 + n_tokens - 1 given that
 *    positions 0 .. pos0 - 1 of `kv` hold valid keys/values (whatever the cache holds at
 *    positions >= pos0 is overwritten: this is how truncation works, there is no separate
 *    truncate call).  Semantics are exactly transformers' Gemma3ForConditionalGeneration:
 *      * token embedding × bf16(sqrt(hidden)); positions covered by batch->images[i] take
 *        rows of that image's embeddings instead (not scaled);
 *      * attention mask: key j visible to query i when j <= i (and, on sliding layers,
 *        j > i - sliding_window), OR when i and j belong to the same image run of this
 *        batch (bidirectional inside one image).  The session never splits an image run
 *        across batches, so image runs are always complete inside one batch;
 *      * FP8 linears quantize their input per token (vLLM's dynamic per-token scheme)
 *        unless the model was opened with skip_act_quant.
 *    When batch->logits is not NULL it receives float32 logits: the last position's
 *    [vocab] or, with batch->all_logits, [n_tokens, vocab] row-major.
 *
 * Threading: a backend is used by one thread at a time (the model's).  Errors are
 * ke_error values, never aborts.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ke-engine.h"
#include "ke-config.h"
#include "ke-weights.h"

typedef struct ke_backend ke_backend;
typedef struct ke_kv_cache ke_kv_cache;         /* backend-defined */
typedef struct ke_image_embeds ke_image_embeds; /* backend-defined, [mm_tokens, hidden] */

/* One image's soft tokens inside a batch: positions start .. start + mm_tokens - 1 of
 * the batch (indices into batch->ids) take the rows of `embeds` in order. */
typedef struct ke_batch_image {
  uint32_t start;
  const ke_image_embeds *embeds;
} ke_batch_image;

typedef struct ke_batch {
  const ke_token *ids;  /* [n_tokens]; image positions hold the image token id */
  uint32_t n_tokens;
  uint32_t pos0;        /* context position of ids[0] */
  const ke_batch_image *images;
  uint32_t n_images;
  float *logits;        /* NULL, [vocab] or (all_logits) [n_tokens, vocab] */
  bool all_logits;
} ke_batch;

/* What forward_sample needs besides the batch: the ke_sampling parameters, the draw, and
 * changes to the two token sets the penalties read, which the backend keeps per KV cache:
 * "context" (repetition penalty: every token of the history) and "generated" (presence
 * penalty: the tokens of the current reply).  The session empties both (reset_sets) at the
 * start of each reply and adds each token as it joins the history. */
typedef struct ke_sample_request {
  const ke_sampling *params;
  double u;                      /* uniform draw in [0, 1); unused when greedy */
  bool reset_sets;
  const ke_token *add_context;   /* [n_add_context] */
  size_t n_add_context;
  const ke_token *add_generated; /* [n_add_generated] */
  size_t n_add_generated;
} ke_sample_request;

typedef struct ke_backend_ops {
  const char *name; /* "cpu", "cuda" */
  void (*destroy) (ke_backend *backend);
  ke_kv_cache *(*kv_new) (ke_backend *backend, uint32_t capacity, ke_error **error);
  void (*kv_free) (ke_backend *backend, ke_kv_cache *kv);
  ke_image_embeds *(*encode_image) (ke_backend *backend, const ke_image *image,
                                    ke_error **error);
  void (*embeds_free) (ke_backend *backend, ke_image_embeds *embeds);
  bool (*forward) (ke_backend *backend, ke_kv_cache *kv, const ke_batch *batch,
                   ke_error **error);
  /* Optional (NULL: the session samples on the host from batch->logits): forward(batch)
   * with batch->logits NULL, the last position's logits kept in the backend's memory, then
   * the next token picked there with ke_sampler_sample's semantics (engine/cpu/ke-sampler.c,
   * the draw being request->u); only the token id comes back. */
  bool (*forward_sample) (ke_backend *backend, ke_kv_cache *kv, const ke_batch *batch,
                          const ke_sample_request *request, ke_token *token,
                          ke_error **error);
} ke_backend_ops;

/* The common part of every backend; a backend embeds it as its first member. */
struct ke_backend {
  const ke_backend_ops *ops;
  const ke_config *config;   /* borrowed from the model, outlives the backend */
  const ke_weights *weights; /* borrowed likewise */
  char device_name[128];     /* for ke_model_info */
  uint64_t device_bytes;     /* weights resident on the device (0: used in place) */
  uint32_t max_batch;        /* most tokens one forward() accepts (>= mm_tokens_per_image) */
};

/* Backend constructors.  Each validates what it needs from config/weights. */
ke_backend *ke_cpu_backend_new (const ke_config *config, const ke_weights *weights,
                                const ke_model_options *options, ke_error **error);
/* engine/cuda (builds with CUDA only): KE_ERROR_NO_DEVICE without a usable GPU,
 * KE_ERROR_DEVICE_MEMORY when the weights do not fit, KE_ERROR_UNSUPPORTED for shapes or
 * GPUs it does not run. */
ke_backend *ke_cuda_backend_new (const ke_config *config, const ke_weights *weights,
                                 const ke_model_options *options, ke_error **error);

/* engine/ke-replay-backend.c: scripted replies for tests and demos (KE_BACKEND_REPLAY). */
ke_backend *ke_replay_backend_new (const ke_config *config, const ke_weights *weights,
                                   const ke_tokenizer *tokenizer,
                                   const ke_model_options *options, ke_error **error);

/* Builds a model around config/weights/tokenizer (tokenizer may be NULL) that `owner`
 * keeps alive; owner_free(owner) runs in ke_model_free, or at once when this fails.
 * Used by ke_model_open (owner = checkpoint + tokenizer) and by tests (owner NULL). */
ke_model *ke_model_new_internal (const ke_config *config, const ke_weights *weights,
                                 const ke_model_options *options, void *owner,
                                 void (*owner_free) (void *owner),
                                 const ke_tokenizer *tokenizer,
                                 const char *quantization, uint64_t n_params,
                                 ke_error **error);

/* Accessors for the session layer. */
ke_backend *ke_model_backend (const ke_model *model);
const ke_config *ke_model_config (const ke_model *model);
