/* ke-cuda-common.cuh — device helpers shared by the kernels (bf16/fp8 unpacking, reductions).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <stdint.h>

#include "ke-cuda-internal.h"

#define KE_FULL_MASK 0xffffffffu

static __device__ __forceinline__ float
ke_bf16_bits_to_f32 (uint32_t bits16)
{
  return __uint_as_float (bits16 << 16);
}

/* Two bf16 packed in a 32-bit word → two floats (low half first). */
static __device__ __forceinline__ float2
ke_bf16x2_to_f32x2 (uint32_t w)
{
  return make_float2 (__uint_as_float (w << 16), __uint_as_float (w & 0xffff0000u));
}

/* f32 → bf16 bits, round to nearest even (NaN stays NaN). */
static __device__ __forceinline__ uint16_t
ke_f32_to_bf16_bits (float f)
{
  __nv_bfloat16 b = __float2bfloat16_rn (f);
  return *reinterpret_cast<uint16_t *> (&b);
}

static __device__ __forceinline__ float
ke_round_bf16_dev (float f)
{
  return __bfloat162float (__float2bfloat16_rn (f));
}

/* Two e4m3 bytes (low 16 bits of w) → two floats.  cvt on sm_89+, emulated before. */
static __device__ __forceinline__ float2
ke_fp8x2_to_f32x2 (uint16_t w)
{
  __half2_raw h = __nv_cvt_fp8x2_to_halfraw2 ((__nv_fp8x2_storage_t) w, __NV_E4M3);
  return __half22float2 (*reinterpret_cast<__half2 *> (&h));
}

static __device__ __forceinline__ uint8_t
ke_f32_to_fp8_dev (float f)
{
  return (uint8_t) __nv_cvt_float_to_fp8 (f, __NV_SATFINITE, __NV_E4M3);
}

static __device__ __forceinline__ float
ke_warp_sum (float v)
{
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync (KE_FULL_MASK, v, o);
  return v;
}

static __device__ __forceinline__ float
ke_warp_max (float v)
{
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf (v, __shfl_xor_sync (KE_FULL_MASK, v, o));
  return v;
}

/* Block-wide sum/max; every thread gets the result.  scratch: ≥ 32 floats of shared memory,
 * blockDim.x a multiple of 32. */
static __device__ __forceinline__ float
ke_block_sum (float v, float *scratch)
{
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  v = ke_warp_sum (v);
  __syncthreads (); /* scratch may still be read from a previous call */
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads ();
  v = lane < n_warps ? scratch[lane] : 0.0f;
  return ke_warp_sum (v);
}

static __device__ __forceinline__ float
ke_block_max (float v, float *scratch)
{
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  v = ke_warp_max (v);
  __syncthreads ();
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads ();
  v = lane < n_warps ? scratch[lane] : -INFINITY;
  return ke_warp_max (v);
}

static inline bool
ke_is_aligned16 (const void *p)
{
  return ((uintptr_t) p & 15u) == 0;
}

/* After a launch: turns a launch error into a ke_error. */
#define KE_LAUNCH_CHECK(error) ke_cuda_check_impl (cudaGetLastError (), __func__, (error))

/* ---- Programmatic dependent launch (sm_90+) ------------------------------------------
 * Kernels launched through ke_launch() may start while the previous kernel on the stream is
 * still running.  Each kernel calls ke_pdl_trigger() first (letting the next one be
 * scheduled) and ke_pdl_wait() before it touches any memory that an earlier kernel writes
 * or reads (the wait returns once the previous grid has completed and its writes are
 * visible; since every kernel waits before it exits, this is transitive).  Loads of
 * constant data (weights) may come before the wait: that is the point.  On older GPUs or
 * without the launch attribute both are no-ops. */
static __device__ __forceinline__ void
ke_pdl_wait (void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile ("griddepcontrol.wait;" ::: "memory");
#endif
}

static __device__ __forceinline__ void
ke_pdl_trigger (void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile ("griddepcontrol.launch_dependents;" :::);
#endif
}

/* Whether launches use the programmatic-serialization attribute (compute capability ≥ 9.0
 * and not switched off with ke_cuda_set_pdl()). */
bool ke_pdl_enabled (void);

template <typename... KArgs, typename... Args>
static inline cudaError_t
ke_launch (void (*kernel) (KArgs...), dim3 grid, dim3 block, size_t smem, void *stream,
           Args... args)
{
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[1];
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = (cudaStream_t) stream;
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  /* Only on explicit streams (the engine's, which graphs are captured from). */
  cfg.numAttrs = stream != NULL && ke_pdl_enabled () ? 1 : 0;
  return cudaLaunchKernelEx (&cfg, kernel, ((KArgs) args)...);
}

/* Launch + error check in one: false with a ke_error when the launch failed. */
#define KE_LAUNCH(error, kernel, grid, block, smem, stream, ...)                          \
  ke_cuda_check_impl (ke_launch (kernel, grid, block, smem, stream, __VA_ARGS__), #kernel, \
                      (error))
