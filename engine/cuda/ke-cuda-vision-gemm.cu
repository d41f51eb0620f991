/* ke-cuda-vision-gemm.cu — bf16 GEMM plans on cuBLASLt with bias / gelu-tanh / residual
 * epilogues, for the vision tower.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Row-major D[M, N] = X[M, K] · W[N, K]ᵀ is, in cuBLASLt's column-major terms, Dᵀ[N, M] =
 * op(A = W as [K, N], transposed) · (B = X as [K, M]): the "TN" layout, the same mapping as
 * the FP8 plans (ke-cuda.h).  The bias vector runs along cuBLASLt's m, i.e. our N (one per
 * output feature), which is what CUBLASLT_EPILOGUE_BIAS broadcasts.  The residual add is
 * the β·C term with β = 1 (C may alias D).
 */
#include <math.h>
#include <stdlib.h>

#include "ke-cuda-internal.h"
#include "ke-cuda-vision.h"

struct ke_bf16_gemm_plan {
  int m, n, k;
  bool add_c;
  ke_vgemm_epilogue epilogue;
  cublasLtHandle_t handle;
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t a_layout, b_layout, d_layout;
  cublasLtMatmulAlgo_t algo;
  cublasLtMatmulAlgo_t candidates[KE_VGEMM_CANDIDATES];
  int n_candidates;
  void *workspace;
  size_t workspace_size;
};

void
ke_bf16_gemm_plan_free (ke_bf16_gemm_plan *p)
{
  if (!p)
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
  free (p);
}

ke_bf16_gemm_plan *
ke_bf16_gemm_plan_new (int m, int n, int k, ke_vgemm_epilogue epilogue, bool out_f32,
                       bool add_c, void *workspace, size_t workspace_bytes, ke_error **error)
{
  if (m <= 0 || n <= 0 || k <= 0 || n % 8 || k % 8) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                  "bf16 GEMM shape %d×%d×%d is not supported (N and K must be multiples of 8)",
                  m, n, k);
    return NULL;
  }
  ke_bf16_gemm_plan *p = (ke_bf16_gemm_plan *) calloc (1, sizeof *p);
  if (!p) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    return NULL;
  }
  p->m = m;
  p->n = n;
  p->k = k;
  p->add_c = add_c;
  p->epilogue = epilogue;
  p->workspace = workspace;
  p->workspace_size = workspace_bytes;

  cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  cudaDataType_t d_type = out_f32 ? CUDA_R_32F : CUDA_R_16BF;
  cublasLtEpilogue_t epi = epilogue == KE_VGEMM_BIAS        ? CUBLASLT_EPILOGUE_BIAS
                           : epilogue == KE_VGEMM_BIAS_GELU ? CUBLASLT_EPILOGUE_GELU_BIAS
                                                            : CUBLASLT_EPILOGUE_DEFAULT;
  int ret_count = 0;
  cublasLtMatmulPreference_t pref = NULL;

  if (!KE_CUBLAS_CHECK (cublasLtCreate (&p->handle), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescCreate (&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_TRANSA,
                                                        &trans_a, sizeof trans_a), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_TRANSB,
                                                        &trans_b, sizeof trans_b), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                        &epi, sizeof epi), error))
    goto fail;
  if (epilogue != KE_VGEMM_PLAIN) {
    /* The bias has D's type; the query wants some valid pointer, the real one comes per run. */
    if (!KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                                                          &d_type, sizeof d_type), error) ||
        !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                          &workspace, sizeof workspace), error))
      goto fail;
  }
  if (!KE_CUBLAS_CHECK (cublasLtMatrixLayoutCreate (&p->a_layout, CUDA_R_16BF, k, n, k), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatrixLayoutCreate (&p->b_layout, CUDA_R_16BF, k, m, k), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatrixLayoutCreate (&p->d_layout, d_type, n, m, n), error))
    goto fail;
  if (!KE_CUBLAS_CHECK (cublasLtMatmulPreferenceCreate (&pref), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulPreferenceSetAttribute (
                          pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &p->workspace_size,
                          sizeof p->workspace_size), error))
    goto fail;
  {
    cublasLtMatmulHeuristicResult_t heurs[KE_VGEMM_CANDIDATES];
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic (p->handle, p->op, p->a_layout,
                                                        p->b_layout, p->d_layout, p->d_layout,
                                                        pref, KE_VGEMM_CANDIDATES, heurs,
                                                        &ret_count);
    for (int i = 0; st == CUBLAS_STATUS_SUCCESS && i < ret_count; i++)
      if (heurs[i].state == CUBLAS_STATUS_SUCCESS)
        p->candidates[p->n_candidates++] = heurs[i].algo;
    if (st != CUBLAS_STATUS_SUCCESS || p->n_candidates == 0) {
      ke_set_error (error, KE_ERROR_UNSUPPORTED,
                    "cuBLASLt has no bf16 kernel for %d×%d×%d (epilogue %d) on this GPU "
                    "(status %d)", m, n, k, (int) epilogue, (int) st);
      goto fail;
    }
  }
  p->algo = p->candidates[0]; /* the heuristic's first choice until ke_bf16_gemm_plan_tune */
  cublasLtMatmulPreferenceDestroy (pref);
  return p;

