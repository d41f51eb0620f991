/* test-cpu-ops.c — the CPU backend's primitives against hand-computed values.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ke-tap.h"
#include "ke-internal.h"
#include "ke-numeric.h"
#include "ke-cpu.h"

#define NEAR(a, b, tol) (fabs ((double) (a) - (double) (b)) <= (tol))

KE_TEST (rmsnorm_gemma)
{
  float x[4] = { 1, 2, 3, 4 }, w[4] = { 0, 0.5f, -0.5f, 1 };
  ke_cpu_rmsnorm_gemma (x, 1, 4, w, 1e-6f);
  /* mean(x²) = 7.5; 1/sqrt(7.5) = 0.3651484; times (1 + w) */
  const float want[4] = { 0.3651484f, 1.0954451f, 0.5477226f, 2.9211869f };
  for (int i = 0; i < 4; i++)
    KE_CHECK (NEAR (x[i], want[i], 1e-6), "x[%d] = %.7f, want %.7f", i, x[i], want[i]);
}

KE_TEST (layernorm)
{
  float x[4] = { 1, 2, 3, 4 }, w[4] = { 1, 2, 1, 1 }, b[4] = { 0, 0, 0.5f, 0 };
  ke_cpu_layernorm (x, 1, 4, w, b, 0.0f);
  /* mean 2.5, var 1.25, std 1.1180340 */
  const float want[4] = { -1.3416408f, -0.8944272f, 0.9472136f, 1.3416408f };
  for (int i = 0; i < 4; i++)
    KE_CHECK (NEAR (x[i], want[i], 1e-6), "x[%d] = %.7f, want %.7f", i, x[i], want[i]);
}

KE_TEST (gelu_tanh)
{
  KE_CHECK (ke_cpu_gelu_tanh (0.0f) == 0.0f, "gelu(0)");
  KE_CHECK (NEAR (ke_cpu_gelu_tanh (1.0f), 0.8411920f, 1e-6), "gelu(1) = %.7f",
            ke_cpu_gelu_tanh (1.0f));
  KE_CHECK (NEAR (ke_cpu_gelu_tanh (-1.0f), -0.1588080f, 1e-6), "gelu(-1) = %.7f",
            ke_cpu_gelu_tanh (-1.0f));
  KE_CHECK (NEAR (ke_cpu_gelu_tanh (3.0f), 2.9963627f, 1e-6), "gelu(3) = %.7f",
            ke_cpu_gelu_tanh (3.0f));
}

KE_TEST (rope_rotate_half)
{
  float inv[2];
  ke_cpu_rope_inv_freq (inv, 4, 10000.0f, 1.0f);
  KE_CHECK (inv[0] == 1.0f && NEAR (inv[1], 0.01f, 1e-9), "inv_freq %g %g", inv[0], inv[1]);
  float x[4] = { 1, 0, 0, 1 }; /* pairs (x0, x2) and (x1, x3) */
  ke_cpu_rope (x, 4, 1, inv);
  KE_CHECK (NEAR (x[0], cos (1.0), 1e-6) && NEAR (x[2], sin (1.0), 1e-6), "pair 0: %g %g", x[0],
            x[2]);
  KE_CHECK (NEAR (x[1], -sin (0.01), 1e-6) && NEAR (x[3], cos (0.01), 1e-6), "pair 1: %g %g",
            x[1], x[3]);
  /* linear scaling divides the frequencies */
  ke_cpu_rope_inv_freq (inv, 4, 1e6f, 8.0f);
  KE_CHECK (inv[0] == 0.125f && NEAR (inv[1], 0.001f / 8, 1e-10), "scaled %g %g", inv[0], inv[1]);
  /* position 0 is the identity */
  float y[4] = { 0.3f, -0.7f, 1.5f, 2.0f }, y0[4];
  memcpy (y0, y, sizeof y);
  ke_cpu_rope (y, 4, 0, inv);
  KE_CHECK (memcmp (y, y0, sizeof y) == 0, "pos 0 changed the vector");
}

