/* ke-test-model.h — a small random Gemma 3 (text + vision) built in memory for the CPU
 * backend's tests, and an independent float64 reference of its forward pass.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The reference is written from the definition (transformers' modeling_gemma3.py and
 * modeling_siglip.py), one position and one head at a time, with an explicit mask
 * predicate — deliberately nothing like the backend's batched code — so that the two
 * agreeing means the batching, KV cache, chunking and masks are right.
 */
#pragma once

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ke-tap.h"
#include "ke-config.h"
#include "ke-weights.h"
#include "ke-numeric.h"
#include "ke-cpu.h"

#define TM_MAX_ALLOCS 512

typedef struct {
  ke_config config;
  ke_weights weights;
  void *allocs[TM_MAX_ALLOCS];
  int n_allocs;
  unsigned long long rng;
} test_model;

static void *
tm_alloc (test_model *m, size_t bytes)
{
  void *p = calloc (1, bytes ? bytes : 1);
  if (m->n_allocs < TM_MAX_ALLOCS)
    m->allocs[m->n_allocs++] = p;
  return p;
}

static ke_tensor
tm_bf16 (test_model *m, const char *name, int64_t d0, int64_t d1, float scale, float offset)
{
  size_t n = (size_t) d0 * (size_t) (d1 ? d1 : 1);
  uint16_t *data = tm_alloc (m, n * 2);
  for (size_t i = 0; i < n; i++)
    data[i] = ke_f32_to_bf16 (offset + scale * ke_test_rand_uniform (&m->rng));
  ke_tensor t = { .name = name, .dtype = KE_DTYPE_BF16, .ndim = d1 ? 2 : 1,
                  .shape = { d0, d1 }, .data = data, .nbytes = n * 2 };
  return t;
}

static ke_linear
tm_fp8 (test_model *m, const char *name, int64_t out, int64_t in)
{
  size_t n = (size_t) out * (size_t) in;
  uint8_t *w = tm_alloc (m, n);
  float *s = tm_alloc (m, (size_t) out * sizeof (float));
  for (size_t i = 0; i < n; i++) {
    uint8_t b;
    do
      b = (uint8_t) ke_test_rand_u64 (&m->rng);
    while ((b & 0x7f) == 0x7f || (b & 0x7f) > 0x60); /* no NaN, |w| <= 2^5 range */
    w[i] = b;
  }
  for (int64_t o = 0; o < out; o++)
    s[o] = (0.5f + 0.5f * fabsf (ke_test_rand_uniform (&m->rng))) / (8.0f * sqrtf ((float) in));
  ke_linear l = {
    .weight = { .name = name, .dtype = KE_DTYPE_F8_E4M3, .ndim = 2, .shape = { out, in },
                .data = w, .nbytes = n },
    .scale = { .name = name, .dtype = KE_DTYPE_F32, .ndim = 1, .shape = { out },
               .data = s, .nbytes = (size_t) out * sizeof (float) },
  };
  return l;
}

static ke_linear
tm_bf16_linear (test_model *m, const char *name, int64_t out, int64_t in, bool bias)
{
  ke_linear l = { .weight = tm_bf16 (m, name, out, in, 1.0f / sqrtf ((float) in), 0.0f) };
  if (bias)
    l.bias = tm_bf16 (m, name, out, 0, 0.1f, 0.0f);
  return l;
}

/* The text decoder's random weights for m->config.text (embedding tied to the lm_head,
 * norms around 1, FP8 linears sized by the head counts), always drawn in the same order. */
