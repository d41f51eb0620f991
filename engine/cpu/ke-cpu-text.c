/* ke-cpu-text.c — the Gemma 3 text decoder, float32, as transformers' Gemma3TextModel.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Per layer (Gemma3DecoderLayer):
 *   h = input_layernorm(x)
 *   q, k, v = q_proj(h), k_proj(h), v_proj(h)       [T, heads·hd], [T, kv·hd], [T, kv·hd]
 *   q, k = q_norm(q), k_norm(k) per head; RoPE (local base on sliding layers, global base
 *          with the linear factor on global layers)
 *   a = attention(q, K, V)  scale query_pre_attn_scalar^-0.5, mask: see ke-backend.h
 *   x = x + post_attention_layernorm(o_proj(a))
 *   h = pre_feedforward_layernorm(x)
 *   x = x + post_feedforward_layernorm(down_proj(gelu_tanh(gate_proj(h)) * up_proj(h)))
 * then norm(x) and the (tied) lm_head.  Every norm is Gemma's RMSNorm x·(1 + w).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-numeric.h"
#include "ke-cpu.h"

enum { NORM_INPUT, NORM_POST_ATTN, NORM_PRE_FF, NORM_POST_FF, NORM_Q, NORM_K, N_NORMS };

struct ke_cpu_text {
  const ke_config *config;
  const ke_weights *weights;
  ke_cpu_pool *pool;
  bool act_quant;
  uint32_t max_batch;
  float embed_scale;
  float *inv_freq_local;  /* [head_dim / 2] */
  float *inv_freq_global;
  float *norms;           /* [layers][N_NORMS][hidden] (q/k norms use head_dim of it) */
  float *final_norm;      /* [hidden] */
  /* scratch for max_batch tokens */
  float *x, *h, *q, *k, *v, *att, *o, *gate, *up, *xq, *xscale, *tiles;
  float *scores;
  size_t scores_len;
  /* This decoder's share: the whole model, or one tensor-parallel rank's (ke-cpu-tp.c). */
  uint32_t n_heads, n_kv_heads, inter, vocab;
  size_t o_ld, down_ld;   /* row strides of o_proj / down_proj */
  ke_comm *comm;          /* NULL: not tensor-parallel */
  const ke_tp_plan *plan;
  uint32_t rank;
  float *lm_local;        /* [rows, plan->vocab_stride]: this rank's logits, padded */
  float *lm_gathered;     /* [n_ranks, rows, vocab_stride] */
  size_t lm_rows;         /* rows the two buffers hold */
};

static bool
load_norm (const ke_tensor *t, size_t n, float *out, ke_error **error)
{
  if (!ke_cpu_tensor_is_float (t) || t->ndim != 1 || (size_t) t->shape[0] != n)
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "Norm weight %s is missing or not a float vector of %zu.",
                         t->name ? t->name : "(unnamed)", n);
  ke_cpu_tensor_to_f32 (t, 0, n, out);
  return true;
}

static bool
check_linear (const ke_linear *l, size_t out, size_t in, ke_error **error)
{
  const ke_tensor *w = &l->weight;
  const char *name = w->name ? w->name : "(unnamed linear)";
  if (!w->data || w->ndim != 2 || (size_t) w->shape[0] != out || (size_t) w->shape[1] != in)
    return ke_set_error (error, KE_ERROR_FORMAT, "Linear weight %s is missing or not [%zu, %zu].",
                         name, out, in);
  if (w->dtype == KE_DTYPE_F8_E4M3) {
    if (!l->scale.data || l->scale.dtype != KE_DTYPE_F32 || l->scale.nbytes < out * sizeof (float))
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "FP8 linear %s lacks a float32 per-channel scale of %zu.", name, out);
  } else if (!ke_cpu_tensor_is_float (w)) {
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "Linear %s has an unsupported dtype.", name);
  }
  if (l->bias.data && (!ke_cpu_tensor_is_float (&l->bias) || l->bias.nbytes <
                       out * ke_cpu_dtype_size (l->bias.dtype)))
    return ke_set_error (error, KE_ERROR_FORMAT, "Bias of %s is not a float vector of %zu.",
                         name, out);
  return true;
}