KE_TEST (attention_mask)
{
  /* sliding window 3: query 5 sees keys 3, 4, 5 only */
  KE_CHECK (!ke_cpu_mask_visible (5, 2, 3, -1, -1), "key 2 outside the window");
  KE_CHECK (ke_cpu_mask_visible (5, 3, 3, -1, -1), "key 3 inside the window");
  KE_CHECK (ke_cpu_mask_visible (5, 5, 3, -1, -1), "self");
  KE_CHECK (!ke_cpu_mask_visible (5, 6, 3, -1, -1), "future key");
  /* global: every past key */
  KE_CHECK (ke_cpu_mask_visible (1000, 0, 0, -1, -1), "global sees position 0");
  /* same image run: future keys too, on sliding and global layers */
  KE_CHECK (ke_cpu_mask_visible (5, 7, 3, 2, 2), "same image, future key, sliding");
  KE_CHECK (ke_cpu_mask_visible (5, 7, 0, 2, 2), "same image, future key, global");
  KE_CHECK (!ke_cpu_mask_visible (5, 7, 0, 2, 3), "another image's future key");
  KE_CHECK (!ke_cpu_mask_visible (5, 7, 0, -1, -1), "text future key");
  KE_CHECK (ke_cpu_mask_visible (7, 5, 0, 3, 2), "earlier image is causal-visible");
  KE_CHECK (!ke_cpu_mask_visible (9, 5, 3, 3, 2), "earlier image outside the window");
}

KE_TEST (fp8_activation_quant)
{
  float x[8] = { 0.1f, -0.2f, 3.0f, 0.0f, 0, 0, 0, 0 }, q[8], s[2];
  ke_cpu_quant_fp8_rows (x, 2, 4, q, s);
  KE_CHECK (s[0] == 3.0f / 448.0f, "scale %g", s[0]);
  /* 0.1 / s = 14.93 → 15 (quantum 1 in [8,16)); -0.2 / s = -29.87 → -30 (quantum 2); 3 → 448 */
  KE_CHECK (q[0] == 15.0f && q[1] == -30.0f && q[2] == 448.0f && q[3] == 0.0f,
            "q = %g %g %g %g", q[0], q[1], q[2], q[3]);
  /* all-zero row: vLLM's minimum scale, zeros */
  KE_CHECK (s[1] == KE_FP8_MIN_SCALE && q[4] == 0 && q[7] == 0, "zero row scale %g", s[1]);
  /* round to nearest even at a tie: 17 is halfway between 16 and 18 (quantum 2) → 16 */
  float t[2] = { 17.0f, 448.0f }, tq[2], ts;
  ke_cpu_quant_fp8_rows (t, 1, 2, tq, &ts);
  KE_CHECK (ts == 1.0f && tq[0] == 16.0f, "tie: %g (scale %g)", tq[0], ts);
}

static ke_image
img (const uint8_t *px, uint32_t w, uint32_t h, uint32_t ch)
{
  ke_image i = { .width = w, .height = h, .channels = ch, .stride = (size_t) w * ch, .pixels = px };
  return i;
}

KE_TEST (resize_pillow_bilinear)
{
  /* 4×1 → 2×1: support 2 (antialias); weights 3/7 3/7 1/7 and 1/7 3/7 3/7 in 22-bit
   * fixed point: (0·3 + 100·3 + 200)/7 = 71.4 → 71; (100 + 200·3 + 255·3)/7 = 209.3 → 209 */
  uint8_t row[12] = { 0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255 }, out[12];
  ke_image a = img (row, 4, 1, 3);
  ke_error *error = NULL;
  KE_REQUIRE (ke_image_resize_bilinear (&a, 2, 1, out, &error), "resize failed");
  KE_CHECK (out[0] == 71 && out[3] == 209 && out[1] == 71 && out[5] == 209, "down: %u %u",
            out[0], out[3]);
  /* 2×1 → 4×1: 0, 0.75·0 + 0.25·200 = 50, 150, 200 */
  uint8_t two[6] = { 0, 0, 0, 200, 200, 200 };
  a = img (two, 2, 1, 3);
  KE_REQUIRE (ke_image_resize_bilinear (&a, 4, 1, out, &error), "resize failed");
  KE_CHECK (out[0] == 0 && out[3] == 50 && out[6] == 150 && out[9] == 200, "up: %u %u %u %u",
            out[0], out[3], out[6], out[9]);
  /* 2×2 → 1×1 with the uint8 intermediate: rows → 50 and 227.5 → 228; then
   * (50 + 228) / 2 = 139 (139.5 truncated after the +0.5 rounding term: 139) */
  uint8_t sq[16] = { 0, 0, 0, 9, 100, 100, 100, 9, 200, 200, 200, 9, 255, 255, 255, 9 };
  a = img (sq, 2, 2, 4); /* RGBA: alpha ignored */
  KE_REQUIRE (ke_image_resize_bilinear (&a, 1, 1, out, &error), "resize failed");
  KE_CHECK (out[0] == 139 && out[1] == 139 && out[2] == 139, "2×2→1: %u", out[0]);
  /* same size: identity, stride respected */
  uint8_t strided[2 * 8] = { 1, 2, 3, 4, 5, 6, 0xee, 0xee, 7, 8, 9, 10, 11, 12, 0xee, 0xee };
  ke_image b = { .width = 2, .height = 2, .channels = 3, .stride = 8, .pixels = strided };
  KE_REQUIRE (ke_image_resize_bilinear (&b, 2, 2, out, &error), "resize failed");
  KE_CHECK (out[0] == 1 && out[5] == 6 && out[6] == 7 && out[11] == 12, "identity");
  ke_error_free (error);
}

