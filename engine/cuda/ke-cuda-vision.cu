/* ke-cuda-vision.cu — the SigLIP vision tower + Gemma 3 multimodal projector on the GPU.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Same math as ke_cpu_vision_encode (ke-cpu-vision.c).  Per image (n = (S/P)² patches, vh
 * wide, activations for one image allocated once):
 *   patches bf16 [n, kpad]  ← pixels (normalized here from the resized uint8 RGB)
 *   x f32 [n, vh]           = patches · Wpᵀ + bias + position_embedding   (one GEMM, β·C)
 *   per layer:  h = LN1(x) (bf16);  qkv = h · Wqkvᵀ + b (bf16);  split heads;
 *               a = attention (bf16);  x = a · Woᵀ + b + x      (bias + residual in the GEMM)
 *               h = LN2(x);  m = gelu_tanh(h · W1ᵀ + b1) (bf16, cuBLASLt GELU_BIAS epilogue)
 *               x = m · W2ᵀ + b2 + x
 *   x = post_LN(x) (f32);  pooled = RMSNorm(AvgPool(x)) (bf16);  out = pooled · Wprojᵀ (f32)
 * The residual stream is f32 (transformers keeps it in bf16; the CPU backend in f32).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "ke-cuda-internal.h"
#include "ke-cuda-vision.h"
#include "ke-cuda-vision-private.h"
#include "ke-numeric.h"

extern "C" {
#include "ke-config.h"
#include "ke-weights.h"
#include "ke-cpu.h"
}

#define VISION_WORKSPACE (32u << 20)

/* ---- upload ------------------------------------------------------------------------------ */

static void *
vdev_alloc (ke_cuda_vision *v, size_t bytes, ke_error **error)
{
  void *p = NULL;
  if (!KE_CUDA_CHECK (cudaMalloc (&p, bytes ? bytes : 16), error))
    return NULL;
  v->bytes += bytes;
  return p;
}

static bool
check_tensor (const ke_tensor *t, size_t count, ke_error **error)
{
  if (!ke_cpu_tensor_is_float (t) || t->nbytes < count * ke_cpu_dtype_size (t->dtype))
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "Vision tensor %s is missing, not float, or smaller than %zu values.",
                         t->name ? t->name : "(unnamed)", count);
  return true;
}

/* rows × cols of t (row-major) into device rows of `pitch` values starting at dst_row,
 * bf16 or f32, columns ≥ cols zero. */
static bool
upload_rows (const ke_tensor *t, size_t rows, size_t cols, size_t pitch, bool as_f32, void *dst,
             size_t dst_row, ke_error **error)
{
  if (!check_tensor (t, rows * cols, error))
    return false;
  size_t esize = as_f32 ? 4 : 2;
  size_t chunk_rows = (1u << 20) / pitch + 1;
  if (chunk_rows > rows)
    chunk_rows = rows;
  float *f = (float *) ke_malloc_array (chunk_rows * cols, sizeof (float));
  uint8_t *host = (uint8_t *) ke_calloc_array (chunk_rows * pitch, esize);
  bool ok = f && host;
  if (!ok)
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory uploading the vision tower.");
  for (size_t r0 = 0; ok && r0 < rows; r0 += chunk_rows) {
    size_t nr = rows - r0 < chunk_rows ? rows - r0 : chunk_rows;
    ke_cpu_tensor_to_f32 (t, r0 * cols, nr * cols, f);
    for (size_t r = 0; r < nr; r++)
      for (size_t c = 0; c < cols; c++) {
        float val = f[r * cols + c];
        if (as_f32)
          ((float *) host)[r * pitch + c] = val;
        else
          ((uint16_t *) host)[r * pitch + c] = ke_f32_to_bf16 (val);
      }
    ok = KE_CUDA_CHECK (cudaMemcpy ((uint8_t *) dst + (dst_row + r0) * pitch * esize, host,
                                    nr * pitch * esize, cudaMemcpyHostToDevice), error);
  }
  free (f);
  free (host);
  return ok;
}

