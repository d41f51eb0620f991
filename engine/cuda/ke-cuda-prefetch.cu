/* ke-cuda-prefetch.cu — warming L2 with weights that a later kernel will stream.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Batch-1 decode leaves DRAM idle while the short kernels (QK-norm + RoPE, attention, the
 * residual norms) run, and each small GEMV loses a few µs ramping up.  Run on a forked
 * branch of the decode graph, this kernel asks for the next GEMVs' weights to be brought
 * into L2 meanwhile, so that those GEMVs read them from L2.  It only issues hints: it
 * reads nothing into registers and writes nothing, so it needs no ordering with the main
 * branch beyond the fork.  sm_90+: cp.async.bulk.prefetch.L2 (one instruction per chunk,
 * the copy engine does the rest); older GPUs: prefetch.global.L2 per 128-byte line.
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-kernels.h"

namespace {

constexpr int CHUNK = 16384; /* bytes per bulk prefetch */

__global__ void
prefetch_kernel (ke_prefetch_ranges r, int mode)
{
  const size_t stride = (size_t) gridDim.x * blockDim.x;
  const size_t tid = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
  for (int i = 0; i < KE_PREFETCH_MAX_RANGES; i++) {
    const char *p = static_cast<const char *> (r.ptr[i]);
    const size_t bytes = r.bytes[i];
    if (!p || !bytes)
      continue;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if (mode == 1) {
      for (size_t off = tid * CHUNK; off < bytes; off += stride * CHUNK) {
        const uint32_t n = (uint32_t) (bytes - off < (size_t) CHUNK ? bytes - off : CHUNK) & ~15u;
        if (n)
          asm volatile ("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p + off), "r"(n)
                        : "memory");
      }
      continue;
    }
#endif
    for (size_t off = tid * 128; off < bytes; off += stride * 128)
      asm volatile ("prefetch.global.L2 [%0];" ::"l"(p + off));
  }
}

} // namespace

extern "C" bool
ke_cuda_prefetch_l2 (const ke_prefetch_ranges *ranges, int mode, void *stream, ke_error **error)
{
  for (int i = 0; i < KE_PREFETCH_MAX_RANGES; i++)
    if (ranges->ptr[i] && ((uintptr_t) ranges->ptr[i] & 15u))
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Prefetch ranges must be 16-byte aligned.");
  if (mode != 1 && mode != 2)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Prefetch mode %d.", mode);
  /* bulk: few threads issue everything; lines: enough threads to issue quickly */
  const int blocks = mode == 1 ? 8 : 64, threads = mode == 1 ? 64 : 256;
  prefetch_kernel<<<blocks, threads, 0, (cudaStream_t) stream>>> (*ranges, mode);
  return KE_LAUNCH_CHECK (error);
}
