/* test-vision.c — the GPU vision tower (engine/cuda/ke-cuda-vision*.cu) against CPU
 * references: the attention kernel (both variants), LayerNorm, the bf16 GEMM epilogues
 * (bias, gelu-tanh, residual), and the whole tower + projector against the CPU backend's
 * ke_cpu_vision_encode — at the tiny CI shape and at SigLIP's full width (896 px, 4096
 * patches, 16 heads × 72) with 2 layers — from pixel values and from a caller's image
 * (resize + normalize).  Also times the attention and the full 27-layer tower.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Fresh random data every run (KESTREL_TEST_SEED repeats one), poisoned outputs.
 */
#include <cuda_runtime.h>
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-config.h"
#include "ke-weights.h"
#include "ke-cpu.h"
#include "ke-cuda-vision.h"
#include "gpu-test-util.h"

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return x < y ? -1 : x > y;
}

/* ---- attention ------------------------------------------------------------------------- */

static void
check_attention (int n, int heads, int hd, int check_rows, int variant, bool timed)
{
  int vh = heads * hd;
  size_t rows = ke_cuda_vatt_rows ((size_t) n);
  size_t nq = (size_t) n * 3 * vh;
  uint16_t *qkv = malloc (nq * 2), *out = malloc ((size_t) n * vh * 2);
  KE_REQUIRE (qkv && out, "host memory");
  fill_bf16 (qkv, nq, 2.0f);
  uint16_t *d_qkv = gpu_upload (qkv, nq * 2);
  uint16_t *d_q = gpu_poisoned (heads * rows * KE_VATT_DIM * 2);
  uint16_t *d_k = gpu_poisoned (heads * rows * KE_VATT_DIM * 2);
  uint16_t *d_vt = gpu_poisoned (heads * rows * hd * 2);
  uint16_t *d_out = gpu_poisoned ((size_t) n * vh * 2);
  KE_REQUIRE (d_qkv && d_q && d_k && d_vt && d_out, "device memory");
  float scale = 1.0f / sqrtf ((float) hd);
  ke_error *error = NULL;
  bool ok = ke_cuda_vsplit_qkv (d_qkv, n, heads, hd, d_q, d_k, d_vt, NULL, &error) &&
            ke_cuda_vattention_variant (d_q, d_k, d_vt, n, heads, hd, scale, d_out, variant,
                                        NULL, &error);
  KE_CHECK (ok, "attention launch: %s", error ? error->message : "");
  ke_error_free (error);
  ok = ok && gpu_download (out, d_out, (size_t) n * vh * 2);

  nmse_acc e = { 0 };
  size_t unwritten = 0;
  for (size_t i = 0; i < (size_t) n * vh; i++)
    unwritten += isnan (ke_bf16_to_f32 (out[i]));
  double *p = malloc (sizeof (double) * n);
  for (int c = 0; ok && c < check_rows; c++) {
    /* first, last and random rows */
    int i = c == 0 ? 0 : c == 1 ? n - 1 : (int) ((gpu_rand () * 0.5f + 0.5f) * (n - 1));
    for (int h = 0; h < heads; h++) {
      const uint16_t *qi = qkv + (size_t) i * 3 * vh + h * hd;
      double mx = -INFINITY, sum = 0;
      for (int j = 0; j < n; j++) {
        const uint16_t *kj = qkv + (size_t) j * 3 * vh + vh + h * hd;
        double s = 0;
        for (int d = 0; d < hd; d++)
          s += (double) ke_bf16_to_f32 (qi[d]) * ke_bf16_to_f32 (kj[d]);
        p[j] = s * scale;
        mx = fmax (mx, p[j]);
      }
      for (int j = 0; j < n; j++)
        sum += (p[j] = exp (p[j] - mx));
      for (int d = 0; d < hd; d++) {
        double o = 0;
        for (int j = 0; j < n; j++)
          o += p[j] * ke_bf16_to_f32 (qkv[(size_t) j * 3 * vh + 2 * vh + h * hd + d]);
        nmse_add (&e, ke_bf16_to_f32 (out[(size_t) i * vh + h * hd + d]), o / sum);
      }
    }
  }
  free (p);
  ke_tap_diag ("attention n %d × %d heads × %d (variant %d): rel %.2e over %d rows, unwritten "
               "%zu", n, heads, hd, variant, nmse_rel (&e), check_rows, unwritten);
  KE_CHECK (unwritten == 0 && e.nan == 0, "unwritten attention outputs");
  KE_CHECK (nmse_rel (&e) < 1e-2, "attention off (%.2e)", nmse_rel (&e));

  if (ok && timed) {
    cudaEvent_t a, b;
    cudaEventCreate (&a);
    cudaEventCreate (&b);
    const int reps = 20;
    cudaEventRecord (a, 0);
    for (int r = 0; r < reps; r++)
      ke_cuda_vattention_variant (d_q, d_k, d_vt, n, heads, hd, scale, d_out, variant, NULL, NULL);
    cudaEventRecord (b, 0);
    cudaEventSynchronize (b);
    float ms = 0;
    cudaEventElapsedTime (&ms, a, b);
    ms /= reps;
    double flop = 4.0 * n * (double) n * hd * heads;
    ke_tap_diag ("attention n %d × %d × %d variant %d: %.3f ms per call, %.0f TFLOP/s (hd %d "
                 "counted), × 27 layers = %.2f ms", n, heads, hd, variant, ms,
                 flop / (ms * 1e-3) / 1e12, hd, 27 * ms);
    cudaEventDestroy (a);
    cudaEventDestroy (b);
  }
  ke_cuda_free (d_qkv); ke_cuda_free (d_q); ke_cuda_free (d_k); ke_cuda_free (d_vt);
  ke_cuda_free (d_out);
  free (qkv); free (out);
}

