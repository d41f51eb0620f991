/* ke-sampler.c — next-token selection, in Hugging Face's order of logits processors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * 1. repetition penalty (HF RepetitionPenaltyLogitsProcessor) over the whole context:
 *    a seen token's logit is divided by the penalty when positive, multiplied when not;
 *    presence penalty (OpenAI semantics, as vLLM applies it) over the tokens generated in
 *    this reply: a constant subtracted once from every token that appeared;
 * 2. temperature 0 → greedy (argmax, lowest id on ties), else logits / temperature;
 * 3. top-k, 4. top-p (HF TopPLogitsWarper: drop the low tail whose total probability is
 *    <= 1 - top_p), 5. min-p (drop p < min_p · p_max); each keeps at least one token;
 * 6. draw from the softmax of what is left with xoshiro256** (seeded through splitmix64).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-cpu.h"

struct ke_sampler {
  uint32_t vocab_size;
  uint32_t *stamp;   /* [vocab] generation stamps for "seen" sets */
  uint32_t stamp_gen;
  uint32_t *order;   /* [vocab] candidate ids */
  float *probs;      /* [vocab] */
};

static uint64_t
splitmix64 (uint64_t *x)
{
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void
ke_rng_seed (ke_rng *rng, uint64_t seed)
{
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&seed);
}

