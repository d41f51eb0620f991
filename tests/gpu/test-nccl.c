/* test-nccl.c — the NCCL communicator (engine/tp/ke-comm-nccl.c) on the GPUs present.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * libnccl.so.2 is opened at run time; where the loader cannot find it (no NCCL installed;
 * PyTorch's copy lives in site-packages/nvidia/nccl/lib, see tests/gpu/run-nccl-on-device.sh)
 * the NCCL cases SKIP, saying why.  One GPU: a one-rank group (set-up, all-reduce f32 out
 * of place and bf16 in place, all-gather, barrier, an all-reduce captured in a CUDA graph
 * and replayed), and the model refusing several GPUs with a clear error.  Two or more:
 * the same collectives over two ranks, one host thread per GPU; SKIP with one GPU.
 * Inputs are fresh random values (seed printed), outputs poisoned with NaN first.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "gpu-test-util.h"
#include "ke-backend.h"
#include "ke-comm.h"

#define COUNT (1 << 20)

static int nccl_version;
static const char *skip_reason;

static bool
have_nccl (void)
{
  static char reason[512];
  if (ke_cuda_device_count () == 0) {
    skip_reason = "no CUDA device";
    return false;
  }
  ke_error *error = NULL;
  if (!ke_nccl_available (&nccl_version, &error)) {
    snprintf (reason, sizeof reason, "%s", error->message);
    ke_error_free (error);
    skip_reason = reason;
    return false;
  }
  return true;
}

typedef struct {
  ke_comm *comm;
  int rank, n, device;
  bool ok;
  char message[512];
} rank_ctx;

static void
set_fail (rank_ctx *c, const char *what, ke_error *error)
{
  if (!c->ok)
    return;
  c->ok = false;
  snprintf (c->message, sizeof c->message, "rank %d: %s%s%s", c->rank, what, error ? ": " : "",
            error ? error->message : "");
  ke_error_free (error);
}

static float
input (unsigned long long base, int rank, size_t i)
{
  unsigned long long s = base + (unsigned long long) rank * 0x9e3779b97f4a7c15ull + i;
  return ke_test_rand_uniform (&s) * 4.0f;
}

/* The collectives of one rank; ranks run concurrently, one thread and GPU each. */
static void *
rank_collectives (void *data)
{
  rank_ctx *c = data;
  ke_error *error = NULL;
  c->ok = true;
  if (cudaSetDevice (c->device) != cudaSuccess) {
    set_fail (c, "cudaSetDevice", NULL);
    return NULL;
  }
  size_t n = COUNT;
  float *h = malloc (n * sizeof (float)), *h_out = malloc (n * c->n * sizeof (float));
  uint16_t *hb = malloc (n * 2);
  void *d_in = ke_cuda_malloc (n * 4, &error), *d_out = ke_cuda_malloc (n * 4 * c->n, &error);
  void *d_b = ke_cuda_malloc (n * 2, &error);
  if (error) {
    set_fail (c, "allocation", error);
    goto out;
  }
  unsigned long long base = gpu_test_seed;
  for (size_t i = 0; i < n; i++) {
    h[i] = input (base, c->rank, i);
    hb[i] = ke_f32_to_bf16 (h[i]);
  }
  ke_cuda_memcpy_h2d (d_in, h, n * 4, NULL);
  ke_cuda_memcpy_h2d (d_b, hb, n * 2, NULL);

  /* f32 all-reduce, out of place */
  ke_cuda_memset (d_out, 0xff, n * 4, NULL); /* NaN poison */
  if (!ke_comm_all_reduce_sum (c->comm, c->rank, d_in, d_out, n, KE_COMM_F32, NULL, &error)) {
    set_fail (c, "all-reduce", error);
    goto out;
  }
  cudaDeviceSynchronize ();
  ke_cuda_memcpy_d2h (h_out, d_out, n * 4, NULL);
  double worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    double want = 0.0;
    for (int r = 0; r < c->n; r++)
      want += input (base, r, i);
    double d = fabs (h_out[i] - want);
    if (!(d <= worst))
      worst = isnan (d) ? INFINITY : d;
  }
  if (!(worst <= 1e-5 * c->n))
    set_fail (c, "f32 all-reduce result differs", NULL);
  else if (c->rank == 0)
    ke_tap_diag ("f32 all-reduce of %zu over %d rank(s): max |error| %.3g", n, c->n, worst);

  /* bf16 all-reduce, in place */
  if (!ke_comm_all_reduce_sum (c->comm, c->rank, d_b, d_b, n, KE_COMM_BF16, NULL, &error)) {
    set_fail (c, "bf16 all-reduce", error);
    goto out;
  }
  cudaDeviceSynchronize ();
  ke_cuda_memcpy_d2h (hb, d_b, n * 2, NULL);
  worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    double want = 0.0;
    for (int r = 0; r < c->n; r++)
      want += ke_bf16_to_f32 (ke_f32_to_bf16 (input (base, r, i)));
    double d = fabs (ke_bf16_to_f32 (hb[i]) - want) / fmax (fabs (want), 1e-3);
    if (!(d <= worst))
      worst = isnan (d) ? INFINITY : d;
  }
  /* one bf16 rounding per reduction step: relative 2^-8 each */
  if (!(worst <= (c->n == 1 ? 0.0 : 1.0 / 128)))
    set_fail (c, "bf16 all-reduce result differs", NULL);
  else if (c->rank == 0)
    ke_tap_diag ("bf16 all-reduce in place: max relative error %.3g", worst);

  /* all-gather */
  ke_cuda_memset (d_out, 0xff, n * 4 * c->n, NULL);
  if (!ke_comm_all_gather (c->comm, c->rank, d_in, d_out, n, KE_COMM_F32, NULL, &error)) {
    set_fail (c, "all-gather", error);
    goto out;
  }
  cudaDeviceSynchronize ();
  ke_cuda_memcpy_d2h (h_out, d_out, n * 4 * c->n, NULL);
  for (int r = 0; r < c->n && c->ok; r++)
    for (size_t i = 0; i < n; i++)
      if (h_out[(size_t) r * n + i] != input (base, r, i)) {
        set_fail (c, "all-gather block differs", NULL);
        break;
      }
  if (c->ok && !ke_comm_barrier (c->comm, c->rank, NULL, &error))
    set_fail (c, "barrier", error);
