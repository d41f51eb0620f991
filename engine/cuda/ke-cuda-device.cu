/* ke-cuda-device.cu — device discovery and plain memory helpers.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "ke-cuda-internal.h"
#include "ke-cuda.h"

int
ke_cuda_device_count (void)
{
  int n = 0;
  if (cudaGetDeviceCount (&n) != cudaSuccess) {
    cudaGetLastError (); /* clear the non-sticky error so later calls are not confused */
    return 0;
  }
  return n;
}

bool
ke_cuda_device_info (int device, char *name, size_t name_size, int *cc_major, int *cc_minor,
                     size_t *total_mem, ke_error **error)
{
  cudaDeviceProp prop;
  if (!KE_CUDA_CHECK (cudaGetDeviceProperties (&prop, device), error))
    return false;
  if (name && name_size) {
    strncpy (name, prop.name, name_size - 1);
    name[name_size - 1] = '\0';
  }
  if (cc_major)
    *cc_major = prop.major;
  if (cc_minor)
    *cc_minor = prop.minor;
  if (total_mem)
    *total_mem = prop.totalGlobalMem;
  return true;
}

void *
ke_cuda_malloc (size_t bytes, ke_error **error)
{
  void *ptr = NULL;
  if (!KE_CUDA_CHECK (cudaMalloc (&ptr, bytes), error))
    return NULL;
  return ptr;
}

void
ke_cuda_free (void *ptr)
{
  if (ptr)
    cudaFree (ptr);
}

bool
ke_cuda_memcpy_h2d (void *dst, const void *src, size_t bytes, ke_error **error)
{
  return KE_CUDA_CHECK (cudaMemcpy (dst, src, bytes, cudaMemcpyHostToDevice), error);
}

bool
ke_cuda_memcpy_d2h (void *dst, const void *src, size_t bytes, ke_error **error)
{
  return KE_CUDA_CHECK (cudaMemcpy (dst, src, bytes, cudaMemcpyDeviceToHost), error);
}

bool
ke_cuda_memset (void *dst, int value, size_t bytes, ke_error **error)
{
  return KE_CUDA_CHECK (cudaMemset (dst, value, bytes), error);
}

bool
ke_cuda_synchronize (ke_error **error)
{
  if (!KE_CUDA_CHECK (cudaDeviceSynchronize (), error))
    return false;
  return KE_CUDA_CHECK (cudaGetLastError (), error);
}