static void *
upload (ke_cuda_vision *v, const ke_tensor *t, size_t rows, size_t cols, bool as_f32,
        ke_error **error)
{
  void *d = vdev_alloc (v, rows * cols * (as_f32 ? 4 : 2), error);
  if (d && !upload_rows (t, rows, cols, cols, as_f32, d, 0, error)) {
    cudaFree (d);
    return NULL;
  }
  return d;
}

/* q; k; v (weights [vh, vh] or biases [vh]) stacked row-wise. */
static uint16_t *
upload_qkv (ke_cuda_vision *v, const ke_tensor *q, const ke_tensor *k, const ke_tensor *vv,
            size_t cols, ke_error **error)
{
  size_t vh = (size_t) v->vh;
  uint16_t *d = (uint16_t *) vdev_alloc (v, 3 * vh * cols * 2, error);
  if (d && (!upload_rows (q, vh, cols, cols, false, d, 0, error) ||
            !upload_rows (k, vh, cols, cols, false, d, vh, error) ||
            !upload_rows (vv, vh, cols, cols, false, d, 2 * vh, error))) {
    cudaFree (d);
    return NULL;
  }
  return d;
}

static bool
upload_layer (ke_cuda_vision *v, const ke_vision_layer *L, vision_layer *D, ke_error **error)
{
  size_t vh = (size_t) v->vh, vi = (size_t) v->vi;
  if (!L->q_proj.bias.data || !L->k_proj.bias.data || !L->v_proj.bias.data ||
      !L->out_proj.bias.data || !L->fc1.bias.data || !L->fc2.bias.data)
    return ke_set_error (error, KE_ERROR_FORMAT, "A vision linear lacks its bias.");
  return (D->qkv_w = upload_qkv (v, &L->q_proj.weight, &L->k_proj.weight, &L->v_proj.weight, vh,
                                 error)) &&
         (D->qkv_b = upload_qkv (v, &L->q_proj.bias, &L->k_proj.bias, &L->v_proj.bias, 1,
                                 error)) &&
         (D->o_w = (uint16_t *) upload (v, &L->out_proj.weight, vh, vh, false, error)) &&
         (D->o_b = (float *) upload (v, &L->out_proj.bias, vh, 1, true, error)) &&
         (D->fc1_w = (uint16_t *) upload (v, &L->fc1.weight, vi, vh, false, error)) &&
         (D->fc1_b = (uint16_t *) upload (v, &L->fc1.bias, vi, 1, false, error)) &&
         (D->fc2_w = (uint16_t *) upload (v, &L->fc2.weight, vh, vi, false, error)) &&
         (D->fc2_b = (float *) upload (v, &L->fc2.bias, vh, 1, true, error)) &&
         (D->ln1_w = (float *) upload (v, &L->layer_norm1_weight, vh, 1, true, error)) &&
         (D->ln1_b = (float *) upload (v, &L->layer_norm1_bias, vh, 1, true, error)) &&
         (D->ln2_w = (float *) upload (v, &L->layer_norm2_weight, vh, 1, true, error)) &&
         (D->ln2_b = (float *) upload (v, &L->layer_norm2_bias, vh, 1, true, error));
}

/* mm_input_projection_weight [vh, H] (used as x @ W) → bf16 [H, vh] for the TN GEMM. */
static uint16_t *
upload_projection (ke_cuda_vision *v, const ke_tensor *t, ke_error **error)
{
  size_t vh = (size_t) v->vh, H = (size_t) v->H;
  if (!check_tensor (t, vh * H, error))
    return NULL;
  float *row = (float *) ke_malloc_array (H, sizeof (float));
  uint16_t *wt = (uint16_t *) ke_malloc_array (vh * H, sizeof (uint16_t));
  uint16_t *d = NULL;
  if (!row || !wt) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory uploading the projector.");
    goto out;
  }
  for (size_t i = 0; i < vh; i++) {
    ke_cpu_tensor_to_f32 (t, i * H, H, row);
    for (size_t j = 0; j < H; j++)
      wt[j * vh + i] = ke_f32_to_bf16 (row[j]);
  }
  d = (uint16_t *) vdev_alloc (v, vh * H * 2, error);
  if (d && !KE_CUDA_CHECK (cudaMemcpy (d, wt, vh * H * 2, cudaMemcpyHostToDevice), error)) {
    cudaFree (d);
    d = NULL;
  }
