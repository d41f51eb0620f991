/* ke-cuda-bandwidth.cu — the device's measured read bandwidth (the decode roofline) and
 * memory use, for `kestrel-cli bench`.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Method as tests/gpu/bench-kernels.cu: a read-only kernel (16-byte loads, grid-stride,
 * one word written per block so nothing is optimized away) over a buffer far larger than
 * L2, timed with events, median of several runs.
 */
#include <stdlib.h>

#include "ke-cuda-internal.h"
#include "ke-cuda.h"

namespace {

__global__ void
read_kernel (const uint4 *p, size_t n, unsigned *sink)
{
  unsigned acc = 0;
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n;
       i += (size_t) gridDim.x * blockDim.x) {
    uint4 v = p[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9e3779b9u) /* practically never: keeps the loads */
    sink[blockIdx.x] = acc;
}

int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return x < y ? -1 : x > y;
}

} /* namespace */

extern "C" bool
ke_cuda_read_bandwidth (size_t bytes, double *gb_per_s, ke_error **error)
{
  void *buf = NULL;
  unsigned *sink = NULL;
  cudaEvent_t a = NULL, b = NULL;
  bool ok = false;
  float ms[7];
  int sms = 0, dev = 0;
  bytes &= ~(size_t) 15;
  if (bytes == 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No bytes to read.");
  if (!KE_CUDA_CHECK (cudaMalloc (&buf, bytes), error) ||
      !KE_CUDA_CHECK (cudaMemset (buf, 0x5a, bytes), error) ||
      !KE_CUDA_CHECK (cudaMalloc (&sink, 65536 * sizeof (unsigned)), error) ||
      !KE_CUDA_CHECK (cudaEventCreate (&a), error) || !KE_CUDA_CHECK (cudaEventCreate (&b), error) ||
      !KE_CUDA_CHECK (cudaGetDevice (&dev), error) ||
      !KE_CUDA_CHECK (cudaDeviceGetAttribute (&sms, cudaDevAttrMultiProcessorCount, dev), error))
    goto out;
  for (int r = -1; r < 7; r++) { /* one warm-up */
    if (!KE_CUDA_CHECK (cudaEventRecord (a), error))
      goto out;
    read_kernel<<<sms * 8, 512>>> ((const uint4 *) buf, bytes / 16, sink);
    if (!KE_CUDA_CHECK (cudaGetLastError (), error) || !KE_CUDA_CHECK (cudaEventRecord (b), error) ||
        !KE_CUDA_CHECK (cudaEventSynchronize (b), error))
      goto out;
    if (r >= 0 && !KE_CUDA_CHECK (cudaEventElapsedTime (&ms[r], a, b), error))
      goto out;
  }
  qsort (ms, 7, sizeof ms[0], cmp_float);
  *gb_per_s = (double) bytes / (ms[3] * 1e-3) / 1e9;
  ok = true;
out:
  if (a)
    cudaEventDestroy (a);
  if (b)
    cudaEventDestroy (b);
  cudaFree (buf);
  cudaFree (sink);
  return ok;
}

extern "C" bool
ke_cuda_mem_info (size_t *free_bytes, size_t *total_bytes, ke_error **error)
{
  return KE_CUDA_CHECK (cudaMemGetInfo (free_bytes, total_bytes), error);
}
