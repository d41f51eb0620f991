/* ke-cuda.h — the CUDA backend's C interface (host side), usable from C files.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ke-engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of CUDA devices usable by this process (0 when there is no driver/GPU). */
int ke_cuda_device_count (void);
/* Fills name (NUL-terminated) and compute capability; false with an error otherwise. */
bool ke_cuda_device_info (int device, char *name, size_t name_size, int *cc_major,
                          int *cc_minor, size_t *total_mem, ke_error **error);

/* Device memory helpers for tests and tools. */
void *ke_cuda_malloc (size_t bytes, ke_error **error);
void ke_cuda_free (void *ptr);
bool ke_cuda_memcpy_h2d (void *dst, const void *src, size_t bytes, ke_error **error);
bool ke_cuda_memcpy_d2h (void *dst, const void *src, size_t bytes, ke_error **error);
bool ke_cuda_memset (void *dst, int value, size_t bytes, ke_error **error);
bool ke_cuda_synchronize (ke_error **error);

/* Measured read bandwidth of the current device (GB/s, 1e9 bytes): a read-only kernel over
 * `bytes` (use ≫ L2, e.g. 2 GiB), median of 7 runs (ke-cuda-bandwidth.cu). */
bool ke_cuda_read_bandwidth (size_t bytes, double *gb_per_s, ke_error **error);
/* cudaMemGetInfo of the current device. */
bool ke_cuda_mem_info (size_t *free_bytes, size_t *total_bytes, ke_error **error);

/* ---- FP8 GEMM through cuBLASLt --------------------------------------------------------
 *
 *   Y[M, N] (bf16, row-major) = (X[M, K] · W[N, K]ᵀ) ⊙ (x_scale[M] ⊗ w_scale[N])
 *
 * X: fp8 e4m3 activations, row-major, one scale per row (token).
 * W: fp8 e4m3 weights, row-major [out, in] as checkpoints store them, one scale per row
 *    (output channel).
 * In cuBLASLt's column-major terms this is the "TN" layout FP8 requires: A = W (transposed,
 * lda = K, m = N), B = X (not transposed, ldb = K, n = M), D = Yᵀ col-major (ldd = N).  Scales
 * use CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F: A's vector has m = N entries (w_scale), B's
 * has n = M entries (x_scale).
 *
 * The plan (descriptors, layouts, algorithm, workspace) is built once for a shape and
 * reused for every call: nothing is allocated or searched per call. */
typedef struct ke_fp8_gemm_plan ke_fp8_gemm_plan;

ke_fp8_gemm_plan *ke_fp8_gemm_plan_new (int m_tokens, int n_out, int k_in, ke_error **error);
/* The same with a caller-owned workspace (device memory of workspace_size bytes, which
 * outlives the plan): plans whose calls never overlap (one stream) can share one. */
ke_fp8_gemm_plan *ke_fp8_gemm_plan_new_shared (int m_tokens, int n_out, int k_in,
                                               void *workspace, size_t workspace_size,
                                               ke_error **error);
#define KE_FP8_GEMM_WORKSPACE ((size_t) 32 << 20) /* what Hopper's kernels like */
void ke_fp8_gemm_plan_free (ke_fp8_gemm_plan *plan);
/* All pointers are device pointers; stream may be NULL (legacy default stream). */
bool ke_fp8_gemm_run (ke_fp8_gemm_plan *plan, const uint8_t *x, const float *x_scale,
                      const uint8_t *w, const float *w_scale, uint16_t *y_bf16, void *stream,
                      ke_error **error);
/* The M (tokens) the plan was built for; a plan serves exactly that shape. */
int ke_fp8_gemm_plan_m (const ke_fp8_gemm_plan *plan);
/* How many algorithms the plan chooses from (the heuristic's first, at most
 * KE_FP8_GEMM_CANDIDATES). */
#define KE_FP8_GEMM_CANDIDATES 8
int ke_fp8_gemm_plan_candidates (const ke_fp8_gemm_plan *plan);
/* Times every candidate algorithm (a warm-up call, then 5 calls between device events) on
 * the given operands, which should hold realistic data (not zeros: the tensor cores' clock
 * depends on it), and keeps the fastest for the plan's later calls.  *first_ms / *best_ms
 * (may be NULL): the heuristic's first choice's time and the kept one's, ms per call.
 * Synchronizes the stream.  Candidates that fail to run are skipped. */
bool ke_fp8_gemm_plan_tune (ke_fp8_gemm_plan *plan, const uint8_t *x, const float *x_scale,
                            const uint8_t *w, const float *w_scale, uint16_t *y_bf16,
                            void *stream, float *first_ms, float *best_ms, ke_error **error);

#ifdef __cplusplus
}
#endif
