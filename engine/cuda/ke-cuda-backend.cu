/* ke-cuda-backend.cu — the CUDA backend behind the ke_backend vtable (see ke-backend.h):
 * device choice, weight upload, KV caches, images, fault handling.  The forward pass is in
 * ke-cuda-forward.cu.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Weights are uploaded once at open: the FP8 linears as [out, in] e4m3 + f32 scales, with
 * q/k/v and gate/up concatenated row-wise (one GEMV each); the embedding (also the tied
 * lm_head) and the norms as bf16.  Images run through the GPU vision tower (ke-cuda-vision.cu,
 * made at the first image); a vision shape it does not take falls back to the CPU backend's
 * tower with the embeddings uploaded.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ke-cuda-backend-private.h"
#include "ke-cuda-gemm-w8a16.h"
#include "ke-cuda-vision.h"
#include "ke-numeric.h"

extern "C" {
#include "ke-cpu.h"
}

#define GIB (1024.0 * 1024.0 * 1024.0)

/* ---- error handling ----------------------------------------------------------------- */

/* After a device fault (a sticky CUDA error) nothing on the context works any more; the
 * backend refuses every later call instead of touching the device. */
static bool
check_broken (cuda_backend *cb, ke_error **error)
{
  if (!cb->broken)
    return true;
  return ke_set_error (error, KE_ERROR_DEVICE,
                       "The GPU backend had a device fault earlier and can no longer be used; "
                       "reopen the model.");
}

/* Runs the result of a fallible step: marks the backend broken when it failed with a
 * device error, and hands the error to the caller. */
static bool
finish (cuda_backend *cb, bool ok, ke_error *local, ke_error **error)
{
  if (ok)
    return true;
  if (local && local->code == KE_ERROR_DEVICE) {
    cudaError_t sticky = cudaDeviceSynchronize ();
    if (sticky != cudaSuccess && cudaGetLastError () != cudaSuccess &&
        cudaDeviceSynchronize () != cudaSuccess)
      cb->broken = true; /* the error persists: a sticky fault */
  }
  if (error)
    *error = local;
  else
    ke_error_free (local);
  return false;
}

/* ---- upload helpers ------------------------------------------------------------------ */

static void *
dev_alloc (size_t bytes, ke_error **error)
{
  void *p = NULL;
  if (!KE_CUDA_CHECK (cudaMalloc (&p, bytes ? bytes : 16), error))
    return NULL;
  return p;
}

static uint16_t *
upload_bf16_vector (const ke_tensor *t, size_t n, ke_error **error)
{
  if (!t->data || !ke_cpu_tensor_is_float (t) || t->ndim != 1 || (size_t) t->shape[0] != n) {
    ke_set_error (error, KE_ERROR_FORMAT, "Norm weight %s is missing or not a float vector of %zu.",
                  t->name ? t->name : "(unnamed)", n);
    return NULL;
  }
  float *f = (float *) ke_malloc_array (n, sizeof (float));
  uint16_t *b = (uint16_t *) ke_malloc_array (n, sizeof (uint16_t));
  uint16_t *d = NULL;
  if (!f || !b) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    goto out;
  }
  ke_cpu_tensor_to_f32 (t, 0, n, f);
  for (size_t i = 0; i < n; i++)
    b[i] = ke_f32_to_bf16 (f[i]);
  d = (uint16_t *) dev_alloc (n * 2, error);
  if (d && !KE_CUDA_CHECK (cudaMemcpy (d, b, n * 2, cudaMemcpyHostToDevice), error)) {
    cudaFree (d);
    d = NULL;
  }
out:
  free (f);
  free (b);
  return d;
}

/* A bf16 [rows, cols] matrix from a BF16/F16/F32 tensor (converted in chunks). */
static uint16_t *
upload_bf16_matrix (const ke_tensor *t, size_t rows, size_t cols, ke_error **error)
{
  size_t n = rows * cols;
  uint16_t *d = (uint16_t *) dev_alloc (n * 2, error);
  if (!d)
    return NULL;
  if (t->dtype == KE_DTYPE_BF16) {
    if (!KE_CUDA_CHECK (cudaMemcpy (d, t->data, n * 2, cudaMemcpyHostToDevice), error)) {
      cudaFree (d);
      return NULL;
    }
    return d;
  }
  const size_t chunk = 1u << 20;
  float *f = (float *) ke_malloc_array (chunk, sizeof (float));
  uint16_t *b = (uint16_t *) ke_malloc_array (chunk, sizeof (uint16_t));
  bool ok = f && b;
  if (!ok)
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
  for (size_t first = 0; ok && first < n; first += chunk) {
    size_t m = n - first < chunk ? n - first : chunk;
    ke_cpu_tensor_to_f32 (t, first, m, f);
    for (size_t i = 0; i < m; i++)
      b[i] = ke_f32_to_bf16 (f[i]);
    ok = KE_CUDA_CHECK (cudaMemcpy (d + first, b, m * 2, cudaMemcpyHostToDevice), error);
  }
  free (f);
  free (b);
  if (!ok) {
    cudaFree (d);
    return NULL;
  }
  return d;
}