void
ke_cpu_text_free (ke_cpu_text *text)
{
  if (!text)
    return;
  free (text->inv_freq_local);
  free (text->inv_freq_global);
  free (text->norms);
  free (text->final_norm);
  free (text->x);
  free (text->h);
  free (text->q);
  free (text->k);
  free (text->v);
  free (text->att);
  free (text->o);
  free (text->gate);
  free (text->up);
  free (text->xq);
  free (text->xscale);
  free (text->tiles);
  free (text->scores);
  free (text->lm_local);
  free (text->lm_gathered);
  free (text);
}

static ke_cpu_text *
text_new (const ke_config *config, const ke_weights *weights, const ke_cpu_text_rank *tp,
          ke_cpu_pool *pool, bool act_quant, uint32_t max_batch, ke_error **error)
{
  const ke_text_config *tc = &config->text;
  size_t H = tc->hidden_size, hd = tc->head_dim, I = tc->intermediate_size;
  size_t qd = (size_t) tc->num_attention_heads * hd, kvd = (size_t) tc->num_key_value_heads * hd;
  size_t vocab = tc->vocab_size;
  if (tp) {
    const ke_tp_shard *shard = &tp->plan->shards[tp->rank];
    if (tp->rank >= tp->plan->n_ranks || (int) tp->plan->n_ranks != ke_comm_n_ranks (tp->comm) ||
        tp->plan->head_dim != tc->head_dim || tp->o_row_stride != qd || tp->down_row_stride != I) {
      ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                    "The tensor-parallel rank does not match the model or its group.");
      return NULL;
    }
    qd = (size_t) shard->q_heads.count * hd;
    kvd = (size_t) shard->kv_heads.count * hd;
    I = shard->mlp.count;
    vocab = shard->vocab.count;
  }
  if (!H || !hd || !I || !tc->num_attention_heads || !tc->num_key_value_heads ||
      tc->num_attention_heads % tc->num_key_value_heads || hd % 2 || !tc->vocab_size ||
      tc->num_hidden_layers > KE_MAX_LAYERS || max_batch == 0) {
    ke_set_error (error, KE_ERROR_FORMAT, "The text configuration is not usable.");
    return NULL;
  }
  if (tc->attn_logit_softcapping > 0.0f) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED,
                  "Attention logit softcapping is not supported (Gemma 3 does not use it).");
    return NULL;
  }
  if (!weights->embed_tokens.data || !ke_cpu_tensor_is_float (&weights->embed_tokens) ||
      weights->embed_tokens.ndim != 2 || (size_t) weights->embed_tokens.shape[0] != tc->vocab_size ||
      (size_t) weights->embed_tokens.shape[1] != H) {
    ke_set_error (error, KE_ERROR_FORMAT, "embed_tokens is missing or not [%u, %zu].",
                  tc->vocab_size, H);
    return NULL;
  }
  if (!check_linear (&weights->lm_head, vocab, H, error))
    return NULL;
  for (uint32_t l = 0; l < tc->num_hidden_layers; l++) {
    const ke_text_layer *L = &weights->layers[l];
    if (!check_linear (&L->q_proj, qd, H, error) || !check_linear (&L->k_proj, kvd, H, error) ||
        !check_linear (&L->v_proj, kvd, H, error) || !check_linear (&L->o_proj, H, qd, error) ||
        !check_linear (&L->gate_proj, I, H, error) || !check_linear (&L->up_proj, I, H, error) ||
        !check_linear (&L->down_proj, H, I, error))
      return NULL;
  }

  ke_cpu_text *text = calloc (1, sizeof *text);
  if (!text) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  text->config = config;
  text->weights = weights;
  text->pool = pool;
  text->act_quant = act_quant;
  text->max_batch = max_batch;
  text->n_heads = (uint32_t) (qd / hd);
  text->n_kv_heads = (uint32_t) (kvd / hd);
  text->inter = (uint32_t) I;
  text->vocab = (uint32_t) vocab;
  text->o_ld = tp ? tp->o_row_stride : qd;
  text->down_ld = tp ? tp->down_row_stride : I;
  if (tp) {
    text->comm = tp->comm;
    text->plan = tp->plan;
    text->rank = tp->rank;
  }
  /* Gemma3TextScaledWordEmbedding: embed_scale.to(weight dtype) — bf16(sqrt(2560)) = 50.5. */
  float scale = sqrtf ((float) H);
  text->embed_scale = weights->embed_tokens.dtype == KE_DTYPE_BF16 ? ke_round_bf16 (scale) : scale;

  size_t n_threads = (size_t) ke_cpu_pool_n_threads (pool);
  size_t widest = I > qd ? I : qd;
  if (H > widest)
    widest = H;
  text->inv_freq_local = ke_malloc_array (hd / 2, sizeof (float));
  text->inv_freq_global = ke_malloc_array (hd / 2, sizeof (float));
  text->norms = ke_malloc_array ((size_t) tc->num_hidden_layers * N_NORMS, H * sizeof (float));
  text->final_norm = ke_malloc_array (H, sizeof (float));
  text->x = ke_malloc_array ((size_t) max_batch * H, sizeof (float));
  text->h = ke_malloc_array ((size_t) max_batch * H, sizeof (float));
  text->q = ke_malloc_array ((size_t) max_batch * qd, sizeof (float));
  text->k = ke_malloc_array ((size_t) max_batch * kvd, sizeof (float));
  text->v = ke_malloc_array ((size_t) max_batch * kvd, sizeof (float));
  text->att = ke_malloc_array ((size_t) max_batch * qd, sizeof (float));
  text->o = ke_malloc_array ((size_t) max_batch * H, sizeof (float));
  text->gate = ke_malloc_array ((size_t) max_batch * I, sizeof (float));
  text->up = ke_malloc_array ((size_t) max_batch * I, sizeof (float));
  text->xq = ke_malloc_array ((size_t) max_batch * widest, sizeof (float));
  text->xscale = ke_malloc_array (max_batch, sizeof (float));
  text->tiles = aligned_alloc (64, n_threads * KE_CPU_TILE_FLOATS * sizeof (float));
  if (!text->inv_freq_local || !text->inv_freq_global || !text->norms || !text->final_norm ||
      !text->x || !text->h || !text->q || !text->k || !text->v || !text->att || !text->o ||
      !text->gate || !text->up || !text->xq || !text->xscale || !text->tiles) {
    ke_cpu_text_free (text);
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory for the CPU decoder's buffers.");
    return NULL;
  }
  ke_cpu_rope_inv_freq (text->inv_freq_local, (uint32_t) hd, tc->rope_local_base_freq, 1.0f);
  ke_cpu_rope_inv_freq (text->inv_freq_global, (uint32_t) hd, tc->rope_theta,
                        tc->rope_scaling_factor > 0 ? tc->rope_scaling_factor : 1.0f);
  for (uint32_t l = 0; l < tc->num_hidden_layers; l++) {
    const ke_text_layer *L = &weights->layers[l];
    float *n = text->norms + (size_t) l * N_NORMS * H;
    if (!load_norm (&L->input_layernorm, H, n + NORM_INPUT * H, error) ||
        !load_norm (&L->post_attention_layernorm, H, n + NORM_POST_ATTN * H, error) ||
        !load_norm (&L->pre_feedforward_layernorm, H, n + NORM_PRE_FF * H, error) ||
        !load_norm (&L->post_feedforward_layernorm, H, n + NORM_POST_FF * H, error) ||
        !load_norm (&L->q_norm, hd, n + NORM_Q * H, error) ||
        !load_norm (&L->k_norm, hd, n + NORM_K * H, error)) {
      ke_cpu_text_free (text);
      return NULL;
    }
  }
  if (!load_norm (&weights->norm, H, text->final_norm, error)) {
    ke_cpu_text_free (text);
    return NULL;
  }
  return text;
}