static void
tm_text_weights (test_model *m)
{
  const ke_text_config *t = &m->config.text;
  ke_weights *w = &m->weights;
  int64_t H = t->hidden_size, I = t->intermediate_size, hd = t->head_dim;
  int64_t qd = t->num_attention_heads * hd, kvd = t->num_key_value_heads * hd;
  w->embed_tokens = tm_bf16 (m, "embed_tokens", t->vocab_size, H, 1.0f, 0.0f);
  w->lm_head.weight = w->embed_tokens;
  w->norm = tm_bf16 (m, "norm", H, 0, 0.5f, 0.0f);
  w->layers = tm_alloc (m, t->num_hidden_layers * sizeof (ke_text_layer));
  for (uint32_t l = 0; l < t->num_hidden_layers; l++) {
    ke_text_layer *L = &w->layers[l];
    L->input_layernorm = tm_bf16 (m, "input_layernorm", H, 0, 0.5f, 0.0f);
    L->post_attention_layernorm = tm_bf16 (m, "post_attention_layernorm", H, 0, 0.5f, 0.0f);
    L->pre_feedforward_layernorm = tm_bf16 (m, "pre_feedforward_layernorm", H, 0, 0.5f, 0.0f);
    L->post_feedforward_layernorm = tm_bf16 (m, "post_feedforward_layernorm", H, 0, 0.5f, 0.0f);
    L->q_norm = tm_bf16 (m, "q_norm", hd, 0, 0.5f, 0.0f);
    L->k_norm = tm_bf16 (m, "k_norm", hd, 0, 0.5f, 0.0f);
    L->q_proj = tm_fp8 (m, "q_proj", qd, H);
    L->k_proj = tm_fp8 (m, "k_proj", kvd, H);
    L->v_proj = tm_fp8 (m, "v_proj", kvd, H);
    L->o_proj = tm_fp8 (m, "o_proj", H, qd);
    L->gate_proj = tm_fp8 (m, "gate_proj", I, H);
    L->up_proj = tm_fp8 (m, "up_proj", I, H);
    L->down_proj = tm_fp8 (m, "down_proj", H, I);
  }
}

/* vocab 300 (image token 299), hidden 72, 4 layers (S S G S), window 8; SigLIP 28×28,
 * patch 7 → 4×4 patches → 4 soft tokens. */
static void
tm_init (test_model *m, unsigned long long seed, uint32_t window)
{
  memset (m, 0, sizeof *m);
  m->rng = seed;
  ke_config *c = &m->config;
  strcpy (c->architecture, "Gemma3ForConditionalGeneration");
  c->has_vision = true;
  ke_text_config *t = &c->text;
  t->vocab_size = 300;
  t->hidden_size = 72;
  t->intermediate_size = 96;
  t->num_hidden_layers = 4;
  t->num_attention_heads = 4;
  t->num_key_value_heads = 2;
  t->head_dim = 16;
  t->sliding_window = window;
  t->max_position_embeddings = 4096;
  t->query_pre_attn_scalar = 16;
  t->rms_norm_eps = 1e-6f;
  t->rope_theta = 1e6f;
  t->rope_local_base_freq = 1e4f;
  t->rope_scaling_factor = 8.0f;
  t->tie_word_embeddings = true;
  t->layer_kind[2] = KE_LAYER_GLOBAL;
  ke_vision_config *v = &c->vision;
  v->hidden_size = 32;
  v->intermediate_size = 48;
  v->num_hidden_layers = 2;
  v->num_attention_heads = 2;
  v->num_channels = 3;
  v->image_size = 28;
  v->patch_size = 7;
  v->layer_norm_eps = 1e-6f;
  c->mm_tokens_per_image = 4;
  c->boi_token_id = 297;
  c->eoi_token_id = 298;
  c->image_token_id = 299;
  c->bos_token_id = 2;
  c->eos_token_ids[0] = 1;
  c->eos_token_ids[1] = 106;
  c->n_eos = 2;
  c->generation = (ke_generation_config) { .do_sample = true, .temperature = 1.0f, .top_k = 64,
                                           .top_p = 0.95f, .repetition_penalty = 1.0f };
  ke_preprocess_config *p = &c->preprocess;
  p->width = p->height = 28;
  for (int i = 0; i < 3; i++)
    p->image_mean[i] = p->image_std[i] = 0.5f;
  p->rescale_factor = 1.0f / 255.0f;
  p->resample = 2;
  p->do_resize = p->do_rescale = p->do_normalize = p->do_convert_rgb = true;

  tm_text_weights (m);
  ke_weights *w = &m->weights;
  int64_t H = t->hidden_size;
  int64_t vh = v->hidden_size, vi = v->intermediate_size, P = v->patch_size;
  int64_t n_patches = (v->image_size / P) * (v->image_size / P);
  w->patch_embedding_weight = tm_bf16 (m, "patch_embedding", vh, 3 * P * P, 0.1f, 0.0f);
  w->patch_embedding_bias = tm_bf16 (m, "patch_embedding.bias", vh, 0, 0.1f, 0.0f);
  w->position_embedding = tm_bf16 (m, "position_embedding", n_patches, vh, 0.5f, 0.0f);
  w->vision_layers = tm_alloc (m, v->num_hidden_layers * sizeof (ke_vision_layer));
  for (uint32_t l = 0; l < v->num_hidden_layers; l++) {
    ke_vision_layer *L = &w->vision_layers[l];
    L->layer_norm1_weight = tm_bf16 (m, "ln1.w", vh, 0, 0.2f, 1.0f);
    L->layer_norm1_bias = tm_bf16 (m, "ln1.b", vh, 0, 0.1f, 0.0f);
    L->layer_norm2_weight = tm_bf16 (m, "ln2.w", vh, 0, 0.2f, 1.0f);
    L->layer_norm2_bias = tm_bf16 (m, "ln2.b", vh, 0, 0.1f, 0.0f);
    L->q_proj = tm_bf16_linear (m, "v.q", vh, vh, true);
    L->k_proj = tm_bf16_linear (m, "v.k", vh, vh, true);
    L->v_proj = tm_bf16_linear (m, "v.v", vh, vh, true);
    L->out_proj = tm_bf16_linear (m, "v.o", vh, vh, true);
    L->fc1 = tm_bf16_linear (m, "v.fc1", vi, vh, true);
    L->fc2 = tm_bf16_linear (m, "v.fc2", vh, vi, true);
  }
  w->post_layernorm_weight = tm_bf16 (m, "post_layernorm.w", vh, 0, 0.2f, 1.0f);
  w->post_layernorm_bias = tm_bf16 (m, "post_layernorm.b", vh, 0, 0.1f, 0.0f);
  w->mm_soft_emb_norm = tm_bf16 (m, "mm_soft_emb_norm", vh, 0, 0.5f, 0.0f);
  w->mm_input_projection_weight = tm_bf16 (m, "mm_input_projection", vh, H, 0.2f, 0.0f);
}