static bool
check_fp8 (const ke_linear *l, size_t out, size_t in, ke_error **error)
{
  const ke_tensor *w = &l->weight;
  const char *name = w->name ? w->name : "(unnamed linear)";
  if (!w->data || w->ndim != 2 || (size_t) w->shape[0] != out || (size_t) w->shape[1] != in)
    return ke_set_error (error, KE_ERROR_FORMAT, "Linear weight %s is missing or not [%zu, %zu].",
                         name, out, in);
  if (w->dtype != KE_DTYPE_F8_E4M3)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "The CUDA backend runs FP8 linears; %s is not FP8.", name);
  if (!l->scale.data || l->scale.dtype != KE_DTYPE_F32 || l->scale.nbytes < out * sizeof (float))
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "FP8 linear %s lacks a float32 per-channel scale of %zu.", name, out);
  if (l->bias.data)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "Linear %s has a bias.", name);
  return true;
}

/* Uploads the row-wise concatenation of parts[0..n) (each FP8 [rows_i, in]). */
static bool
upload_fp8 (cuda_linear *dst, const ke_linear *const *parts, const size_t *rows, int n,
            size_t in, ke_error **error)
{
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    if (!check_fp8 (parts[i], rows[i], in, error))
      return false;
    total += rows[i];
  }
  dst->out = (int) total;
  dst->in = (int) in;
  dst->w = (uint8_t *) dev_alloc (total * in, error);
  if (!dst->w)
    return false;
  dst->s = (float *) dev_alloc (total * sizeof (float), error);
  if (!dst->s)
    return false;
  size_t row = 0;
  for (int i = 0; i < n; i++) {
    if (!KE_CUDA_CHECK (cudaMemcpy (dst->w + row * in, parts[i]->weight.data, rows[i] * in,
                                    cudaMemcpyHostToDevice), error) ||
        !KE_CUDA_CHECK (cudaMemcpy (dst->s + row, parts[i]->scale.data, rows[i] * sizeof (float),
                                    cudaMemcpyHostToDevice), error))
      return false;
    row += rows[i];
  }
  return true;
}

/* ---- backend ops --------------------------------------------------------------------- */

static void
linear_free (cuda_linear *l)
{
  cudaFree (l->w);
  cudaFree (l->s);
}

static void
cuda_destroy (ke_backend *backend)
{
  cuda_backend *cb = (cuda_backend *) backend;
  if (!cb)
    return;
  if (cb->layers) {
    for (int l = 0; l < cb->n_layers; l++) {
      cuda_layer *L = &cb->layers[l];
      linear_free (&L->qkv);
      linear_free (&L->o);
      linear_free (&L->gate_up);
      linear_free (&L->down);
      cudaFree (L->norm_in);
      cudaFree (L->norm_post_attn);
      cudaFree (L->norm_pre_ff);
      cudaFree (L->norm_post_ff);
      cudaFree (L->q_norm);
      cudaFree (L->k_norm);
    }
    free (cb->layers);
  }
  for (int g = 0; g < N_GEMM; g++)
    for (int b = 0; b < KE_CUDA_N_BUCKETS; b++) {
      ke_fp8_gemm_plan_free (cb->plans[g][b]);
      ke_w8a16_gemm_plan_free (cb->w16_plans[g][b]);
    }
  if (cb->lm_bf16 != cb->embed)
    cudaFree (cb->lm_bf16);
  cudaFree (cb->embed);
  linear_free (&cb->lm_fp8);
  cudaFree (cb->final_norm);
  void *bufs[] = { cb->d_ids, cb->d_pos, cb->d_group, cb->d_group_start, cb->d_group_len,
                   cb->h, cb->y, cb->qkv, cb->logits, cb->xb, cb->q, cb->att,
                   cb->gemm_out, cb->k_new, cb->v_new, cb->xq, cb->xs, cb->attn_ws,
                   cb->gemm_ws, cb->w16_wide, cb->w16_mlp, cb->w16_d };
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    cudaFree (bufs[i]);
  cudaFreeHost (cb->h_ids);
  cudaFreeHost (cb->h_pos);
  cudaFreeHost (cb->h_logits);
  ke_cuda_vision_free (cb->vision); /* before its stream goes */
  cudaFree (cb->d_token);
  cudaFreeHost (cb->h_token);
  ke_cuda_sampler_free (cb->sampler);
  if (cb->stream)
    cudaStreamDestroy (cb->stream);
  ke_cpu_pool_free ((ke_cpu_pool *) cb->cpu_pool);
  free (cb);
}