out:
  ke_cuda_free (d_in);
  ke_cuda_free (d_out);
  ke_cuda_free (d_b);
  free (h);
  free (h_out);
  free (hb);
  return NULL;
}

static void
run_ranks (const int *devices, int n)
{
  ke_error *error = NULL;
  ke_comm *comm = ke_comm_nccl_new (devices, n, &error);
  KE_REQUIRE (comm, "NCCL group over %d GPU(s): %s", n, error ? error->message : "");
  const char *nvls = getenv ("NCCL_NVLS_ENABLE");
  KE_CHECK (nvls && strcmp (nvls, "0") == 0, "NCCL_NVLS_ENABLE=0 was set (%s)",
            nvls ? nvls : "unset");
  rank_ctx ctx[8];
  pthread_t threads[8];
  for (int r = 0; r < n; r++) {
    ctx[r] = (rank_ctx) { .comm = comm, .rank = r, .n = n, .device = devices[r] };
    pthread_create (&threads[r], NULL, rank_collectives, &ctx[r]);
  }
  for (int r = 0; r < n; r++)
    pthread_join (threads[r], NULL);
  for (int r = 0; r < n; r++)
    KE_CHECK (ctx[r].ok, "%s", ctx[r].message);
  ke_comm_free (comm);
}

/* Runs with or without a GPU.  A missing library is a clear KE_ERROR_UNSUPPORTED naming
 * it (forced with KESTREL_NCCL_LIBRARY, since the machines here have NCCL); then the real
 * one loads (version >= 2.10) or is reported missing the same way. */