out:
  free (row);
  free (wt);
  return d;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

void
ke_cuda_vision_free (ke_cuda_vision *v)
{
  if (!v)
    return;
  if (v->layers) {
    for (int l = 0; l < v->n_layers; l++) {
      vision_layer *D = &v->layers[l];
      void *p[] = { D->qkv_w, D->o_w, D->fc1_w, D->fc2_w, D->qkv_b, D->fc1_b, D->o_b, D->fc2_b,
                    D->ln1_w, D->ln1_b, D->ln2_w, D->ln2_b };
      for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        cudaFree (p[i]);
    }
    free (v->layers);
  }
  for (int i = 0; i < 5; i++)
    if (v->graph[i])
      cudaGraphExecDestroy (v->graph[i]);
  ke_bf16_gemm_plan *plans[] = { v->p_patch, v->p_qkv, v->p_o, v->p_fc1, v->p_fc2, v->p_proj };
  for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++)
    ke_bf16_gemm_plan_free (plans[i]);
  void *bufs[] = { v->patch_w, v->proj_w, v->patch_b, v->pos, v->post_w, v->post_b, v->soft_w,
                   v->rgb, v->pixels, v->x, v->patches, v->hb, v->qkv, v->q, v->k, v->vt,
                   v->att, v->mlp, v->pooled, v->workspace, v->emb };
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    cudaFree (bufs[i]);
  cudaFreeHost (v->h_stage);
  cudaFreeHost (v->h_big);
  cudaFree (v->d_big);
  cudaFree (v->d_mid);
  if (v->staged)
    cudaEventDestroy (v->staged);
  free (v);
}

void
ke_cuda_vision_gemm_ms (const ke_cuda_vision *v, float ms[6])
{
  memcpy (ms, v->gemm_ms, sizeof v->gemm_ms);
}

size_t
ke_cuda_vision_device_bytes (const ke_cuda_vision *v)
{
  return v->bytes;
}