ke_cpu_text *
ke_cpu_text_new (const ke_config *config, const ke_weights *weights, ke_cpu_pool *pool,
                 bool act_quant, uint32_t max_batch, ke_error **error)
{
  return text_new (config, weights, NULL, pool, act_quant, max_batch, error);
}

ke_cpu_text *
ke_cpu_text_new_rank (const ke_config *config, const ke_weights *weights,
                      const ke_cpu_text_rank *tp, ke_cpu_pool *pool, bool act_quant,
                      uint32_t max_batch, ke_error **error)
{
  if (!tp || !tp->comm || !tp->plan) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "A tensor-parallel rank needs its group.");
    return NULL;
  }
  return text_new (config, weights, tp, pool, act_quant, max_batch, error);
}

ke_cpu_kv *
ke_cpu_kv_new (const ke_config *config, uint32_t capacity, ke_error **error)
{
  return ke_cpu_kv_new_heads (config, capacity, config->text.num_key_value_heads, error);
}

ke_cpu_kv *
ke_cpu_kv_new_heads (const ke_config *config, uint32_t capacity, uint32_t n_kv_heads,
                     ke_error **error)
{
  const ke_text_config *tc = &config->text;
  size_t per_pos = (size_t) n_kv_heads * tc->head_dim, n;
  ke_cpu_kv *kv = calloc (1, sizeof *kv);
  if (!kv || !ke_mul_size (per_pos, capacity, &n))
    goto oom;
  kv->capacity = capacity;
  kv->n_layers = tc->num_hidden_layers;
  kv->k = calloc (tc->num_hidden_layers, sizeof (float *));
  kv->v = calloc (tc->num_hidden_layers, sizeof (float *));
  if (!kv->k || !kv->v)
    goto oom;
  for (uint32_t l = 0; l < tc->num_hidden_layers; l++) {
    kv->k[l] = ke_malloc_array (n, sizeof (float));
    kv->v[l] = ke_malloc_array (n, sizeof (float));
    if (!kv->k[l] || !kv->v[l])
      goto oom;
  }
  return kv;
oom:
  ke_set_error (error, KE_ERROR_NO_MEMORY,
                "Out of memory for a KV cache of %u positions (%zu MiB per layer).", capacity,
                per_pos * capacity * 2 * sizeof (float) >> 20);
  if (kv && (!kv->k || !kv->v))
    kv->n_layers = 0;
  ke_cpu_kv_free (kv);
  return NULL;
}

