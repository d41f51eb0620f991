/* ke-comm.h — collectives between the ranks of one tensor-parallel group.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One process, N ranks, each driven by its own thread (rank r's thread makes every call
 * with `rank` = r, in the same order on every rank — the usual collective contract).
 *
 *   all_reduce_sum  recv[i] = Σ_r send_r[i] (in place when send == recv).  Every rank
 *                   receives the same bits.  bf16 is summed in float32.
 *   all_gather      recv = send_0 ‖ send_1 ‖ … ‖ send_{N-1}, `count` elements each.
 *   barrier         returns once every rank has entered it.
 *   abort           a rank that failed between collectives calls it: every rank waiting
 *                   in, or later entering, a collective gets KE_ERROR_CANCELLED instead of
 *                   waiting forever.
 *
 * Two implementations:
 *   ke_comm_cpu_new   shared host memory between N threads (the CPU backend's ranks; it
 *                     tests the rank logic everywhere).  Sums in rank order, so results
 *                     are deterministic.  `stream` is ignored.
 *   ke_comm_nccl_new  NCCL, loaded at run time (dlopen of libnccl.so.2): device pointers,
 *                     `stream` a cudaStream_t of the rank's GPU (NULL = the default one),
 *                     calls enqueue work on that stream and return.  The engine builds and
 *                     runs without NCCL; only this constructor then fails, with
 *                     KE_ERROR_UNSUPPORTED naming the library.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ke-engine.h"

typedef struct ke_comm ke_comm;

typedef enum {
  KE_COMM_F32,
  KE_COMM_BF16,
} ke_comm_dtype;

typedef struct ke_comm_ops {
  const char *name; /* "cpu", "nccl" */
  bool (*all_reduce_sum) (ke_comm *comm, int rank, const void *send, void *recv, size_t count,
                          ke_comm_dtype dtype, void *stream, ke_error **error);
  bool (*all_gather) (ke_comm *comm, int rank, const void *send, void *recv, size_t count,
                      ke_comm_dtype dtype, void *stream, ke_error **error);
  bool (*barrier) (ke_comm *comm, int rank, void *stream, ke_error **error);
  void (*abort) (ke_comm *comm);
  void (*destroy) (ke_comm *comm);
} ke_comm_ops;

/* Implementations embed this as their first member. */
struct ke_comm {
  const ke_comm_ops *ops;
  int n_ranks;
};

static inline int
ke_comm_n_ranks (const ke_comm *comm)
{
  return comm->n_ranks;
}

static inline bool
ke_comm_all_reduce_sum (ke_comm *comm, int rank, const void *send, void *recv, size_t count,
                        ke_comm_dtype dtype, void *stream, ke_error **error)
{
  return comm->ops->all_reduce_sum (comm, rank, send, recv, count, dtype, stream, error);
}

static inline bool
ke_comm_all_gather (ke_comm *comm, int rank, const void *send, void *recv, size_t count,
                    ke_comm_dtype dtype, void *stream, ke_error **error)
{
  return comm->ops->all_gather (comm, rank, send, recv, count, dtype, stream, error);
}

static inline bool
ke_comm_barrier (ke_comm *comm, int rank, void *stream, ke_error **error)
{
  return comm->ops->barrier (comm, rank, stream, error);
}

static inline void
ke_comm_abort (ke_comm *comm)
{
  comm->ops->abort (comm);
}

void ke_comm_free (ke_comm *comm);

/* In-process CPU group of n_ranks (1 .. 64) threads. */
ke_comm *ke_comm_cpu_new (int n_ranks, ke_error **error);
/* Makes an aborted CPU group usable again; only while no rank is inside a collective. */
void ke_comm_cpu_reset (ke_comm *comm);

/* CUDA builds only (KE_HAVE_CUDA). */

/* NCCL over the given CUDA devices (one rank per device, rank i = devices[i]), created
 * with ncclCommInitAll.  Sets NCCL_NVLS_ENABLE=0 before (NVLink SHARP multicast stays off,
 * whatever the environment said).  The library is libnccl.so.2, or $KESTREL_NCCL_LIBRARY
 * (a file name or path); KE_ERROR_UNSUPPORTED naming it when it cannot be loaded. */
ke_comm *ke_comm_nccl_new (const int *devices, int n_devices, ke_error **error);
/* Whether NCCL (as above) can be loaded; version as NCCL encodes it (e.g. 22703 = 2.27.3). */
bool ke_nccl_available (int *version, ke_error **error);
