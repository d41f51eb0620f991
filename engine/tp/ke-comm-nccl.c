/* ke-comm-nccl.c — the collectives through NCCL, loaded at run time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The engine neither links nor includes NCCL: libnccl.so.2 (or $KESTREL_NCCL_LIBRARY) is
 * opened with dlopen() when a tensor-parallel group is made, so Kestrel builds and runs where NCCL is absent (the
 * Flatpak, CI, every single-GPU machine).  The few entry points used are declared here
 * from the NCCL 2.x C ABI (nccl.h of NCCL 2.18–2.27: ncclComm_t an opaque pointer,
 * ncclResult_t / ncclDataType_t / ncclRedOp_t int-sized enums with ncclSuccess = 0,
 * ncclFloat32 = 7, ncclBfloat16 = 9 (since 2.10), ncclSum = 0).  ncclGetVersion is checked
 * against 2.10 (bf16) before anything else is called.
 *
 * Single process, one rank per GPU: ncclCommInitAll.  NVLink SHARP multicast (NVLS) is
 * switched off through NCCL_NVLS_ENABLE=0 before the communicators are made; Kestrel
 * never creates multicast objects itself.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "ke-internal.h"
#include "ke-comm.h"
#include "ke-tp-plan.h"

typedef struct nccl_comm_opaque *nccl_comm_t; /* ncclComm_t */
typedef int nccl_result_t;                    /* ncclResult_t; ncclSuccess = 0 */
enum { NCCL_FLOAT32 = 7, NCCL_BFLOAT16 = 9, NCCL_SUM = 0 };
#define NCCL_MIN_VERSION 21000 /* 2.10.0: ncclBfloat16 */

typedef struct {
  void *handle;
  nccl_result_t (*get_version) (int *version);
  nccl_result_t (*comm_init_all) (nccl_comm_t *comms, int ndev, const int *devlist);
  nccl_result_t (*comm_destroy) (nccl_comm_t comm);
  nccl_result_t (*comm_abort) (nccl_comm_t comm);
  nccl_result_t (*all_reduce) (const void *send, void *recv, size_t count, int datatype,
                               int op, nccl_comm_t comm, cudaStream_t stream);
  nccl_result_t (*all_gather) (const void *send, void *recv, size_t count, int datatype,
                               nccl_comm_t comm, cudaStream_t stream);
  const char *(*get_error_string) (nccl_result_t result);
} nccl_api;

typedef struct {
  ke_comm base;
  nccl_api api;
  int devices[KE_TP_MAX_RANKS];
  nccl_comm_t comms[KE_TP_MAX_RANKS];
  float *scratch[KE_TP_MAX_RANKS]; /* one float per rank for the barrier */
} nccl_comm;

static bool
load_api (nccl_api *api, ke_error **error)
{
  memset (api, 0, sizeof *api);
  /* KESTREL_NCCL_LIBRARY: another file or path (NCCL outside the loader's search path). */
  const char *library = getenv ("KESTREL_NCCL_LIBRARY");
  if (!library || !*library)
    library = "libnccl.so.2";
  api->handle = dlopen (library, RTLD_NOW | RTLD_LOCAL);
  if (!api->handle)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "Using several GPUs needs NCCL, and %s could not be loaded (%s).",
                         library, dlerror ());
  struct {
    const char *name;
    void **slot;
  } symbols[] = {
    { "ncclGetVersion", (void **) &api->get_version },
    { "ncclCommInitAll", (void **) &api->comm_init_all },
    { "ncclCommDestroy", (void **) &api->comm_destroy },
    { "ncclCommAbort", (void **) &api->comm_abort },
    { "ncclAllReduce", (void **) &api->all_reduce },
    { "ncclAllGather", (void **) &api->all_gather },
    { "ncclGetErrorString", (void **) &api->get_error_string },
  };
  for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
    *symbols[i].slot = dlsym (api->handle, symbols[i].name);
    if (!*symbols[i].slot) {
      dlclose (api->handle);
      api->handle = NULL;
      return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                           "libnccl.so.2 lacks %s; it is not a usable NCCL 2.", symbols[i].name);
    }
  }
  int version = 0;
  if (api->get_version (&version) != 0 || version < NCCL_MIN_VERSION) {
    dlclose (api->handle);
    api->handle = NULL;
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "NCCL %d is too old; Kestrel needs NCCL 2.10 or newer.", version);
  }
  return true;
}

bool
ke_nccl_available (int *version, ke_error **error)
{
  nccl_api api;
  if (!load_api (&api, error))
    return false;
  int v = 0;
  api.get_version (&v);
  if (version)
    *version = v;
  dlclose (api.handle);
  return true;
}

static bool
nccl_check (nccl_comm *c, nccl_result_t result, const char *what, ke_error **error)
{
  if (result == 0)
    return true;
  return ke_set_error (error, KE_ERROR_DEVICE, "NCCL %s failed: %s (%d).", what,
                       c->api.get_error_string (result), result);
}

static int
nccl_type (ke_comm_dtype dtype)
{
  return dtype == KE_COMM_BF16 ? NCCL_BFLOAT16 : NCCL_FLOAT32;
}

static bool
check_rank (const ke_comm *comm, int rank, ke_error **error)
{
  if (rank < 0 || rank >= comm->n_ranks)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Rank %d is not in a group of %d.",
                         rank, comm->n_ranks);
  return true;
}

