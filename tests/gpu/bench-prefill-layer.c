/* bench-prefill-layer.c — where a prefill chunk's time goes: every kernel of one Gemma 3 4b
 * layer, as ke-cuda-forward.cu runs them for a batch of T tokens (W8A8), timed alone on
 * random data, then summed over 34 layers (29 sliding, 5 global).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-prefill-layer [T [pos0]]     (default: T 2048 at pos0 0 and 2048, then T 512)
 *
 * Each step: one warm-up call, then 10 calls back to back, host clock around a device
 * synchronize (µs per call).  GEMM inputs are random e4m3 bytes (not constants: the tensor
 * cores' power, and so their clock, depends on the data).
 */
#include <time.h>

#include "ke-cuda-kernels.h"
#include "ke-cuda-prefill.h"
#include "gpu-test-util.h"

enum { H = 2560, I = 10240, NQ = 8, NKV = 4, HD = 256, QD = NQ * HD, KVD = NKV * HD,
       QKV = QD + 2 * KVD, LAYERS = 34, GLOBAL = 5, WINDOW = 1024 };

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *
random_fp8 (size_t n)
{
  uint8_t *h = malloc (n);
  for (size_t i = 0; i < n; i++) {
    uint8_t b = (uint8_t) (ke_test_rand_u64 (&gpu_test_seed) >> 56);
    h[i] = (b & 0x7f) == 0x7f ? 0x3f : b; /* no NaN */
  }
  void *d = gpu_upload (h, n);
  free (h);
  return d;
}

static void *
random_f32 (size_t n, float lo, float hi)
{
  float *h = malloc (n * 4);
  for (size_t i = 0; i < n; i++)
    h[i] = lo + (hi - lo) * 0.5f * (gpu_rand () + 1.0f);
  void *d = gpu_upload (h, n * 4);
  free (h);
  return d;
}

static void *
random_bf16 (size_t n, float mag)
{
  uint16_t *h = malloc (n * 2);
  fill_bf16 (h, n, mag);
  void *d = gpu_upload (h, n * 2);
  free (h);
  return d;
}

typedef struct {
  int T, pos0;
  ke_fp8_gemm_plan *plan[4];
  void *w[4], *ws[4], *x8, *xs, *gemm_out, *h, *y, *q, *att, *kn, *vn, *kc, *vc;
  void *pos, *qn, *kn_w, *wn, *group, *zero;
} layer;

/* The steps of one layer as forward_batch runs them, then (S_OLD_*, not summed) the
 * previous round's path for comparison: bf16 → f32 of the GEMM output and the f32
 * residual kernel, in place of the bf16-rows residual kernel. */
typedef enum { S_QKV, S_ROPE, S_ATT_SLIDING, S_ATT_GLOBAL, S_SCATTER, S_QUANT,
               S_O, S_NORM1, S_GATE_UP, S_GEGLU, S_DOWN, S_NORM2,
               S_OLD_F32, S_OLD_NORM, N_STEPS } step;

static const char *const step_name[N_STEPS] = {
  "qkv GEMM (fp8 → bf16)", "QK-norm + RoPE (bf16 rows)", "attention, sliding (flash)",
  "attention, global (flash)", "KV scatter", "attention out → fp8 rows", "o GEMM",
  "residual + norms, bf16 y (attn)", "gate+up GEMM", "GeGLU → fp8 rows", "down GEMM",
  "residual + norms, bf16 y (MLP)", "(old path) bf16 → f32", "(old path) residual f32 y",
};