KE_TEST (attention)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  for (int variant = 0; variant < 4; variant++) {
    check_attention (64, 4, 16, 64, variant, false);   /* tiny: one partial key tile */
    check_attention (300, 3, 72, 40, variant, false);  /* ragged n, SigLIP head_dim */
    check_attention (200, 2, 40, 40, variant, false);  /* an odd number of 8-wide dim tiles */
    check_attention (4096, 16, 72, 24, variant, true); /* the full shape */
  }
}

/* ---- LayerNorm + GEMM epilogues ------------------------------------------------------------ */

KE_TEST (layernorm)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  const int rows = 67, d = 1152;
  size_t n = (size_t) rows * d;
  float *x = malloc (n * 4), *w = malloc (d * 4), *b = malloc (d * 4), *got = malloc (n * 4);
  uint16_t *gotb = malloc (n * 2);
  for (size_t i = 0; i < n; i++)
    x[i] = 3.0f + 2.0f * gpu_rand (); /* an offset: the variance must be centred */
  for (int i = 0; i < d; i++) {
    w[i] = 1.0f + 0.3f * gpu_rand ();
    b[i] = 0.2f * gpu_rand ();
  }
  float *dx = gpu_upload (x, n * 4), *dw = gpu_upload (w, d * 4), *db = gpu_upload (b, d * 4);
  float *dout = gpu_poisoned (n * 4);
  uint16_t *doutb = gpu_poisoned (n * 2);
  KE_REQUIRE (dx && dw && db && dout && doutb, "device memory");
  KE_REQUIRE (ke_cuda_vlayernorm (dx, dw, db, 1e-6f, rows, d, dout, true, NULL, NULL) &&
              ke_cuda_vlayernorm (dx, dw, db, 1e-6f, rows, d, doutb, false, NULL, NULL),
              "launch");
  KE_REQUIRE (gpu_download (got, dout, n * 4) && gpu_download (gotb, doutb, n * 2), "download");
  ke_cpu_layernorm (x, rows, d, w, b, 1e-6f);
  nmse_acc ef = { 0 }, eb = { 0 };
  for (size_t i = 0; i < n; i++) {
    nmse_add (&ef, got[i], x[i]);
    nmse_add (&eb, ke_bf16_to_f32 (gotb[i]), x[i]);
  }
  ke_tap_diag ("layernorm f32 rel %.2e  bf16 rel %.2e  unwritten %zu", nmse_rel (&ef),
               nmse_rel (&eb), ef.nan + eb.nan);
  KE_CHECK (ef.nan + eb.nan == 0, "unwritten");
  KE_CHECK (nmse_rel (&ef) < 1e-5 && nmse_rel (&eb) < 4e-3, "layernorm off");
  ke_cuda_free (dx); ke_cuda_free (dw); ke_cuda_free (db); ke_cuda_free (dout);
  ke_cuda_free (doutb);
  free (x); free (w); free (b); free (got); free (gotb);
}

