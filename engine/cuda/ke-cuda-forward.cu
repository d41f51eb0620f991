/* ke-cuda-forward.cu — the CUDA backend's forward pass (semantics: ke-backend.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two paths:
 *  - decode (one text token, head_dim 256): the decode kernels of ke-cuda-kernels.h, W8A16
 *    GEMVs (fp8 weights dequantized in registers, bf16 activations: faster and closer to
 *    the bf16 reference than per-token fp8 activations, docs/cuda-notes.md), GeGLU in the
 *    gate+up GEMV's epilogue, split-K attention straight from the cache, the whole step
 *    captured once per KV cache as a CUDA graph (the position is read from device memory);
 *    with a sample request (forward_sample) the logits stay on the device and the sampler
 *    kernels (ke-cuda-sample.cu) run after the graph: only the token id comes back;
 *  - batches (prefill, images, other head sizes): with activation quantization (the
 *    default), per-token fp8 activations and cuBLASLt FP8 GEMMs (plans built at open per
 *    shape and M bucket; gate+up stays bf16 into GeGLU); without it (skip_act_quant, or a
 *    GPU without FP8 tensor cores: sm_80/86), W8A16 GEMMs on bf16 tensor cores
 *    (ke-cuda-gemm-w8a16.h) for batches of 8+ tokens, the W8A16 GEMV per token for fewer.
 *    Attention reads the earlier keys from the cache and the batch's own keys from a scratch buffer, so that a
 *    batch longer than a sliding layer's ring never reads a slot it overwrote; the batch's
 *    keys go to the cache afterwards.
 *
 * Per layer (x: f32 residual stream [T, hidden]):
 *   h = input_layernorm(x) → qkv = [q; k; v] proj → QK-norm + RoPE → attention → o_proj
 *   x += post_attention_layernorm(o);  h = pre_feedforward_layernorm(x)
 *   x += post_feedforward_layernorm(down(gelu_tanh(gate(h)) · up(h)))
 * then norm(x) and the lm_head (the tied embedding).
 */
#include <math.h>
#include <string.h>

#include "ke-cuda-gemm-w8a16.h"
#include "ke-cuda-backend-private.h"

static bool
gemv (cuda_backend *cb, const cuda_linear *lin, const void *x, ke_gemv_type x_type, void *y,
      ke_gemv_type y_type, ke_gemv_epilogue epi, ke_error **error)
{
  ke_gemv_args a;
  memset (&a, 0, sizeof a);
  a.n = lin->out;
  a.k = lin->in;
  a.w_type = KE_GEMV_FP8;
  a.w = lin->w;
  a.w_scale = lin->s;
  a.x_type = x_type;
  a.x = x;
  a.y_type = y_type;
  a.y = y;
  a.epilogue = epi;
  return ke_cuda_gemv (&a, cb->stream, error);
}

/* cb->gemm_out [T, out] (bf16) = x[T, in] · Wᵀ through cuBLASLt: x fp8 rows (cb->xq, scales
 * cb->xs), the plan of T's M bucket (built at open). */
static bool
gemm_bf16 (cuda_backend *cb, int which, const cuda_linear *lin, int T, ke_error **error)
{
  const int b = ke_cuda_bucket (T);
  if (T > KE_CUDA_MAX_BATCH || !cb->plans[which][b])
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No GEMM plan for %d tokens.", T);
  return ke_fp8_gemm_run (cb->plans[which][b], cb->xq, cb->xs, lin->w, lin->s, cb->gemm_out,
                          cb->stream, error);
}

/* Batches of at least this many tokens run the W8A16 linears as GEMMs on bf16 tensor cores
 * (widening the fp8 weight costs about as much as streaming it four times); smaller ones
 * run the per-token GEMV. */
#define KE_W8A16_GEMM_MIN_TOKENS 8

/* The W8A16 GEMM plan for T tokens, or NULL when the batch takes the GEMV path. */
static ke_w8a16_gemm_plan *
w16_plan (cuda_backend *cb, int which, int T)
{
  return T >= KE_W8A16_GEMM_MIN_TOKENS && T <= KE_CUDA_MAX_BATCH
           ? cb->w16_plans[which][ke_cuda_bucket (T)]
           : NULL;
}