static void
tm_clear (test_model *m)
{
  for (int i = 0; i < m->n_allocs; i++)
    free (m->allocs[i]);
  m->n_allocs = 0;
}

/* ---- float64 reference ----------------------------------------------------------------- */

static double
ref_t (const ke_tensor *t, size_t i)
{
  float f;
  ke_cpu_tensor_to_f32 (t, i, 1, &f);
  return f;
}

/* y = W x (+b) for one vector; FP8 with optional per-vector activation quantization. */
static void
ref_linear (const ke_linear *l, const double *x, size_t in, size_t out, double *y, bool aq)
{
  double *xx = malloc (in * sizeof (double));
  double xs = 1.0;
  memcpy (xx, x, in * sizeof (double));
  bool fp8 = l->weight.dtype == KE_DTYPE_F8_E4M3;
  if (fp8 && aq) {
    float amax = 0.0f;
    for (size_t i = 0; i < in; i++)
      amax = fmaxf (amax, fabsf ((float) x[i]));
    float s = fmaxf (amax / 448.0f, 1.0f / (448.0f * 512.0f));
    for (size_t i = 0; i < in; i++)
      xx[i] = ke_fp8e4m3_to_f32 (ke_f32_to_fp8e4m3 ((float) x[i] / s));
    xs = s;
  }
  for (size_t o = 0; o < out; o++) {
    double acc = 0.0;
    for (size_t i = 0; i < in; i++)
      acc += xx[i] * ref_t (&l->weight, o * in + i);
    if (fp8)
      acc *= xs * ((const float *) l->scale.data)[o];
    if (l->bias.data)
      acc += ref_t (&l->bias, o);
    y[o] = acc;
  }
  free (xx);
}