void
ke_cuda_kv_drop_graph (cuda_kv *kv)
{
  if (kv->graph)
    cudaGraphExecDestroy (kv->graph);
  kv->graph = NULL;
}

static void
cuda_kv_free (ke_backend *backend, ke_kv_cache *cache)
{
  cuda_backend *cb = (cuda_backend *) backend;
  cuda_kv *kv = (cuda_kv *) cache;
  if (!kv)
    return;
  ke_cuda_kv_drop_graph (kv);
  ke_cuda_token_sets_free (kv->sets);
  if (kv->k)
    for (int l = 0; l < cb->n_layers; l++) {
      cudaFree (kv->k[l]);
      cudaFree (kv->v[l]);
    }
  free (kv->k);
  free (kv->v);
  free (kv->cap);
  free (kv);
}

static ke_kv_cache *
cuda_kv_new (ke_backend *backend, uint32_t capacity, ke_error **error)
{
  cuda_backend *cb = (cuda_backend *) backend;
  if (!check_broken (cb, error))
    return NULL;
  if (capacity == 0 || capacity > (uint32_t) INT32_MAX) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "A KV cache of %u positions is not possible.",
                  capacity);
    return NULL;
  }
  cuda_kv *kv = (cuda_kv *) calloc (1, sizeof *kv);
  if (!kv) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  kv->capacity = capacity;
  kv->cap = (int *) calloc ((size_t) cb->n_layers, sizeof (int));
  kv->k = (uint16_t **) calloc ((size_t) cb->n_layers, sizeof (uint16_t *));
  kv->v = (uint16_t **) calloc ((size_t) cb->n_layers, sizeof (uint16_t *));
  if (!kv->cap || !kv->k || !kv->v) {
    cuda_kv_free (backend, (ke_kv_cache *) kv);
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  /* bf16 [nkv, slots, hd]: global layers hold every position, sliding layers a ring. */
  size_t total = 0;
  for (int l = 0; l < cb->n_layers; l++) {
    uint32_t slots = capacity;
    if (cb->layers[l].sliding && cb->window > 0 &&
        (uint64_t) cb->window + KE_CUDA_RING_MARGIN < capacity)
      slots = (uint32_t) cb->window + KE_CUDA_RING_MARGIN;
    kv->cap[l] = (int) slots;
    total += 2 * (size_t) cb->nkv * slots * cb->hd * 2;
  }
  size_t free_b = 0, total_b = 0;
  if (!KE_CUDA_CHECK (cudaMemGetInfo (&free_b, &total_b), error)) {
    cuda_kv_free (backend, (ke_kv_cache *) kv);
    return NULL;
  }
  if (total + (64u << 20) > free_b) {
    ke_set_error (error, KE_ERROR_DEVICE_MEMORY,
                  "Not enough GPU memory for a context of %u tokens: needs %.2f GiB, %.2f GiB "
                  "free.", capacity, total / GIB, free_b / GIB);
    cuda_kv_free (backend, (ke_kv_cache *) kv);
    return NULL;
  }
  for (int l = 0; l < cb->n_layers; l++) {
    size_t bytes = (size_t) cb->nkv * kv->cap[l] * cb->hd * 2;
    kv->k[l] = (uint16_t *) dev_alloc (bytes, error);
    kv->v[l] = kv->k[l] ? (uint16_t *) dev_alloc (bytes, error) : NULL;
    if (!kv->v[l] || !KE_CUDA_CHECK (cudaMemset (kv->k[l], 0, bytes), error) ||
        !KE_CUDA_CHECK (cudaMemset (kv->v[l], 0, bytes), error)) {
      cuda_kv_free (backend, (ke_kv_cache *) kv);
      return NULL;
    }
  }
  /* The memsets ran on the legacy stream; the backend's stream does not wait for it. */
  if (!KE_CUDA_CHECK (cudaDeviceSynchronize (), error)) {
    cuda_kv_free (backend, (ke_kv_cache *) kv);
    return NULL;
  }
  return (ke_kv_cache *) kv;
}