static bool
run_step (layer *L, step s, ke_error **e)
{
  const int T = L->T;
  ke_norm_out fp8 = { NULL, L->x8, L->xs };
  switch (s) {
  case S_QKV: return ke_fp8_gemm_run (L->plan[0], L->x8, L->xs, L->w[0], L->ws[0], L->gemm_out, NULL, e);
  case S_O: return ke_fp8_gemm_run (L->plan[1], L->x8, L->xs, L->w[1], L->ws[1], L->gemm_out, NULL, e);
  case S_GATE_UP: return ke_fp8_gemm_run (L->plan[2], L->x8, L->xs, L->w[2], L->ws[2], L->gemm_out, NULL, e);
  case S_DOWN: return ke_fp8_gemm_run (L->plan[3], L->x8, L->xs, L->w[3], L->ws[3], L->gemm_out, NULL, e);
  case S_OLD_F32: return ke_cuda_bf16_to_f32 (L->gemm_out, L->y, (size_t) T * H, NULL, e);
  case S_ROPE: {
    ke_rope_args ra = { NULL, T, NQ, NKV, HD, L->pos, L->qn, L->kn_w, 1e-6f, 10000.0f, 1.0f,
                        L->q, L->kn, L->vn, T };
    return ke_cuda_qk_norm_rope_rows (&ra, L->gemm_out, NULL, e);
  }
  case S_ATT_SLIDING:
  case S_ATT_GLOBAL: {
    const bool sliding = s == S_ATT_SLIDING;
    ke_attn_prefill_args a = { L->q, L->kc, L->vc, L->kn, L->vn, L->group, L->zero, L->zero, T,
                               L->pos0, NQ, NKV, HD, sliding ? WINDOW + 2048 : L->pos0 + T,
                               sliding ? WINDOW : 0, 1.0f / 16.0f, L->att };
    return ke_cuda_attn_prefill (&a, NULL, e);
  }
  case S_SCATTER: return ke_cuda_kv_scatter (L->kn, L->vn, L->kc, L->vc, T, L->pos0, L->pos0 + T, NKV, HD, NULL, e);
  case S_QUANT: return ke_cuda_quant_rows (L->att, T, QD, L->x8, L->xs, NULL, e);
  case S_NORM1:
  case S_NORM2:
    return ke_cuda_residual_norm_rows (L->h, L->gemm_out, L->wn, L->wn, T, H, 1e-6f, &fp8, NULL, e);
  case S_OLD_NORM: return ke_cuda_residual_norm (L->h, L->y, L->wn, L->wn, T, H, 1e-6f, &fp8, NULL, e);
  case S_GEGLU: return ke_cuda_geglu_bf16_quant (L->gemm_out, T, I, L->x8, L->xs, NULL, e);
  default: return false;
  }
}

