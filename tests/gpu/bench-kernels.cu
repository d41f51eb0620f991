/* bench-kernels.cu — microbenchmark of the decode kernels on Gemma 3 4b shapes, and a
 * synthetic full decode step (all 34 layers + lm_head, random weights) captured as one graph.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Method (docs/cuda-notes.md): the device's read bandwidth is measured first in the same run
 * (a read-only kernel over 2 GiB); every kernel is captured in a CUDA graph of many launches
 * whose weight buffers rotate over ≥ 256 MiB (5× the H100's 50 MB L2) so DRAM is measured,
 * not the cache; data is random (never zeros); the median of 15 graph replays is reported.
 * Output: one line per measurement, "name  µs  GB/s  %-of-read-bandwidth".
 *
 *   bench-kernels [--quick]
 */
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <cuda_runtime.h>

#include "ke-cuda-kernels.h"
#include "ke-cuda.h"

#define CK(call)                                                                           \
  do {                                                                                     \
    cudaError_t e_ = (call);                                                               \
    if (e_ != cudaSuccess) {                                                               \
      fprintf (stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString (e_)); \
      exit (1);                                                                            \
    }                                                                                      \
  } while (0)

#define KE(call)                                                                           \
  do {                                                                                     \
    ke_error *err_ = NULL;                                                                 \
    if (!(call (&err_))) {                                                                 \
      fprintf (stderr, "%s:%d: %s\n", __FILE__, __LINE__, err_ ? err_->message : "?");     \
      exit (1);                                                                            \
    }                                                                                      \
  } while (0)

static double g_read_bw; /* GB/s, measured */
static cudaStream_t g_stream;
static bool g_pdl = true; /* mirrors ke_cuda_set_pdl() */

/* ---- random fill (never zeros, never NaN) ---- */
__device__ __forceinline__ uint32_t
hash32 (uint64_t x)
{
  x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return (uint32_t) x;
}

__global__ void
fill_fp8 (uint8_t *p, size_t n, uint64_t seed)
{
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
    uint8_t b = (uint8_t) hash32 (seed * 0x9e3779b97f4a7c15ull + i);
    if ((b & 0x7f) == 0x7f)
      b ^= 1; /* not NaN */
    p[i] = b;
  }
}

__global__ void
fill_bf16 (uint16_t *p, size_t n, float mag, uint64_t seed)
{
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
    float u = (hash32 (seed * 0x9e3779b97f4a7c15ull + i) >> 8) * (2.0f / 16777216.0f) - 1.0f;
    float f = u * mag;
    p[i] = (uint16_t) (__float_as_uint (f) >> 16);
  }
}

__global__ void
fill_f32 (float *p, size_t n, float lo, float hi, uint64_t seed)
{
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x)
    p[i] = lo + (hi - lo) * ((hash32 (seed * 0x9e3779b97f4a7c15ull + i) >> 8) / 16777216.0f);
}

static uint64_t g_seed = 1;
static void *
dev_alloc (size_t bytes)
{
  void *p = NULL;
  CK (cudaMalloc (&p, bytes));
  return p;
}
static uint8_t *
rand_fp8 (size_t n)
{
  uint8_t *p = (uint8_t *) dev_alloc (n);
  fill_fp8<<<1024, 256>>> (p, n, g_seed++);
  return p;
}
static uint16_t *
rand_bf16 (size_t n, float mag)
{
  uint16_t *p = (uint16_t *) dev_alloc (n * 2);
  fill_bf16<<<1024, 256>>> (p, n, mag, g_seed++);
  return p;
}
static float *
rand_f32 (size_t n, float lo, float hi)
{
  float *p = (float *) dev_alloc (n * 4);
  fill_f32<<<1024, 256>>> (p, n, lo, hi, g_seed++);
  return p;
}

/* ---- timing: capture `body` (which enqueues `per_graph` units of work) into a graph,
 * replay it, return the median µs per unit. */
template <typename F>
static double
time_graph (F body, int per_graph, int replays = 15)
{
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CK (cudaDeviceSynchronize ()); /* the random fills run on the legacy stream */
  CK (cudaStreamBeginCapture (g_stream, cudaStreamCaptureModeThreadLocal));
  body ();
  CK (cudaStreamEndCapture (g_stream, &graph));
  CK (cudaGraphInstantiate (&exec, graph, 0));
  CK (cudaGraphLaunch (exec, g_stream)); /* warm-up */
  CK (cudaGraphLaunch (exec, g_stream));
  CK (cudaStreamSynchronize (g_stream));
  cudaEvent_t a, b;
  CK (cudaEventCreate (&a));
  CK (cudaEventCreate (&b));
  std::vector<double> t;
  for (int i = 0; i < replays; i++) {
    CK (cudaEventRecord (a, g_stream));
    CK (cudaGraphLaunch (exec, g_stream));
    CK (cudaEventRecord (b, g_stream));
    CK (cudaEventSynchronize (b));
    float ms = 0;
    CK (cudaEventElapsedTime (&ms, a, b));
    t.push_back (ms * 1000.0 / per_graph);
  }
  CK (cudaGetLastError ());
  std::sort (t.begin (), t.end ());
  CK (cudaGraphExecDestroy (exec));
  CK (cudaGraphDestroy (graph));
  CK (cudaEventDestroy (a));
  CK (cudaEventDestroy (b));
  return t[t.size () / 2];
}

