/* ke-cuda-gemm.cu — FP8 e4m3 GEMM plans on cuBLASLt with per-row × per-column scales.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Shapes and the TN mapping are documented in ke-cuda.h.  Everything that cuBLASLt needs
 * (handle, operation descriptor, three layouts, the heuristic's algorithm, workspace) is
 * created in ke_fp8_gemm_plan_new(); ke_fp8_gemm_run() only sets the pointers that change
 * per call (the scale vectors) and launches.  The plan keeps the heuristic's first
 * KE_FP8_GEMM_CANDIDATES algorithms; ke_fp8_gemm_plan_tune() times them on real data and
 * keeps the fastest.  Measured on the H100 (cuBLASLt of CUDA 13.0, docs/performance.md): for
 * FP8 with per-row/per-column (OUTER_VEC) scales the heuristic offers ONE algorithm for every
 * Gemma 3 4b prefill shape, so the backend does not tune; bench-prefill-layer reports it.
 */
#include <math.h>
#include <stdlib.h>

#include "ke-cuda-internal.h"
#include "ke-cuda.h"

struct ke_fp8_gemm_plan {
  int m, n, k; /* tokens, out, in */
  cublasLtHandle_t handle;
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t a_layout, b_layout, d_layout;
  cublasLtMatmulAlgo_t algo;
  cublasLtMatmulAlgo_t candidates[KE_FP8_GEMM_CANDIDATES];
  int n_candidates;
  void *workspace;
  size_t workspace_size;
  bool owns_workspace;
};

static const size_t KE_GEMM_WORKSPACE = KE_FP8_GEMM_WORKSPACE;

void
ke_fp8_gemm_plan_free (ke_fp8_gemm_plan *plan)
{
  if (plan == NULL)
    return;
  if (plan->a_layout)
    cublasLtMatrixLayoutDestroy (plan->a_layout);
  if (plan->b_layout)
    cublasLtMatrixLayoutDestroy (plan->b_layout);
  if (plan->d_layout)
    cublasLtMatrixLayoutDestroy (plan->d_layout);
  if (plan->op)
    cublasLtMatmulDescDestroy (plan->op);
  if (plan->handle)
    cublasLtDestroy (plan->handle);
  if (plan->workspace && plan->owns_workspace)
    cudaFree (plan->workspace);
  free (plan);
}

ke_fp8_gemm_plan *
ke_fp8_gemm_plan_new (int m_tokens, int n_out, int k_in, ke_error **error)
{
  return ke_fp8_gemm_plan_new_shared (m_tokens, n_out, k_in, NULL, 0, error);
}

ke_fp8_gemm_plan *
ke_fp8_gemm_plan_new_shared (int m_tokens, int n_out, int k_in, void *workspace,
                             size_t workspace_size, ke_error **error)
{
  if (m_tokens <= 0 || n_out <= 0 || k_in <= 0 || k_in % 16 != 0 || n_out % 16 != 0) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                  "FP8 GEMM shape %d×%d×%d is not supported (N and K must be multiples of 16)",
                  m_tokens, n_out, k_in);
    return NULL;
  }
  ke_fp8_gemm_plan *p = (ke_fp8_gemm_plan *) calloc (1, sizeof *p);
  if (p == NULL) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    return NULL;
  }
  p->m = m_tokens;
  p->n = n_out;
  p->k = k_in;

  cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  cublasLtMatmulMatrixScale_t vec = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
  int ret_count = 0;
  cublasLtMatmulPreference_t pref = NULL;
  cublasLtMatmulHeuristicResult_t heurs[KE_FP8_GEMM_CANDIDATES];

  if (!KE_CUBLAS_CHECK (cublasLtCreate (&p->handle), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescCreate (&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_TRANSA,
                                                        &trans_a, sizeof trans_a), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_TRANSB,
                                                        &trans_b, sizeof trans_b), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE,
                                                        &vec, sizeof vec), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE,
                                                        &vec, sizeof vec), error))
    goto fail;

  /* Column-major layouts: A = W as [K, N] (ld K), B = X as [K, M] (ld K), D = [N, M] (ld N). */
  if (!KE_CUBLAS_CHECK (cublasLtMatrixLayoutCreate (&p->a_layout, CUDA_R_8F_E4M3, k_in, n_out, k_in), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatrixLayoutCreate (&p->b_layout, CUDA_R_8F_E4M3, k_in, m_tokens, k_in), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatrixLayoutCreate (&p->d_layout, CUDA_R_16BF, n_out, m_tokens, n_out), error))
    goto fail;

  if (workspace) {
    p->workspace = workspace;
    p->workspace_size = workspace_size;
  } else {
    if (!KE_CUDA_CHECK (cudaMalloc (&p->workspace, KE_GEMM_WORKSPACE), error))
      goto fail;
    p->workspace_size = KE_GEMM_WORKSPACE;
    p->owns_workspace = true;
  }

  if (!KE_CUBLAS_CHECK (cublasLtMatmulPreferenceCreate (&pref), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulPreferenceSetAttribute (
                          pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &p->workspace_size,
                          sizeof p->workspace_size), error))
    goto fail;
  {
    /* cuBLASLt 13.1 answers CUBLAS_STATUS_INVALID_VALUE to the heuristic query when the
     * OUTER_VEC scale pointers are still NULL (measured on the H100).  Any valid device
     * address will do for the query; the real vectors are set per call. */
    if (!KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER,
                                                          &p->workspace, sizeof p->workspace), error) ||
        !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER,
                                                          &p->workspace, sizeof p->workspace), error))
      goto fail;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic (p->handle, p->op, p->a_layout, p->b_layout,
                                                        p->d_layout, p->d_layout, pref,
                                                        KE_FP8_GEMM_CANDIDATES, heurs, &ret_count);
    for (int i = 0; st == CUBLAS_STATUS_SUCCESS && i < ret_count; i++)
      if (heurs[i].state == CUBLAS_STATUS_SUCCESS)
        p->candidates[p->n_candidates++] = heurs[i].algo;
    if (st != CUBLAS_STATUS_SUCCESS || p->n_candidates == 0) {
      ke_set_error (error, KE_ERROR_UNSUPPORTED,
                    "cuBLASLt has no FP8 kernel with per-row/per-column scales for %d×%d×%d "
                    "on this GPU (status %d); FP8 GEMMs need compute capability 8.9 or newer",
                    m_tokens, n_out, k_in, (int) st);
      goto fail;
    }
  }
  p->algo = p->candidates[0]; /* the heuristic's first choice until ke_fp8_gemm_plan_tune */
  cublasLtMatmulPreferenceDestroy (pref);
  return p;

