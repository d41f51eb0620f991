/* ke-cpu-pool.c — a plain pthread pool: one job at a time, tasks handed out dynamically.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The calling thread works too (as worker 0), so a pool of N threads starts N - 1.
 * A job is (fn, ctx, n_tasks); workers take task indices from an atomic counter until
 * none are left.  Generations count jobs so a worker never runs one twice.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "ke-internal.h"
#include "ke-cpu.h"

struct ke_cpu_pool {
  int n_threads;
  pthread_t *threads;
  int n_started;
  pthread_mutex_t lock;
  pthread_cond_t wake;  /* a new job (or shutdown) */
  pthread_cond_t done;  /* the last worker finished the job */
  uint64_t generation;  /* jobs posted so far */
  bool shutdown;
  /* the current job */
  ke_cpu_task_fn fn;
  void *ctx;
  size_t n_tasks;
  atomic_size_t next_task;
  int busy; /* workers (other than the caller) still on the current job */
};

typedef struct {
  ke_cpu_pool *pool;
  int index;
} worker_arg;

static void
drain (ke_cpu_pool *pool, ke_cpu_task_fn fn, void *ctx, size_t n_tasks, int thread)
{
  for (;;) {
    size_t task = atomic_fetch_add (&pool->next_task, 1);
    if (task >= n_tasks)
      break;
    fn (ctx, task, thread);
  }
}

static void *
worker_main (void *data)
{
  worker_arg *arg = data;
  ke_cpu_pool *pool = arg->pool;
  int index = arg->index;
  free (arg);
  uint64_t seen = 0;

  pthread_mutex_lock (&pool->lock);
  for (;;) {
    while (!pool->shutdown && pool->generation == seen)
      pthread_cond_wait (&pool->wake, &pool->lock);
    if (pool->shutdown)
      break;
    seen = pool->generation;
    ke_cpu_task_fn fn = pool->fn;
    void *ctx = pool->ctx;
    size_t n_tasks = pool->n_tasks;
    pthread_mutex_unlock (&pool->lock);

    drain (pool, fn, ctx, n_tasks, index);

    pthread_mutex_lock (&pool->lock);
    if (--pool->busy == 0)
      pthread_cond_signal (&pool->done);
  }
  pthread_mutex_unlock (&pool->lock);
  return NULL;
}

ke_cpu_pool *
ke_cpu_pool_new (int n_threads, ke_error **error)
{
  if (n_threads <= 0) {
    long n = sysconf (_SC_NPROCESSORS_ONLN);
    n_threads = n > 0 ? (int) (n > 256 ? 256 : n) : 1;
  }
  if (n_threads > 1024) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Too many threads requested (%d).",
                  n_threads);
    return NULL;
  }
  ke_cpu_pool *pool = calloc (1, sizeof *pool);
  if (!pool) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory creating the thread pool.");
    return NULL;
  }
  pool->n_threads = n_threads;
  pthread_mutex_init (&pool->lock, NULL);
  pthread_cond_init (&pool->wake, NULL);
  pthread_cond_init (&pool->done, NULL);
  atomic_init (&pool->next_task, 0);
  if (n_threads > 1) {
    pool->threads = ke_calloc_array ((size_t) n_threads - 1, sizeof *pool->threads);
    if (!pool->threads) {
      ke_cpu_pool_free (pool);
      ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory creating the thread pool.");
      return NULL;
    }
  }
  for (int i = 1; i < n_threads; i++) {
    worker_arg *arg = malloc (sizeof *arg);
    if (arg) {
      arg->pool = pool;
      arg->index = i;
    }
    if (!arg || pthread_create (&pool->threads[i - 1], NULL, worker_main, arg) != 0) {
      free (arg);
      ke_cpu_pool_free (pool);
      ke_set_error (error, KE_ERROR_FAILED, "Could not start CPU worker thread %d.", i);
      return NULL;
    }
    pool->n_started++;
  }
  return pool;
}

void
ke_cpu_pool_free (ke_cpu_pool *pool)
{
  if (!pool)
    return;
  pthread_mutex_lock (&pool->lock);
  pool->shutdown = true;
  pthread_cond_broadcast (&pool->wake);
  pthread_mutex_unlock (&pool->lock);
  for (int i = 0; i < pool->n_started; i++)
    pthread_join (pool->threads[i], NULL);
  pthread_mutex_destroy (&pool->lock);
  pthread_cond_destroy (&pool->wake);
  pthread_cond_destroy (&pool->done);
  free (pool->threads);
  free (pool);
}

int
ke_cpu_pool_n_threads (const ke_cpu_pool *pool)
{
  return pool ? pool->n_threads : 1;
}

void
ke_cpu_pool_run (ke_cpu_pool *pool, size_t n_tasks, ke_cpu_task_fn fn, void *ctx)
{
  if (n_tasks == 0)
    return;
  if (!pool || pool->n_started == 0 || n_tasks == 1) {
    for (size_t t = 0; t < n_tasks; t++)
      fn (ctx, t, 0);
    return;
  }
  pthread_mutex_lock (&pool->lock);
  pool->fn = fn;
  pool->ctx = ctx;
  pool->n_tasks = n_tasks;
  atomic_store (&pool->next_task, 0);
  pool->busy = pool->n_started;
  pool->generation++;
  pthread_cond_broadcast (&pool->wake);
  pthread_mutex_unlock (&pool->lock);

  drain (pool, fn, ctx, n_tasks, 0);

  pthread_mutex_lock (&pool->lock);
  while (pool->busy > 0)
    pthread_cond_wait (&pool->done, &pool->lock);
  pthread_mutex_unlock (&pool->lock);
}