KE_TEST (preprocess_rescale_normalize)
{
  uint8_t px[3 * 4] = { 0, 255, 51, 0, 255, 51, 0, 255, 51, 0, 255, 51 };
  ke_image a = img (px, 2, 2, 3);
  ke_preprocess_config pc = { .width = 2, .height = 2, .rescale_factor = 1.0f / 255.0f,
                              .resample = 2, .do_resize = true, .do_rescale = true,
                              .do_normalize = true, .do_convert_rgb = true };
  for (int i = 0; i < 3; i++)
    pc.image_mean[i] = pc.image_std[i] = 0.5f;
  ke_error *error = NULL;
  float *v = ke_image_preprocess (&a, &pc, &error);
  KE_REQUIRE (v != NULL, "preprocess failed");
  /* channel-first: R plane all -1, G plane all 1, B plane (51/255 - 0.5) / 0.5 = -0.6 */
  KE_CHECK (v[0] == -1.0f && v[3] == -1.0f, "R %g", v[0]);
  KE_CHECK (v[4] == 1.0f && v[7] == 1.0f, "G %g", v[4]);
  KE_CHECK (NEAR (v[8], -0.6, 1e-6), "B %g", v[8]);
  free (v);
  pc.do_pan_and_scan = true;
  KE_CHECK (ke_image_preprocess (&a, &pc, &error) == NULL && error &&
            error->code == KE_ERROR_UNSUPPORTED, "pan-and-scan refused");
  ke_error_free (error);
}

KE_TEST (image_validate)
{
  uint8_t px[16] = { 0 };
  ke_error *error = NULL;
  ke_image a = img (px, 2, 2, 3);
  KE_CHECK (ke_image_validate (&a, &error), "valid RGB");
  a.channels = 2;
  KE_CHECK (!ke_image_validate (&a, &error) && error->code == KE_ERROR_INVALID_ARGUMENT, "2 channels");
  ke_error_free (error), error = NULL;
  a = img (px, 2, 2, 3);
  a.stride = 5;
  KE_CHECK (!ke_image_validate (&a, &error), "short stride");
  ke_error_free (error), error = NULL;
  a = img (NULL, 2, 2, 3);
  KE_CHECK (!ke_image_validate (&a, &error), "no pixels");
  ke_error_free (error), error = NULL;
  a = img (px, KE_IMAGE_MAX_SIDE + 1, 1, 3);
  KE_CHECK (!ke_image_validate (&a, &error), "too wide");
  ke_error_free (error), error = NULL;
  a = img (px, 0, 1, 3);
  KE_CHECK (!ke_image_validate (&a, &error), "empty");
  ke_error_free (error), error = NULL;
  KE_CHECK (!ke_image_validate (NULL, &error), "NULL");
  ke_error_free (error);
}

