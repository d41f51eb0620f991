/* ke-comm-cpu.c — collectives between threads of one process, through shared memory.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each collective publishes the ranks' buffer pointers, meets at a barrier, and then
 * every rank works on its own part:
 *   all-reduce: rank r sums block r of the elements over all ranks, in rank order, into
 *               rank 0's receive buffer; barrier; the other ranks copy the result; barrier.
 *               Each element is read and written by one thread, and summed in the same
 *               order whatever N is split into, so the ranks receive identical bits.
 *   all-gather: every rank copies every rank's block; barrier.
 * The barrier is a mutex/condition generation counter so that ke_comm_abort can wake it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-numeric.h"
#include "ke-comm.h"

#define KE_COMM_CPU_MAX_RANKS 64

typedef struct {
  ke_comm base;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int arrived;
  unsigned long generation;
  bool aborted;
  const void *send[KE_COMM_CPU_MAX_RANKS];
  void *recv[KE_COMM_CPU_MAX_RANKS];
} cpu_comm;

static const ke_comm_ops cpu_comm_ops;

static bool
aborted_error (ke_error **error)
{
  return ke_set_error (error, KE_ERROR_CANCELLED,
                       "Another rank of the tensor-parallel group failed.");
}

static bool
meet (cpu_comm *c, ke_error **error)
{
  pthread_mutex_lock (&c->lock);
  if (c->aborted) {
    pthread_mutex_unlock (&c->lock);
    return aborted_error (error);
  }
  unsigned long generation = c->generation;
  if (++c->arrived == c->base.n_ranks) {
    c->arrived = 0;
    c->generation++;
    pthread_cond_broadcast (&c->cond);
  } else {
    while (c->generation == generation && !c->aborted)
      pthread_cond_wait (&c->cond, &c->lock);
  }
  bool ok = c->generation != generation;
  pthread_mutex_unlock (&c->lock);
  return ok ? true : aborted_error (error);
}

static size_t
dtype_size (ke_comm_dtype dtype)
{
  return dtype == KE_COMM_BF16 ? 2 : 4;
}

static bool
cpu_all_reduce_sum (ke_comm *comm, int rank, const void *send, void *recv, size_t count,
                    ke_comm_dtype dtype, void *stream, ke_error **error)
{
  cpu_comm *c = (cpu_comm *) comm;
  int n = comm->n_ranks;
  (void) stream;
  if (rank < 0 || rank >= n)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Rank %d is not in a group of %d.",
                         rank, n);
  c->send[rank] = send;
  c->recv[rank] = recv;
  if (!meet (c, error))
    return false;
  size_t first = count / (size_t) n * (size_t) rank, end = count / (size_t) n * (size_t) (rank + 1);
  if (rank == n - 1)
    end = count;
  if (dtype == KE_COMM_F32) {
    float *out = c->recv[0];
    for (size_t i = first; i < end; i++) {
      float sum = ((const float *) c->send[0])[i];
      for (int r = 1; r < n; r++)
        sum += ((const float *) c->send[r])[i];
      out[i] = sum;
    }
  } else {
    uint16_t *out = c->recv[0];
    for (size_t i = first; i < end; i++) {
      float sum = ke_bf16_to_f32 (((const uint16_t *) c->send[0])[i]);
      for (int r = 1; r < n; r++)
        sum += ke_bf16_to_f32 (((const uint16_t *) c->send[r])[i]);
      out[i] = ke_f32_to_bf16 (sum);
    }
  }
  if (!meet (c, error))
    return false;
  if (rank != 0)
    memcpy (recv, c->recv[0], count * dtype_size (dtype));
  return meet (c, error);
}

static bool
cpu_all_gather (ke_comm *comm, int rank, const void *send, void *recv, size_t count,
                ke_comm_dtype dtype, void *stream, ke_error **error)
{
  cpu_comm *c = (cpu_comm *) comm;
  int n = comm->n_ranks;
  (void) stream;
  if (rank < 0 || rank >= n)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Rank %d is not in a group of %d.",
                         rank, n);
  size_t bytes = count * dtype_size (dtype);
  c->send[rank] = send;
  if (!meet (c, error))
    return false;
  for (int r = 0; r < n; r++) {
    uint8_t *dst = (uint8_t *) recv + (size_t) r * bytes;
    if (dst != c->send[r]) /* in place: this rank's block already holds its data */
      memcpy (dst, c->send[r], bytes);
  }
  return meet (c, error);
}

static bool
cpu_barrier (ke_comm *comm, int rank, void *stream, ke_error **error)
{
  (void) stream;
  if (rank < 0 || rank >= comm->n_ranks)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Rank %d is not in a group of %d.",
                         rank, comm->n_ranks);
  return meet ((cpu_comm *) comm, error);
}

static void
cpu_abort (ke_comm *comm)
{
  cpu_comm *c = (cpu_comm *) comm;
  pthread_mutex_lock (&c->lock);
  c->aborted = true;
  pthread_cond_broadcast (&c->cond);
  pthread_mutex_unlock (&c->lock);
}

void
ke_comm_cpu_reset (ke_comm *comm)
{
  if (!comm || comm->ops != &cpu_comm_ops)
    return;
  cpu_comm *c = (cpu_comm *) comm;
  pthread_mutex_lock (&c->lock);
  c->aborted = false;
  c->arrived = 0;
  pthread_mutex_unlock (&c->lock);
}

static void
cpu_destroy (ke_comm *comm)
{
  cpu_comm *c = (cpu_comm *) comm;
  pthread_mutex_destroy (&c->lock);
  pthread_cond_destroy (&c->cond);
  free (c);
}

static const ke_comm_ops cpu_comm_ops = {
  .name = "cpu",
  .all_reduce_sum = cpu_all_reduce_sum,
  .all_gather = cpu_all_gather,
  .barrier = cpu_barrier,
  .abort = cpu_abort,
  .destroy = cpu_destroy,
};

ke_comm *
ke_comm_cpu_new (int n_ranks, ke_error **error)
{
  if (n_ranks < 1 || n_ranks > KE_COMM_CPU_MAX_RANKS) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "A group has 1 to %d ranks, not %d.",
                  KE_COMM_CPU_MAX_RANKS, n_ranks);
    return NULL;
  }
  cpu_comm *c = calloc (1, sizeof *c);
  if (!c) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  c->base.ops = &cpu_comm_ops;
  c->base.n_ranks = n_ranks;
  pthread_mutex_init (&c->lock, NULL);
  pthread_cond_init (&c->cond, NULL);
  return &c->base;
}

void
ke_comm_free (ke_comm *comm)
{
  if (comm)
    comm->ops->destroy (comm);
}
