/* bench-kernels-step.cuh — part of bench-kernels.cu: the small fused kernels, decode
 * attention, and the synthetic whole decode step.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

enum { HIDDEN = 2560, INTER = 10240, NQ = 8, NKV = 4, HD = 256, LAYERS = 34, VOCAB = 262208,
       WINDOW = 1024 };

static void
bench_small_kernels (void)
{
  float *h = rand_f32 (HIDDEN, -4, 4), *y = rand_f32 (HIDDEN, -4, 4);
  float *gu = rand_f32 (2 * INTER, -4, 4), *qkv = rand_f32 ((NQ + 2 * NKV) * HD, -4, 4);
  uint16_t *w = rand_bf16 (HIDDEN, 1.0f), *emb = rand_bf16 ((size_t) 4096 * HIDDEN, 0.1f);
  uint16_t *xb = (uint16_t *) dev_alloc (INTER * 2), *q = (uint16_t *) dev_alloc (NQ * HD * 2);
  uint8_t *xq = (uint8_t *) dev_alloc (INTER);
  float *xs = (float *) dev_alloc (4);
  uint16_t *kc = rand_bf16 ((size_t) NKV * WINDOW * HD, 1), *vc = rand_bf16 ((size_t) NKV * WINDOW * HD, 1);
  int32_t *ids = (int32_t *) dev_alloc (4), *pos = (int32_t *) dev_alloc (4);
  const int32_t hid = 1234, hpos = 700;
  CK (cudaMemcpy (ids, &hid, 4, cudaMemcpyHostToDevice));
  CK (cudaMemcpy (pos, &hpos, 4, cudaMemcpyHostToDevice));
  ke_norm_out ob = { xb, NULL, NULL }, oq = { NULL, xq, xs };
  const int L = 100;
  double us;
  us = time_graph ([&] { for (int i = 0; i < L; i++)
    KE ([&] (ke_error **e) { return ke_cuda_embed (ids, 1, emb, 4096, HIDDEN, h, NULL, g_stream, e); }); }, L);
  report ("embed (1 token)", us, HIDDEN * 6.0);
  us = time_graph ([&] { for (int i = 0; i < L; i++)
    KE ([&] (ke_error **e) { return ke_cuda_rmsnorm (h, w, 1, HIDDEN, 1e-6f, &ob, g_stream, e); }); }, L);
  report ("rmsnorm -> bf16", us, HIDDEN * 8.0);
  us = time_graph ([&] { for (int i = 0; i < L; i++)
    KE ([&] (ke_error **e) { return ke_cuda_rmsnorm (h, w, 1, HIDDEN, 1e-6f, &oq, g_stream, e); }); }, L);
  report ("rmsnorm -> fp8 + scale", us, HIDDEN * 7.0);
  us = time_graph ([&] { for (int i = 0; i < L; i++)
    KE ([&] (ke_error **e) { return ke_cuda_residual_norm (h, y, w, w, 1, HIDDEN, 1e-6f, &ob, g_stream, e); }); }, L);
  report ("residual + post-norm + pre-norm -> bf16", us, HIDDEN * 18.0);
  us = time_graph ([&] { for (int i = 0; i < L; i++)
    KE ([&] (ke_error **e) { return ke_cuda_geglu (gu, 1, INTER, &ob, g_stream, e); }); }, L);
  report ("geglu -> bf16", us, INTER * 10.0);
  us = time_graph ([&] { for (int i = 0; i < L; i++)
    KE ([&] (ke_error **e) { return ke_cuda_geglu (gu, 1, INTER, &oq, g_stream, e); }); }, L);
  report ("geglu -> fp8 + scale", us, INTER * 9.0);
  ke_rope_args ra = { qkv, 1, NQ, NKV, HD, pos, w, w, 1e-6f, 10000.0f, 1.0f, q, kc, vc, WINDOW };
  us = time_graph ([&] { for (int i = 0; i < L; i++)
    KE ([&] (ke_error **e) { return ke_cuda_qk_norm_rope (&ra, g_stream, e); }); }, L);
  report ("qk-norm + rope + kv write", us, (NQ + 2 * NKV) * HD * 6.0);
  CK (cudaFree (h)); CK (cudaFree (y)); CK (cudaFree (gu)); CK (cudaFree (qkv)); CK (cudaFree (w));
  CK (cudaFree (emb)); CK (cudaFree (xb)); CK (cudaFree (q)); CK (cudaFree (xq)); CK (cudaFree (xs));
  CK (cudaFree (kc)); CK (cudaFree (vc)); CK (cudaFree (ids)); CK (cudaFree (pos));
}

static void
bench_attention (void)
{
  struct { int ctx, window, splits; } cases[] = {
    { 512, 0, 64 }, { 8192, 0, 64 }, { 32768, 0, 64 }, { 32768, 0, 128 }, { 32768, 0, 256 },
    { 8192, WINDOW, 16 }, { 8192, WINDOW, 32 },
  };
  for (auto &c : cases) {
    const int cap = c.window ? WINDOW : c.ctx;
    const size_t cache = (size_t) NKV * cap * HD;
    const int n_keys = c.window ? std::min (c.ctx, c.window) : c.ctx;
    const double bytes = 2.0 * NKV * n_keys * HD * 2;
    const int copies = (int) std::max<size_t> (2, ((size_t) 256 << 20) / (cache * 4) + 1);
    std::vector<uint16_t *> ks (copies), vs (copies);
    for (int i = 0; i < copies; i++) {
      ks[i] = rand_bf16 (cache, 1.0f);
      vs[i] = rand_bf16 (cache, 1.0f);
    }
    uint16_t *q = rand_bf16 (NQ * HD, 2.0f), *o = (uint16_t *) dev_alloc (NQ * HD * 2);
    float *ws = (float *) dev_alloc (ke_cuda_attn_decode_workspace_floats (NQ, HD, c.splits) * 4);
    int32_t *pos = (int32_t *) dev_alloc (4);
    const int32_t hpos = c.ctx - 1;
    CK (cudaMemcpy (pos, &hpos, 4, cudaMemcpyHostToDevice));
    const int launches = std::max (copies, 20);
    double us = time_graph ([&] {
      for (int i = 0; i < launches; i++) {
        ke_attn_decode_args a = { q, ks[i % copies], vs[i % copies], pos, NQ, NKV, HD, cap,
                                  c.window, 1.0f / 16.0f, c.splits, ws, o };
        KE ([&] (ke_error **e) { return ke_cuda_attn_decode (&a, g_stream, e); });
      }
    }, launches);
    char name[128];
    snprintf (name, sizeof name, "attn decode ctx %-5d %s splits %d", c.ctx,
              c.window ? "window 1024" : "global", c.splits);
    report (name, us, bytes);
    for (int i = 0; i < copies; i++) {
      CK (cudaFree (ks[i]));
      CK (cudaFree (vs[i]));
    }
    CK (cudaFree (q)); CK (cudaFree (o)); CK (cudaFree (ws)); CK (cudaFree (pos));
  }
}

/* One decode step of Gemma 3 4b with random weights: every kernel of the per-token path
 * except sampling, each layer with its own weights, as one CUDA graph.  W8A8 = activations
 * quantized per token to fp8 before qkv, gate_up and down (o_proj stays W8A16). */