static inline uint64_t
rotl (uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

uint64_t
ke_rng_next (ke_rng *rng)
{
  uint64_t *s = rng->s;
  uint64_t result = rotl (s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

double
ke_rng_uniform (ke_rng *rng)
{
  return (double) (ke_rng_next (rng) >> 11) * 0x1.0p-53;
}

ke_sampler *
ke_sampler_new (uint32_t vocab_size, ke_error **error)
{
  ke_sampler *s = calloc (1, sizeof *s);
  if (s) {
    s->vocab_size = vocab_size;
    s->stamp = calloc (vocab_size, sizeof (uint32_t));
    s->order = ke_malloc_array (vocab_size, sizeof (uint32_t));
    s->probs = ke_malloc_array (vocab_size, sizeof (float));
  }
  if (!s || !s->stamp || !s->order || !s->probs) {
    ke_sampler_free (s);
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory for the sampler.");
    return NULL;
  }
  return s;
}

void
ke_sampler_free (ke_sampler *sampler)
{
  if (!sampler)
    return;
  free (sampler->stamp);
  free (sampler->order);
  free (sampler->probs);
  free (sampler);
}

static uint32_t
next_stamp (ke_sampler *s)
{
  if (++s->stamp_gen == 0) {
    memset (s->stamp, 0, s->vocab_size * sizeof (uint32_t));
    s->stamp_gen = 1;
  }
  return s->stamp_gen;
}

static int
by_logit_desc (const void *a, const void *b, void *data)
{
  const float *sort_logits = data;
  float x = sort_logits[*(const uint32_t *) a], y = sort_logits[*(const uint32_t *) b];
  if (x != y)
    return x > y ? -1 : 1;
  uint32_t i = *(const uint32_t *) a, j = *(const uint32_t *) b;
  return i < j ? -1 : (i > j);
}

/* Puts the k largest logits (ties: lower id first) in order[0..k), sorted: a bounded
 * insertion into a sorted prefix; few insertions happen on typical logits. */
static void
select_top_k (const float *logits, uint32_t *order, uint32_t n, uint32_t k)
{
  uint32_t have = 0;
  for (uint32_t id = 0; id < n; id++) {
    float v = logits[id];
    if (have == k && !(v > logits[order[k - 1]]))
      continue;
    uint32_t lo = 0, hi = have < k ? have : k - 1;
    while (lo < hi) { /* first position whose logit is < v (stable for ties) */
      uint32_t mid = (lo + hi) / 2;
      if (logits[order[mid]] >= v)
        lo = mid + 1;
      else
        hi = mid;
    }
    uint32_t last = have < k ? have : k - 1;
    memmove (order + lo + 1, order + lo, (last - lo) * sizeof (uint32_t));
    order[lo] = id;
    if (have < k)
      have++;
  }
}

uint32_t
ke_sampler_candidates (ke_sampler *s, float *logits, uint32_t vocab_size,
                       const ke_sampling *p, const ke_token *history, size_t n_history,
                       const ke_token *generated, size_t n_generated, const uint32_t **order,
                       const float **probs)
{
  if (vocab_size > s->vocab_size)
    vocab_size = s->vocab_size;

  if (p->repetition_penalty > 0.0f && p->repetition_penalty != 1.0f) {
    uint32_t g = next_stamp (s);
    for (size_t i = 0; i < n_history; i++) {
      ke_token t = history[i];
      if (t < 0 || (uint32_t) t >= vocab_size || s->stamp[t] == g)
        continue;
      s->stamp[t] = g;
      logits[t] = logits[t] > 0 ? logits[t] / p->repetition_penalty
                                : logits[t] * p->repetition_penalty;
    }
  }
  if (p->presence_penalty != 0.0f) {
    uint32_t g = next_stamp (s);
    for (size_t i = 0; i < n_generated; i++) {
      ke_token t = generated[i];
      if (t < 0 || (uint32_t) t >= vocab_size || s->stamp[t] == g)
        continue;
      s->stamp[t] = g;
      logits[t] -= p->presence_penalty;
    }
  }

  if (!(p->temperature > 0.0f)) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < vocab_size; i++)
      if (logits[i] > logits[best])
        best = i;
    s->order[0] = best;
    s->probs[0] = 1.0f;
    *order = s->order;
    *probs = s->probs;
    return 1;
  }
  for (uint32_t i = 0; i < vocab_size; i++)
    logits[i] /= p->temperature;

  /* candidates in descending logit order */
  uint32_t n;
  if (p->top_k > 0 && (uint32_t) p->top_k < vocab_size) {
    n = (uint32_t) p->top_k;
    select_top_k (logits, s->order, vocab_size, n);
  } else {
    n = vocab_size;
    for (uint32_t i = 0; i < n; i++)
      s->order[i] = i;
    qsort_r (s->order, n, sizeof (uint32_t), by_logit_desc, logits);
  }

  /* softmax over the candidates */
  float max = logits[s->order[0]];
  double sum = 0.0;
  for (uint32_t i = 0; i < n; i++) {
    float e = isinf (logits[s->order[i]]) && logits[s->order[i]] < 0 ? 0.0f
                                                                     : expf (logits[s->order[i]] - max);
    s->probs[i] = e;
    sum += e;
  }
  for (uint32_t i = 0; i < n; i++)
    s->probs[i] = (float) (s->probs[i] / sum);

  if (p->top_p > 0.0f && p->top_p < 1.0f) {
    /* keep rank r unless the tail from r on has probability <= 1 - top_p */
    double tail = 0.0;
    uint32_t keep = n;
    for (uint32_t r = n; r-- > 1;) {
      tail += s->probs[r];
      if (tail <= 1.0 - (double) p->top_p)
        keep = r;
      else
        break;
    }
    n = keep;
  }
  if (p->min_p > 0.0f) {
    float threshold = p->min_p * s->probs[0];
    uint32_t keep = 1;
    while (keep < n && s->probs[keep] >= threshold)
      keep++;
    n = keep;
  }

  *order = s->order;
  *probs = s->probs;
  return n;
}

ke_token
ke_sampler_draw (const uint32_t *order, const float *probs, uint32_t n, double u)
{
  double total = 0.0;
  for (uint32_t i = 0; i < n; i++)
    total += probs[i];
  double target = u * total, acc = 0.0;
  for (uint32_t i = 0; i < n; i++) {
    acc += probs[i];
    if (target < acc)
      return (ke_token) order[i];
  }
  return (ke_token) order[n - 1];
}

ke_token
ke_sampler_sample (ke_sampler *s, float *logits, uint32_t vocab_size, const ke_sampling *p,
                   const ke_token *history, size_t n_history, const ke_token *generated,
                   size_t n_generated, ke_rng *rng)
{
  const uint32_t *order;
  const float *probs;
  uint32_t n = ke_sampler_candidates (s, logits, vocab_size, p, history, n_history, generated,
                                      n_generated, &order, &probs);
  if (!(p->temperature > 0.0f))
    return (ke_token) order[0]; /* greedy draws no random number */
  return ke_sampler_draw (order, probs, n, ke_rng_uniform (rng));
}