fail:
  if (pref)
    cublasLtMatmulPreferenceDestroy (pref);
  ke_bf16_gemm_plan_free (p);
  return NULL;
}

bool
ke_bf16_gemm_run (ke_bf16_gemm_plan *p, const uint16_t *x, const uint16_t *w, const void *bias,
                  const void *c, void *d, void *stream, ke_error **error)
{
  const float alpha = 1.0f, beta = p->add_c ? 1.0f : 0.0f;
  if (p->epilogue != KE_VGEMM_PLAIN &&
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                        &bias, sizeof bias), error))
    return false;
  const void *cc = p->add_c ? c : d;
  if (!KE_CUBLAS_CHECK (cublasLtMatmul (p->handle, p->op, &alpha, w, p->a_layout, x, p->b_layout,
                                        &beta, cc, p->d_layout, d, p->d_layout, &p->algo,
                                        p->workspace, p->workspace_size, (cudaStream_t) stream),
                        error))
    return false;
  return KE_CUDA_CHECK (cudaGetLastError (), error);
}

bool
ke_bf16_gemm_plan_tune (ke_bf16_gemm_plan *p, const uint16_t *x, const uint16_t *w,
                        const void *bias, const void *c, void *d, void *stream, float *best_ms,
                        ke_error **error)
{
  cudaEvent_t a = NULL, b = NULL;
  float best = INFINITY;
  int best_i = 0;
  bool ok = KE_CUDA_CHECK (cudaEventCreate (&a), error) && KE_CUDA_CHECK (cudaEventCreate (&b), error);
  for (int i = 0; ok && i < p->n_candidates; i++) {
    p->algo = p->candidates[i];
    const int reps = 3;
    ok = ke_bf16_gemm_run (p, x, w, bias, c, d, stream, error) && /* warm-up */
         KE_CUDA_CHECK (cudaEventRecord (a, (cudaStream_t) stream), error);
    for (int r = 0; ok && r < reps; r++)
      ok = ke_bf16_gemm_run (p, x, w, bias, c, d, stream, error);
    float ms = 0;
    ok = ok && KE_CUDA_CHECK (cudaEventRecord (b, (cudaStream_t) stream), error) &&
         KE_CUDA_CHECK (cudaEventSynchronize (b), error) &&
         KE_CUDA_CHECK (cudaEventElapsedTime (&ms, a, b), error);
    if (ok && ms / reps < best) {
      best = ms / reps;
      best_i = i;
    }
  }
  p->algo = p->candidates[best_i];
  if (best_ms)
    *best_ms = best;
  if (a)
    cudaEventDestroy (a);
  if (b)
    cudaEventDestroy (b);
  return ok;
}