ke_cuda_vision *
ke_cuda_vision_new (const ke_config *config, const ke_weights *W, void *stream, ke_error **error)
{
  const ke_vision_config *vc = &config->vision;
  if (!config->has_vision) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED, "This model has no vision tower.");
    return NULL;
  }
  size_t side = (size_t) lround (sqrt ((double) config->mm_tokens_per_image));
  uint32_t heads = vc->num_attention_heads;
  if (!vc->hidden_size || !vc->patch_size || !vc->image_size || vc->image_size % vc->patch_size ||
      vc->num_channels != 3 || !heads || vc->hidden_size % heads || !side ||
      side * side != config->mm_tokens_per_image || (vc->image_size / vc->patch_size) % side ||
      !W->vision_layers) {
    ke_set_error (error, KE_ERROR_FORMAT, "The vision configuration is not usable.");
    return NULL;
  }
  uint32_t hd = vc->hidden_size / heads;
  if (hd % 8 || hd > KE_VATT_DIM || vc->hidden_size % 8 || vc->intermediate_size % 8 ||
      config->text.hidden_size % 8 || vc->image_size > 4096) {
    ke_set_error (error, KE_ERROR_UNSUPPORTED,
                  "The GPU vision tower does not run this shape (hidden %u, intermediate %u, "
                  "head_dim %u, image %u).", vc->hidden_size, vc->intermediate_size, hd,
                  vc->image_size);
    return NULL;
  }
  ke_cuda_vision *v = (ke_cuda_vision *) calloc (1, sizeof *v);
  if (!v) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  v->stream = (cudaStream_t) stream;
  v->S = (int) vc->image_size;
  v->P = (int) vc->patch_size;
  v->grid = v->S / v->P;
  v->n = v->grid * v->grid;
  v->kin = 3 * v->P * v->P;
  v->kpad = (v->kin + 7) / 8 * 8;
  v->vh = (int) vc->hidden_size;
  v->vi = (int) vc->intermediate_size;
  v->heads = (int) heads;
  v->hd = (int) hd;
  v->H = (int) config->text.hidden_size;
  v->n_layers = (int) vc->num_hidden_layers;
  v->side = (int) side;
  v->kernel = v->grid / v->side;
  v->m = v->side * v->side;
  v->eps = vc->layer_norm_eps;
  v->scale = 1.0f / sqrtf ((float) hd);
  const ke_preprocess_config *pc = &config->preprocess;
  v->norm.rescale = pc->do_rescale;
  v->norm.normalize = pc->do_normalize;
  v->norm.rescale_factor = (double) pc->rescale_factor;
  for (int c = 0; c < 3; c++) {
    v->norm.mean[c] = pc->image_mean[c];
    v->norm.std[c] = pc->image_std[c];
  }

  size_t n = (size_t) v->n, vh = (size_t) v->vh, vi = (size_t) v->vi, rows = ke_cuda_vatt_rows (n);
  size_t S = (size_t) v->S;
  v->layers = (vision_layer *) calloc ((size_t) v->n_layers, sizeof (vision_layer));
  bool ok = v->layers != NULL;
  if (!ok)
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
  for (int l = 0; ok && l < v->n_layers; l++)
    ok = upload_layer (v, &W->vision_layers[l], &v->layers[l], error);
  ok = ok && (v->patch_w = (uint16_t *) vdev_alloc (v, vh * v->kpad * 2, error)) &&
       upload_rows (&W->patch_embedding_weight, vh, (size_t) v->kin, (size_t) v->kpad, false,
                    v->patch_w, 0, error) &&
       (v->patch_b = (float *) upload (v, &W->patch_embedding_bias, vh, 1, true, error)) &&
       (v->pos = (float *) upload (v, &W->position_embedding, n, vh, true, error)) &&
       (v->post_w = (float *) upload (v, &W->post_layernorm_weight, vh, 1, true, error)) &&
       (v->post_b = (float *) upload (v, &W->post_layernorm_bias, vh, 1, true, error)) &&
       (v->soft_w = (float *) upload (v, &W->mm_soft_emb_norm, vh, 1, true, error)) &&
       (v->proj_w = upload_projection (v, &W->mm_input_projection_weight, error));
  ok = ok && KE_CUDA_CHECK (cudaMallocHost ((void **) &v->h_stage, S * S * 4), error) &&
       KE_CUDA_CHECK (cudaEventCreateWithFlags (&v->staged, cudaEventDisableTiming), error);
  ok = ok && (v->rgb = (uint8_t *) vdev_alloc (v, S * S * 4, error)) &&
       (v->pixels = (float *) vdev_alloc (v, 3 * S * S * 4, error)) &&
       (v->x = (float *) vdev_alloc (v, n * vh * 4, error)) &&
       (v->patches = (uint16_t *) vdev_alloc (v, n * v->kpad * 2, error)) &&
       (v->hb = (uint16_t *) vdev_alloc (v, n * vh * 2, error)) &&
       (v->qkv = (uint16_t *) vdev_alloc (v, n * 3 * vh * 2, error)) &&
       (v->q = (uint16_t *) vdev_alloc (v, heads * rows * KE_VATT_DIM * 2, error)) &&
       (v->k = (uint16_t *) vdev_alloc (v, heads * rows * KE_VATT_DIM * 2, error)) &&
       (v->vt = (uint16_t *) vdev_alloc (v, heads * rows * hd * 2, error)) &&
       (v->att = (uint16_t *) vdev_alloc (v, n * vh * 2, error)) &&
       (v->mlp = (uint16_t *) vdev_alloc (v, n * vi * 2, error)) &&
       (v->pooled = (uint16_t *) vdev_alloc (v, (size_t) v->m * vh * 2, error)) &&
       (v->emb = (float *) vdev_alloc (v, (size_t) v->m * v->H * 4, error)) &&
       (v->workspace = vdev_alloc (v, VISION_WORKSPACE, error));
  int N = v->n;
  ok = ok &&
       (v->p_patch = ke_bf16_gemm_plan_new (N, v->vh, v->kpad, KE_VGEMM_BIAS, true, true,
                                            v->workspace, VISION_WORKSPACE, error)) &&
       (v->p_qkv = ke_bf16_gemm_plan_new (N, 3 * v->vh, v->vh, KE_VGEMM_BIAS, false, false,
                                          v->workspace, VISION_WORKSPACE, error)) &&
       (v->p_o = ke_bf16_gemm_plan_new (N, v->vh, v->vh, KE_VGEMM_BIAS, true, true,
                                        v->workspace, VISION_WORKSPACE, error)) &&
       (v->p_fc1 = ke_bf16_gemm_plan_new (N, v->vi, v->vh, KE_VGEMM_BIAS_GELU, false, false,
                                          v->workspace, VISION_WORKSPACE, error)) &&
       (v->p_fc2 = ke_bf16_gemm_plan_new (N, v->vh, v->vi, KE_VGEMM_BIAS, true, true,
                                          v->workspace, VISION_WORKSPACE, error)) &&
       (v->p_proj = ke_bf16_gemm_plan_new (v->m, v->H, v->vh, KE_VGEMM_PLAIN, true, false,
                                           v->workspace, VISION_WORKSPACE, error));
  /* Pick each GEMM's fastest algorithm on the real shapes (layer 0's weights; the
   * activation buffers' contents do not matter, every encode overwrites them). */
  if (ok) {
    const vision_layer *L = &v->layers[0];
    void *s = v->stream;
    ok = KE_CUDA_CHECK (cudaMemsetAsync (v->x, 0, n * vh * 4, (cudaStream_t) s), error) &&
         ke_bf16_gemm_plan_tune (v->p_patch, v->patches, v->patch_w, v->patch_b, v->pos, v->x, s,
                                 &v->gemm_ms[0], error) &&
         ke_bf16_gemm_plan_tune (v->p_qkv, v->hb, L->qkv_w, L->qkv_b, NULL, v->qkv, s,
                                 &v->gemm_ms[1], error) &&
         ke_bf16_gemm_plan_tune (v->p_o, v->att, L->o_w, L->o_b, v->x, v->x, s, &v->gemm_ms[2],
                                 error) &&
         ke_bf16_gemm_plan_tune (v->p_fc1, v->hb, L->fc1_w, L->fc1_b, NULL, v->mlp, s,
                                 &v->gemm_ms[3], error) &&
         ke_bf16_gemm_plan_tune (v->p_fc2, v->mlp, L->fc2_w, L->fc2_b, v->x, v->x, s,
                                 &v->gemm_ms[4], error) &&
         ke_bf16_gemm_plan_tune (v->p_proj, v->pooled, v->proj_w, NULL, NULL, v->qkv, s,
                                 &v->gemm_ms[5], error);
  }
  ok = ok && KE_CUDA_CHECK (cudaDeviceSynchronize (), error);
  if (!ok) {
    ke_cuda_vision_free (v);
    return NULL;
  }
  return v;
}