/* cb->gemm_out [T, out] (bf16) = x[T, in] (bf16 rows) · W8ᵀ ⊙ scale on bf16 tensor cores. */
static bool
gemm_w16 (cuda_backend *cb, ke_w8a16_gemm_plan *plan, const cuda_linear *lin, const uint16_t *x,
          ke_error **error)
{
  return ke_w8a16_gemm_run (plan, x, lin->w, lin->s, cb->w16_wide, cb->w16_d, cb->gemm_out,
                            cb->stream, error);
}

/* The same, then y[T, out] (f32). */
static bool
gemm (cuda_backend *cb, int which, const cuda_linear *lin, int T, float *y, ke_error **error)
{
  return gemm_bf16 (cb, which, lin, T, error) &&
         ke_cuda_bf16_to_f32 (cb->gemm_out, y, (size_t) T * lin->out, cb->stream, error);
}

/* The lm_head for one row of bf16 activations → cb->logits [vocab]. */
static bool
lm_head (cuda_backend *cb, const uint16_t *x, ke_error **error)
{
  ke_gemv_args a;
  memset (&a, 0, sizeof a);
  a.n = cb->vocab;
  a.k = cb->H;
  if (cb->lm_fp8.w) {
    a.w_type = KE_GEMV_FP8;
    a.w = cb->lm_fp8.w;
    a.w_scale = cb->lm_fp8.s;
  } else {
    a.w_type = KE_GEMV_BF16;
    a.w = cb->lm_bf16;
  }
  a.x_type = KE_GEMV_BF16;
  a.x = x;
  a.y_type = KE_GEMV_F32;
  a.y = cb->logits;
  return ke_cuda_gemv (&a, cb->stream, error);
}

/* Copies cb->logits to the host row `dst` (through pinned memory). */
static bool
logits_to_host (cuda_backend *cb, float *dst, ke_error **error)
{
  size_t bytes = (size_t) cb->vocab * sizeof (float);
  if (!KE_CUDA_CHECK (cudaMemcpyAsync (cb->h_logits, cb->logits, bytes, cudaMemcpyDeviceToHost,
                                       cb->stream), error) ||
      !KE_CUDA_CHECK (cudaStreamSynchronize (cb->stream), error))
    return false;
  memcpy (dst, cb->h_logits, bytes);
  float cap = cb->base.config->text.final_logit_softcapping;
  if (cap > 0.0f)
    for (int i = 0; i < cb->vocab; i++)
      dst[i] = tanhf (dst[i] / cap) * cap;
  return true;
}

/* Samples the next token from cb->logits on the device (ke-cuda-sample.cu); only the id is
 * copied back.  The kv cache's token sets take the request's additions first (only for the
 * penalties that are on: the session resets them at every reply, so skipped ones are never
 * read). */
static bool
sample_on_device (cuda_backend *cb, cuda_kv *kv, const ke_sample_request *req, ke_token *token,
                  ke_error **error)
{
  const ke_sampling *sp = req->params;
  const bool rep = sp->repetition_penalty > 0.0f && sp->repetition_penalty != 1.0f;
  const bool pres = sp->presence_penalty != 0.0f;
  if (!cb->sampler && !(cb->sampler = ke_cuda_sampler_new (cb->vocab, error)))
    return false;
  if ((rep || pres) && !kv->sets && !(kv->sets = ke_cuda_token_sets_new (cb->vocab, error)))
    return false;
  if (rep && !ke_cuda_token_sets_add (kv->sets, 0, req->reset_sets, req->add_context,
                                      req->n_add_context, cb->stream, error))
    return false;
  if (pres && !ke_cuda_token_sets_add (kv->sets, 1, req->reset_sets, req->add_generated,
                                       req->n_add_generated, cb->stream, error))
    return false;
  ke_cuda_sample_params p;
  memset (&p, 0, sizeof p);
  p.softcap = cb->base.config->text.final_logit_softcapping;
  p.temperature = sp->temperature;
  p.top_k = sp->top_k;
  p.top_p = sp->top_p;
  p.min_p = sp->min_p;
  p.repetition_penalty = rep ? sp->repetition_penalty : 1.0f;
  p.presence_penalty = pres ? sp->presence_penalty : 0.0f;
  p.u = req->u;
  if (!ke_cuda_sampler_run (cb->sampler, kv->sets, cb->logits, &p, cb->d_token, cb->stream,
                            error) ||
      !KE_CUDA_CHECK (cudaMemcpyAsync (cb->h_token, cb->d_token, sizeof (int32_t),
                                       cudaMemcpyDeviceToHost, cb->stream), error) ||
      !KE_CUDA_CHECK (cudaStreamSynchronize (cb->stream), error))
    return false;
  if (*cb->h_token < 0 || *cb->h_token >= cb->vocab)
    return ke_set_error (error, KE_ERROR_DEVICE, "The device sampler returned token %d.",
                         *cb->h_token);
  *token = *cb->h_token;
  return true;
}