KE_TEST (gemm_epilogues)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  const int M = 100, N = 136, K = 264;
  uint16_t *x = malloc ((size_t) M * K * 2), *w = malloc ((size_t) N * K * 2);
  float *bias = malloc (N * 4), *c = malloc ((size_t) M * N * 4), *got = malloc ((size_t) M * N * 4);
  fill_bf16 (x, (size_t) M * K, 1.0f);
  fill_bf16 (w, (size_t) N * K, 0.2f);
  for (int i = 0; i < N; i++)
    bias[i] = gpu_rand ();
  for (size_t i = 0; i < (size_t) M * N; i++)
    c[i] = gpu_rand ();
  size_t ws_bytes = 4u << 20;
  void *ws = gpu_upload (NULL, ws_bytes);
  uint16_t *dx = gpu_upload (x, (size_t) M * K * 2), *dw = gpu_upload (w, (size_t) N * K * 2);
  float *dbias = gpu_upload (bias, N * 4), *dc = gpu_upload (c, (size_t) M * N * 4);
  float *dd = gpu_poisoned ((size_t) M * N * 4);
  KE_REQUIRE (ws && dx && dw && dbias && dc && dd, "device memory");
  ke_error *error = NULL;
  ke_bf16_gemm_plan *gelu = ke_bf16_gemm_plan_new (M, N, K, KE_VGEMM_BIAS_GELU, true, false, ws,
                                                   ws_bytes, &error);
  ke_bf16_gemm_plan *resid = gelu ? ke_bf16_gemm_plan_new (M, N, K, KE_VGEMM_BIAS, true, true, ws,
                                                           ws_bytes, &error) : NULL;
  KE_REQUIRE (gelu && resid, "plans: %s", error ? error->message : "");
  /* gelu-tanh epilogue, f32 out: tells the tanh form from erf (they differ by ~1e-3). */
  KE_REQUIRE (ke_bf16_gemm_run (gelu, dx, dw, dbias, NULL, dd, NULL, NULL), "gelu run");
  KE_REQUIRE (gpu_download (got, dd, (size_t) M * N * 4), "download");
  nmse_acc et = { 0 }, ee = { 0 };
  double worst_t = 0, worst_e = 0;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = bias[j];
      for (int k = 0; k < K; k++)
        s += (double) ke_bf16_to_f32 (x[(size_t) i * K + k]) * ke_bf16_to_f32 (w[(size_t) j * K + k]);
      double gt = 0.5 * s * (1 + tanh (0.7978845608028654 * (s + 0.044715 * s * s * s)));
      double ge = 0.5 * s * (1 + erf (s / sqrt (2.0)));
      double g = got[(size_t) i * N + j];
      nmse_add (&et, g, gt);
      nmse_add (&ee, g, ge);
      worst_t = fmax (worst_t, fabs (g - gt));
      worst_e = fmax (worst_e, fabs (g - ge));
    }
  ke_tap_diag ("GELU_BIAS epilogue: vs tanh form rel %.2e (max abs %.1e), vs erf form rel %.2e "
               "(max abs %.1e)", nmse_rel (&et), worst_t, nmse_rel (&ee), worst_e);
  KE_CHECK (et.nan == 0 && nmse_rel (&et) < 1e-4 && worst_t < worst_e,
            "cuBLASLt's GELU epilogue is not the tanh approximation gelu_pytorch_tanh needs");
  /* bias + residual (β = 1, C = D in place) */
  KE_REQUIRE (ke_cuda_memcpy_h2d (dd, c, (size_t) M * N * 4, NULL), "upload");
  KE_REQUIRE (ke_bf16_gemm_run (resid, dx, dw, dbias, dd, dd, NULL, NULL), "residual run");
  KE_REQUIRE (gpu_download (got, dd, (size_t) M * N * 4), "download");
  nmse_acc er = { 0 };
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = bias[j] + c[(size_t) i * N + j];
      for (int k = 0; k < K; k++)
        s += (double) ke_bf16_to_f32 (x[(size_t) i * K + k]) * ke_bf16_to_f32 (w[(size_t) j * K + k]);
      nmse_add (&er, got[(size_t) i * N + j], s);
    }
  ke_tap_diag ("BIAS epilogue + residual in place: rel %.2e", nmse_rel (&er));
  KE_CHECK (er.nan == 0 && nmse_rel (&er) < 1e-5, "bias + residual GEMM off");
  ke_bf16_gemm_plan_free (gelu);
  ke_bf16_gemm_plan_free (resid);
  ke_cuda_free (ws); ke_cuda_free (dx); ke_cuda_free (dw); ke_cuda_free (dbias);
  ke_cuda_free (dc); ke_cuda_free (dd);
  free (x); free (w); free (bias); free (c); free (got);
}