static void
ref_rmsnorm (double *x, size_t n, const ke_tensor *w, double eps)
{
  double ss = 0.0;
  for (size_t i = 0; i < n; i++)
    ss += x[i] * x[i];
  double inv = 1.0 / sqrt (ss / n + eps);
  for (size_t i = 0; i < n; i++)
    x[i] = x[i] * inv * (1.0 + ref_t (w, i));
}

static void
ref_layernorm (double *x, size_t n, const ke_tensor *w, const ke_tensor *b, double eps)
{
  double mean = 0.0, var = 0.0;
  for (size_t i = 0; i < n; i++)
    mean += x[i];
  mean /= n;
  for (size_t i = 0; i < n; i++)
    var += (x[i] - mean) * (x[i] - mean);
  var /= n;
  for (size_t i = 0; i < n; i++)
    x[i] = (x[i] - mean) / sqrt (var + eps) * ref_t (w, i) + ref_t (b, i);
}

static double
ref_gelu (double x)
{
  return 0.5 * x * (1.0 + tanh (sqrt (2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

/* Vision tower + projector for preprocessed pixels [3, S, S] → [mm, hidden]. */
static void
ref_vision (const test_model *m, const float *px, double *out)
{
  const ke_config *c = &m->config;
  const ke_weights *w = &m->weights;
  size_t vh = c->vision.hidden_size, vi = c->vision.intermediate_size, P = c->vision.patch_size;
  size_t S = c->vision.image_size, g = S / P, n = g * g, heads = c->vision.num_attention_heads;
  size_t hd = vh / heads, H = c->text.hidden_size;
  double *x = calloc (n * vh, sizeof (double)), *h = calloc (n * vh, sizeof (double));
  double *q = calloc (n * vh, sizeof (double)), *k = calloc (n * vh, sizeof (double));
  double *v = calloc (n * vh, sizeof (double)), *a = calloc (n * vh, sizeof (double));
  double *t1 = calloc (vi, sizeof (double)), *t2 = calloc (vh, sizeof (double));
  double *sc = calloc (n, sizeof (double));
  for (size_t p = 0; p < n; p++)
    for (size_t o = 0; o < vh; o++) {
      double acc = ref_t (&w->patch_embedding_bias, o);
      for (size_t ch = 0; ch < 3; ch++)
        for (size_t ky = 0; ky < P; ky++)
          for (size_t kx = 0; kx < P; kx++)
            acc += px[(ch * S + (p / g) * P + ky) * S + (p % g) * P + kx] *
                   ref_t (&w->patch_embedding_weight, ((o * 3 + ch) * P + ky) * P + kx);
      x[p * vh + o] = acc + ref_t (&w->position_embedding, p * vh + o);
    }
  for (uint32_t l = 0; l < c->vision.num_hidden_layers; l++) {
    const ke_vision_layer *L = &w->vision_layers[l];
    for (size_t p = 0; p < n; p++) {
      memcpy (h + p * vh, x + p * vh, vh * sizeof (double));
      ref_layernorm (h + p * vh, vh, &L->layer_norm1_weight, &L->layer_norm1_bias, 1e-6);
      ref_linear (&L->q_proj, h + p * vh, vh, vh, q + p * vh, false);
      ref_linear (&L->k_proj, h + p * vh, vh, vh, k + p * vh, false);
      ref_linear (&L->v_proj, h + p * vh, vh, vh, v + p * vh, false);
    }
    for (size_t p = 0; p < n; p++)
      for (size_t hh = 0; hh < heads; hh++) {
        double max = -1e300, sum = 0.0;
        for (size_t j = 0; j < n; j++) {
          double d = 0.0;
          for (size_t e = 0; e < hd; e++)
            d += q[p * vh + hh * hd + e] * k[j * vh + hh * hd + e];
          sc[j] = d / sqrt ((double) hd);
          max = fmax (max, sc[j]);
        }
        for (size_t j = 0; j < n; j++)
          sum += (sc[j] = exp (sc[j] - max));
        for (size_t e = 0; e < hd; e++) {
          double acc = 0.0;
          for (size_t j = 0; j < n; j++)
            acc += sc[j] / sum * v[j * vh + hh * hd + e];
          a[p * vh + hh * hd + e] = acc;
        }
      }
    for (size_t p = 0; p < n; p++) {
      ref_linear (&L->out_proj, a + p * vh, vh, vh, t2, false);
      for (size_t i = 0; i < vh; i++)
        x[p * vh + i] += t2[i];
      memcpy (h + p * vh, x + p * vh, vh * sizeof (double));
      ref_layernorm (h + p * vh, vh, &L->layer_norm2_weight, &L->layer_norm2_bias, 1e-6);
      ref_linear (&L->fc1, h + p * vh, vh, vi, t1, false);
      for (size_t i = 0; i < vi; i++)
        t1[i] = ref_gelu (t1[i]);
      ref_linear (&L->fc2, t1, vi, vh, t2, false);
      for (size_t i = 0; i < vh; i++)
        x[p * vh + i] += t2[i];
    }
  }
  for (size_t p = 0; p < n; p++)
    ref_layernorm (x + p * vh, vh, &w->post_layernorm_weight, &w->post_layernorm_bias, 1e-6);
  size_t side = (size_t) sqrt ((double) c->mm_tokens_per_image), kern = g / side;
  for (size_t tkn = 0; tkn < side * side; tkn++) {
    double pooled[256];
    for (size_t i = 0; i < vh; i++) {
      double s = 0.0;
      for (size_t ky = 0; ky < kern; ky++)
        for (size_t kx = 0; kx < kern; kx++)
          s += x[(((tkn / side) * kern + ky) * g + (tkn % side) * kern + kx) * vh + i];
      pooled[i] = s / (double) (kern * kern);
    }
    ref_rmsnorm (pooled, vh, &w->mm_soft_emb_norm, 1e-6);
    for (size_t j = 0; j < H; j++) {
      double acc = 0.0;
      for (size_t i = 0; i < vh; i++)
        acc += pooled[i] * ref_t (&w->mm_input_projection_weight, i * H + j);
      out[tkn * H + j] = acc;
    }
  }
  free (x); free (h); free (q); free (k); free (v); free (a); free (t1); free (t2); free (sc);
}

/* The text model over a whole sequence; image_emb[p] != NULL replaces position p's
 * embedding; group[p] >= 0 marks image runs.  Returns logits of the last position. */
static void
ref_text (const test_model *m, const ke_token *ids, size_t n, const double *const *image_emb,
          const int *group, bool aq, double *logits)
{
  const ke_text_config *t = &m->config.text;
  const ke_weights *w = &m->weights;
  size_t H = t->hidden_size, I = t->intermediate_size, hd = t->head_dim;
  size_t nh = t->num_attention_heads, nkv = t->num_key_value_heads;
  double *x = calloc (n * H, sizeof (double)), *h = calloc (H, sizeof (double));
  double *q = calloc (n * nh * hd, sizeof (double)), *k = calloc (n * nkv * hd, sizeof (double));
  double *v = calloc (n * nkv * hd, sizeof (double)), *a = calloc (nh * hd, sizeof (double));
  double *g1 = calloc (I, sizeof (double)), *g2 = calloc (I, sizeof (double));
  double *o = calloc (H, sizeof (double)), *sc = calloc (n, sizeof (double));
  double scale = (double) ke_round_bf16 (sqrtf ((float) H));
  for (size_t p = 0; p < n; p++)
    for (size_t i = 0; i < H; i++)
      x[p * H + i] = image_emb && image_emb[p] ? image_emb[p][i]
                                               : ref_t (&w->embed_tokens, (size_t) ids[p] * H + i) * scale;
  for (uint32_t l = 0; l < t->num_hidden_layers; l++) {
    const ke_text_layer *L = &w->layers[l];
    bool global = t->layer_kind[l] == KE_LAYER_GLOBAL;
    double base = global ? t->rope_theta : t->rope_local_base_freq;
    double factor = global ? t->rope_scaling_factor : 1.0;
    for (size_t p = 0; p < n; p++) {
      memcpy (h, x + p * H, H * sizeof (double));
      ref_rmsnorm (h, H, &L->input_layernorm, 1e-6);
      ref_linear (&L->q_proj, h, H, nh * hd, q + p * nh * hd, aq);
      ref_linear (&L->k_proj, h, H, nkv * hd, k + p * nkv * hd, aq);
      ref_linear (&L->v_proj, h, H, nkv * hd, v + p * nkv * hd, aq);
      for (size_t hh = 0; hh < nh + nkv; hh++) {
        double *vec = hh < nh ? q + (p * nh + hh) * hd : k + (p * nkv + hh - nh) * hd;
        ref_rmsnorm (vec, hd, hh < nh ? &L->q_norm : &L->k_norm, 1e-6);
        for (size_t i = 0; i < hd / 2; i++) {
          double inv = 1.0 / pow (base, (double) (2 * i) / hd) / factor;
          double ang = p * inv, c0 = cos (ang), s0 = sin (ang);
          double x0 = vec[i], x1 = vec[i + hd / 2];
          vec[i] = x0 * c0 - x1 * s0;
          vec[i + hd / 2] = x1 * c0 + x0 * s0;
        }
      }
    }
    for (size_t i = 0; i < n; i++) {
      for (size_t hh = 0; hh < nh; hh++) {
        size_t kh = hh / (nh / nkv);
        double max = -1e300, sum = 0.0;
        for (size_t j = 0; j < n; j++) {
          bool visible = (j <= i && (global || i - j < t->sliding_window)) ||
                         (group && group[i] >= 0 && group[i] == group[j]);
          if (!visible) {
            sc[j] = -INFINITY;
            continue;
          }
          double d = 0.0;
          for (size_t e = 0; e < hd; e++)
            d += q[(i * nh + hh) * hd + e] * k[(j * nkv + kh) * hd + e];
          sc[j] = d / sqrt ((double) t->query_pre_attn_scalar);
          max = fmax (max, sc[j]);
        }
        for (size_t j = 0; j < n; j++)
          sum += (sc[j] = isinf (sc[j]) ? 0.0 : exp (sc[j] - max));
        for (size_t e = 0; e < hd; e++) {
          double acc = 0.0;
          for (size_t j = 0; j < n; j++)
            acc += sc[j] / sum * v[(j * nkv + kh) * hd + e];
          a[hh * hd + e] = acc;
        }
      }
      ref_linear (&L->o_proj, a, nh * hd, H, o, aq);
      ref_rmsnorm (o, H, &L->post_attention_layernorm, 1e-6);
      for (size_t e = 0; e < H; e++)
        h[e] = x[i * H + e] + o[e];
      /* keep the pre-attention x for later queries: write the residual to a copy */
      memcpy (o, h, H * sizeof (double));
      ref_rmsnorm (h, H, &L->pre_feedforward_layernorm, 1e-6);
      ref_linear (&L->gate_proj, h, H, I, g1, aq);
      ref_linear (&L->up_proj, h, H, I, g2, aq);
      for (size_t e = 0; e < I; e++)
        g1[e] = ref_gelu (g1[e]) * g2[e];
      ref_linear (&L->down_proj, g1, I, H, h, aq);
      ref_rmsnorm (h, H, &L->post_feedforward_layernorm, 1e-6);
      for (size_t e = 0; e < H; e++)
        x[i * H + e] = o[e] + h[e]; /* safe: q/k/v of every position are already computed */
    }
  }
  memcpy (h, x + (n - 1) * H, H * sizeof (double));
  ref_rmsnorm (h, H, &w->norm, 1e-6);
  for (size_t vv = 0; vv < t->vocab_size; vv++) {
    double acc = 0.0;
    for (size_t e = 0; e < H; e++)
      acc += h[e] * ref_t (&w->embed_tokens, vv * H + e);
    logits[vv] = acc;
  }
  free (x); free (h); free (q); free (k); free (v); free (a); free (g1); free (g2); free (o);
  free (sc);
}

static double
rel_diff (const float *a, const double *ref, size_t n)
{
  double d = 0.0, r = 0.0;
  for (size_t i = 0; i < n; i++) {
    d += (a[i] - ref[i]) * (a[i] - ref[i]);
    r += ref[i] * ref[i];
  }
  return sqrt (d / (r > 0 ? r : 1));
}