static void
bench_decode_step (int ctx, bool w8a8)
{
  const size_t qkv_n = (size_t) (NQ + 2 * NKV) * HD;
  struct layer { uint8_t *qkv, *o, *gu, *down; float *s_qkv, *s_o, *s_gu, *s_down;
                 uint16_t *k, *v; int cap, window; float theta, scaling; };
  std::vector<layer> L (LAYERS);
  double bytes = 0;
  for (int l = 0; l < LAYERS; l++) {
    layer &y = L[l];
    const bool global = (l + 1) % 6 == 0;
    y.qkv = rand_fp8 (qkv_n * HIDDEN); y.s_qkv = rand_f32 (qkv_n, 1e-3f, 1e-2f);
    y.o = rand_fp8 ((size_t) HIDDEN * NQ * HD); y.s_o = rand_f32 (HIDDEN, 1e-3f, 1e-2f);
    y.gu = rand_fp8 ((size_t) 2 * INTER * HIDDEN); y.s_gu = rand_f32 (2 * INTER, 1e-3f, 1e-2f);
    y.down = rand_fp8 ((size_t) HIDDEN * INTER); y.s_down = rand_f32 (HIDDEN, 1e-3f, 1e-2f);
    y.cap = global ? ctx : WINDOW;
    y.window = global ? 0 : WINDOW;
    y.theta = global ? 1e6f : 1e4f;
    y.scaling = global ? 8.0f : 1.0f;
    y.k = rand_bf16 ((size_t) NKV * y.cap * HD, 1.0f);
    y.v = rand_bf16 ((size_t) NKV * y.cap * HD, 1.0f);
    bytes += (double) (qkv_n + NQ * HD + 2 * INTER + INTER) * HIDDEN;
    bytes += 2.0 * NKV * std::min (ctx, y.cap) * HD * 2;
  }
  uint16_t *lm = rand_bf16 ((size_t) VOCAB * HIDDEN, 0.05f);
  bytes += (double) VOCAB * HIDDEN * 2;
  uint16_t *nw = rand_bf16 (HIDDEN, 1.0f), *qn = rand_bf16 (HD, 1.0f);
  float *h = rand_f32 (HIDDEN, -2, 2), *qkv = (float *) dev_alloc (qkv_n * 4);
  float *y = (float *) dev_alloc (HIDDEN * 4), *gu = (float *) dev_alloc (2 * INTER * 4);
  float *logits = (float *) dev_alloc ((size_t) VOCAB * 4), *xs = (float *) dev_alloc (4);
  uint16_t *xb = (uint16_t *) dev_alloc (INTER * 2), *q = (uint16_t *) dev_alloc (NQ * HD * 2);
  uint16_t *attn = (uint16_t *) dev_alloc (NQ * HD * 2);
  uint8_t *xq = (uint8_t *) dev_alloc (INTER);
  float *ws = (float *) dev_alloc (ke_cuda_attn_decode_workspace_floats (NQ, HD, 64) * 4);
  int32_t *pos = (int32_t *) dev_alloc (4);
  const int32_t hpos = ctx - 1;
  CK (cudaMemcpy (pos, &hpos, 4, cudaMemcpyHostToDevice));
  ke_norm_out nout = w8a8 ? ke_norm_out { NULL, xq, xs } : ke_norm_out { xb, NULL, NULL };
  ke_norm_out bout = { xb, NULL, NULL };
  const ke_gemv_type xt = w8a8 ? KE_GEMV_FP8 : KE_GEMV_BF16;
  const void *xin = w8a8 ? (const void *) xq : (const void *) xb;
  const float *xsc = w8a8 ? xs : NULL;
  CK (cudaDeviceSynchronize ());

  double us = time_graph ([&] {
    KE ([&] (ke_error **e) { return ke_cuda_rmsnorm (h, nw, 1, HIDDEN, 1e-6f, &nout, g_stream, e); });
    for (int l = 0; l < LAYERS; l++) {
      layer &ly = L[l];
      ke_gemv_args g1 = { (int) qkv_n, HIDDEN, KE_GEMV_FP8, ly.qkv, ly.s_qkv, xt, xin, xsc,
                          KE_GEMV_F32, qkv, NULL, 0, KE_GEMV_EPI_NONE, 0 };
      KE ([&] (ke_error **e) { return ke_cuda_gemv (&g1, g_stream, e); });
      ke_rope_args ra = { qkv, 1, NQ, NKV, HD, pos, qn, qn, 1e-6f, ly.theta, ly.scaling, q,
                          ly.k, ly.v, ly.cap };
      KE ([&] (ke_error **e) { return ke_cuda_qk_norm_rope (&ra, g_stream, e); });
      ke_attn_decode_args aa = { q, ly.k, ly.v, pos, NQ, NKV, HD, ly.cap, ly.window,
                                 1.0f / 16.0f, 64, ws, attn };
      KE ([&] (ke_error **e) { return ke_cuda_attn_decode (&aa, g_stream, e); });
      ke_gemv_args g2 = { HIDDEN, NQ * HD, KE_GEMV_FP8, ly.o, ly.s_o, KE_GEMV_BF16, attn, NULL,
                          KE_GEMV_F32, y, NULL, 0, KE_GEMV_EPI_NONE, 0 };
      KE ([&] (ke_error **e) { return ke_cuda_gemv (&g2, g_stream, e); });
      KE ([&] (ke_error **e) { return ke_cuda_residual_norm (h, y, nw, nw, 1, HIDDEN, 1e-6f, &nout, g_stream, e); });
      if (w8a8) { /* separate GeGLU + quantize */
        ke_gemv_args g3 = { 2 * INTER, HIDDEN, KE_GEMV_FP8, ly.gu, ly.s_gu, xt, xin, xsc,
                            KE_GEMV_F32, gu, NULL, 0, KE_GEMV_EPI_NONE, 0 };
        KE ([&] (ke_error **e) { return ke_cuda_gemv (&g3, g_stream, e); });
        KE ([&] (ke_error **e) { return ke_cuda_geglu (gu, 1, INTER, &nout, g_stream, e); });
      } else { /* GeGLU in the gate+up GEMV's epilogue, bf16 out */
        ke_gemv_args g3 = { 2 * INTER, HIDDEN, KE_GEMV_FP8, ly.gu, ly.s_gu, xt, xin, xsc,
                            KE_GEMV_BF16, xb, NULL, 0, KE_GEMV_EPI_GEGLU, 0 };
        KE ([&] (ke_error **e) { return ke_cuda_gemv (&g3, g_stream, e); });
      }
      ke_gemv_args g4 = { HIDDEN, INTER, KE_GEMV_FP8, ly.down, ly.s_down, xt, xin, xsc,
                          KE_GEMV_F32, y, NULL, 0, KE_GEMV_EPI_NONE, 0 };
      KE ([&] (ke_error **e) { return ke_cuda_gemv (&g4, g_stream, e); });
      const bool last = l == LAYERS - 1;
      KE ([&] (ke_error **e) { return ke_cuda_residual_norm (h, y, nw, nw, 1, HIDDEN, 1e-6f, last ? &bout : &nout, g_stream, e); });
    }
    ke_gemv_args gl = { VOCAB, HIDDEN, KE_GEMV_BF16, lm, NULL, KE_GEMV_BF16, xb, NULL,
                        KE_GEMV_F32, logits, NULL, 0, KE_GEMV_EPI_NONE, 0 };
    KE ([&] (ke_error **e) { return ke_cuda_gemv (&gl, g_stream, e); });
  }, 1, 11);
  char name[128];
  snprintf (name, sizeof name, "DECODE STEP ctx %-5d %s%s (%.0f tok/s)", ctx,
            w8a8 ? "W8A8" : "W8A16", g_pdl ? "" : " no-PDL", 1e6 / us);
  report (name, us, bytes);
  printf ("%-44s %9.2f us (%.2f GB/token at the measured read bandwidth: %.0f tok/s)\n",
          "  roofline", bytes / (g_read_bw * 1e3), bytes / 1e9, g_read_bw * 1e9 / bytes);
  for (layer &ly : L) {
    CK (cudaFree (ly.qkv)); CK (cudaFree (ly.o)); CK (cudaFree (ly.gu)); CK (cudaFree (ly.down));
    CK (cudaFree (ly.s_qkv)); CK (cudaFree (ly.s_o)); CK (cudaFree (ly.s_gu));
    CK (cudaFree (ly.s_down)); CK (cudaFree (ly.k)); CK (cudaFree (ly.v));
  }
  CK (cudaFree (lm)); CK (cudaFree (nw)); CK (cudaFree (qn)); CK (cudaFree (h));
  CK (cudaFree (qkv)); CK (cudaFree (y)); CK (cudaFree (gu)); CK (cudaFree (logits));
  CK (cudaFree (xs)); CK (cudaFree (xb)); CK (cudaFree (q)); CK (cudaFree (attn));
  CK (cudaFree (xq)); CK (cudaFree (ws)); CK (cudaFree (pos));
}
