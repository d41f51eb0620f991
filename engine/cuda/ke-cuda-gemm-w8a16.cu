/* ke-cuda-gemm-w8a16.cu — W8A16 GEMMs on bf16 tensor cores (see ke-cuda-gemm-w8a16.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * cuBLASLt in column-major terms, the same "TN" mapping as the FP8 plan (ke-cuda.h):
 *   A = W as [K, N] (ld K), transposed       → op(A) is N × K
 *   B = X as [K, M] (ld K), not transposed    → K × M
 *   D = Yᵀ as [N, M] (ld N), f32              → row-major Y[M, N]
 * bf16 × bf16 with CUBLAS_COMPUTE_32F and f32 C/D is a combination every tensor-core GPU
 * since sm_80 runs.
 */
#include <cuda_bf16.h>
#include <stdlib.h>

#include "ke-cuda-gemm-w8a16.h"
#include "ke-cuda-internal.h"

struct ke_w8a16_gemm_plan {
  int m, n, k; /* tokens, out, in */
  ke_w8a16_mode mode; /* ALPHA_VECTOR or F32_SCALE */
  cublasLtHandle_t handle;
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t a_layout, b_layout, d_layout;
  cublasLtMatmulAlgo_t algo;
  void *workspace;
  size_t workspace_size;
  bool own_workspace;
};

static const size_t KE_W8A16_WORKSPACE = 32u << 20;

/* ---- kernels ------------------------------------------------------------------------- */

/* e4m3 → bf16, exactly: the 7 magnitude bits shifted into a float's exponent/mantissa give
 * the value × 2^-120 (subnormals too), one multiply by 2^120 finishes it, and a float with
 * 4 significant bits is a bf16 — its low 16 bits are zero. */
__device__ __forceinline__ uint16_t
fp8_to_bf16_bits (uint32_t b)
{
  float f = __uint_as_float (((b & 0x7fu) << 20) | ((b & 0x80u) << 24)) * 0x1p120f;
  return (uint16_t) (__float_as_uint (f) >> 16);
}

/* w_bf16[i] = w8[i] for i < count; 16 values per thread, with 16-byte loads and stores
 * when both pointers are 16-byte aligned (`vector`). */
__global__ void
widen_fp8_kernel (const uint8_t *__restrict__ w8, uint16_t *__restrict__ w_bf16, size_t count,
                  bool vector)
{
  size_t i = ((size_t) blockIdx.x * blockDim.x + threadIdx.x) * 16;
  if (vector && i + 16 <= count) {
    uint4 in = *(const uint4 *) (w8 + i);
    uint32_t words[4] = { in.x, in.y, in.z, in.w };
    uint32_t out[8];
#pragma unroll
    for (int j = 0; j < 4; j++) {
      uint32_t v = words[j];
      out[2 * j] = fp8_to_bf16_bits (v & 0xffu) | ((uint32_t) fp8_to_bf16_bits ((v >> 8) & 0xffu) << 16);
      out[2 * j + 1] = fp8_to_bf16_bits ((v >> 16) & 0xffu) |
                       ((uint32_t) fp8_to_bf16_bits (v >> 24) << 16);
    }
    uint4 *dst = (uint4 *) (w_bf16 + i);
    dst[0] = make_uint4 (out[0], out[1], out[2], out[3]);
    dst[1] = make_uint4 (out[4], out[5], out[6], out[7]);
  } else {
    for (size_t end = i + 16 < count ? i + 16 : count; i < end; i++)
      w_bf16[i] = fp8_to_bf16_bits (w8[i]);
  }
}

/* y[m, n] = bf16 (d[m, n] · w_scale[n]), rounded to nearest even. */
__global__ void
scale_columns_kernel (const float *__restrict__ d, const float *__restrict__ w_scale,
                      __nv_bfloat16 *__restrict__ y, int n, size_t count)
{
  size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count)
    y[i] = __float2bfloat16_rn (d[i] * w_scale[i % (size_t) n]);
}

/* ---- plan ---------------------------------------------------------------------------- */