/* ---- the whole tower ------------------------------------------------------------------------ */

typedef struct {
  ke_config config;
  ke_weights w;
  ke_vision_layer *layers;
  uint16_t *blob; /* every tensor's bf16 data */
  size_t used, cap;
} vmodel;

static ke_tensor
make_tensor (vmodel *m, const char *name, int ndim, const int64_t *shape, float mag, float offset)
{
  ke_tensor t = { .name = name, .dtype = KE_DTYPE_BF16, .ndim = (uint32_t) ndim };
  size_t count = 1;
  for (int i = 0; i < ndim; i++) {
    t.shape[i] = shape[i];
    count *= (size_t) shape[i];
  }
  uint16_t *d = m->blob + m->used;
  m->used += count;
  for (size_t i = 0; i < count; i++)
    d[i] = ke_f32_to_bf16 (offset + mag * gpu_rand ());
  t.data = d;
  t.nbytes = count * 2;
  return t;
}

#define T1(m, name, a, mag, off) make_tensor (m, name, 1, (int64_t[]) { a }, mag, off)
#define T2(m, name, a, b, mag) make_tensor (m, name, 2, (int64_t[]) { a, b }, mag, 0.0f)

/* A random vision tower with `distinct` layers of weights, repeated to n_layers. */
static bool
vmodel_init (vmodel *m, uint32_t vh, uint32_t vi, uint32_t heads, uint32_t P, uint32_t S,
             uint32_t mm, uint32_t H, uint32_t n_layers, uint32_t distinct)
{
  memset (m, 0, sizeof *m);
  ke_config *c = &m->config;
  c->has_vision = true;
  c->vision = (ke_vision_config) { vh, vi, n_layers, heads, 3, S, P, 1e-6f };
  c->mm_tokens_per_image = mm;
  c->text.hidden_size = H;
  c->preprocess = (ke_preprocess_config) {
    .width = S, .height = S, .image_mean = { 0.5f, 0.5f, 0.5f }, .image_std = { 0.5f, 0.5f, 0.5f },
    .rescale_factor = 1.0f / 255.0f, .resample = 2, .do_resize = true, .do_rescale = true,
    .do_normalize = true, .do_convert_rgb = true,
  };
  size_t n = (size_t) (S / P) * (S / P);
  size_t per_layer = 4 * (size_t) vh * vh + 2 * (size_t) vh * vi + 10 * (size_t) vh + vi;
  m->cap = per_layer * distinct + (size_t) vh * 3 * P * P + n * vh + (size_t) vh * H + 8 * vh;
  m->blob = malloc (m->cap * 2);
  m->layers = calloc (n_layers, sizeof *m->layers);
  if (!m->blob || !m->layers)
    return false;
  float wh = 1.5f / sqrtf ((float) vh), wi = 1.5f / sqrtf ((float) vi);
  for (uint32_t l = 0; l < distinct; l++) {
    ke_vision_layer *L = &m->layers[l];
    L->layer_norm1_weight = T1 (m, "ln1.w", vh, 0.2f, 1.0f);
    L->layer_norm1_bias = T1 (m, "ln1.b", vh, 0.1f, 0.0f);
    L->layer_norm2_weight = T1 (m, "ln2.w", vh, 0.2f, 1.0f);
    L->layer_norm2_bias = T1 (m, "ln2.b", vh, 0.1f, 0.0f);
    ke_linear *lin[4] = { &L->q_proj, &L->k_proj, &L->v_proj, &L->out_proj };
    for (int i = 0; i < 4; i++) {
      lin[i]->weight = T2 (m, "attn.w", vh, vh, wh);
      lin[i]->bias = T1 (m, "attn.b", vh, 0.1f, 0.0f);
    }
    L->fc1.weight = T2 (m, "fc1.w", vi, vh, wh);
    L->fc1.bias = T1 (m, "fc1.b", vi, 0.1f, 0.0f);
    L->fc2.weight = T2 (m, "fc2.w", vh, vi, wi);
    L->fc2.bias = T1 (m, "fc2.b", vh, 0.1f, 0.0f);
  }
  for (uint32_t l = distinct; l < n_layers; l++)
    m->layers[l] = m->layers[l % distinct];
  m->w.vision_layers = m->layers;
  m->w.patch_embedding_weight = make_tensor (m, "patch.w", 4, (int64_t[]) { vh, 3, P, P },
                                             1.5f / sqrtf (3.0f * P * P), 0.0f);
  m->w.patch_embedding_bias = T1 (m, "patch.b", vh, 0.1f, 0.0f);
  m->w.position_embedding = T2 (m, "pos", (int64_t) n, vh, 0.5f);
  m->w.post_layernorm_weight = T1 (m, "post.w", vh, 0.2f, 1.0f);
  m->w.post_layernorm_bias = T1 (m, "post.b", vh, 0.1f, 0.0f);
  m->w.mm_soft_emb_norm = T1 (m, "soft.w", vh, 0.2f, 0.0f);
  m->w.mm_input_projection_weight = T2 (m, "proj", vh, H, wh);
  return m->used <= m->cap;
}