/* ---- encode ------------------------------------------------------------------------------- */

static bool
run_kernels (ke_cuda_vision *v, bool from_rgb, float *out, ke_error **error)
{
  void *s = v->stream;
  int N = v->n, vh = v->vh;
  if (!ke_cuda_vpatches (from_rgb ? v->rgb : NULL, v->rgb_channels, from_rgb ? NULL : v->pixels,
                         v->S, v->P, v->kpad, &v->norm, v->patches, s, error) ||
      !ke_bf16_gemm_run (v->p_patch, v->patches, v->patch_w, v->patch_b, v->pos, v->x, s, error))
    return false;
  for (int l = 0; l < v->n_layers; l++) {
    const vision_layer *L = &v->layers[l];
    if (!ke_cuda_vlayernorm (v->x, L->ln1_w, L->ln1_b, v->eps, N, vh, v->hb, false, s, error) ||
        !ke_bf16_gemm_run (v->p_qkv, v->hb, L->qkv_w, L->qkv_b, NULL, v->qkv, s, error) ||
        !ke_cuda_vsplit_qkv (v->qkv, N, v->heads, v->hd, v->q, v->k, v->vt, s, error) ||
        !ke_cuda_vattention (v->q, v->k, v->vt, N, v->heads, v->hd, v->scale, v->att, s, error) ||
        !ke_bf16_gemm_run (v->p_o, v->att, L->o_w, L->o_b, v->x, v->x, s, error) ||
        !ke_cuda_vlayernorm (v->x, L->ln2_w, L->ln2_b, v->eps, N, vh, v->hb, false, s, error) ||
        !ke_bf16_gemm_run (v->p_fc1, v->hb, L->fc1_w, L->fc1_b, NULL, v->mlp, s, error) ||
        !ke_bf16_gemm_run (v->p_fc2, v->mlp, L->fc2_w, L->fc2_b, v->x, v->x, s, error))
      return false;
  }
  return ke_cuda_vlayernorm (v->x, v->post_w, v->post_b, v->eps, N, vh, v->x, true, s, error) &&
         ke_cuda_vpool_norm (v->x, v->grid, v->kernel, vh, v->soft_w, v->eps, v->pooled, s,
                             error) &&
         ke_bf16_gemm_run (v->p_proj, v->pooled, v->proj_w, NULL, NULL, out, s, error);
}