static ke_image_embeds *
cuda_encode_image (ke_backend *backend, const ke_image *image, ke_error **error)
{
  cuda_backend *cb = (cuda_backend *) backend;
  const ke_config *config = backend->config;
  if (!check_broken (cb, error))
    return NULL;
  if (!config->has_vision) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED, "This model does not take images.");
    return NULL;
  }
  /* The tower (~1 GiB of bf16 weights and buffers for Gemma 3) goes to the GPU with the
   * first image, so a text-only conversation leaves that memory free.  A failure (out of
   * memory, say) is this image's error; the next image tries again. */
  if (!cb->vision && !cb->vision_cpu) {
    ke_error *local = NULL;
    cb->vision = ke_cuda_vision_new (config, backend->weights, cb->stream, &local);
    if (!cb->vision) {
      if (local->code != KE_ERROR_UNSUPPORTED) {
        if (local->code == KE_ERROR_DEVICE_MEMORY) {
          ke_set_error (error, KE_ERROR_DEVICE_MEMORY,
                        "Not enough GPU memory for the vision tower (%s).", local->message);
          ke_error_free (local);
        } else {
          ke_propagate_error (error, local);
        }
        return NULL;
      }
      ke_error_free (local); /* unsupported shape: images go through the CPU tower */
      cb->vision_cpu = true;
    }
  }
  if (cb->vision) {
    ke_error *local = NULL;
    ke_image_embeds *ge = (ke_image_embeds *) calloc (1, sizeof *ge);
    if (!ge) {
      ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory for image embeddings.");
      return NULL;
    }
    ge->rows = config->mm_tokens_per_image;
    ge->width = config->text.hidden_size;
    ge->data = (float *) dev_alloc ((size_t) ge->rows * ge->width * sizeof (float), &local);
    bool gok = ge->data && ke_cuda_vision_encode_image (cb->vision, image, &config->preprocess,
                                                        ge->data, &local);
    if (!finish (cb, gok, local, error)) {
      cudaFree (ge->data);
      free (ge);
      return NULL;
    }
    return ge;
  }
  if (config->preprocess.do_resize && (config->preprocess.width != config->vision.image_size ||
                                       config->preprocess.height != config->vision.image_size)) {
    ke_set_error (error, KE_ERROR_FORMAT,
                  "The preprocessor size %u×%u does not match the vision tower's %u.",
                  config->preprocess.width, config->preprocess.height, config->vision.image_size);
    return NULL;
  }
  if (!config->preprocess.do_resize &&
      (image->width != config->vision.image_size || image->height != config->vision.image_size)) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Without resizing, images must be %u×%u.",
                  config->vision.image_size, config->vision.image_size);
    return NULL;
  }
  if (!cb->cpu_pool) {
    cb->cpu_pool = ke_cpu_pool_new (0, error);
    if (!cb->cpu_pool)
      return NULL;
  }
  float *pixels = ke_image_preprocess (image, &config->preprocess, error);
  if (!pixels)
    return NULL;
  uint32_t rows = config->mm_tokens_per_image, width = config->text.hidden_size;
  size_t n = (size_t) rows * width;
  float *host = (float *) ke_malloc_array (n, sizeof (float));
  ke_image_embeds *e = (ke_image_embeds *) calloc (1, sizeof *e);
  bool ok = host && e;
  if (!ok)
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory for image embeddings.");
  ok = ok && ke_cpu_vision_encode ((ke_cpu_pool *) cb->cpu_pool, config, backend->weights,
                                   pixels, host, error);
  free (pixels);
  if (ok) {
    ke_error *local = NULL;
    e->rows = rows;
    e->width = width;
    e->data = (float *) dev_alloc (n * sizeof (float), &local);
    ok = e->data && KE_CUDA_CHECK (cudaMemcpy (e->data, host, n * sizeof (float),
                                               cudaMemcpyHostToDevice), &local);
    ok = finish (cb, ok, local, error);
  }
  free (host);
  if (!ok) {
    if (e)
      cudaFree (e->data);
    free (e);
    return NULL;
  }
  return e;
}

static void
cuda_embeds_free (ke_backend *backend, ke_image_embeds *embeds)
{
  (void) backend;
  if (!embeds)
    return;
  cudaFree (embeds->data);
  free (embeds);
}

static bool
cuda_forward (ke_backend *backend, ke_kv_cache *kv, const ke_batch *batch, ke_error **error)
{
  cuda_backend *cb = (cuda_backend *) backend;
  if (!check_broken (cb, error))
    return false;
  ke_error *local = NULL;
  bool ok = ke_cuda_forward_impl (cb, (cuda_kv *) kv, batch, NULL, NULL, &local);
  return finish (cb, ok, local, error);
}

static bool
cuda_forward_sample (ke_backend *backend, ke_kv_cache *kv, const ke_batch *batch,
                     const ke_sample_request *request, ke_token *token, ke_error **error)
{
  cuda_backend *cb = (cuda_backend *) backend;
  if (!check_broken (cb, error))
    return false;
  if (!request || !request->params || !token || batch->logits)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "forward_sample takes a request and no logits buffer.");
  ke_error *local = NULL;
  bool ok = ke_cuda_forward_impl (cb, (cuda_kv *) kv, batch, request, token, &local);
  return finish (cb, ok, local, error);
}

/* Sampling on the device: only the token id comes back (KESTREL_CUDA_HOST_SAMPLING=1 picks
 * the host sampler instead, for comparisons). */