KE_TEST (nccl_loader_reports)
{
  if (gpu_test_have_device (NULL))
    ke_tap_diag ("%d CUDA device(s)", ke_cuda_device_count ());
  ke_error *error = NULL;
  int version = 0;
  const char *saved = getenv ("KESTREL_NCCL_LIBRARY");
  char *saved_copy = saved ? strdup (saved) : NULL;
  setenv ("KESTREL_NCCL_LIBRARY", "libnccl-absent-kestrel-test.so.2", 1);
  KE_CHECK (!ke_nccl_available (&version, &error) && error &&
            error->code == KE_ERROR_UNSUPPORTED &&
            strstr (error->message, "libnccl-absent-kestrel-test.so.2"),
            "a missing NCCL is refused by name: %s", error ? error->message : "(loaded)");
  ke_error_free (error);
  error = NULL;
  int none[1] = { 0 };
  ke_comm *absent = ke_comm_nccl_new (none, 1, &error);
  KE_CHECK (!absent && error && error->code == KE_ERROR_UNSUPPORTED, "no group without NCCL");
  ke_comm_free (absent);
  ke_error_free (error);
  error = NULL;
  if (saved_copy)
    setenv ("KESTREL_NCCL_LIBRARY", saved_copy, 1);
  else
    unsetenv ("KESTREL_NCCL_LIBRARY");
  free (saved_copy);

  if (ke_nccl_available (&version, &error)) {
    ke_tap_diag ("libnccl.so.2 loads: NCCL %d", version);
    KE_CHECK (version >= 21000, "NCCL %d is at least 2.10", version);
  } else {
    ke_tap_diag ("no NCCL: %s", error ? error->message : "(no message)");
    KE_CHECK (error && error->code == KE_ERROR_UNSUPPORTED &&
              strstr (error->message, "libnccl.so.2"), "the error names libnccl.so.2");
    int devices[1] = { 0 };
    ke_error *e2 = NULL;
    ke_comm *comm = ke_comm_nccl_new (devices, 1, &e2);
    KE_CHECK (!comm && e2 && e2->code == KE_ERROR_UNSUPPORTED,
              "no NCCL group without NCCL");
    ke_comm_free (comm);
    ke_error_free (e2);
  }
  ke_error_free (error);
}

KE_TEST (one_rank_collectives)
{
  if (!have_nccl ())
    KE_SKIP (skip_reason);
  ke_tap_diag ("NCCL %d.%d.%d", nccl_version / 10000, nccl_version / 100 % 100,
               nccl_version % 100);
  int devices[1] = { 0 };
  run_ranks (devices, 1);
}