size_t
ke_w8a16_gemm_scratch_w_bytes (int n_out, int k_in)
{
  return (size_t) n_out * (size_t) k_in * sizeof (uint16_t);
}

size_t
ke_w8a16_gemm_scratch_d_bytes (int m_tokens, int n_out)
{
  return (size_t) m_tokens * (size_t) n_out * sizeof (float);
}

void
ke_w8a16_gemm_plan_free (ke_w8a16_gemm_plan *p)
{
  if (p == NULL)
    return;
  if (p->a_layout)
    cublasLtMatrixLayoutDestroy (p->a_layout);
  if (p->b_layout)
    cublasLtMatrixLayoutDestroy (p->b_layout);
  if (p->d_layout)
    cublasLtMatrixLayoutDestroy (p->d_layout);
  if (p->op)
    cublasLtMatmulDescDestroy (p->op);
  if (p->handle)
    cublasLtDestroy (p->handle);
  if (p->own_workspace && p->workspace)
    cudaFree (p->workspace);
  free (p);
}

ke_w8a16_mode
ke_w8a16_gemm_plan_mode (const ke_w8a16_gemm_plan *plan)
{
  return plan->mode;
}

static ke_w8a16_gemm_plan *plan_new_mode (int m_tokens, int n_out, int k_in, ke_w8a16_mode mode,
                                          void *workspace, size_t workspace_size,
                                          ke_error **error);

ke_w8a16_gemm_plan *
ke_w8a16_gemm_plan_new (int m_tokens, int n_out, int k_in, ke_w8a16_mode mode, void *workspace,
                        size_t workspace_size, ke_error **error)
{
  if (mode != KE_W8A16_AUTO)
    return plan_new_mode (m_tokens, n_out, k_in, mode, workspace, workspace_size, error);
  ke_error *first = NULL;
  ke_w8a16_gemm_plan *p = plan_new_mode (m_tokens, n_out, k_in, KE_W8A16_ALPHA_VECTOR, workspace,
                                         workspace_size, &first);
  if (p != NULL || first->code != KE_ERROR_UNSUPPORTED) {
    if (first)
      ke_propagate_error (error, first);
    return p;
  }
  ke_error_free (first);
  return plan_new_mode (m_tokens, n_out, k_in, KE_W8A16_F32_SCALE, workspace, workspace_size, error);
}

static ke_w8a16_gemm_plan *
plan_new_mode (int m_tokens, int n_out, int k_in, ke_w8a16_mode mode, void *workspace,
               size_t workspace_size, ke_error **error)
{
  if (m_tokens <= 0 || n_out <= 0 || k_in <= 0 || k_in % 8 != 0 || n_out % 8 != 0) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                  "W8A16 GEMM shape %d×%d×%d is not supported (N and K must be multiples of 8)",
                  m_tokens, n_out, k_in);
    return NULL;
  }
  ke_w8a16_gemm_plan *p = (ke_w8a16_gemm_plan *) calloc (1, sizeof *p);
  if (p == NULL) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    return NULL;
  }
  p->m = m_tokens;
  p->n = n_out;
  p->k = k_in;
  p->mode = mode;

  const bool alpha_vector = mode == KE_W8A16_ALPHA_VECTOR;
  cublasLtPointerMode_t pointer_mode = CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO;
  cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  cublasLtMatmulPreference_t pref = NULL;
  cublasLtMatmulHeuristicResult_t heur;
  int ret_count = 0;

  if (!KE_CUBLAS_CHECK (cublasLtCreate (&p->handle), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescCreate (&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_TRANSA,
                                                        &trans_a, sizeof trans_a), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_TRANSB,
                                                        &trans_b, sizeof trans_b), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatrixLayoutCreate (&p->a_layout, CUDA_R_16BF, k_in, n_out, k_in), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatrixLayoutCreate (&p->b_layout, CUDA_R_16BF, k_in, m_tokens, k_in), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatrixLayoutCreate (&p->d_layout, alpha_vector ? CUDA_R_16BF : CUDA_R_32F,
                                                    n_out, m_tokens, n_out), error))
    goto fail;
  /* alpha = w_scale, one per row of D (an output channel) */
  if (alpha_vector &&
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_POINTER_MODE,
                                                        &pointer_mode, sizeof pointer_mode), error))
    goto fail;

  if (workspace == NULL) {
    if (!KE_CUDA_CHECK (cudaMalloc (&p->workspace, KE_W8A16_WORKSPACE), error))
      goto fail;
    p->own_workspace = true;
    p->workspace_size = KE_W8A16_WORKSPACE;
  } else {
    p->workspace = workspace;
    p->workspace_size = workspace_size;
  }

  if (!KE_CUBLAS_CHECK (cublasLtMatmulPreferenceCreate (&pref), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulPreferenceSetAttribute (
                          pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &p->workspace_size,
                          sizeof p->workspace_size), error))
    goto fail;
  {
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic (p->handle, p->op, p->a_layout, p->b_layout,
                                                        p->d_layout, p->d_layout, pref, 1, &heur,
                                                        &ret_count);
    if (st != CUBLAS_STATUS_SUCCESS || ret_count == 0) {
      ke_set_error (error, KE_ERROR_UNSUPPORTED,
                    "cuBLASLt has no bf16 kernel%s for %d×%d×%d on this GPU (status %d)",
                    alpha_vector ? " with a per-row alpha vector" : "", m_tokens, n_out, k_in,
                    (int) st);
      goto fail;
    }
  }
  p->algo = heur.algo;
  cublasLtMatmulPreferenceDestroy (pref);
  return p;