static const ke_backend_ops cuda_ops = {
  "cuda", cuda_destroy, cuda_kv_new, cuda_kv_free, cuda_encode_image, cuda_embeds_free,
  cuda_forward, cuda_forward_sample,
};
static const ke_backend_ops cuda_ops_host_sampling = {
  "cuda", cuda_destroy, cuda_kv_new, cuda_kv_free, cuda_encode_image, cuda_embeds_free,
  cuda_forward, NULL,
};

/* ---- open ---------------------------------------------------------------------------- */

static bool
upload_weights (cuda_backend *cb, const ke_config *config, const ke_weights *W, ke_error **error)
{
  const ke_text_config *tc = &config->text;
  size_t H = cb->H, hd = cb->hd, V = cb->vocab;
  if (!W->embed_tokens.data || !ke_cpu_tensor_is_float (&W->embed_tokens) ||
      W->embed_tokens.ndim != 2 || (size_t) W->embed_tokens.shape[0] != V ||
      (size_t) W->embed_tokens.shape[1] != H)
    return ke_set_error (error, KE_ERROR_FORMAT, "embed_tokens is missing or not [%zu, %zu].", V, H);
  cb->embed = upload_bf16_matrix (&W->embed_tokens, V, H, error);
  if (!cb->embed)
    return false;
  const ke_tensor *lm = &W->lm_head.weight;
  if (lm->data == W->embed_tokens.data) {
    cb->lm_bf16 = cb->embed;
  } else if (lm->dtype == KE_DTYPE_F8_E4M3) {
    const ke_linear *parts[1] = { &W->lm_head };
    size_t rows[1] = { V };
    if (!upload_fp8 (&cb->lm_fp8, parts, rows, 1, H, error))
      return false;
  } else {
    if (!lm->data || !ke_cpu_tensor_is_float (lm) || lm->ndim != 2 ||
        (size_t) lm->shape[0] != V || (size_t) lm->shape[1] != H)
      return ke_set_error (error, KE_ERROR_FORMAT, "lm_head is missing or not [%zu, %zu].", V, H);
    cb->lm_bf16 = upload_bf16_matrix (lm, V, H, error);
    if (!cb->lm_bf16)
      return false;
  }
  cb->final_norm = upload_bf16_vector (&W->norm, H, error);
  if (!cb->final_norm)
    return false;
  for (int l = 0; l < cb->n_layers; l++) {
    const ke_text_layer *L = &W->layers[l];
    cuda_layer *D = &cb->layers[l];
    const ke_linear *qkv[3] = { &L->q_proj, &L->k_proj, &L->v_proj };
    size_t qkv_rows[3] = { (size_t) cb->qd, (size_t) cb->kvd, (size_t) cb->kvd };
    const ke_linear *o[1] = { &L->o_proj };
    size_t o_rows[1] = { H };
    const ke_linear *gu[2] = { &L->gate_proj, &L->up_proj };
    size_t gu_rows[2] = { (size_t) cb->I, (size_t) cb->I };
    const ke_linear *down[1] = { &L->down_proj };
    if (!upload_fp8 (&D->qkv, qkv, qkv_rows, 3, H, error) ||
        !upload_fp8 (&D->o, o, o_rows, 1, (size_t) cb->qd, error) ||
        !upload_fp8 (&D->gate_up, gu, gu_rows, 2, H, error) ||
        !upload_fp8 (&D->down, down, o_rows, 1, (size_t) cb->I, error))
      return false;
    if (!(D->norm_in = upload_bf16_vector (&L->input_layernorm, H, error)) ||
        !(D->norm_post_attn = upload_bf16_vector (&L->post_attention_layernorm, H, error)) ||
        !(D->norm_pre_ff = upload_bf16_vector (&L->pre_feedforward_layernorm, H, error)) ||
        !(D->norm_post_ff = upload_bf16_vector (&L->post_feedforward_layernorm, H, error)) ||
        !(D->q_norm = upload_bf16_vector (&L->q_norm, hd, error)) ||
        !(D->k_norm = upload_bf16_vector (&L->k_norm, hd, error)))
      return false;
    D->sliding = tc->layer_kind[l] == KE_LAYER_SLIDING;
    D->theta = D->sliding ? tc->rope_local_base_freq : tc->rope_theta;
    D->rope_scaling = (!D->sliding && tc->rope_scaling_factor > 0) ? tc->rope_scaling_factor : 1.0f;
  }
  return true;
}

