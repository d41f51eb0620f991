/* ke-cpu-tp.c — the CPU backend split over N tensor-parallel ranks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The same decoder (ke-cpu-text.c) runs once per rank over that rank's weight views
 * (engine/tp/ke-tp-plan.h) and its share of the KV heads; the ranks meet in the
 * all-reduces after o_proj and down_proj and in the gather of the logits, through the
 * in-process communicator (ke-comm-cpu.c).  Each rank is a thread of its own (rank 0 is
 * the caller's) with a thread pool of its share of the cores, as each GPU would be driven
 * by its own host thread.  This is how the rank logic of issue 13 is exercised on every
 * machine; on the CPU itself it is no faster than the plain backend (same cores).
 * Images are encoded once, on rank 0's pool (the vision tower is replicated, as it stays
 * on the first GPU), and every rank reads the same embedding rows.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ke-internal.h"
#include "ke-cpu-backend-private.h"

typedef struct {
  ke_tp_rank_weights weights;
  ke_cpu_pool *pool;
  ke_cpu_text *text;
  ke_error *error; /* of the last job */
} tp_rank;

typedef struct {
  uint32_t n_ranks;
  ke_cpu_kv *rank[KE_TP_MAX_RANKS];
} tp_kv;

typedef struct {
  ke_backend base;
  ke_tp_plan plan;
  ke_comm *comm;
  tp_rank ranks[KE_TP_MAX_RANKS];
  const float **image_rows;
  int32_t *group;
  /* rank threads 1 .. N-1 */
  pthread_t threads[KE_TP_MAX_RANKS];
  uint32_t n_started;
  pthread_mutex_t lock;
  pthread_cond_t wake, done;
  unsigned long generation;
  uint32_t busy;
  bool shutdown;
  /* the current job */
  tp_kv *job_kv;
  const ke_batch *job_batch;
} tp_backend;

typedef struct {
  tp_backend *tp;
  uint32_t rank;
} thread_arg;

static void
run_rank (tp_backend *tp, uint32_t r)
{
  tp_rank *rank = &tp->ranks[r];
  const ke_batch *b = tp->job_batch;
  if (!ke_cpu_text_forward (rank->text, tp->job_kv->rank[r], b->ids,
                            (const float *const *) tp->image_rows, tp->group, b->n_tokens,
                            b->pos0, b->logits, b->all_logits, &rank->error))
    ke_comm_abort (tp->comm); /* whoever waits for this rank in a collective gives up */
}

static void *
rank_thread (void *data)
{
  thread_arg *arg = data;
  tp_backend *tp = arg->tp;
  uint32_t r = arg->rank;
  free (arg);
  unsigned long seen = 0;
  pthread_mutex_lock (&tp->lock);
  for (;;) {
    while (!tp->shutdown && tp->generation == seen)
      pthread_cond_wait (&tp->wake, &tp->lock);
    if (tp->shutdown)
      break;
    seen = tp->generation;
    pthread_mutex_unlock (&tp->lock);
    run_rank (tp, r);
    pthread_mutex_lock (&tp->lock);
    if (--tp->busy == 0)
      pthread_cond_signal (&tp->done);
  }
  pthread_mutex_unlock (&tp->lock);
  return NULL;
}

static void
tp_destroy (ke_backend *backend)
{
  tp_backend *tp = (tp_backend *) backend;
  pthread_mutex_lock (&tp->lock);
  tp->shutdown = true;
  pthread_cond_broadcast (&tp->wake);
  pthread_mutex_unlock (&tp->lock);
  for (uint32_t i = 0; i < tp->n_started; i++)
    pthread_join (tp->threads[i], NULL);
  pthread_mutex_destroy (&tp->lock);
  pthread_cond_destroy (&tp->wake);
  pthread_cond_destroy (&tp->done);
  for (uint32_t r = 0; r < KE_TP_MAX_RANKS; r++) {
    ke_cpu_text_free (tp->ranks[r].text);
    ke_cpu_pool_free (tp->ranks[r].pool);
    ke_tp_rank_weights_clear (&tp->ranks[r].weights);
    ke_error_free (tp->ranks[r].error);
  }
  ke_comm_free (tp->comm);
  free (tp->image_rows);
  free (tp->group);
  free (tp);
}

static void
tp_kv_free (ke_backend *backend, ke_kv_cache *cache)
{
  (void) backend;
  tp_kv *kv = (tp_kv *) cache;
  if (!kv)
    return;
  for (uint32_t r = 0; r < kv->n_ranks; r++)
    ke_cpu_kv_free (kv->rank[r]);
  free (kv);
}

static ke_kv_cache *
tp_kv_new (ke_backend *backend, uint32_t capacity, ke_error **error)
{
  tp_backend *tp = (tp_backend *) backend;
  tp_kv *kv = calloc (1, sizeof *kv);
  if (!kv) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  for (uint32_t r = 0; r < tp->plan.n_ranks; r++) {
    kv->rank[r] = ke_cpu_kv_new_heads (backend->config, capacity,
                                       tp->plan.shards[r].kv_heads.count, error);
    if (!kv->rank[r]) {
      tp_kv_free (backend, (ke_kv_cache *) kv);
      return NULL;
    }
    kv->n_ranks = r + 1;
  }
  return (ke_kv_cache *) kv;
}