/* The blocked FP8/BF16 matmul against a plain triple loop, on awkward sizes. */
KE_TEST (linear_matches_definition)
{
  ke_error *error = NULL;
  ke_cpu_pool *pool = ke_cpu_pool_new (3, &error);
  KE_REQUIRE (pool, "pool");
  unsigned long long rng = 7;
  /* rows 1 takes the decode path (weights converted in registers), more the tiled one */
  const size_t shapes[][3] = { { 1, 37, 5 },    { 1, 1030, 33 }, { 5, 600, 33 }, { 9, 1030, 17 },
                               { 4, 8, 16 },    { 3, 520, 150 }, { 1, 64, 130 } };
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    size_t rows = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
    uint8_t *w8 = malloc (in * out);
    uint16_t *wb = malloc (in * out * 2);
    float *scale = malloc (out * 4), *x = malloc (rows * in * 4), *y = malloc (rows * out * 4);
    float *xq = malloc (rows * in * 4), *xs = malloc (rows * 4);
    float *tiles = aligned_alloc (64, 3 * KE_CPU_TILE_FLOATS * sizeof (float));
    uint16_t *bias = malloc (out * 2);
    for (size_t i = 0; i < in * out; i++) {
      uint8_t b = (uint8_t) ke_test_rand_u64 (&rng);
      w8[i] = (b & 0x7f) == 0x7f ? 0x10 : b;
      wb[i] = ke_f32_to_bf16 (ke_test_rand_uniform (&rng));
    }
    for (size_t o = 0; o < out; o++) {
      scale[o] = 0.01f + fabsf (ke_test_rand_uniform (&rng)) * 0.01f;
      bias[o] = ke_f32_to_bf16 (ke_test_rand_uniform (&rng));
    }
    for (size_t i = 0; i < rows * in; i++)
      x[i] = ke_test_rand_uniform (&rng) * 3.0f;
    ke_linear fp8 = {
      .weight = { .dtype = KE_DTYPE_F8_E4M3, .ndim = 2, .shape = { (int64_t) out, (int64_t) in },
                  .data = w8, .nbytes = in * out },
      .scale = { .dtype = KE_DTYPE_F32, .ndim = 1, .shape = { (int64_t) out }, .data = scale,
                 .nbytes = out * 4 },
    };
    ke_linear bf = {
      .weight = { .dtype = KE_DTYPE_BF16, .ndim = 2, .shape = { (int64_t) out, (int64_t) in },
                  .data = wb, .nbytes = in * out * 2 },
      .bias = { .dtype = KE_DTYPE_BF16, .ndim = 1, .shape = { (int64_t) out }, .data = bias,
                .nbytes = out * 2 },
    };
    for (int mode = 0; mode < 3; mode++) {
      const ke_linear *l = mode == 2 ? &bf : &fp8;
      bool aq = mode == 0;
      ke_cpu_linear (pool, l, x, rows, in, out, y, aq, xq, xs, tiles);
      double worst = 0.0;
      for (size_t t = 0; t < rows; t++) {
        float amax = 0.0f;
        for (size_t i = 0; i < in; i++)
          amax = fmaxf (amax, fabsf (x[t * in + i]));
        float sx = fmaxf (amax / 448.0f, KE_FP8_MIN_SCALE);
        for (size_t o = 0; o < out; o++) {
          double acc = 0.0;
          for (size_t i = 0; i < in; i++) {
            double xv = aq ? ke_fp8e4m3_to_f32 (ke_f32_to_fp8e4m3 (x[t * in + i] / sx)) : x[t * in + i];
            double wv = mode == 2 ? ke_bf16_to_f32 (wb[o * in + i]) : ke_fp8e4m3_to_f32 (w8[o * in + i]);
            acc += xv * wv;
          }
          if (mode == 0)
            acc *= (double) sx * scale[o];
          else if (mode == 1)
            acc *= scale[o];
          else
            acc += ke_bf16_to_f32 (bias[o]);
          double err = fabs (y[t * out + o] - acc) / (1.0 + fabs (acc));
          if (err > worst)
            worst = err;
        }
      }
      KE_CHECK (worst < 2e-5, "shape %zux%zux%zu mode %d: worst relative error %g", rows, in,
                out, mode, worst);
    }
    free (w8); free (wb); free (scale); free (x); free (y); free (xq); free (xs); free (tiles);
    free (bias);
  }
  ke_cpu_pool_free (pool);
}

typedef struct {
  int *hits;
} pool_ctx;

static void
count_task (void *ctx, size_t task, int thread)
{
  pool_ctx *c = ctx;
  (void) thread;
  c->hits[task]++;
}

KE_TEST (pool_runs_every_task_once)
{
  ke_error *error = NULL;
  ke_cpu_pool *pool = ke_cpu_pool_new (4, &error);
  KE_REQUIRE (pool, "pool");
  int hits[1000];
  for (int round = 0; round < 50; round++) {
    memset (hits, 0, sizeof hits);
    pool_ctx c = { hits };
    size_t n = (size_t) (round * 20 + 1);
    ke_cpu_pool_run (pool, n, count_task, &c);
    for (size_t i = 0; i < n; i++)
      KE_CHECK (hits[i] == 1, "round %d task %zu ran %d times", round, i, hits[i]);
  }
  ke_cpu_pool_free (pool);
}

KE_TAP_MAIN (KE_TAP_ENTRY (rmsnorm_gemma), KE_TAP_ENTRY (layernorm), KE_TAP_ENTRY (gelu_tanh),
             KE_TAP_ENTRY (rope_rotate_half), KE_TAP_ENTRY (attention_mask),
             KE_TAP_ENTRY (fp8_activation_quant), KE_TAP_ENTRY (resize_pillow_bilinear),
             KE_TAP_ENTRY (preprocess_rescale_normalize), KE_TAP_ENTRY (image_validate),
             KE_TAP_ENTRY (linear_matches_definition), KE_TAP_ENTRY (pool_runs_every_task_once))