static bool
alloc_buffers (cuda_backend *cb, ke_error **error)
{
  size_t B = KE_CUDA_MAX_BATCH, H = cb->H, I = cb->I;
  size_t widest = I > (size_t) cb->qd ? I : (size_t) cb->qd;
  if (H > widest)
    widest = H;
  size_t gemm_n = 2 * I > (size_t) cb->qkv_n ? 2 * I : (size_t) cb->qkv_n;
  if (H > gemm_n)
    gemm_n = H;
  int splits = 64;
  if (!(cb->d_ids = (int32_t *) dev_alloc (B * 4, error)) ||
      !(cb->d_pos = (int32_t *) dev_alloc (B * 4, error)) ||
      !(cb->d_group = (int32_t *) dev_alloc (B * 4, error)) ||
      !(cb->d_group_start = (int32_t *) dev_alloc (B * 4, error)) ||
      !(cb->d_group_len = (int32_t *) dev_alloc (B * 4, error)) ||
      !(cb->h = (float *) dev_alloc (B * H * 4, error)) ||
      !(cb->y = (float *) dev_alloc (B * H * 4, error)) ||
      !(cb->qkv = (float *) dev_alloc (B * cb->qkv_n * 4, error)) ||
      !(cb->logits = (float *) dev_alloc ((size_t) cb->vocab * 4, error)) ||
      !(cb->xb = (uint16_t *) dev_alloc (B * widest * 2, error)) ||
      !(cb->q = (uint16_t *) dev_alloc (B * cb->qd * 2, error)) ||
      !(cb->att = (uint16_t *) dev_alloc (B * cb->qd * 2, error)) ||
      !(cb->gemm_out = (uint16_t *) dev_alloc (B * gemm_n * 2, error)) ||
      !(cb->k_new = (uint16_t *) dev_alloc (B * cb->kvd * 2, error)) ||
      !(cb->v_new = (uint16_t *) dev_alloc (B * cb->kvd * 2, error)) ||
      !(cb->xq = (uint8_t *) dev_alloc (B * widest, error)) ||
      !(cb->xs = (float *) dev_alloc (B * 4, error)) ||
      !(cb->attn_ws = (float *) dev_alloc (
          ke_cuda_attn_decode_workspace_floats (cb->nq, cb->hd, splits) * 4, error)))
    return false;
  /* Padded GEMM rows read whatever the buffers hold: start from zeros. */
  if (!KE_CUDA_CHECK (cudaMemset (cb->xq, 0, B * widest), error) ||
      !KE_CUDA_CHECK (cudaMemset (cb->xs, 0, B * 4), error) ||
      !KE_CUDA_CHECK (cudaMallocHost ((void **) &cb->h_ids, B * 4), error) ||
      !KE_CUDA_CHECK (cudaMallocHost ((void **) &cb->h_pos, B * 4), error) ||
      !KE_CUDA_CHECK (cudaMallocHost ((void **) &cb->h_logits, (size_t) cb->vocab * 4), error) ||
      !(cb->d_token = (int32_t *) dev_alloc (4, error)) ||
      !KE_CUDA_CHECK (cudaMallocHost ((void **) &cb->h_token, 4), error))
    return false;
  return true;
}

/* The FP8 GEMM plans of every (linear, M bucket), sharing one workspace: built here once,
 * so that no call chooses an algorithm or allocates. */
static bool
build_gemm_plans (cuda_backend *cb, ke_error **error)
{
  const int n[N_GEMM] = { cb->qkv_n, cb->H, 2 * cb->I, cb->H };
  const int k[N_GEMM] = { cb->H, cb->qd, cb->H, cb->I };
  cb->gemm_ws = dev_alloc (KE_FP8_GEMM_WORKSPACE, error);
  if (!cb->gemm_ws)
    return false;
  for (int g = 0; g < N_GEMM; g++)
    for (int b = 0; b < KE_CUDA_N_BUCKETS; b++) {
      cb->plans[g][b] = ke_fp8_gemm_plan_new_shared (ke_cuda_bucket_m (b), n[g], k[g], cb->gemm_ws,
                                                     KE_FP8_GEMM_WORKSPACE, error);
      if (!cb->plans[g][b])
        return false;
    }
  return true;
}

/* The W8A16 GEMM plans (bf16 tensor cores) of every (linear, M bucket) and their scratch,
 * for prefill without FP8 tensor cores or with skip_act_quant.  Shapes cuBLASLt cannot take
 * (N or K not a multiple of 8, e.g. some tiny test models) leave the plans NULL: the batch
 * then runs the per-token GEMV. */