static bool
nccl_all_reduce_sum (ke_comm *comm, int rank, const void *send, void *recv, size_t count,
                     ke_comm_dtype dtype, void *stream, ke_error **error)
{
  nccl_comm *c = (nccl_comm *) comm;
  if (!check_rank (comm, rank, error))
    return false;
  return nccl_check (c, c->api.all_reduce (send, recv, count, nccl_type (dtype), NCCL_SUM,
                                           c->comms[rank], (cudaStream_t) stream),
                     "all-reduce", error);
}

static bool
nccl_all_gather (ke_comm *comm, int rank, const void *send, void *recv, size_t count,
                 ke_comm_dtype dtype, void *stream, ke_error **error)
{
  nccl_comm *c = (nccl_comm *) comm;
  if (!check_rank (comm, rank, error))
    return false;
  return nccl_check (c, c->api.all_gather (send, recv, count, nccl_type (dtype), c->comms[rank],
                                           (cudaStream_t) stream),
                     "all-gather", error);
}

/* A one-float all-reduce, then the host waits for the stream: when it returns, every rank
 * has reached this point on its stream. */
static bool
nccl_barrier (ke_comm *comm, int rank, void *stream, ke_error **error)
{
  nccl_comm *c = (nccl_comm *) comm;
  if (!check_rank (comm, rank, error))
    return false;
  if (!nccl_check (c, c->api.all_reduce (c->scratch[rank], c->scratch[rank], 1, NCCL_FLOAT32,
                                         NCCL_SUM, c->comms[rank], (cudaStream_t) stream),
                   "barrier", error))
    return false;
  cudaError_t e = cudaStreamSynchronize ((cudaStream_t) stream);
  if (e != cudaSuccess)
    return ke_set_error (error, KE_ERROR_DEVICE, "Waiting for the NCCL barrier failed: %s.",
                         cudaGetErrorString (e));
  return true;
}

static void
nccl_abort (ke_comm *comm)
{
  nccl_comm *c = (nccl_comm *) comm;
  for (int r = 0; r < comm->n_ranks; r++)
    if (c->comms[r]) {
      c->api.comm_abort (c->comms[r]);
      c->comms[r] = NULL;
    }
}

static void
nccl_destroy (ke_comm *comm)
{
  nccl_comm *c = (nccl_comm *) comm;
  int current = 0;
  bool have_current = cudaGetDevice (&current) == cudaSuccess;
  for (int r = 0; r < comm->n_ranks; r++) {
    if (c->comms[r])
      c->api.comm_destroy (c->comms[r]);
    if (c->scratch[r] && cudaSetDevice (c->devices[r]) == cudaSuccess)
      cudaFree (c->scratch[r]);
  }
  if (have_current)
    cudaSetDevice (current);
  if (c->api.handle)
    dlclose (c->api.handle);
  free (c);
}

static const ke_comm_ops nccl_comm_ops = {
  .name = "nccl",
  .all_reduce_sum = nccl_all_reduce_sum,
  .all_gather = nccl_all_gather,
  .barrier = nccl_barrier,
  .abort = nccl_abort,
  .destroy = nccl_destroy,
};

ke_comm *
ke_comm_nccl_new (const int *devices, int n_devices, ke_error **error)
{
  if (!devices || n_devices < 1 || n_devices > KE_TP_MAX_RANKS) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "An NCCL group has 1 to %d GPUs, not %d.",
                  KE_TP_MAX_RANKS, n_devices);
    return NULL;
  }
  nccl_comm *c = calloc (1, sizeof *c);
  if (!c) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  c->base.ops = &nccl_comm_ops;
  c->base.n_ranks = n_devices;
  memcpy (c->devices, devices, (size_t) n_devices * sizeof *devices);
  if (!load_api (&c->api, error)) {
    free (c);
    return NULL;
  }
  /* NVLink SHARP multicast off, whatever the environment asked for.  setenv() races with
   * getenv() on other threads; a program that makes groups while other threads run can set
   * NCCL_NVLS_ENABLE=0 at startup, and then nothing is written here. */
  const char *nvls = getenv ("NCCL_NVLS_ENABLE");
  if (!nvls || strcmp (nvls, "0") != 0)
    setenv ("NCCL_NVLS_ENABLE", "0", 1);

  int current = 0;
  bool have_current = cudaGetDevice (&current) == cudaSuccess;
  for (int r = 0; r < n_devices; r++) {
    cudaError_t e = cudaSetDevice (devices[r]);
    if (e == cudaSuccess)
      e = cudaMalloc ((void **) &c->scratch[r], sizeof (float));
    if (e != cudaSuccess) {
      ke_set_error (error, KE_ERROR_DEVICE, "Preparing GPU %d for NCCL failed: %s.", devices[r],
                    cudaGetErrorString (e));
      nccl_destroy (&c->base);
      return NULL;
    }
    cudaMemset (c->scratch[r], 0, sizeof (float));
  }
  if (have_current)
    cudaSetDevice (current);
  nccl_result_t result = c->api.comm_init_all (c->comms, n_devices, devices);
  if (result != 0) {
    ke_set_error (error, KE_ERROR_DEVICE, "Creating the NCCL communicators failed: %s (%d).",
                  c->api.get_error_string (result), result);
    memset (c->comms, 0, sizeof c->comms);
    nccl_destroy (&c->base);
    return NULL;
  }
  return &c->base;
}