void
ke_cpu_kv_free (ke_cpu_kv *kv)
{
  if (!kv)
    return;
  for (uint32_t l = 0; l < kv->n_layers; l++) {
    free (kv->k[l]);
    free (kv->v[l]);
  }
  free (kv->k);
  free (kv->v);
  free (kv);
}

static void
linear (ke_cpu_text *text, const ke_linear *l, const float *x, size_t rows, size_t in,
        size_t out, float *y)
{
  ke_cpu_linear (text->pool, l, x, rows, in, out, y, text->act_quant, text->xq, text->xscale,
                 text->tiles);
}

/* A row-parallel linear (rows of W `ld` apart) followed by the sum over the ranks. */
static bool
linear_reduce (ke_cpu_text *text, const ke_linear *l, size_t ld, const float *x, size_t rows,
               size_t in, size_t out, float *y, ke_error **error)
{
  ke_cpu_linear_strided (text->pool, l, ld, x, rows, in, out, y, text->act_quant, text->xq,
                         text->xscale, text->tiles);
  if (!text->comm)
    return true;
  return ke_comm_all_reduce_sum (text->comm, (int) text->rank, y, y, rows * out, KE_COMM_F32,
                                 NULL, error);
}

/* lm_head over this rank's vocabulary rows, softcapped, then gathered: rank 0 writes the
 * full [rows, vocab] to `logits`. */