/* From rgb through the graph of its channel count (captured on first use; if capturing
 * fails, the kernels run directly from then on), or from pixels directly. */
bool
ke_cuda_vision_run_tower (ke_cuda_vision *v, bool from_rgb, float *out, ke_error **error)
{
  int ch = v->rgb_channels;
  if (!from_rgb || v->graph_failed || ch < 3 || ch > 4)
    return run_kernels (v, from_rgb, out, error);
  cudaStream_t s = v->stream;
  if (!v->graph[ch]) {
    cudaGraph_t g = NULL;
    ke_error *local = NULL;
    bool ok = cudaStreamBeginCapture (s, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
    if (ok) {
      ok = run_kernels (v, true, v->emb, &local);
      ok = cudaStreamEndCapture (s, &g) == cudaSuccess && ok && g;
    }
    ok = ok && cudaGraphInstantiate (&v->graph[ch], g, 0) == cudaSuccess;
    if (g)
      cudaGraphDestroy (g);
    ke_error_free (local);
    if (!ok) {
      (void) cudaGetLastError (); /* a failed capture is not a device fault */
      v->graph[ch] = NULL;
      v->graph_failed = true;
      return run_kernels (v, true, out, error);
    }
  }
  return KE_CUDA_CHECK (cudaGraphLaunch (v->graph[ch], s), error) &&
         KE_CUDA_CHECK (cudaMemcpyAsync (out, v->emb, (size_t) v->m * v->H * sizeof (float),
                                         cudaMemcpyDeviceToDevice, s), error);
}

bool
ke_cuda_vision_encode_pixels (ke_cuda_vision *v, const float *pixel_values, float *out,
                              ke_error **error)
{
  size_t bytes = (size_t) 3 * v->S * v->S * sizeof (float);
  return KE_CUDA_CHECK (cudaMemcpyAsync (v->pixels, pixel_values, bytes, cudaMemcpyHostToDevice,
                                         v->stream), error) &&
         ke_cuda_vision_run_tower (v, false, out, error);
}