static void
vmodel_clear (vmodel *m)
{
  free (m->blob);
  free (m->layers);
}

static void
compare_embeds (const char *what, const float *got, const float *ref, size_t n)
{
  nmse_acc e = { 0 };
  for (size_t i = 0; i < n; i++)
    nmse_add (&e, got[i], ref[i]);
  ke_tap_diag ("%s: embeddings rel %.2e, unwritten %zu of %zu", what, nmse_rel (&e), e.nan, n);
  KE_CHECK (e.nan == 0, "%s: unwritten embeddings", what);
  KE_CHECK (nmse_rel (&e) < 3e-2, "%s: GPU tower off from the CPU tower (%.2e)", what,
            nmse_rel (&e));
}

/* GPU tower vs ke_cpu_vision_encode: from pixel values and from an image (CPU resize,
 * normalize on the GPU vs ke_image_preprocess). */
static void
check_tower (const char *what, vmodel *m, uint32_t img_w, uint32_t img_h)
{
  const ke_config *c = &m->config;
  size_t S = c->vision.image_size, out_n = (size_t) c->mm_tokens_per_image * c->text.hidden_size;
  ke_error *error = NULL;
  ke_cuda_vision *v = ke_cuda_vision_new (c, &m->w, NULL, &error);
  KE_REQUIRE (v, "%s: ke_cuda_vision_new: %s", what, error ? error->message : "");
  ke_cpu_pool *pool = ke_cpu_pool_new (0, NULL);
  float *pixels = malloc (3 * S * S * 4), *ref = malloc (out_n * 4), *got = malloc (out_n * 4);
  uint8_t *img = malloc ((size_t) img_w * img_h * 4);
  float *d_out = gpu_poisoned (out_n * 4);
  KE_REQUIRE (pool && pixels && ref && got && img && d_out, "memory");
  for (size_t i = 0; i < 3 * S * S; i++)
    pixels[i] = gpu_rand ();
  double t0 = ke_now ();
  KE_REQUIRE (ke_cpu_vision_encode (pool, c, &m->w, pixels, ref, &error), "cpu: %s",
              error ? error->message : "");
  double cpu_s = ke_now () - t0;
  KE_REQUIRE (ke_cuda_vision_encode_pixels (v, pixels, d_out, &error), "gpu: %s",
              error ? error->message : "");
  KE_REQUIRE (gpu_download (got, d_out, out_n * 4), "download");
  ke_tap_diag ("%s from pixel values (CPU tower %.2f s):", what, cpu_s);
  compare_embeds (what, got, ref, out_n);

  /* an RGBA image of another size, with a stride larger than its rows */
  for (size_t i = 0; i < (size_t) img_w * img_h * 4; i++)
    img[i] = (uint8_t) ((gpu_rand () * 0.5f + 0.5f) * 255.0f);
  ke_image image = { img_w, img_h, 4, (size_t) img_w * 4, img };
  float *pv = ke_image_preprocess (&image, &c->preprocess, &error);
  KE_REQUIRE (pv, "preprocess: %s", error ? error->message : "");
  KE_REQUIRE (ke_cpu_vision_encode (pool, c, &m->w, pv, ref, &error), "cpu: %s",
              error ? error->message : "");
  free (pv);
  KE_REQUIRE (ke_cuda_memset (d_out, 0xff, out_n * 4, NULL), "poison");
  KE_REQUIRE (ke_cuda_vision_encode_image (v, &image, &c->preprocess, d_out, &error), "gpu: %s",
              error ? error->message : "");
  KE_REQUIRE (gpu_download (got, d_out, out_n * 4), "download");
  ke_tap_diag ("%s from a %u×%u RGBA image:", what, img_w, img_h);
  compare_embeds (what, got, ref, out_n);
  { /* the GPU resize must give Pillow's (the CPU's) bytes exactly */
    uint8_t *g8 = malloc (S * S * 4), *c8 = malloc (S * S * 3);
    int ch = 0;
    KE_REQUIRE (g8 && c8 && ke_cuda_vision_last_rgb (v, g8, &ch, &error) &&
                ke_image_resize_bilinear (&image, (uint32_t) S, (uint32_t) S, c8, &error),
                "resize check: %s", error ? error->message : "");
    size_t differ = 0;
    for (size_t i = 0; i < S * S * 3; i++)
      differ += g8[i] != c8[i];
    ke_tap_diag ("GPU resize %u×%u → %zu²: %zu of %zu bytes differ from the CPU's", img_w, img_h,
                 S, differ, S * S * 3);
    KE_CHECK (ch == 3 && differ == 0, "the GPU resize differs from Pillow's arithmetic");
    free (g8);
    free (c8);
  }

  /* an RGBA image of exactly the tower's size with a padded stride (no resize: its rows go
   * to the GPU as they are) */
  uint8_t *sq = malloc (S * (S * 4 + 12));
  KE_REQUIRE (sq, "memory");
  for (size_t i = 0; i < S * (S * 4 + 12); i++)
    sq[i] = (uint8_t) ((gpu_rand () * 0.5f + 0.5f) * 255.0f);
  ke_image square = { (uint32_t) S, (uint32_t) S, 4, S * 4 + 12, sq };
  pv = ke_image_preprocess (&square, &c->preprocess, &error);
  KE_REQUIRE (pv && ke_cpu_vision_encode (pool, c, &m->w, pv, ref, &error), "cpu: %s",
              error ? error->message : "");
  free (pv);
  KE_REQUIRE (ke_cuda_memset (d_out, 0xff, out_n * 4, NULL), "poison");
  KE_REQUIRE (ke_cuda_vision_encode_image (v, &square, &c->preprocess, d_out, &error), "gpu: %s",
              error ? error->message : "");
  KE_REQUIRE (gpu_download (got, d_out, out_n * 4), "download");
  free (sq);
  ke_tap_diag ("%s from a %zu×%zu RGBA image with a padded stride:", what, S, S);
  compare_embeds (what, got, ref, out_n);

  /* absurd images are refused with an error, not a crash */
  ke_image zero = { 0, 10, 3, 30, img };
  ke_image huge = { 16384, 16384, 3, 16384 * 3, img };
  ke_error_free (error);
  error = NULL;
  KE_CHECK (!ke_cuda_vision_encode_image (v, &zero, &c->preprocess, d_out, &error) && error &&
            error->code == KE_ERROR_INVALID_ARGUMENT, "an empty image must be refused");
  ke_error_free (error);
  error = NULL;
  KE_CHECK (!ke_cuda_vision_encode_image (v, &huge, &c->preprocess, d_out, &error) && error &&
            error->code == KE_ERROR_INVALID_ARGUMENT, "a 268-Mpixel image must be refused");
  ke_error_free (error);
  ke_cuda_vision_free (v);
  ke_cpu_pool_free (pool);
  ke_cuda_free (d_out);
  free (pixels); free (ref); free (got); free (img);
}