static void
report (const char *name, double us, double bytes)
{
  double gbs = bytes / (us * 1e3);
  printf ("%-44s %9.2f us %8.0f GB/s %5.1f %%\n", name, us, gbs, 100.0 * gbs / g_read_bw);
  fflush (stdout);
}

/* ---- device read bandwidth ---- */
__global__ void
read_kernel (const uint4 *p, size_t n, uint32_t *sink)
{
  uint32_t acc = 0;
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
    uint4 v = __ldcs (p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u)
    *sink = acc; /* keeps the loads */
}

static void
measure_read_bandwidth (void)
{
  const size_t bytes = 2ull << 30;
  uint8_t *buf = rand_fp8 (bytes);
  uint32_t *sink = (uint32_t *) dev_alloc (4);
  int sms = 0;
  CK (cudaDeviceGetAttribute (&sms, cudaDevAttrMultiProcessorCount, 0));
  double best = 1e30;
  for (int blocks_per_sm = 2; blocks_per_sm <= 8; blocks_per_sm *= 2) {
    double us = time_graph ([&] {
      for (int i = 0; i < 4; i++)
        read_kernel<<<sms * blocks_per_sm, 512, 0, g_stream>>> ((const uint4 *) buf, bytes / 16, sink);
    }, 4, 7);
    best = std::min (best, us);
  }
  g_read_bw = bytes / (best * 1e3);
  void *dst = dev_alloc (bytes / 2);
  double cus = time_graph ([&] {
    CK (cudaMemcpyAsync (dst, buf, bytes / 2, cudaMemcpyDeviceToDevice, g_stream));
  }, 1, 7);
  printf ("%-44s %9.2f us %8.0f GB/s (read)\n", "read-only kernel, 2 GiB", best, g_read_bw);
  printf ("%-44s %9.2f us %8.0f GB/s (read+write)\n", "device-to-device copy, 1 GiB", cus,
          bytes / (cus * 1e3));
  CK (cudaFree (buf));
  CK (cudaFree (dst));
  CK (cudaFree (sink));
}

/* ---- GEMV on one shape, rotating over copies of the weights ---- */
static void
bench_gemv (const char *label, int n, int k, ke_gemv_type wt, ke_gemv_type xt, int rows_per_warp,
            int k_split, ke_gemv_epilogue epi = KE_GEMV_EPI_NONE)
{
  const size_t wbytes = (size_t) n * k * (wt == KE_GEMV_FP8 ? 1 : 2);
  const int copies = (int) std::max<size_t> (2, ((size_t) 256 << 20) / wbytes + 1);
  std::vector<void *> ws (copies);
  for (int c = 0; c < copies; c++)
    ws[c] = wt == KE_GEMV_FP8 ? (void *) rand_fp8 (wbytes) : (void *) rand_bf16 (wbytes / 2, 0.05f);
  float *scale = rand_f32 (n, 1e-3f, 1e-2f), *xs = rand_f32 (1, 0.01f, 0.02f);
  void *x = xt == KE_GEMV_FP8 ? (void *) rand_fp8 (k) : (void *) rand_bf16 (k, 2.0f);
  float *y = (float *) dev_alloc ((size_t) n * 4);
  const int launches = std::max (copies, 20);
  double us = time_graph ([&] {
    for (int i = 0; i < launches; i++) {
      ke_gemv_args a = { n, k, wt, ws[i % copies], wt == KE_GEMV_FP8 ? scale : NULL, xt, x,
                         xt == KE_GEMV_FP8 ? xs : NULL,
                         epi == KE_GEMV_EPI_GEGLU ? KE_GEMV_BF16 : KE_GEMV_F32, y, NULL,
                         rows_per_warp, epi, k_split };
      KE ([&] (ke_error **e) { return ke_cuda_gemv (&a, g_stream, e); });
    }
  }, launches);
  char name[128];
  snprintf (name, sizeof name, "gemv %-8s %6dx%-5d %s x%s R%d KS%d%s", label, n, k,
            wt == KE_GEMV_FP8 ? "fp8" : "bf16", xt == KE_GEMV_FP8 ? "fp8" : "bf16", rows_per_warp,
            k_split, epi == KE_GEMV_EPI_GEGLU ? " +geglu" : "");
  report (name, us, (double) wbytes + (wt == KE_GEMV_FP8 ? n * 4.0 : 0) + n * 4.0);
  for (void *p : ws)
    CK (cudaFree (p));
  CK (cudaFree (scale)); CK (cudaFree (xs)); CK (cudaFree (x)); CK (cudaFree (y));
}