/* ---- decode step ---------------------------------------------------------------------- */

/* One token: id at cb->d_ids[0], position at cb->d_pos[0]; logits → cb->logits. */
static bool
record_decode_step (cuda_backend *cb, cuda_kv *kv, ke_error **error)
{
  const int H = cb->H;
  ke_norm_out xb_out = { cb->xb, NULL, NULL };
  if (!ke_cuda_embed (cb->d_ids, 1, cb->embed, cb->vocab, H, cb->h, NULL, cb->stream, error) ||
      !ke_cuda_rmsnorm (cb->h, cb->layers[0].norm_in, 1, H, cb->eps, &xb_out, cb->stream, error))
    return false;
  for (int l = 0; l < cb->n_layers; l++) {
    cuda_layer *L = &cb->layers[l];
    ke_rope_args ra = { cb->qkv, 1, cb->nq, cb->nkv, cb->hd, cb->d_pos, L->q_norm, L->k_norm,
                        cb->eps, L->theta, L->rope_scaling, cb->q, kv->k[l], kv->v[l],
                        kv->cap[l] };
    ke_attn_decode_args aa = { cb->q, kv->k[l], kv->v[l], cb->d_pos, cb->nq, cb->nkv, cb->hd,
                               kv->cap[l],
                               /* a cache smaller than the window holds every position: the
                                * window cannot hide any of them */
                               L->sliding && cb->window < kv->cap[l] ? cb->window : 0,
                               cb->attn_scale, 64,
                               cb->attn_ws, cb->att };
    const uint16_t *next = l + 1 < cb->n_layers ? cb->layers[l + 1].norm_in : cb->final_norm;
    if (!gemv (cb, &L->qkv, cb->xb, KE_GEMV_BF16, cb->qkv, KE_GEMV_F32, KE_GEMV_EPI_NONE, error) ||
        !ke_cuda_qk_norm_rope (&ra, cb->stream, error) ||
        !ke_cuda_attn_decode (&aa, cb->stream, error) ||
        !gemv (cb, &L->o, cb->att, KE_GEMV_BF16, cb->y, KE_GEMV_F32, KE_GEMV_EPI_NONE, error) ||
        !ke_cuda_residual_norm (cb->h, cb->y, L->norm_post_attn, L->norm_pre_ff, 1, H, cb->eps,
                                &xb_out, cb->stream, error) ||
        !gemv (cb, &L->gate_up, cb->xb, KE_GEMV_BF16, cb->gemm_out, KE_GEMV_BF16,
               KE_GEMV_EPI_GEGLU, error) ||
        !gemv (cb, &L->down, cb->gemm_out, KE_GEMV_BF16, cb->y, KE_GEMV_F32, KE_GEMV_EPI_NONE,
               error) ||
        !ke_cuda_residual_norm (cb->h, cb->y, L->norm_post_ff, next, 1, H, cb->eps, &xb_out,
                                cb->stream, error))
      return false;
  }
  return lm_head (cb, cb->xb, error);
}

static bool
run_decode_step (cuda_backend *cb, cuda_kv *kv, ke_error **error)
{
  if (!kv->graph && !kv->graph_failed) {
    cudaGraph_t graph = NULL;
    ke_error *capture_error = NULL;
    if (!KE_CUDA_CHECK (cudaStreamBeginCapture (cb->stream, cudaStreamCaptureModeThreadLocal),
                        error))
      return false;
    bool recorded = record_decode_step (cb, kv, &capture_error);
    cudaError_t end = cudaStreamEndCapture (cb->stream, &graph);
    if (recorded && end == cudaSuccess &&
        cudaGraphInstantiate (&kv->graph, graph, 0) == cudaSuccess) {
      cudaGraphDestroy (graph);
    } else {
      /* Not capturable here: launch directly from now on. */
      if (graph)
        cudaGraphDestroy (graph);
      kv->graph = NULL;
      kv->graph_failed = true;
      cudaGetLastError ();
      if (capture_error && capture_error->code == KE_ERROR_INVALID_ARGUMENT) {
        if (error)
          *error = capture_error;
        else
          ke_error_free (capture_error);
        return false;
      }
    }
    ke_error_free (capture_error);
  }
  if (kv->graph)
    return KE_CUDA_CHECK (cudaGraphLaunch (kv->graph, cb->stream), error);
  return record_decode_step (cb, kv, error);
}