/* The per-token step is a CUDA graph: an all-reduce must be capturable and replayable. */
KE_TEST (one_rank_all_reduce_in_a_cuda_graph)
{
  if (!have_nccl ())
    KE_SKIP (skip_reason);
  ke_error *error = NULL;
  int devices[1] = { 0 };
  cudaSetDevice (0);
  ke_comm *comm = ke_comm_nccl_new (devices, 1, &error);
  KE_REQUIRE (comm, "group: %s", error ? error->message : "");
  size_t n = 2560; /* one token's hidden state */
  float *h = malloc (n * 4), *back = malloc (n * 4);
  void *d_x = ke_cuda_malloc (n * 4, &error), *d_y = ke_cuda_malloc (n * 4, &error);
  KE_REQUIRE (!error, "allocation");
  cudaStream_t stream;
  cudaStreamCreateWithFlags (&stream, cudaStreamNonBlocking);
  cudaGraph_t graph = NULL;
  cudaGraphExec_t exec = NULL;
  KE_CHECK (cudaStreamBeginCapture (stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess,
            "begin capture");
  bool queued = ke_comm_all_reduce_sum (comm, 0, d_x, d_y, n, KE_COMM_F32, stream, &error);
  cudaError_t end = cudaStreamEndCapture (stream, &graph);
  KE_CHECK (queued && end == cudaSuccess, "all-reduce captured: %s / %s",
            error ? error->message : "ok", cudaGetErrorString (end));
  ke_error_free (error);
  error = NULL;
  size_t n_nodes = 0;
  if (graph)
    cudaGraphGetNodes (graph, NULL, &n_nodes);
  ke_tap_diag ("captured graph: %zu node(s)", n_nodes);
  KE_REQUIRE (graph && cudaGraphInstantiate (&exec, graph, 0) == cudaSuccess, "instantiate");
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < n; i++)
      h[i] = input (gpu_test_seed + (unsigned long long) round, 0, i);
    ke_cuda_memcpy_h2d (d_x, h, n * 4, NULL);
    ke_cuda_memset (d_y, 0xff, n * 4, NULL);
    KE_CHECK (cudaGraphLaunch (exec, stream) == cudaSuccess, "launch %d", round);
    cudaStreamSynchronize (stream);
    ke_cuda_memcpy_d2h (back, d_y, n * 4, NULL);
    KE_CHECK (memcmp (back, h, n * 4) == 0, "replay %d: a one-rank sum is the input", round);
  }
  cudaGraphExecDestroy (exec);
  cudaGraphDestroy (graph);
  cudaStreamDestroy (stream);
  ke_cuda_free (d_x);
  ke_cuda_free (d_y);
  free (h);
  free (back);
  ke_comm_free (comm);
}

KE_TEST (two_ranks_collectives)
{
  if (!have_nccl ())
    KE_SKIP (skip_reason);
  if (ke_cuda_device_count () < 2)
    KE_SKIP ("one GPU: the two-rank group needs two");
  int devices[2] = { 0, 1 };
  run_ranks (devices, 2);
}

/* The model refuses GPU lists it cannot use, before touching the weights. */
KE_TEST (model_refuses_bad_gpu_lists)
{
  if (ke_cuda_device_count () == 0)
    KE_SKIP ("no CUDA device");
  ke_config config;
  memset (&config, 0, sizeof config);
  config.text.vocab_size = 262208;
  config.text.hidden_size = 2560;
  config.text.intermediate_size = 10240;
  config.text.num_attention_heads = 8;
  config.text.num_key_value_heads = 4;
  config.text.head_dim = 256;
  ke_weights weights;
  memset (&weights, 0, sizeof weights);
  int count = ke_cuda_device_count ();
  int missing[2] = { 0, count }; /* GPU `count` does not exist */
  int three[3] = { 0, 1, 2 };
  struct {
    const int *devices;
    size_t n;
    const char *needle;
  } cases[] = {
    { missing, 2, "does not exist" },
    { three, 3, "divide its 8 query heads" },
  };
  for (size_t i = 0; i < 2; i++) {
    ke_model_options o;
    ke_model_options_init (&o);
    o.backend = KE_BACKEND_CUDA;
    o.devices = cases[i].devices;
    o.n_devices = cases[i].n;
    ke_error *error = NULL;
    ke_model *m = ke_model_new_internal (&config, &weights, &o, NULL, NULL, NULL, "test", 0,
                                         &error);
    KE_CHECK (!m && error && strstr (error->message, cases[i].needle), "case %zu: %s", i,
              error ? error->message : "(accepted)");
    ke_model_free (m);
    ke_error_free (error);
  }
}

int
main (int argc, char **argv)
{
  gpu_test_init_seed (); /* the device is described by the first test (TAP's version line
                          * must come first) */
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (nccl_loader_reports),
    KE_TAP_ENTRY (one_rank_collectives),
    KE_TAP_ENTRY (one_rank_all_reduce_in_a_cuda_graph),
    KE_TAP_ENTRY (two_ranks_collectives),
    KE_TAP_ENTRY (model_refuses_bad_gpu_lists),
  };
  return ke_tap_run (argc, argv, tests, (int) (sizeof tests / sizeof tests[0]));
}