static bool
build_w8a16_plans (cuda_backend *cb, ke_error **error)
{
  const int n[N_GEMM] = { cb->qkv_n, cb->H, 2 * cb->I, cb->H };
  const int k[N_GEMM] = { cb->H, cb->qd, cb->H, cb->I };
  size_t wide = 0, widest_n = 0;
  bool need_d = false;
  for (int g = 0; g < N_GEMM; g++)
    if (n[g] % 8 || k[g] % 8)
      return true;
  if (!(cb->gemm_ws = dev_alloc (KE_FP8_GEMM_WORKSPACE, error)))
    return false;
  for (int g = 0; g < N_GEMM; g++) {
    for (int b = 0; b < KE_CUDA_N_BUCKETS; b++) {
      cb->w16_plans[g][b] = ke_w8a16_gemm_plan_new (ke_cuda_bucket_m (b), n[g], k[g], KE_W8A16_AUTO,
                                                    cb->gemm_ws, KE_FP8_GEMM_WORKSPACE, error);
      if (!cb->w16_plans[g][b])
        return false;
      need_d |= ke_w8a16_gemm_plan_mode (cb->w16_plans[g][b]) == KE_W8A16_F32_SCALE;
    }
    size_t wb = ke_w8a16_gemm_scratch_w_bytes (n[g], k[g]);
    wide = wb > wide ? wb : wide;
    widest_n = (size_t) n[g] > widest_n ? (size_t) n[g] : widest_n;
  }
  size_t B = KE_CUDA_MAX_BATCH;
  if (!(cb->w16_wide = (uint16_t *) dev_alloc (wide, error)) ||
      !(cb->w16_mlp = (uint16_t *) dev_alloc (B * (size_t) cb->I * 2, error)) ||
      (need_d && !(cb->w16_d = (float *) dev_alloc (B * widest_n * 4, error))))
    return false;
  /* a bucket's padding rows are read too: start from zeros */
  return KE_CUDA_CHECK (cudaMemset (cb->w16_mlp, 0, B * (size_t) cb->I * 2), error);
}

/* Bytes the backend will hold on the device (weights + per-batch buffers + GEMM plans). */
static size_t
device_need (const cuda_backend *cb, const ke_weights *W)
{
  size_t H = cb->H, I = cb->I, B = KE_CUDA_MAX_BATCH;
  size_t per_layer = ((size_t) cb->qkv_n * H + H * cb->qd + 2 * I * H + H * I) +
                     4 * ((size_t) cb->qkv_n + H + 2 * I + H) + 2 * (4 * H + 2 * cb->hd);
  size_t w = per_layer * cb->n_layers + (size_t) cb->vocab * H * 2 + H * 2;
  if (W->lm_head.weight.data != W->embed_tokens.data)
    w += (size_t) cb->vocab * H * 2;
  size_t act = B * (H * 8 + (size_t) cb->qkv_n * 4 + 3 * I * 2 + 2 * (size_t) cb->qd * 2 +
                    4 * (size_t) cb->kvd + 3 * I + 64) + (size_t) cb->vocab * 4;
  if (!cb->act_quant) /* W8A16 prefill: the widened gate+up weight and the GeGLU rows (plus
                       * f32 scratch if cuBLASLt has no alpha-vector kernel: not counted) */
    act += 2 * I * H * 2 + B * I * 2;
  return w + act + KE_FP8_GEMM_WORKSPACE; /* one workspace for all plans */
}