static ke_image_embeds *
tp_encode_image (ke_backend *backend, const ke_image *image, ke_error **error)
{
  tp_backend *tp = (tp_backend *) backend;
  return ke_cpu_encode_image (tp->ranks[0].pool, backend->config, backend->weights, image,
                              error);
}

static bool
tp_forward (ke_backend *backend, ke_kv_cache *cache, const ke_batch *batch, ke_error **error)
{
  tp_backend *tp = (tp_backend *) backend;
  if (!ke_cpu_batch_rows (backend, batch, tp->image_rows, tp->group, error))
    return false;
  tp->job_kv = (tp_kv *) cache;
  tp->job_batch = batch;
  pthread_mutex_lock (&tp->lock);
  tp->busy = tp->n_started;
  tp->generation++;
  pthread_cond_broadcast (&tp->wake);
  pthread_mutex_unlock (&tp->lock);

  run_rank (tp, 0);

  pthread_mutex_lock (&tp->lock);
  while (tp->busy > 0)
    pthread_cond_wait (&tp->done, &tp->lock);
  pthread_mutex_unlock (&tp->lock);

  /* The first rank's own error wins over the "another rank failed" of the others. */
  ke_error *first = NULL;
  for (uint32_t r = 0; r < tp->plan.n_ranks; r++) {
    ke_error *e = tp->ranks[r].error;
    tp->ranks[r].error = NULL;
    if (e && (!first || (first->code == KE_ERROR_CANCELLED && e->code != KE_ERROR_CANCELLED))) {
      ke_error_free (first);
      first = e;
    } else {
      ke_error_free (e);
    }
  }
  if (!first)
    return true;
  ke_comm_cpu_reset (tp->comm); /* every rank is out of its collectives now */
  ke_propagate_error (error, first);
  return false;
}

static const ke_backend_ops tp_ops = {
  .name = "cpu",
  .destroy = tp_destroy,
  .kv_new = tp_kv_new,
  .kv_free = tp_kv_free,
  .encode_image = tp_encode_image,
  .embeds_free = ke_cpu_embeds_free,
  .forward = tp_forward,
};

ke_backend *
ke_cpu_tp_backend_new (const ke_config *config, const ke_weights *weights,
                       const ke_model_options *options, ke_error **error)
{
  uint32_t n = options->tensor_parallel;
  tp_backend *tp = calloc (1, sizeof *tp);
  if (!tp) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  pthread_mutex_init (&tp->lock, NULL);
  pthread_cond_init (&tp->wake, NULL);
  pthread_cond_init (&tp->done, NULL);
  tp->base.ops = &tp_ops;
  tp->base.config = config;
  tp->base.weights = weights;
  tp->base.max_batch = KE_CPU_MAX_BATCH;
  if (config->has_vision && config->mm_tokens_per_image > tp->base.max_batch)
    tp->base.max_batch = config->mm_tokens_per_image;
  if (!ke_tp_plan_init (&tp->plan, &config->text, n, error))
    goto fail;
  char cpu_name[96];
  ke_cpu_model_name (cpu_name, sizeof cpu_name);
  snprintf (tp->base.device_name, sizeof tp->base.device_name, "%s (%u tensor-parallel rank%s)",
            cpu_name, n, n == 1 ? "" : "s");
  tp->image_rows = calloc (tp->base.max_batch, sizeof (float *));
  tp->group = calloc (tp->base.max_batch, sizeof (int32_t));
  if (!tp->image_rows || !tp->group) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    goto fail;
  }
  tp->comm = ke_comm_cpu_new ((int) n, error);
  if (!tp->comm)
    goto fail;

  int total = options->n_threads;
  if (total <= 0) {
    long online = sysconf (_SC_NPROCESSORS_ONLN);
    total = online > 0 ? (int) (online > 256 ? 256 : online) : 1;
  }
  int per_rank = total / (int) n > 0 ? total / (int) n : 1;
  bool act_quant = !options->skip_act_quant;
  for (uint32_t r = 0; r < n; r++) {
    tp_rank *rank = &tp->ranks[r];
    if (!ke_tp_rank_weights_init (&rank->weights, &tp->plan, r, config, weights, error))
      goto fail;
    rank->pool = ke_cpu_pool_new (per_rank, error);
    if (!rank->pool)
      goto fail;
    ke_cpu_text_rank share = {
      .comm = tp->comm,
      .plan = &tp->plan,
      .rank = r,
      .o_row_stride = rank->weights.o_row_stride,
      .down_row_stride = rank->weights.down_row_stride,
    };
    rank->text = ke_cpu_text_new_rank (config, &rank->weights.weights, &share, rank->pool,
                                       act_quant, tp->base.max_batch, error);
    if (!rank->text)
      goto fail;
  }
  for (uint32_t r = 1; r < n; r++) {
    thread_arg *arg = malloc (sizeof *arg);
    if (arg) {
      arg->tp = tp;
      arg->rank = r;
    }
    if (!arg || pthread_create (&tp->threads[r - 1], NULL, rank_thread, arg) != 0) {
      free (arg);
      ke_set_error (error, KE_ERROR_FAILED, "Could not start the thread of rank %u.", r);
      goto fail;
    }
    tp->n_started++;
  }
  return &tp->base;

fail:
  tp_destroy (&tp->base);
  return NULL;
}