static bool
bench (int T, int pos0)
{
  layer L = { .T = T, .pos0 = pos0 };
  const int n[4] = { QKV, H, 2 * I, H }, k[4] = { H, QD, H, I };
  ke_error *error = NULL;
  void *ws = gpu_upload (NULL, KE_FP8_GEMM_WORKSPACE);
  for (int g = 0; g < 4; g++) {
    L.w[g] = random_fp8 ((size_t) n[g] * k[g]);
    L.ws[g] = random_f32 ((size_t) n[g], 1e-3f, 3e-3f);
    L.plan[g] = ke_fp8_gemm_plan_new_shared (T, n[g], k[g], ws, KE_FP8_GEMM_WORKSPACE, &error);
    if (!L.plan[g]) {
      ke_tap_diag ("plan: %s", error->message);
      return false;
    }
  }
  const int cap = pos0 + T > WINDOW + 2048 ? pos0 + T : WINDOW + 2048;
  int32_t *pos = malloc (4 * (size_t) T), *grp = malloc (4 * (size_t) T), zero = 0;
  for (int t = 0; t < T; t++) {
    pos[t] = pos0 + t;
    grp[t] = -1;
  }
  L.x8 = random_fp8 ((size_t) T * I);
  L.xs = random_f32 ((size_t) T, 1e-2f, 3e-2f);
  L.gemm_out = random_bf16 ((size_t) T * 2 * I, 1.0f);
  L.h = random_f32 ((size_t) T * H, -1, 1);
  L.y = random_f32 ((size_t) T * H, -1, 1);
  L.q = random_bf16 ((size_t) T * QD, 1.0f);
  L.att = random_bf16 ((size_t) T * QD, 1.0f);
  L.kn = random_bf16 ((size_t) T * KVD, 1.0f);
  L.vn = random_bf16 ((size_t) T * KVD, 1.0f);
  L.kc = random_bf16 ((size_t) cap * KVD, 1.0f);
  L.vc = random_bf16 ((size_t) cap * KVD, 1.0f);
  L.pos = gpu_upload (pos, 4 * (size_t) T);
  L.group = gpu_upload (grp, 4 * (size_t) T);
  L.zero = gpu_upload (&zero, 4);
  L.qn = random_bf16 (HD, 0.1f);
  L.kn_w = random_bf16 (HD, 0.1f);
  L.wn = random_bf16 (H, 0.1f);
  /* The backend tunes its plans at open (tune_gemm_plans): the same here, on this data. */
  printf ("\nT = %d: cuBLASLt FP8 algorithm, heuristic's first → fastest of its candidates "
          "(µs)\n", T);
  static const char *const gemm_name[4] = { "qkv", "o", "gate+up", "down" };
  for (int g = 0; g < 4; g++) {
    float first = 0, best = 0;
    if (!ke_fp8_gemm_plan_tune (L.plan[g], L.x8, L.xs, L.w[g], L.ws[g], L.gemm_out, NULL,
                                &first, &best, &error)) {
      ke_tap_diag ("tune %s: %s", gemm_name[g], error->message);
      return false;
    }
    printf ("  %-8s %8.1f → %8.1f  (%d candidates)\n", gemm_name[g], first * 1e3, best * 1e3,
            ke_fp8_gemm_plan_candidates (L.plan[g]));
  }
  double us[N_STEPS];
  for (int s = 0; s < N_STEPS; s++) {
    const int reps = 10;
    bool ok = run_step (&L, (step) s, &error) && ke_cuda_synchronize (&error);
    double t0 = now_s ();
    for (int r = 0; r < reps && ok; r++)
      ok = run_step (&L, (step) s, &error);
    ok = ok && ke_cuda_synchronize (&error);
    if (!ok) {
      ke_tap_diag ("%s: %s", step_name[s], error ? error->message : "failed");
      return false;
    }
    us[s] = (now_s () - t0) / reps * 1e6;
  }
  double gemm = us[S_QKV] + us[S_O] + us[S_GATE_UP] + us[S_DOWN];
  double att = (LAYERS - GLOBAL) * us[S_ATT_SLIDING] + GLOBAL * us[S_ATT_GLOBAL];
  double other = 0;
  printf ("\nT = %d tokens at pos0 %d (one layer, µs per call)\n", T, pos0);
  for (int s = 0; s < N_STEPS; s++) {
    const bool is_gemm = s == S_QKV || s == S_O || s == S_GATE_UP || s == S_DOWN;
    const bool is_att = s == S_ATT_SLIDING || s == S_ATT_GLOBAL;
    if (!is_gemm && !is_att && s != S_OLD_F32 && s != S_OLD_NORM)
      other += us[s];
    const double flop = s == S_QKV ? 2.0 * T * QKV * H : s == S_O ? 2.0 * T * H * QD
                        : s == S_GATE_UP ? 4.0 * T * I * H : s == S_DOWN ? 2.0 * T * H * I : 0;
    if (flop > 0)
      printf ("  %-30s %9.1f   %5.0f TFLOP/s\n", step_name[s], us[s], flop / us[s] * 1e-6);
    else
      printf ("  %-30s %9.1f\n", step_name[s], us[s]);
  }
  printf ("  34 layers: GEMMs %.2f ms, attention %.2f ms (29 sliding + 5 global), the rest "
          "%.2f ms; total %.2f ms\n", gemm * LAYERS * 1e-3, att * 1e-3, other * LAYERS * 1e-3,
          (gemm * LAYERS + att + other * LAYERS) * 1e-3);
  printf ("  residual + norms, 34 layers × 2: %.2f ms from bf16 rows, %.2f ms the old way "
          "(bf16 → f32, then the f32 kernel)\n", (us[S_NORM1] + us[S_NORM2]) * LAYERS * 1e-3,
          2 * (us[S_OLD_F32] + us[S_OLD_NORM]) * LAYERS * 1e-3);
  for (int g = 0; g < 4; g++) {
    ke_fp8_gemm_plan_free (L.plan[g]);
    ke_cuda_free (L.w[g]);
    ke_cuda_free (L.ws[g]);
  }
  void *bufs[] = { ws, L.x8, L.xs, L.gemm_out, L.h, L.y, L.q, L.att, L.kn, L.vn, L.kc,
                   L.vc, L.pos, L.group, L.zero, L.qn, L.kn_w, L.wn };
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    ke_cuda_free (bufs[i]);
  free (pos);
  free (grp);
  return true;
}

int
main (int argc, char **argv)
{
  gpu_test_init_seed ();
  (void) ke_tap_checks_; /* the TAP helpers come with gpu-test-util.h; a benchmark has no checks */
  if (!gpu_test_have_device (NULL)) {
    printf ("no CUDA device\n");
    return 77;
  }
  bool ok;
  if (argc > 1)
    ok = bench (atoi (argv[1]), argc > 2 ? atoi (argv[2]) : 0);
  else
    ok = bench (2048, 0) && bench (2048, 2048) && bench (512, 0);
  return ok ? 0 : 1;
}