/* cuBLASLt FP8 GEMM at M = 1 for comparison (the engine's prefill path). */
static void
bench_cublas_m1 (const char *label, int n, int k)
{
  const size_t wbytes = (size_t) n * k;
  const int copies = (int) std::max<size_t> (2, ((size_t) 256 << 20) / wbytes + 1);
  std::vector<uint8_t *> ws (copies);
  for (int c = 0; c < copies; c++)
    ws[c] = rand_fp8 (wbytes);
  float *scale = rand_f32 (n, 1e-3f, 1e-2f), *xs = rand_f32 (1, 0.01f, 0.02f);
  uint8_t *x = rand_fp8 (k);
  uint16_t *y = (uint16_t *) dev_alloc ((size_t) n * 2);
  ke_error *err = NULL;
  ke_fp8_gemm_plan *plan = ke_fp8_gemm_plan_new (1, n, k, &err);
  if (plan == NULL) {
    printf ("%-44s unavailable: %s\n", label, err->message);
    ke_error_free (err);
    return;
  }
  const int launches = std::max (copies, 20);
  double us = time_graph ([&] {
    for (int i = 0; i < launches; i++)
      KE ([&] (ke_error **e) { return ke_fp8_gemm_run (plan, x, xs, ws[i % copies], scale, y, g_stream, e); });
  }, launches);
  char name[128];
  snprintf (name, sizeof name, "cublasLt M=1 %-8s %6dx%-5d", label, n, k);
  report (name, us, (double) wbytes + n * 6.0);
  ke_fp8_gemm_plan_free (plan);
  for (uint8_t *p : ws)
    CK (cudaFree (p));
  CK (cudaFree (scale)); CK (cudaFree (xs)); CK (cudaFree (x)); CK (cudaFree (y));
}

#include "bench-kernels-step.cuh"

int
main (int argc, char **argv)
{
  const bool quick = argc > 1 && strcmp (argv[1], "--quick") == 0;
  if (ke_cuda_device_count () == 0) {
    printf ("no CUDA device: nothing to measure\n");
    return 77; /* meson: skipped */
  }
  cudaDeviceProp prop;
  CK (cudaGetDeviceProperties (&prop, 0));
  printf ("device: %s, sm_%d%d, %d SMs, L2 %d MB\n", prop.name, prop.major, prop.minor,
          prop.multiProcessorCount, prop.l2CacheSize >> 20);
  CK (cudaStreamCreateWithFlags (&g_stream, cudaStreamNonBlocking));
  measure_read_bandwidth ();

  struct shape { const char *label; int n, k; } shapes[] = {
    { "qkv", 4096, 2560 }, { "q", 2048, 2560 }, { "k|v", 1024, 2560 }, { "o", 2560, 2048 },
    { "gate_up", 20480, 2560 }, { "down", 2560, 10240 },
  };
  /* (rows per warp, k split) variants; 0,0 = the automatic choice */
  static const int variants[][2] = { { 0, 0 }, { 1, 1 }, { 2, 1 }, { 1, 2 }, { 2, 2 }, { 1, 4 },
                                     { 2, 4 }, { 4, 1 } };
  for (const shape &s : shapes) {
    for (auto &v : variants)
      bench_gemv (s.label, s.n, s.k, KE_GEMV_FP8, KE_GEMV_BF16, v[0], v[1]);
    if (!quick) {
      bench_gemv (s.label, s.n, s.k, KE_GEMV_FP8, KE_GEMV_FP8, 0, 0); /* W8A8 */
      bench_cublas_m1 (s.label, s.n, s.k);
    }
  }
  static const int geglu_variants[][2] = { { 0, 0 }, { 2, 1 }, { 2, 2 }, { 2, 4 }, { 4, 1 } };
  for (auto &v : geglu_variants)
    bench_gemv ("gate_up", 20480, 2560, KE_GEMV_FP8, KE_GEMV_BF16, v[0], v[1], KE_GEMV_EPI_GEGLU);
  bench_gemv ("lm_head", 262208, 2560, KE_GEMV_BF16, KE_GEMV_BF16, 0, 0);
  bench_gemv ("lm_head", 262208, 2560, KE_GEMV_BF16, KE_GEMV_BF16, 2, 1);

  bench_small_kernels ();
  bench_attention ();
  bench_decode_step (512, false);
  bench_decode_step (32768, false);
  ke_cuda_set_pdl (g_pdl = false);
  bench_decode_step (512, false);
  ke_cuda_set_pdl (g_pdl = true);
  if (!quick) {
    bench_decode_step (512, true);
    bench_decode_step (32768, true);
  }
  CK (cudaStreamDestroy (g_stream));
  return 0;
}
