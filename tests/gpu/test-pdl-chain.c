/* test-pdl-chain.c — a chain of dependent kernels on an explicit stream (programmatic
 * dependent launch on sm_90+: each kernel may start before the previous one ends) must give
 * bit-identical results to the same chain on the legacy stream (no PDL).  A missing
 * griddepcontrol.wait shows up here as a race.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <cuda_runtime.h>

#include "ke-cuda-kernels.h"
#include "gpu-test-util.h"

enum { HIDDEN = 2560, INTER = 10240, STEPS = 8, REPS = 8 };

typedef struct {
  float *h, *y;
  uint16_t *x, *a, *nw;
  uint8_t *w_up, *w_down;
  float *s_up, *s_down;
} chain;

static bool
run_chain (const chain *c, void *stream, ke_error **error)
{
  ke_norm_out xo = { c->x, NULL, NULL };
  for (int i = 0; i < STEPS; i++) {
    if (!ke_cuda_rmsnorm (c->h, c->nw, 1, HIDDEN, 1e-6f, &xo, stream, error))
      return false;
    ke_gemv_args up = { .n = 2 * INTER, .k = HIDDEN, .w_type = KE_GEMV_FP8, .w = c->w_up,
                        .w_scale = c->s_up, .x_type = KE_GEMV_BF16, .x = c->x,
                        .y_type = KE_GEMV_BF16, .y = c->a, .epilogue = KE_GEMV_EPI_GEGLU };
    ke_gemv_args down = { .n = HIDDEN, .k = INTER, .w_type = KE_GEMV_FP8, .w = c->w_down,
                          .w_scale = c->s_down, .x_type = KE_GEMV_BF16, .x = c->a,
                          .y_type = KE_GEMV_F32, .y = c->y };
    if (!ke_cuda_gemv (&up, stream, error) || !ke_cuda_gemv (&down, stream, error) ||
        !ke_cuda_residual_norm (c->h, c->y, c->nw, NULL, 1, HIDDEN, 1e-6f, NULL, stream, error))
      return false;
  }
  return true;
}

KE_TEST (pdl_chain_matches_serial)
{
  if (!gpu_test_have_device (NULL))
    KE_SKIP ("no CUDA device");
  float *h0 = malloc (HIDDEN * 4), *s_up = malloc (2 * INTER * 4), *s_down = malloc (HIDDEN * 4);
  uint8_t *w_up = malloc ((size_t) 2 * INTER * HIDDEN), *w_down = malloc ((size_t) HIDDEN * INTER);
  uint16_t nw[HIDDEN];
  for (int i = 0; i < HIDDEN; i++)
    h0[i] = gpu_rand () * 3.0f;
  for (size_t i = 0; i < (size_t) 2 * INTER * HIDDEN; i++)
    w_up[i] = ke_f32_to_fp8e4m3 (gpu_rand () * 448.0f);
  for (size_t i = 0; i < (size_t) HIDDEN * INTER; i++)
    w_down[i] = ke_f32_to_fp8e4m3 (gpu_rand () * 448.0f);
  for (int i = 0; i < 2 * INTER; i++)
    s_up[i] = 1e-3f * (1 + fabsf (gpu_rand ()));
  for (int i = 0; i < HIDDEN; i++)
    s_down[i] = 1e-3f * (1 + fabsf (gpu_rand ()));
  fill_bf16 (nw, HIDDEN, 0.5f);
  chain c = {
    .h = gpu_upload (h0, HIDDEN * 4), .y = gpu_poisoned (HIDDEN * 4),
    .x = gpu_poisoned (HIDDEN * 2), .a = gpu_poisoned (INTER * 2), .nw = gpu_upload (nw, sizeof nw),
    .w_up = gpu_upload (w_up, (size_t) 2 * INTER * HIDDEN),
    .w_down = gpu_upload (w_down, (size_t) HIDDEN * INTER),
    .s_up = gpu_upload (s_up, 2 * INTER * 4), .s_down = gpu_upload (s_down, HIDDEN * 4),
  };
  KE_REQUIRE (c.h && c.y && c.x && c.a && c.nw && c.w_up && c.w_down && c.s_up && c.s_down,
              "device buffers");
  float *serial = malloc (HIDDEN * 4), *pdl = malloc (HIDDEN * 4);
  ke_error *error = NULL;
  KE_REQUIRE (run_chain (&c, NULL, &error), "serial chain: %s", error->message);
  KE_REQUIRE (gpu_download (serial, c.h, HIDDEN * 4), "download");

  cudaStream_t stream;
  KE_REQUIRE (cudaStreamCreateWithFlags (&stream, cudaStreamNonBlocking) == cudaSuccess, "stream");
  size_t diff = 0, nan = 0;
  for (int rep = 0; rep < REPS; rep++) {
    /* A pageable cudaMemcpy may return before its DMA lands, and a non-blocking stream does
     * not wait for the legacy one: synchronize, or the chain may start from the old h. */
    KE_REQUIRE (ke_cuda_memcpy_h2d (c.h, h0, HIDDEN * 4, NULL) && ke_cuda_synchronize (NULL),
                "reset h");
    KE_REQUIRE (run_chain (&c, stream, &error), "stream chain: %s", error->message);
    KE_REQUIRE (cudaStreamSynchronize (stream) == cudaSuccess, "sync");
    KE_REQUIRE (gpu_download (pdl, c.h, HIDDEN * 4), "download");
    for (int i = 0; i < HIDDEN; i++) {
      diff += memcmp (&serial[i], &pdl[i], 4) != 0;
      nan += isnan (pdl[i]);
    }
  }
  ke_tap_diag ("%d dependent steps × %d: %zu values differ from the serial run, %zu NaN", STEPS,
               REPS, diff, nan);
  KE_CHECK (diff == 0 && nan == 0, "the PDL chain differs from the serial one");
  cudaStreamDestroy (stream);
  ke_cuda_free (c.h); ke_cuda_free (c.y); ke_cuda_free (c.x); ke_cuda_free (c.a);
  ke_cuda_free (c.nw); ke_cuda_free (c.w_up); ke_cuda_free (c.w_down); ke_cuda_free (c.s_up);
  ke_cuda_free (c.s_down);
  free (h0); free (s_up); free (s_down); free (w_up); free (w_down); free (serial); free (pdl);
}

int
main (int argc, char **argv)
{
  gpu_test_init_seed ();
  static const ke_tap_test tests[] = { KE_TAP_ENTRY (pdl_chain_matches_serial) };
  return ke_tap_run (argc, argv, tests, 1);
}