/* ---- batches -------------------------------------------------------------------------- */

static bool
forward_batch (cuda_backend *cb, cuda_kv *kv, const ke_batch *batch, int n_images,
               bool keep_logits, ke_error **error)
{
  const int T = (int) batch->n_tokens, H = cb->H, I = cb->I;
  const int pos0 = (int) batch->pos0;
  const bool w8a8 = cb->act_quant;
  ke_norm_out norm_out = w8a8 ? ke_norm_out { NULL, cb->xq, cb->xs }
                              : ke_norm_out { cb->xb, NULL, NULL };
  ke_norm_out xb_out = { cb->xb, NULL, NULL };

  if (!ke_cuda_embed (cb->d_ids, T, cb->embed, cb->vocab, H, cb->h, NULL, cb->stream, error))
    return false;
  uint32_t mm = cb->base.config->mm_tokens_per_image;
  for (int i = 0; i < n_images; i++) {
    const ke_batch_image *img = &batch->images[i];
    if (!KE_CUDA_CHECK (cudaMemcpyAsync (cb->h + (size_t) img->start * H, img->embeds->data,
                                         (size_t) mm * H * sizeof (float),
                                         cudaMemcpyDeviceToDevice, cb->stream), error))
      return false;
  }
  if (!ke_cuda_rmsnorm (cb->h, cb->layers[0].norm_in, T, H, cb->eps, &norm_out, cb->stream, error))
    return false;

  for (int l = 0; l < cb->n_layers; l++) {
    cuda_layer *L = &cb->layers[l];
    const bool last = l + 1 == cb->n_layers;
    const uint16_t *next = last ? cb->final_norm : cb->layers[l + 1].norm_in;

    /* q, k, v → QK-norm + RoPE (the batch's K/V into k_new/v_new, slot p % T) */
    ke_rope_args ra = { cb->qkv, T, cb->nq, cb->nkv, cb->hd, cb->d_pos, L->q_norm, L->k_norm,
                        cb->eps, L->theta, L->rope_scaling, cb->q, cb->k_new, cb->v_new, T };
    ke_w8a16_gemm_plan *w16;
    if (w8a8) {
      if (!gemm_bf16 (cb, GEMM_QKV, &L->qkv, T, error) ||
          !ke_cuda_qk_norm_rope_rows (&ra, cb->gemm_out, cb->stream, error))
        return false;
    } else if ((w16 = w16_plan (cb, GEMM_QKV, T))) {
      if (!gemm_w16 (cb, w16, &L->qkv, cb->xb, error) ||
          !ke_cuda_qk_norm_rope_rows (&ra, cb->gemm_out, cb->stream, error))
        return false;
    } else {
      for (int t = 0; t < T; t++)
        if (!gemv (cb, &L->qkv, cb->xb + (size_t) t * H, KE_GEMV_BF16,
                   cb->qkv + (size_t) t * cb->qkv_n, KE_GEMV_F32, KE_GEMV_EPI_NONE, error))
          return false;
      if (!ke_cuda_qk_norm_rope (&ra, cb->stream, error))
        return false;
    }
    ke_attn_prefill_args aa = { cb->q, kv->k[l], kv->v[l], cb->k_new, cb->v_new, cb->d_group,
                                cb->d_group_start, cb->d_group_len, T, pos0, cb->nq, cb->nkv,
                                cb->hd, kv->cap[l], L->sliding ? cb->window : 0,
                                cb->attn_scale, cb->att };
    if (!ke_cuda_attn_prefill (&aa, cb->stream, error) ||
        !ke_cuda_kv_scatter (cb->k_new, cb->v_new, kv->k[l], kv->v[l], T, pos0, kv->cap[l],
                             cb->nkv, cb->hd, cb->stream, error))
      return false;

    /* o_proj, residual, pre-FF norm */
    if (w8a8) {
      if (!ke_cuda_quant_rows (cb->att, T, cb->qd, cb->xq, cb->xs, cb->stream, error) ||
          !gemm (cb, GEMM_O, &L->o, T, cb->y, error))
        return false;
    } else if ((w16 = w16_plan (cb, GEMM_O, T))) {
      if (!gemm_w16 (cb, w16, &L->o, cb->att, error) ||
          !ke_cuda_bf16_to_f32 (cb->gemm_out, cb->y, (size_t) T * H, cb->stream, error))
        return false;
    } else {
      for (int t = 0; t < T; t++)
        if (!gemv (cb, &L->o, cb->att + (size_t) t * cb->qd, KE_GEMV_BF16, cb->y + (size_t) t * H,
                   KE_GEMV_F32, KE_GEMV_EPI_NONE, error))
          return false;
    }
    if (!ke_cuda_residual_norm (cb->h, cb->y, L->norm_post_attn, L->norm_pre_ff, T, H, cb->eps,
                                &norm_out, cb->stream, error))
      return false;

    /* MLP */
    if (w8a8) {
      if (!gemm_bf16 (cb, GEMM_GATE_UP, &L->gate_up, T, error) ||
          !ke_cuda_geglu_bf16_quant (cb->gemm_out, T, I, cb->xq, cb->xs, cb->stream, error) ||
          !gemm (cb, GEMM_DOWN, &L->down, T, cb->y, error))
        return false;
    } else if ((w16 = w16_plan (cb, GEMM_GATE_UP, T))) {
      if (!gemm_w16 (cb, w16, &L->gate_up, cb->xb, error) ||
          !ke_cuda_geglu_bf16 (cb->gemm_out, T, I, cb->w16_mlp, cb->stream, error) ||
          !gemm_w16 (cb, w16_plan (cb, GEMM_DOWN, T), &L->down, cb->w16_mlp, error) ||
          !ke_cuda_bf16_to_f32 (cb->gemm_out, cb->y, (size_t) T * H, cb->stream, error))
        return false;
    } else {
      for (int t = 0; t < T; t++)
        if (!gemv (cb, &L->gate_up, cb->xb + (size_t) t * H, KE_GEMV_BF16,
                   cb->gemm_out + (size_t) t * I, KE_GEMV_BF16, KE_GEMV_EPI_GEGLU, error) ||
            !gemv (cb, &L->down, cb->gemm_out + (size_t) t * I, KE_GEMV_BF16,
                   cb->y + (size_t) t * H, KE_GEMV_F32, KE_GEMV_EPI_NONE, error))
          return false;
    }
    if (!ke_cuda_residual_norm (cb->h, cb->y, L->norm_post_ff, next, T, H, cb->eps,
                                last ? &xb_out : &norm_out, cb->stream, error))
      return false;
  }

  if (keep_logits) /* the last position's, for the device sampler */
    return lm_head (cb, cb->xb + (size_t) (T - 1) * H, error);
  if (!batch->logits)
    return KE_CUDA_CHECK (cudaStreamSynchronize (cb->stream), error);
  int first = batch->all_logits ? 0 : T - 1;
  for (int r = first; r < T; r++)
    if (!lm_head (cb, cb->xb + (size_t) r * H, error) ||
        !logits_to_host (cb, batch->logits + (size_t) (r - first) * cb->vocab, error))
      return false;
  return true;
}

