/* ke-cpu-vision.c — SigLIP vision tower (no head) + Gemma 3 multimodal projector.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * As transformers' SiglipVisionModel(...).last_hidden_state and Gemma3MultiModalProjector:
 *   patches  = conv(patch×patch, stride patch)(pixel_values) + bias   [n_patches, vh]
 *   x        = patches + position_embedding                            (patch index = row·grid + col)
 *   per layer: x = x + out_proj(attn(layer_norm1(x)));  x = x + fc2(gelu_tanh(fc1(layer_norm2(x))))
 *              (full bidirectional attention, scale head_dim^-0.5, biases everywhere)
 *   x        = post_layernorm(x)
 *   pooled   = AvgPool2d(k)(x as [vh, grid, grid]), k = grid / sqrt(mm_tokens)   [mm_tokens, vh]
 *   out      = mm_soft_emb_norm(pooled) @ mm_input_projection_weight               [mm_tokens, hidden]
 * Every size comes from the config.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-cpu.h"

typedef struct {
  float *x, *h, *q, *k, *v, *att, *mlp, *scores, *tiles;
} vision_buffers;

static void
buffers_free (vision_buffers *b)
{
  free (b->x);
  free (b->h);
  free (b->q);
  free (b->k);
  free (b->v);
  free (b->att);
  free (b->mlp);
  free (b->scores);
  free (b->tiles);
}

static bool
vec (const ke_tensor *t, size_t n, float *out, ke_error **error)
{
  if (!ke_cpu_tensor_is_float (t) || t->nbytes < n * ke_cpu_dtype_size (t->dtype))
    return ke_set_error (error, KE_ERROR_FORMAT, "Vision tensor %s is missing or too small.",
                         t->name ? t->name : "(unnamed)");
  ke_cpu_tensor_to_f32 (t, 0, n, out);
  return true;
}

static bool
check_linear (const ke_linear *l, size_t out, size_t in, ke_error **error)
{
  if (!ke_cpu_tensor_is_float (&l->weight) ||
      l->weight.nbytes < out * in * ke_cpu_dtype_size (l->weight.dtype) ||
      (l->bias.data && (!ke_cpu_tensor_is_float (&l->bias) ||
                        l->bias.nbytes < out * ke_cpu_dtype_size (l->bias.dtype))))
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "Vision linear %s is missing, not float, or smaller than [%zu, %zu].",
                         l->weight.name ? l->weight.name : "(unnamed)", out, in);
  return true;
}

bool
ke_cpu_vision_encode (ke_cpu_pool *pool, const ke_config *config, const ke_weights *weights,
                      const float *pixel_values, float *out, ke_error **error)
{
  const ke_vision_config *vc = &config->vision;
  if (!config->has_vision)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "This model has no vision tower.");
  size_t vh = vc->hidden_size, vi = vc->intermediate_size, P = vc->patch_size;
  size_t S = vc->image_size, C = vc->num_channels;
  size_t heads = vc->num_attention_heads;
  size_t H = config->text.hidden_size;
  if (!vh || !vi || !P || !S || S % P || C != 3 || !heads || vh % heads)
    return ke_set_error (error, KE_ERROR_FORMAT, "The vision configuration is not usable.");
  size_t grid = S / P, n = grid * grid, hd = vh / heads, patch_in = C * P * P;
  size_t side = (size_t) lround (sqrt ((double) config->mm_tokens_per_image));
  if (side == 0 || side * side != config->mm_tokens_per_image || grid % side)
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "mm_tokens_per_image %u does not pool a %zu×%zu patch grid.",
                         config->mm_tokens_per_image, grid, grid);
  size_t kernel = grid / side, m = side * side;
  if (!check_linear (&(ke_linear) { .weight = weights->patch_embedding_weight,
                                    .bias = weights->patch_embedding_bias }, vh, patch_in, error))
    return false;
  for (uint32_t l = 0; l < vc->num_hidden_layers; l++) {
    const ke_vision_layer *L = &weights->vision_layers[l];
    if (!check_linear (&L->q_proj, vh, vh, error) || !check_linear (&L->k_proj, vh, vh, error) ||
        !check_linear (&L->v_proj, vh, vh, error) || !check_linear (&L->out_proj, vh, vh, error) ||
        !check_linear (&L->fc1, vi, vh, error) || !check_linear (&L->fc2, vh, vi, error))
      return false;
  }
  const ke_tensor *proj = &weights->mm_input_projection_weight;
  if (!ke_cpu_tensor_is_float (proj) || proj->nbytes < vh * H * ke_cpu_dtype_size (proj->dtype))
    return ke_set_error (error, KE_ERROR_FORMAT, "mm_input_projection_weight is missing or small.");

  size_t n_threads = (size_t) ke_cpu_pool_n_threads (pool);
  vision_buffers b = { 0 };
  float *params = ke_malloc_array (8 * (vh > H ? vh : H) + vh * H + H, sizeof (float));
  b.x = ke_malloc_array (n * vh, sizeof (float));
  b.h = ke_malloc_array (n * (vh > patch_in ? vh : patch_in), sizeof (float));
  b.q = ke_malloc_array (n * vh, sizeof (float));
  b.k = ke_malloc_array (n * vh, sizeof (float));
  b.v = ke_malloc_array (n * vh, sizeof (float));
  b.att = ke_malloc_array (n * vh, sizeof (float));
  b.mlp = ke_malloc_array (n * vi, sizeof (float));
  b.scores = ke_malloc_array (n_threads * KE_CPU_ATT_QBLOCK * n, sizeof (float));
  b.tiles = aligned_alloc (64, n_threads * KE_CPU_TILE_FLOATS * sizeof (float));
  int32_t *group = calloc (n, sizeof (int32_t)); /* one group: everything sees everything */
  if (!params || !b.x || !b.h || !b.q || !b.k || !b.v || !b.att || !b.mlp || !b.scores ||
      !b.tiles || !group) {
    free (params);
    free (group);
    buffers_free (&b);
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory for the vision tower.");
  }
  float *w1 = params, *b1 = params + vh, *w2 = params + 2 * vh, *b2 = params + 3 * vh;
  bool ok = false;

  /* Patch embedding as a linear over flattened (channel, ky, kx) patches. */
  for (size_t py = 0; py < grid; py++)
    for (size_t px = 0; px < grid; px++) {
      float *dst = b.h + (py * grid + px) * patch_in;
      for (size_t c = 0; c < C; c++)
        for (size_t ky = 0; ky < P; ky++)
          memcpy (dst + (c * P + ky) * P,
                  pixel_values + (c * S + py * P + ky) * S + px * P, P * sizeof (float));
    }
  ke_linear patch = { .weight = weights->patch_embedding_weight,
                      .bias = weights->patch_embedding_bias };
  ke_cpu_linear (pool, &patch, b.h, n, patch_in, vh, b.x, false, NULL, NULL, b.tiles);
  {
    const ke_tensor *pe = &weights->position_embedding;
    if (!ke_cpu_tensor_is_float (pe) || pe->nbytes < n * vh * ke_cpu_dtype_size (pe->dtype)) {
      ke_set_error (error, KE_ERROR_FORMAT, "position_embedding is missing or too small.");
      goto done;
    }
    for (size_t p = 0; p < n; p++) {
      ke_cpu_tensor_to_f32 (pe, p * vh, vh, b.h);
      for (size_t i = 0; i < vh; i++)
        b.x[p * vh + i] += b.h[i];
    }
  }

  for (uint32_t l = 0; l < vc->num_hidden_layers; l++) {
    const ke_vision_layer *L = &weights->vision_layers[l];
    if (!vec (&L->layer_norm1_weight, vh, w1, error) || !vec (&L->layer_norm1_bias, vh, b1, error) ||
        !vec (&L->layer_norm2_weight, vh, w2, error) || !vec (&L->layer_norm2_bias, vh, b2, error))
      goto done;
    memcpy (b.h, b.x, n * vh * sizeof (float));
    ke_cpu_layernorm (b.h, n, vh, w1, b1, vc->layer_norm_eps);
    ke_cpu_linear (pool, &L->q_proj, b.h, n, vh, vh, b.q, false, NULL, NULL, b.tiles);
    ke_cpu_linear (pool, &L->k_proj, b.h, n, vh, vh, b.k, false, NULL, NULL, b.tiles);
    ke_cpu_linear (pool, &L->v_proj, b.h, n, vh, vh, b.v, false, NULL, NULL, b.tiles);
    ke_cpu_attention att = {
      .q = b.q, .k_cache = b.k, .v_cache = b.v, .out = b.att,
      .n_q = (uint32_t) n, .pos0 = 0,
      .n_heads = (uint32_t) heads, .n_kv_heads = (uint32_t) heads, .head_dim = (uint32_t) hd,
      .window = 0, .scale = 1.0f / sqrtf ((float) hd), .group = group, .scores = b.scores,
    };
    ke_cpu_attention_run (pool, &att);
    ke_cpu_linear (pool, &L->out_proj, b.att, n, vh, vh, b.h, false, NULL, NULL, b.tiles);
    for (size_t i = 0; i < n * vh; i++)
      b.x[i] += b.h[i];

    memcpy (b.h, b.x, n * vh * sizeof (float));
    ke_cpu_layernorm (b.h, n, vh, w2, b2, vc->layer_norm_eps);
    ke_cpu_linear (pool, &L->fc1, b.h, n, vh, vi, b.mlp, false, NULL, NULL, b.tiles);
    for (size_t i = 0; i < n * vi; i++)
      b.mlp[i] = ke_cpu_gelu_tanh (b.mlp[i]);
    ke_cpu_linear (pool, &L->fc2, b.mlp, n, vi, vh, b.h, false, NULL, NULL, b.tiles);
    for (size_t i = 0; i < n * vh; i++)
      b.x[i] += b.h[i];
  }
  if (!vec (&weights->post_layernorm_weight, vh, w1, error) ||
      !vec (&weights->post_layernorm_bias, vh, b1, error))
    goto done;
  ke_cpu_layernorm (b.x, n, vh, w1, b1, vc->layer_norm_eps);

  /* Projector: average pool kernel×kernel cells of the patch grid. */
  float *pooled = b.q; /* [m, vh] */
  for (size_t R = 0; R < side; R++)
    for (size_t Cc = 0; Cc < side; Cc++) {
      float *dst = pooled + (R * side + Cc) * vh;
      for (size_t i = 0; i < vh; i++) {
        float sum = 0.0f;
        for (size_t ky = 0; ky < kernel; ky++)
          for (size_t kx = 0; kx < kernel; kx++)
            sum += b.x[((R * kernel + ky) * grid + Cc * kernel + kx) * vh + i];
        dst[i] = sum / (float) (kernel * kernel);
      }
    }
  if (!vec (&weights->mm_soft_emb_norm, vh, w1, error))
    goto done;
  ke_cpu_rmsnorm_gemma (pooled, m, vh, w1, vc->layer_norm_eps);
  /* x @ W with W [vh, hidden]: transpose W once into [hidden, vh] float for the linear. */
  float *wt = params + 8 * (vh > H ? vh : H), *row = wt + vh * H;
  for (size_t i = 0; i < vh; i++) {
    ke_cpu_tensor_to_f32 (proj, i * H, H, row);
    for (size_t j = 0; j < H; j++)
      wt[j * vh + i] = row[j];
  }
  ke_linear projection = {
    .weight = { .name = "mm_input_projection_weight (transposed)", .dtype = KE_DTYPE_F32,
                .ndim = 2, .shape = { (int64_t) H, (int64_t) vh }, .data = wt,
                .nbytes = H * vh * sizeof (float) },
  };
  ke_cpu_linear (pool, &projection, pooled, m, vh, H, out, false, NULL, NULL, b.tiles);
  ok = true;
done:
  free (params);
  free (group);
  buffers_free (&b);
  return ok;
}