fail:
  if (pref)
    cublasLtMatmulPreferenceDestroy (pref);
  ke_fp8_gemm_plan_free (p);
  return NULL;
}

int
ke_fp8_gemm_plan_m (const ke_fp8_gemm_plan *plan)
{
  return plan->m;
}

bool
ke_fp8_gemm_run (ke_fp8_gemm_plan *p, const uint8_t *x, const float *x_scale, const uint8_t *w,
                 const float *w_scale, uint16_t *y_bf16, void *stream, ke_error **error)
{
  const float alpha = 1.0f, beta = 0.0f;
  /* A is W (its vector has N entries), B is X (M entries). */
  if (!KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER,
                                                        &w_scale, sizeof w_scale), error) ||
      !KE_CUBLAS_CHECK (cublasLtMatmulDescSetAttribute (p->op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER,
                                                        &x_scale, sizeof x_scale), error))
    return false;
  if (!KE_CUBLAS_CHECK (cublasLtMatmul (p->handle, p->op, &alpha, w, p->a_layout, x, p->b_layout,
                                        &beta, y_bf16, p->d_layout, y_bf16, p->d_layout, &p->algo,
                                        p->workspace, p->workspace_size, (cudaStream_t) stream),
                        error))
    return false;
  return KE_CUDA_CHECK (cudaGetLastError (), error);
}

bool
ke_fp8_gemm_plan_tune (ke_fp8_gemm_plan *p, const uint8_t *x, const float *x_scale,
                       const uint8_t *w, const float *w_scale, uint16_t *y_bf16, void *stream,
                       float *first_ms, float *best_ms, ke_error **error)
{
  cudaEvent_t a = NULL, b = NULL;
  float best = INFINITY, first = INFINITY;
  int best_i = 0;
  bool ok = KE_CUDA_CHECK (cudaEventCreate (&a), error) && KE_CUDA_CHECK (cudaEventCreate (&b), error);
  for (int i = 0; ok && i < p->n_candidates; i++) {
    p->algo = p->candidates[i];
    const int reps = 5;
    ke_error *run_error = NULL;
    /* warm-up; a candidate that cannot run here is skipped (the first one must run) */
    if (!ke_fp8_gemm_run (p, x, x_scale, w, w_scale, y_bf16, stream, &run_error)) {
      if (i == 0) {
        if (error)
          *error = run_error;
        else
          ke_error_free (run_error);
        ok = false;
      } else {
        ke_error_free (run_error);
      }
      continue;
    }
    ok = KE_CUDA_CHECK (cudaEventRecord (a, (cudaStream_t) stream), error);
    for (int r = 0; ok && r < reps; r++)
      ok = ke_fp8_gemm_run (p, x, x_scale, w, w_scale, y_bf16, stream, error);
    float ms = 0;
    ok = ok && KE_CUDA_CHECK (cudaEventRecord (b, (cudaStream_t) stream), error) &&
         KE_CUDA_CHECK (cudaEventSynchronize (b), error) &&
         KE_CUDA_CHECK (cudaEventElapsedTime (&ms, a, b), error);
    if (ok && i == 0)
      first = ms / reps;
    if (ok && ms / reps < best) {
      best = ms / reps;
      best_i = i;
    }
  }
  p->algo = p->candidates[ok ? best_i : 0];
  if (first_ms)
    *first_ms = first;
  if (best_ms)
    *best_ms = best;
  if (a)
    cudaEventDestroy (a);
  if (b)
    cudaEventDestroy (b);
  return ok;
}

int
ke_fp8_gemm_plan_candidates (const ke_fp8_gemm_plan *plan)
{
  return plan->n_candidates;
}
