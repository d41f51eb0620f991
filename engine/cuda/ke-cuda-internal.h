/* ke-cuda-internal.h — turning CUDA and cuBLAS status codes into ke_error values.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "ke-internal.h"

/* Maps a CUDA runtime error to a ke_error; out-of-memory and missing-device errors get
 * their own codes so callers can explain them. */
static inline bool
ke_cuda_check_impl (cudaError_t status, const char *what, ke_error **error)
{
  if (status == cudaSuccess)
    return true;
  ke_error_code code = KE_ERROR_DEVICE;
  if (status == cudaErrorMemoryAllocation)
    code = KE_ERROR_DEVICE_MEMORY;
  else if (status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver)
    code = KE_ERROR_NO_DEVICE;
  return ke_set_error (error, code, "%s: %s (%s)", what, cudaGetErrorString (status),
                       cudaGetErrorName (status));
}

static inline bool
ke_cublas_check_impl (cublasStatus_t status, const char *what, ke_error **error)
{
  if (status == CUBLAS_STATUS_SUCCESS)
    return true;
  ke_error_code code =
    status == CUBLAS_STATUS_ALLOC_FAILED ? KE_ERROR_DEVICE_MEMORY
    : status == CUBLAS_STATUS_NOT_SUPPORTED || status == CUBLAS_STATUS_ARCH_MISMATCH
      ? KE_ERROR_UNSUPPORTED
      : KE_ERROR_DEVICE;
  return ke_set_error (error, code, "%s: cuBLAS status %d (%s)", what, (int) status,
                       cublasLtGetStatusString (status));
}

#define KE_CUDA_CHECK(call, error) ke_cuda_check_impl ((call), #call, (error))
#define KE_CUBLAS_CHECK(call, error) ke_cublas_check_impl ((call), #call, (error))