bool
ke_cuda_forward_impl (cuda_backend *cb, cuda_kv *kv, const ke_batch *batch,
                      const ke_sample_request *sample, ke_token *token, ke_error **error)
{
  const ke_config *config = cb->base.config;
  uint32_t n = batch->n_tokens;
  if (!kv || n == 0 || n > cb->base.max_batch || (!batch->ids && n))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "A batch holds 1 to %u tokens, not %u.",
                         cb->base.max_batch, n);
  if ((uint64_t) batch->pos0 + n > kv->capacity)
    return ke_set_error (error, KE_ERROR_CONTEXT_FULL,
                         "%u + %u tokens do not fit in a context of %u.", batch->pos0, n,
                         kv->capacity);
  if (batch->n_images > n)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Too many images in the batch.");

  /* Host-side inputs: ids, positions, image runs. */
  int32_t group[KE_CUDA_MAX_BATCH], gstart[KE_CUDA_MAX_BATCH], glen[KE_CUDA_MAX_BATCH];
  for (uint32_t t = 0; t < n; t++) {
    group[t] = -1;
    cb->h_pos[t] = (int32_t) (batch->pos0 + t);
    cb->h_ids[t] = batch->ids[t];
  }
  uint32_t mm = config->mm_tokens_per_image;
  for (uint32_t i = 0; i < batch->n_images; i++) {
    const ke_batch_image *img = &batch->images[i];
    if (!img->embeds || img->start > n || n - img->start < mm || img->embeds->rows != mm ||
        img->embeds->width != (uint32_t) cb->H)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "Image %u of the batch does not fit at position %u.", i, img->start);
    for (uint32_t r = 0; r < mm; r++) {
      if (group[img->start + r] >= 0)
        return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Images %d and %u overlap.",
                             group[img->start + r], i);
      group[img->start + r] = (int32_t) i;
      cb->h_ids[img->start + r] = 0; /* the row is replaced by the image's */
    }
    gstart[i] = (int32_t) img->start;
    glen[i] = (int32_t) mm;
  }
  for (uint32_t t = 0; t < n; t++)
    if (group[t] < 0 && (batch->ids[t] < 0 || batch->ids[t] >= cb->vocab))
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "Token id %d is outside the vocabulary (%d).", batch->ids[t], cb->vocab);

  /* A sliding layer's ring of `cap` slots holds position j at slot j % cap.  A batch starting
   * before the end of the last one is a rewind: positions written before it (up to `high`)
   * may still sit in slots that the window needs, namely those of positions j older than
   * the rewind point with j + cap < high.  Positions written since the rewind are fine. */
  uint32_t pos0 = batch->pos0;
  uint32_t fresh_from = pos0 < kv->end ? pos0 : kv->fresh_from;
  for (int l = 0; l < cb->n_layers; l++) {
    uint32_t cap = (uint32_t) kv->cap[l];
    if (cap >= kv->capacity || pos0 == 0)
      continue;
    uint32_t lo = pos0 + 1 > (uint32_t) cb->window ? pos0 + 1 - (uint32_t) cb->window : 0;
    if (lo < fresh_from && (uint64_t) lo + cap < kv->high)
      return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                           "The CUDA backend cannot go back from %u to %u tokens (more than "
                           "%d tokens past the sliding window); start the context again.",
                           kv->high, pos0, KE_CUDA_RING_MARGIN);
  }

  if (!KE_CUDA_CHECK (cudaMemcpyAsync (cb->d_ids, cb->h_ids, n * 4, cudaMemcpyHostToDevice,
                                       cb->stream), error) ||
      !KE_CUDA_CHECK (cudaMemcpyAsync (cb->d_pos, cb->h_pos, n * 4, cudaMemcpyHostToDevice,
                                       cb->stream), error))
    return false;

  bool ok;
  if (n == 1 && batch->n_images == 0 && cb->hd == 256) {
    ok = run_decode_step (cb, kv, error) &&
         (sample           ? sample_on_device (cb, kv, sample, token, error)
          : batch->logits ? logits_to_host (cb, batch->logits, error)
                          : KE_CUDA_CHECK (cudaStreamSynchronize (cb->stream), error));
  } else {
    /* group arrays are read by the attention kernel; pageable copies complete before the
     * call returns, so the stack arrays may go away afterwards. */
    ok = KE_CUDA_CHECK (cudaMemcpyAsync (cb->d_group, group, n * 4, cudaMemcpyHostToDevice,
                                         cb->stream), error) &&
         (batch->n_images == 0 ||
          (KE_CUDA_CHECK (cudaMemcpyAsync (cb->d_group_start, gstart, batch->n_images * 4,
                                           cudaMemcpyHostToDevice, cb->stream), error) &&
           KE_CUDA_CHECK (cudaMemcpyAsync (cb->d_group_len, glen, batch->n_images * 4,
                                           cudaMemcpyHostToDevice, cb->stream), error))) &&
         forward_batch (cb, kv, batch, (int) batch->n_images, sample != NULL, error);
    if (ok)
      ok = sample ? sample_on_device (cb, kv, sample, token, error)
                  : KE_CUDA_CHECK (cudaStreamSynchronize (cb->stream), error);
  }
  if (!ok)
    return false;
  kv->fresh_from = fresh_from;
  kv->end = pos0 + n;
  if (kv->end > kv->high)
    kv->high = kv->end;
  if (kv->end >= kv->high)
    kv->fresh_from = 0; /* nothing stale is left */
  return true;
}