static bool
lm_head_gather (ke_cpu_text *text, const float *h, size_t rows, float *logits, ke_error **error)
{
  const ke_text_config *tc = &text->config->text;
  size_t H = tc->hidden_size, stride = text->plan->vocab_stride;
  size_t n_ranks = text->plan->n_ranks;
  bool ok = true;
  if (rows > text->lm_rows) {
    float *local = ke_realloc_array (text->lm_local, rows * stride, sizeof (float));
    if (local)
      text->lm_local = local;
    float *gathered = local ? ke_realloc_array (text->lm_gathered, rows * stride * n_ranks,
                                                sizeof (float)) : NULL;
    if (gathered) {
      text->lm_gathered = gathered;
      text->lm_rows = rows;
    }
    ok = local && gathered;
  }
  if (!ok) /* the group's driver aborts the collectives the other ranks wait in */
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory for the logits.");
  size_t vl = text->vocab;
  /* [rows, vl] computed densely into the tail of the gather buffer, then spread to the
   * padded [rows, stride] layout (the gather moves equal blocks). */
  float *dense = text->lm_gathered;
  linear (text, &text->weights->lm_head, h, rows, H, vl, dense);
  for (size_t r = 0; r < rows; r++) {
    memcpy (text->lm_local + r * stride, dense + r * vl, vl * sizeof (float));
    memset (text->lm_local + r * stride + vl, 0, (stride - vl) * sizeof (float));
  }
  if (tc->final_logit_softcapping > 0.0f) {
    float cap = tc->final_logit_softcapping;
    for (size_t i = 0; i < rows * stride; i++)
      text->lm_local[i] = tanhf (text->lm_local[i] / cap) * cap;
  }
  if (!ke_comm_all_gather (text->comm, (int) text->rank, text->lm_local, text->lm_gathered,
                           rows * stride, KE_COMM_F32, NULL, error))
    return false;
  if (text->rank != 0 || !logits)
    return true;
  for (size_t k = 0; k < n_ranks; k++) {
    const ke_tp_shard *s = &text->plan->shards[k];
    for (size_t r = 0; r < rows; r++)
      memcpy (logits + r * tc->vocab_size + s->vocab.first,
              text->lm_gathered + (k * rows + r) * stride, s->vocab.count * sizeof (float));
  }
  return true;
}