fail:
  if (pref)
    cublasLtMatmulPreferenceDestroy (pref);
  ke_w8a16_gemm_plan_free (p);
  return NULL;
}

bool
ke_w8a16_gemm_run (ke_w8a16_gemm_plan *p, const uint16_t *x_bf16, const uint8_t *w8,
                   const float *w_scale, uint16_t *w_bf16, float *d_f32, uint16_t *y_bf16,
                   void *stream, ke_error **error)
{
  cudaStream_t s = (cudaStream_t) stream;
  const float alpha = 1.0f, beta = 0.0f;
  size_t wn = (size_t) p->n * p->k, yn = (size_t) p->m * p->n;
  unsigned wide_blocks = (unsigned) ((wn / 16 + 1 + 255) / 256);
  unsigned scale_blocks = (unsigned) ((yn + 255) / 256);

  bool vector = ((uintptr_t) w8 % 16) == 0 && ((uintptr_t) w_bf16 % 16) == 0;
  widen_fp8_kernel<<<wide_blocks, 256, 0, s>>> (w8, w_bf16, wn, vector);
  if (!KE_CUDA_CHECK (cudaGetLastError (), error))
    return false;
  if (p->mode == KE_W8A16_ALPHA_VECTOR) {
    if (!KE_CUBLAS_CHECK (cublasLtMatmul (p->handle, p->op, w_scale, w_bf16, p->a_layout, x_bf16,
                                          p->b_layout, &beta, y_bf16, p->d_layout, y_bf16,
                                          p->d_layout, &p->algo, p->workspace, p->workspace_size,
                                          s), error))
      return false;
    return KE_CUDA_CHECK (cudaGetLastError (), error);
  }
  if (d_f32 == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "This W8A16 plan needs f32 scratch.");
  if (!KE_CUBLAS_CHECK (cublasLtMatmul (p->handle, p->op, &alpha, w_bf16, p->a_layout, x_bf16,
                                        p->b_layout, &beta, d_f32, p->d_layout, d_f32, p->d_layout,
                                        &p->algo, p->workspace, p->workspace_size, s), error))
    return false;
  scale_columns_kernel<<<scale_blocks, 256, 0, s>>> (d_f32, w_scale, (__nv_bfloat16 *) y_bf16,
                                                     p->n, yn);
  return KE_CUDA_CHECK (cudaGetLastError (), error);
}