extern "C" ke_backend *
ke_cuda_backend_new (const ke_config *config, const ke_weights *weights,
                     const ke_model_options *options, ke_error **error)
{
  const ke_text_config *tc = &config->text;
  int device = options ? options->device : 0;
  int n_dev = ke_cuda_device_count ();
  if (n_dev <= 0) {
    ke_set_error (error, KE_ERROR_NO_DEVICE,
                  "No usable CUDA GPU was found (no device, or the NVIDIA driver is missing).");
    return NULL;
  }
  if (device < 0 || device >= n_dev) {
    ke_set_error (error, KE_ERROR_NO_DEVICE, "CUDA device %d does not exist (%d found).",
                  device, n_dev);
    return NULL;
  }
  char name[128];
  int major = 0, minor = 0;
  if (!ke_cuda_device_info (device, name, sizeof name, &major, &minor, NULL, error))
    return NULL;
  if (major * 10 + minor < 80) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED,
                  "%s (compute capability %d.%d) is too old: the CUDA backend needs 8.0 or "
                  "newer.", name, major, minor);
    return NULL;
  }
  /* Shapes the kernels take. */
  if (!tc->hidden_size || !tc->head_dim || !tc->num_attention_heads || !tc->num_key_value_heads ||
      tc->num_attention_heads % tc->num_key_value_heads || tc->num_hidden_layers > KE_MAX_LAYERS ||
      !tc->vocab_size || tc->hidden_size % 16 || tc->intermediate_size % 16 ||
      tc->hidden_size > 12288 || tc->intermediate_size > 12288 ||
      (tc->head_dim != 32 && tc->head_dim != 64 && tc->head_dim != 128 && tc->head_dim != 256) || (tc->num_attention_heads * tc->head_dim) % 16 ||
      tc->vocab_size > (uint32_t) INT32_MAX) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED,
                  "The CUDA backend does not run this shape (hidden %u, intermediate %u, head_dim "
                  "%u); the CPU backend does.", tc->hidden_size, tc->intermediate_size, tc->head_dim);
    return NULL;
  }
  if (tc->attn_logit_softcapping > 0.0f) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED,
                  "Attention logit softcapping is not supported (Gemma 3 does not use it).");
    return NULL;
  }
  if (!KE_CUDA_CHECK (cudaSetDevice (device), error))
    return NULL;
  /* Programmatic dependent launch (sm_90+) is on unless KESTREL_CUDA_PDL=0: with device
   * sampling it is worth ~7 % of decode speed (docs/cuda-notes.md).  (It was off while
   * tests/gpu's pdl-chain test failed at times: that was the test's own race, a pageable
   * cudaMemcpy on the legacy stream not yet landed when the non-blocking stream started.) */
  const char *pdl = getenv ("KESTREL_CUDA_PDL");
  ke_cuda_set_pdl (!(pdl && strcmp (pdl, "0") == 0));

  cuda_backend *cb = (cuda_backend *) calloc (1, sizeof *cb);
  if (!cb) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  const char *host_sampling = getenv ("KESTREL_CUDA_HOST_SAMPLING");
  cb->base.ops = host_sampling && strcmp (host_sampling, "1") == 0 ? &cuda_ops_host_sampling
                                                                    : &cuda_ops;
  cb->base.config = config;
  cb->base.weights = weights;
  cb->base.max_batch = KE_CUDA_MAX_BATCH;
  snprintf (cb->base.device_name, sizeof cb->base.device_name, "%s", name);
  cb->device = device;
  /* cuBLASLt's FP8 GEMMs need compute capability 8.9: older GPUs (A100, RTX 30xx) prefill
   * W8A16 on bf16 tensor cores (build_w8a16_plans), as skip_act_quant does everywhere. */
  cb->act_quant = !(options && options->skip_act_quant) && major * 10 + minor >= 89;
  cb->H = (int) tc->hidden_size;
  cb->I = (int) tc->intermediate_size;
  cb->nq = (int) tc->num_attention_heads;
  cb->nkv = (int) tc->num_key_value_heads;
  cb->hd = (int) tc->head_dim;
  cb->qd = cb->nq * cb->hd;
  cb->kvd = cb->nkv * cb->hd;
  cb->qkv_n = cb->qd + 2 * cb->kvd;
  cb->vocab = (int) tc->vocab_size;
  cb->n_layers = (int) tc->num_hidden_layers;
  cb->window = (int) tc->sliding_window;
  cb->eps = tc->rms_norm_eps;
  cb->attn_scale = 1.0f / sqrtf (tc->query_pre_attn_scalar);
  if (config->has_vision && config->mm_tokens_per_image > KE_CUDA_MAX_BATCH) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED, "Images of %u tokens do not fit a batch of %d.",
                  config->mm_tokens_per_image, KE_CUDA_MAX_BATCH);
    cuda_destroy (&cb->base);
    return NULL;
  }

  size_t free_b = 0, total_b = 0;
  if (!KE_CUDA_CHECK (cudaMemGetInfo (&free_b, &total_b), error)) {
    cuda_destroy (&cb->base);
    return NULL;
  }
  size_t need = device_need (cb, weights);
  if (need > free_b) {
    ke_set_error (error, KE_ERROR_DEVICE_MEMORY,
                  "Not enough GPU memory: needs %.2f GiB, %.2f GiB free (%s).", need / GIB,
                  free_b / GIB, name);
    cuda_destroy (&cb->base);
    return NULL;
  }
  cb->layers = (cuda_layer *) calloc ((size_t) cb->n_layers, sizeof (cuda_layer));
  if (!cb->layers) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    cuda_destroy (&cb->base);
    return NULL;
  }
  if (!KE_CUDA_CHECK (cudaStreamCreateWithFlags (&cb->stream, cudaStreamNonBlocking), error) ||
      !upload_weights (cb, config, weights, error) || !alloc_buffers (cb, error) ||
      (cb->act_quant && !build_gemm_plans (cb, error)) ||
      (!cb->act_quant && !build_w8a16_plans (cb, error))) {
    cuda_destroy (&cb->base);
    return NULL;
  }
  /* The vision tower is made by the first encode_image (cuda_encode_image). */
  size_t free_after = 0;
  if (!KE_CUDA_CHECK (cudaDeviceSynchronize (), error) ||
      !KE_CUDA_CHECK (cudaMemGetInfo (&free_after, &total_b), error)) {
    cuda_destroy (&cb->base);
    return NULL;
  }
  cb->base.device_bytes = free_b > free_after ? free_b - free_after : 0;
  return &cb->base;
}