bool
ke_cpu_text_forward (ke_cpu_text *text, ke_cpu_kv *kv, const ke_token *ids,
                     const float *const *image_rows, const int32_t *group, uint32_t n_tokens,
                     uint32_t pos0, float *logits, bool all_logits, ke_error **error)
{
  const ke_text_config *tc = &text->config->text;
  const ke_weights *W = text->weights;
  size_t H = tc->hidden_size, hd = tc->head_dim, I = text->inter;
  size_t nh = text->n_heads, nkv = text->n_kv_heads;
  size_t qd = nh * hd, kvd = nkv * hd;
  size_t T = n_tokens;

  if (n_tokens == 0 || n_tokens > text->max_batch)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "A forward pass takes 1 to %u tokens, not %u.", text->max_batch,
                         n_tokens);
  if ((uint64_t) pos0 + n_tokens > kv->capacity)
    return ke_set_error (error, KE_ERROR_CONTEXT_FULL,
                         "%u + %u tokens do not fit in a context of %u.", pos0, n_tokens,
                         kv->capacity);
  size_t need = (size_t) ke_cpu_pool_n_threads (text->pool) * KE_CPU_ATT_QBLOCK * (pos0 + n_tokens);
  if (need > text->scores_len) {
    float *s = ke_realloc_array (text->scores, need, sizeof (float));
    if (!s)
      return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory for attention scores.");
    text->scores = s;
    text->scores_len = need;
  }

  /* Embeddings: scaled token rows; image positions take the image's rows unscaled. */
  for (size_t t = 0; t < T; t++) {
    float *xr = text->x + t * H;
    if (image_rows && image_rows[t]) {
      memcpy (xr, image_rows[t], H * sizeof (float));
      continue;
    }
    if (ids[t] < 0 || (uint32_t) ids[t] >= tc->vocab_size)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "Token id %d is outside the vocabulary (%u).", ids[t], tc->vocab_size);
    ke_cpu_tensor_to_f32 (&W->embed_tokens, (size_t) ids[t] * H, H, xr);
    for (size_t i = 0; i < H; i++)
      xr[i] *= text->embed_scale;
  }

  float scaling = 1.0f / sqrtf (tc->query_pre_attn_scalar);
  for (uint32_t l = 0; l < tc->num_hidden_layers; l++) {
    const ke_text_layer *L = &W->layers[l];
    const float *norms = text->norms + (size_t) l * N_NORMS * H;
    bool sliding = tc->layer_kind[l] == KE_LAYER_SLIDING;
    const float *inv_freq = sliding ? text->inv_freq_local : text->inv_freq_global;

    memcpy (text->h, text->x, T * H * sizeof (float));
    ke_cpu_rmsnorm_gemma (text->h, T, H, norms + NORM_INPUT * H, tc->rms_norm_eps);
    linear (text, &L->q_proj, text->h, T, H, qd, text->q);
    linear (text, &L->k_proj, text->h, T, H, kvd, text->k);
    linear (text, &L->v_proj, text->h, T, H, kvd, text->v);
    ke_cpu_rmsnorm_gemma (text->q, T * nh, hd, norms + NORM_Q * H, tc->rms_norm_eps);
    ke_cpu_rmsnorm_gemma (text->k, T * nkv, hd, norms + NORM_K * H, tc->rms_norm_eps);
    for (size_t t = 0; t < T; t++) {
      uint32_t pos = pos0 + (uint32_t) t;
      for (size_t h = 0; h < nh; h++)
        ke_cpu_rope (text->q + (t * nh + h) * hd, (uint32_t) hd, pos, inv_freq);
      for (size_t h = 0; h < nkv; h++)
        ke_cpu_rope (text->k + (t * nkv + h) * hd, (uint32_t) hd, pos, inv_freq);
    }
    memcpy (kv->k[l] + (size_t) pos0 * kvd, text->k, T * kvd * sizeof (float));
    memcpy (kv->v[l] + (size_t) pos0 * kvd, text->v, T * kvd * sizeof (float));

    ke_cpu_attention att = {
      .q = text->q,
      .k_cache = kv->k[l],
      .v_cache = kv->v[l],
      .out = text->att,
      .n_q = n_tokens,
      .pos0 = pos0,
      .n_heads = (uint32_t) nh,
      .n_kv_heads = (uint32_t) nkv,
      .head_dim = (uint32_t) hd,
      .window = sliding ? tc->sliding_window : 0,
      .scale = scaling,
      .group = group,
      .scores = text->scores,
    };
    ke_cpu_attention_run (text->pool, &att);
    if (!linear_reduce (text, &L->o_proj, text->o_ld, text->att, T, qd, H, text->o, error))
      return false;
    ke_cpu_rmsnorm_gemma (text->o, T, H, norms + NORM_POST_ATTN * H, tc->rms_norm_eps);
    for (size_t i = 0; i < T * H; i++)
      text->x[i] += text->o[i];

    memcpy (text->h, text->x, T * H * sizeof (float));
    ke_cpu_rmsnorm_gemma (text->h, T, H, norms + NORM_PRE_FF * H, tc->rms_norm_eps);
    linear (text, &L->gate_proj, text->h, T, H, I, text->gate);
    linear (text, &L->up_proj, text->h, T, H, I, text->up);
    for (size_t i = 0; i < T * I; i++)
      text->gate[i] = ke_cpu_gelu_tanh (text->gate[i]) * text->up[i];
    if (!linear_reduce (text, &L->down_proj, text->down_ld, text->gate, T, I, H, text->o, error))
      return false;
    ke_cpu_rmsnorm_gemma (text->o, T, H, norms + NORM_POST_FF * H, tc->rms_norm_eps);
    for (size_t i = 0; i < T * H; i++)
      text->x[i] += text->o[i];
  }

  if (!logits)
    return true;
  size_t first = all_logits ? 0 : T - 1, rows = T - first;
  memcpy (text->h, text->x + first * H, rows * H * sizeof (float));
  ke_cpu_rmsnorm_gemma (text->h, rows, H, text->final_norm, tc->rms_norm_eps);
  if (text->comm)
    return lm_head_gather (text, text->h, rows, logits, error);
  linear (text, &W->lm_head, text->h, rows, H, tc->vocab_size, logits);
  if (tc->final_logit_softcapping > 0.0f) {
    float cap = tc->final_logit_softcapping;
    for (size_t i = 0; i < rows * tc->vocab_size; i++)
      logits[i] = tanhf (logits[i] / cap) * cap;
  }
  return true;
}
