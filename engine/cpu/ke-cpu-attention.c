/* ke-cpu-attention.c — masked scaled dot-product attention over the KV cache.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One task per (query, head).  Grouped-query attention: query head h reads KV head
 * h / (n_heads / n_kv_heads), as repeat_kv does.  Softmax in float32 with the maximum
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

/* q·k over d floats with 8 lanes (then a fixed-order horizontal sum). */
static inline __attribute__ ((always_inline)) float
dot (const float *a, const float *b, uint32_t d)
{
  v8 acc = { 0 };
  uint32_t i = 0;
  for (; i + 8 <= d; i += 8)
    acc += load8 (a + i) * load8 (b + i);
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < d; i++)
    s += a[i] * b[i];
  return s;
}

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

KE_SIMD_CLONES static void
attention_task (void *ctx, size_t task, int thread)
{
  const ke_cpu_attention *att = ctx;
  uint32_t qi = (uint32_t) (task / att->n_heads);
  uint32_t h = (uint32_t) (task % att->n_heads);
  uint32_t hd = att->head_dim;
  uint32_t kvh = h / (att->n_heads / att->n_kv_heads);
  uint32_t n_keys = att->pos0 + att->n_q;
  uint32_t i = att->pos0 + qi;
  int32_t gi = att->group ? att->group[qi] : -1;
  const float *q = att->q + ((size_t) qi * att->n_heads + h) * hd;
  float *out = att->out + ((size_t) qi * att->n_heads + h) * hd;
  float *scores = att->scores + (size_t) thread * n_keys;
  size_t kv_stride = (size_t) att->n_kv_heads * hd;

  /* Candidate keys: the causal (windowed) range, widened to this query's image run. */
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

  float max = -INFINITY;
  for (uint32_t j = lo; j <= hi; j++) {
    int32_t gj = (j >= att->pos0 && att->group) ? att->group[j - att->pos0] : -1;
    if (!ke_cpu_mask_visible (i, j, att->window, gi, gj)) {
      scores[j] = -INFINITY;
      continue;
    }
    const float *k = att->k_cache + (size_t) j * kv_stride + (size_t) kvh * hd;
    scores[j] = dot (q, k, hd) * att->scale;
    if (scores[j] > max)
      max = scores[j];
  }
  float sum = 0.0f;
  for (uint32_t j = lo; j <= hi; j++) {
    float p = scores[j] == -INFINITY ? 0.0f : expf (scores[j] - max);
    scores[j] = p;
    sum += p;
  }
  for (uint32_t d = 0; d < hd; d++)
    out[d] = 0.0f;
  float inv = 1.0f / sum;
  for (uint32_t j = lo; j <= hi; j++) {
    float p = scores[j] * inv;
    if (p == 0.0f)
      continue;
    axpy (out, p, att->v_cache + (size_t) j * kv_stride + (size_t) kvh * hd, hd);
  }
}

void
ke_cpu_attention_run (ke_cpu_pool *pool, const ke_cpu_attention *att)
{
  ke_cpu_pool_run (pool, (size_t) att->n_q * att->n_heads, attention_task, (void *) att);
}
