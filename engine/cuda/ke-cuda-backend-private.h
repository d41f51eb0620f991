/* ke-cuda-backend-private.h — the CUDA backend's state, shared by its files
 * (ke-cuda-backend.cu: open/upload/KV/images; ke-cuda-forward.cu: the forward pass).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <cuda_runtime.h>

extern "C" {
#include "ke-backend.h"
}
#include "ke-cuda.h"
#include "ke-cuda-internal.h"
#include "ke-cuda-kernels.h"
#include "ke-cuda-prefill.h"

/* Most tokens per forward (prefill chunk).  The session splits longer prompts.  2048 keeps
 * the FP8 GEMMs near their large-M efficiency (docs/performance.md) for ~0.26 GB of
 * activation buffers. */
#define KE_CUDA_MAX_BATCH 2048
/* Sliding layers keep this many positions beyond the window, so that a rewind (truncation)
 * of up to this many tokens still finds the window's keys in the ring. */
#define KE_CUDA_RING_MARGIN 2048
/* Prefill GEMM plans, built at open for every M bucket: 16, 32, 64, 128, 256, then
 * multiples of 256 up to KE_CUDA_MAX_BATCH (a batch runs in the smallest bucket ≥ its size;
 * the padding rows are computed and ignored). */
#define KE_CUDA_N_BUCKETS (5 + KE_CUDA_MAX_BATCH / 256 - 1)

static inline int
ke_cuda_bucket_m (int b)
{
  return b < 5 ? 16 << b : 256 * (b - 3);
}

/* The bucket for T tokens (1 ≤ T ≤ KE_CUDA_MAX_BATCH). */
static inline int
ke_cuda_bucket (int T)
{
  if (T > 256)
    return 3 + (T + 255) / 256;
  int b = 0;
  while ((16 << b) < T)
    b++;
  return b;
}

typedef struct {
  uint8_t *w;  /* fp8 [out, in] */
  float *s;    /* f32 [out] */
  int out, in;
} cuda_linear;

typedef struct {
  cuda_linear qkv;    /* q; k; v rows */
  cuda_linear o;
  cuda_linear gate_up; /* gate; up rows */
  cuda_linear down;
  uint16_t *norm_in, *norm_post_attn, *norm_pre_ff, *norm_post_ff; /* bf16 [hidden] */
  uint16_t *q_norm, *k_norm;                                       /* bf16 [head_dim] */
  bool sliding;
  float theta, rope_scaling;
} cuda_layer;

enum { GEMM_QKV, GEMM_O, GEMM_GATE_UP, GEMM_DOWN, N_GEMM };

typedef struct cuda_backend {
  ke_backend base;
  int device;
  bool act_quant;     /* prefill GEMMs quantize activations per token (W8A8) */
  bool broken;        /* a device fault happened: every later call fails */
  cudaStream_t stream;
  int H, I, nq, nkv, hd, qd, kvd, qkv_n, vocab, n_layers, window;
  float eps, attn_scale;

  /* weights */
  uint16_t *embed;    /* bf16 [vocab, H] */
  uint16_t *lm_bf16;  /* bf16 [vocab, H] (the embedding when tied), or NULL */
  cuda_linear lm_fp8; /* an FP8 untied lm_head, else w NULL */
  uint16_t *final_norm;
  cuda_layer *layers;

  /* activations, for KE_CUDA_MAX_BATCH tokens */
  int32_t *d_ids, *d_pos, *d_group, *d_group_start, *d_group_len;
  float *h, *y, *qkv, *logits;
  uint16_t *xb, *q, *att, *gemm_out, *k_new, *v_new;
  uint8_t *xq;
  float *xs;
  float *attn_ws;     /* split-K decode attention workspace */
  int32_t *h_ids, *h_pos; /* pinned staging */
  float *h_logits;       /* pinned [vocab] */
  int32_t *d_token, *h_token; /* the sampled token: device [1], pinned [1] */
  ke_cuda_sampler *sampler;   /* device sampling scratch, made at the first use */
  ke_fp8_gemm_plan *plans[N_GEMM][KE_CUDA_N_BUCKETS];
  void *gemm_ws;          /* the plans' shared cuBLASLt workspace */
  /* W8A16 prefill on bf16 tensor cores (GPUs without FP8 ones, or skip_act_quant): plans
   * per (linear, M bucket) on gemm_ws, the widened weight of the linear being run
   * (bf16, the largest N·K), the GeGLU output (bf16 [B, I]), and f32 scratch [B, max N]
   * when a plan applies the scale in its own kernel (else NULL). */
  struct ke_w8a16_gemm_plan *w16_plans[N_GEMM][KE_CUDA_N_BUCKETS];
  uint16_t *w16_wide, *w16_mlp;
  float *w16_d;

  /* images: the GPU vision tower (ke-cuda-vision.cu); for shapes it does not take, the
   * CPU backend's tower with the embeddings uploaded */
  struct ke_cuda_vision *vision; /* made at the first image: text-only use never pays for it */
  bool vision_cpu;                 /* the GPU tower does not take this shape: use the CPU's */
  void *cpu_pool;
} cuda_backend;

typedef struct cuda_kv {
  uint32_t capacity;
  /* Ring bookkeeping (see the check in ke-cuda-forward.cu): positions [fresh_from, end)
   * were written since the last rewind, `high` is the highest position ever written + 1. */
  uint32_t end, fresh_from, high;
  int *cap;               /* [layers] slots per layer */
  uint16_t **k, **v;      /* [layers] → [nkv, cap, hd] */
  ke_cuda_token_sets *sets; /* the penalties' token sets (device sampling), or NULL */
  cudaGraphExec_t graph;  /* the decode step for this cache, or NULL */
  bool graph_failed;
} cuda_kv;

struct ke_image_embeds {
  uint32_t rows, width;
  float *data; /* device f32 [rows, width] */
};

/* ke-cuda-forward.cu */
/* With `sample` (and batch->logits NULL): the last position's logits stay on the device
 * and the token sampled there lands in *token. */
bool ke_cuda_forward_impl (cuda_backend *cb, cuda_kv *kv, const ke_batch *batch,
                           const ke_sample_request *sample, ke_token *token, ke_error **error);
void ke_cuda_kv_drop_graph (cuda_kv *kv);