KE_TEST (tower_tiny)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  vmodel m;
  KE_REQUIRE (vmodel_init (&m, 64, 128, 4, 4, 32, 16, 128, 2, 2), "model");
  check_tower ("tiny tower (64 wide, 4 heads × 16, 2 layers)", &m, 40, 30);
  vmodel_clear (&m);
}

KE_TEST (tower_full_width)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  vmodel m;
  KE_REQUIRE (vmodel_init (&m, 1152, 4304, 16, 14, 896, 256, 2560, 2, 2), "model");
  check_tower ("SigLIP width (1152, 16 × 72, 896 px, 2 layers)", &m, 1000, 700);
  vmodel_clear (&m);
}

/* The full 27-layer tower + projector (random weights, 2 distinct layers repeated): time of
 * one 896×896 image from uint8 RGB on the host to embeddings on the device. */
KE_TEST (tower_full_timing)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  vmodel m;
  KE_REQUIRE (vmodel_init (&m, 1152, 4304, 16, 14, 896, 256, 2560, 27, 2), "model");
  ke_error *error = NULL;
  ke_cuda_vision *v = ke_cuda_vision_new (&m.config, &m.w, NULL, &error);
  KE_REQUIRE (v, "ke_cuda_vision_new: %s", error ? error->message : "");
  size_t S = 896, out_n = 256 * 2560;
  uint8_t *rgb = malloc (S * S * 3);
  float *d_out = gpu_poisoned (out_n * 4);
  KE_REQUIRE (rgb && d_out, "memory");
  for (size_t i = 0; i < S * S * 3; i++)
    rgb[i] = (uint8_t) (i * 2654435761u >> 24);
  ke_image image = { 896, 896, 3, 896 * 3, rgb };
  enum { REPS = 15 };
  float ms[REPS];
  for (int r = -2; r < REPS; r++) {
    double t0 = ke_now ();
    bool ok = ke_cuda_vision_encode_image (v, &image, &m.config.preprocess, d_out, &error) &&
              ke_cuda_synchronize (&error);
    KE_REQUIRE (ok, "encode: %s", error ? error->message : "");
    if (r >= 0)
      ms[r] = (float) ((ke_now () - t0) * 1e3);
  }
  qsort (ms, REPS, sizeof ms[0], cmp_float);
  ke_tap_diag ("full tower (27 layers, 4096 patches) + projector, 896×896 RGB host → device "
               "embeddings: median %.2f ms, min %.2f ms (%d runs); %.2f GiB on the device",
               ms[REPS / 2], ms[0], REPS, ke_cuda_vision_device_bytes (v) / 1073741824.0);
  float g[6];
  ke_cuda_vision_gemm_ms (v, g);
  double flop_layer = 2.0 * 4096 * 1152 * (3 * 1152 + 1152 + 2 * 4304);
  double layer_ms = g[1] + g[2] + g[3] + g[4];
  ke_tap_diag ("tuned GEMMs per call (ms): patch %.3f, qkv %.3f, o %.3f, fc1 %.3f, fc2 %.3f, "
               "proj %.3f; a layer's four %.3f ms = %.0f TFLOP/s, × 27 = %.2f ms", g[0], g[1],
               g[2], g[3], g[4], g[5], layer_ms, flop_layer / (layer_ms * 1e-3) / 1e12,
               27 * layer_ms);
  /* images that need the resize (on the GPU) */
  static const uint32_t sizes[2][2] = { { 1280, 960 }, { 4000, 3000 } };
  for (int k = 0; k < 2; k++) {
    uint32_t w = sizes[k][0], h = sizes[k][1];
    uint8_t *big = malloc ((size_t) w * h * 3);
    KE_REQUIRE (big, "memory");
    for (size_t i = 0; i < (size_t) w * h * 3; i++)
      big[i] = (uint8_t) (i * 2246822519u >> 24);
    ke_image bi = { w, h, 3, (size_t) w * 3, big };
    float t[7];
    for (int r = -1; r < 7; r++) {
      double t0 = ke_now ();
      bool ok = ke_cuda_vision_encode_image (v, &bi, &m.config.preprocess, d_out, &error) &&
                ke_cuda_synchronize (&error);
      KE_REQUIRE (ok, "encode: %s", error ? error->message : "");
      if (r >= 0)
        t[r] = (float) ((ke_now () - t0) * 1e3);
    }
    qsort (t, 7, sizeof t[0], cmp_float);
    ke_tap_diag ("full tower from a %u×%u RGB image (resized on the GPU): median %.2f ms", w, h,
                 t[3]);
    free (big);
  }
  float *got = malloc (out_n * 4);
  KE_REQUIRE (got && gpu_download (got, d_out, out_n * 4), "download");
  size_t bad = 0;
  for (size_t i = 0; i < out_n; i++)
    bad += !isfinite (got[i]);
  KE_CHECK (bad == 0, "%zu non-finite embeddings", bad);
  free (got);
  ke_cuda_vision_free (v);
  ke_cuda_free (d_out);
  free (rgb);
  vmodel_clear (&m);
}

int
main (int argc, char **argv)
{
  gpu_test_init_seed ();
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (attention),
    KE_TAP_ENTRY (layernorm),
    KE_TAP_ENTRY (gemm_epilogues),
    KE_TAP_ENTRY (tower_tiny),
    KE_TAP_ENTRY (tower_full_width),
    KE_TAP_ENTRY (tower_full_timing),
  };
  return ke_tap_run (argc, argv, tests, (int) (sizeof tests / sizeof tests[0]));
}
