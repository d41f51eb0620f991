/* ke-cpu-attention.c — masked scaled dot-product attention over the KV cache.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One task per block of KE_CPU_ATT_QBLOCK queries of one head.  Grouped-query attention:
 * query head h reads KV head h / (n_heads / n_kv_heads), as repeat_kv does.  Softmax in float32 with the maximum
 * subtracted, like torch's.  The mask is ke_cpu_mask_visible(): causal (+ window on
 * sliding layers) OR same image run.
 */
#include <math.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-cpu.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define KE_SIMD_CLONES __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KE_SIMD_CLONES
#endif

typedef float v8 __attribute__ ((vector_size (32)));
typedef float v8u __attribute__ ((vector_size (32), aligned (4)));
#define load8(p) (*(const v8u *) (p))

/* out += p · v over d floats */
static inline __attribute__ ((always_inline)) void
axpy (float *out, float p, const float *v, uint32_t d)
{
  uint32_t i = 0;
  for (; i + 8 <= d; i += 8) {
    v8 o = load8 (out + i) + p * load8 (v + i);
    memcpy (out + i, &o, sizeof o);
  }
  for (; i < d; i++)
    out[i] += p * v[i];
}

/* The key range query qi may see: the causal (windowed) range, widened to its image run. */
static void
key_range (const ke_cpu_attention *att, uint32_t qi, uint32_t *lo_out, uint32_t *hi_out)
{
  uint32_t i = att->pos0 + qi;
  int32_t gi = att->group ? att->group[qi] : -1;
  uint32_t lo = (att->window && i >= att->window) ? i - att->window + 1 : 0;
  uint32_t hi = i;
  if (gi >= 0) {
    uint32_t a = qi, b = qi;
    while (a > 0 && att->group[a - 1] == gi)
      a--;
    while (b + 1 < att->n_q && att->group[b + 1] == gi)
      b++;
    if (att->pos0 + a < lo)
      lo = att->pos0 + a;
    if (att->pos0 + b > hi)
      hi = att->pos0 + b;
  }
  *lo_out = lo;
  *hi_out = hi;
}

/* One task: KE_CPU_ATT_QBLOCK consecutive queries of one head, so that every key and value
 * row loaded serves all of them.  Per query the arithmetic (and its order) is that of a
 * plain loop over its visible keys; masked keys contribute exact zeros. */
KE_SIMD_CLONES static void
attention_task (void *ctx, size_t task, int thread)
{
  const ke_cpu_attention *att = ctx;
  enum { QB = KE_CPU_ATT_QBLOCK };
  uint32_t qb = (uint32_t) (task / att->n_heads);
  uint32_t h = (uint32_t) (task % att->n_heads);
  uint32_t hd = att->head_dim;
  uint32_t kvh = h / (att->n_heads / att->n_kv_heads);
  uint32_t n_keys = att->pos0 + att->n_q;
  uint32_t q0 = qb * QB, nq = att->n_q - q0 < QB ? att->n_q - q0 : QB;
  size_t kv_stride = (size_t) att->n_kv_heads * hd;
  float *scores[QB];
  const float *q[QB];
  float *out[QB];
  uint32_t lo[QB], hi[QB], LO = UINT32_MAX, HI = 0;
  int32_t gi[QB];
  for (uint32_t t = 0; t < QB; t++) {
    uint32_t qi = q0 + (t < nq ? t : nq - 1); /* padding slots repeat the last query */
    scores[t] = att->scores + ((size_t) thread * QB + t) * n_keys;
    q[t] = att->q + ((size_t) qi * att->n_heads + h) * hd;
    out[t] = att->out + ((size_t) qi * att->n_heads + h) * hd;
    gi[t] = att->group ? att->group[qi] : -1;
    key_range (att, qi, &lo[t], &hi[t]);
    if (lo[t] < LO)
      LO = lo[t];
    if (hi[t] > HI)
      HI = hi[t];
  }

  float max[QB];
  for (uint32_t t = 0; t < QB; t++)
    max[t] = -INFINITY;
  for (uint32_t j = LO; j <= HI; j++) {
    int32_t gj = (j >= att->pos0 && att->group) ? att->group[j - att->pos0] : -1;
    const float *k = att->k_cache + (size_t) j * kv_stride + (size_t) kvh * hd;
    v8 acc[QB];
    for (uint32_t t = 0; t < QB; t++)
      acc[t] = (v8) { 0 };
    uint32_t d = 0;
    for (; d + 8 <= hd; d += 8) {
      v8 kv = load8 (k + d);
      for (uint32_t t = 0; t < QB; t++)
        acc[t] += load8 (q[t] + d) * kv;
    }
    for (uint32_t t = 0; t < QB; t++) {
      float sdot = ((acc[t][0] + acc[t][4]) + (acc[t][1] + acc[t][5])) +
                   ((acc[t][2] + acc[t][6]) + (acc[t][3] + acc[t][7]));
      for (uint32_t e = d; e < hd; e++)
        sdot += q[t][e] * k[e];
      uint32_t i = att->pos0 + q0 + (t < nq ? t : nq - 1);
      if (j < lo[t] || j > hi[t] || !ke_cpu_mask_visible (i, j, att->window, gi[t], gj)) {
        scores[t][j] = -INFINITY;
        continue;
      }
      scores[t][j] = sdot * att->scale;
      if (scores[t][j] > max[t])
        max[t] = scores[t][j];
    }
  }
  float inv[QB];
  for (uint32_t t = 0; t < QB; t++) {
    float sum = 0.0f;
    for (uint32_t j = LO; j <= HI; j++) {
      float p = scores[t][j] == -INFINITY ? 0.0f : expf (scores[t][j] - max[t]);
      scores[t][j] = p;
      sum += p;
    }
    inv[t] = 1.0f / sum;
  }
  /* P·V into the outputs of the real queries (padding slots are skipped) */
  for (uint32_t t = 0; t < nq; t++)
    memset (out[t], 0, hd * sizeof (float));
  for (uint32_t j = LO; j <= HI; j++) {
    const float *v = att->v_cache + (size_t) j * kv_stride + (size_t) kvh * hd;
    for (uint32_t t = 0; t < nq; t++) {
      float p = scores[t][j] * inv[t];
      if (p != 0.0f)
        axpy (out[t], p, v, hd);
    }
  }
}

void
ke_cpu_attention_run (ke_cpu_pool *pool, const ke_cpu_attention *att)
{
  size_t blocks = (att->n_q + KE_CPU_ATT_QBLOCK - 1) / KE_CPU_ATT_QBLOCK;
  ke_cpu_pool_run (pool, blocks * att->n_heads, attention_task, (void *) att);
}
