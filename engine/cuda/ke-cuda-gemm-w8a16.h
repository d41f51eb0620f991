/* ke-cuda-gemm-w8a16.h — W8A16 GEMMs on bf16 tensor cores (host interface, C-callable).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * For GPUs without FP8 tensor cores (sm_80/86: A100, RTX 30xx), and for W8A16 prefill
 * (skip_act_quant) on any GPU:
 *
 *   Y[M, N] (bf16, row-major) = bf16 ((X[M, K] · W8[N, K]ᵀ) ⊙ w_scale[N])
 *
 * X: bf16 activations, row-major.  W8: fp8 e4m3 weights [out, in] as the checkpoint stores
 * them, one f32 scale per output channel.  The same function as the W8A16 GEMV: the sum is
 * taken in f32 over the exact weight values and scaled once, at the end.
 *
 * How: every e4m3 value is exactly a bf16 value, so W8 is widened to bf16 without rounding
 * into a scratch buffer (one pass, N·K·3 bytes of traffic: ~0.1 ms for the largest 4b
 * matrix), and cuBLASLt multiplies bf16 × bf16 with f32 accumulation.  The scale is applied
 * to the f32 sum before the one rounding to bf16, in one of two ways:
 *   KE_W8A16_ALPHA_VECTOR — cuBLASLt's per-row alpha vector (D's rows are W's output
 *     channels), bf16 D straight out of the GEMM;
 *   KE_W8A16_F32_SCALE — an f32 D (M·N·4 bytes of scratch) and one kernel that scales and
 *     rounds, for cuBLASLt builds that offer no alpha-vector kernel for the shape.
 * KE_W8A16_AUTO takes the first that cuBLASLt has a kernel for.  Descriptors, layouts and
 * the algorithm are chosen once per shape (the plan), never per call.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ke-engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ke_w8a16_gemm_plan ke_w8a16_gemm_plan;

typedef enum {
  KE_W8A16_AUTO,
  KE_W8A16_ALPHA_VECTOR,
  KE_W8A16_F32_SCALE,
} ke_w8a16_mode;

/* A plan for exactly M × N × K (N and K multiples of 8).  `workspace` (device memory of
 * `workspace_size` bytes) may be shared by plans that run on one stream; NULL gives the
 * plan its own.  A mode other than AUTO that cuBLASLt cannot do fails (KE_ERROR_UNSUPPORTED). */
ke_w8a16_gemm_plan *ke_w8a16_gemm_plan_new (int m_tokens, int n_out, int k_in, ke_w8a16_mode mode,
                                            void *workspace, size_t workspace_size,
                                            ke_error **error);
void ke_w8a16_gemm_plan_free (ke_w8a16_gemm_plan *plan);
/* KE_W8A16_ALPHA_VECTOR or KE_W8A16_F32_SCALE: what the plan does. */
ke_w8a16_mode ke_w8a16_gemm_plan_mode (const ke_w8a16_gemm_plan *plan);

/* Scratch a call needs: w_bf16 holds N·K bf16 (the widened weight); d_f32 holds M·N f32 and
 * is needed only by KE_W8A16_F32_SCALE plans (NULL otherwise). */
size_t ke_w8a16_gemm_scratch_w_bytes (int n_out, int k_in);
size_t ke_w8a16_gemm_scratch_d_bytes (int m_tokens, int n_out);

/* All pointers are device pointers; stream may be NULL (legacy default stream). */
bool ke_w8a16_gemm_run (ke_w8a16_gemm_plan *plan, const uint16_t *x_bf16, const uint8_t *w8,
                        const float *w_scale, uint16_t *w_bf16_scratch, float *d_f32_scratch,
                        uint16_t *y_bf16, void *stream, ke_error **error);

#ifdef __cplusplus
}
#endif
