/* ke-cuda-sample.cu — next-token selection on the GPU, with the CPU sampler's semantics.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The same steps, in the same order, as ke_sampler_sample (engine/cpu/ke-sampler.c):
 * softcap (what the backend applies before the host sees logits), repetition penalty over
 * the "context" set, presence penalty over the "generated" set, then greedy argmax (lowest
 * id on ties) or logits / temperature → candidates in descending logit order (ties: lower
 * id first) → top-k → softmax → top-p → min-p → one draw.  The draw u ∈ [0, 1) comes from
 * the caller (the session's xoshiro256** stream, so CPU and GPU sampling consume the same
 * random numbers and pick the same token for the same logits, up to rounding at a
 * boundary: expf and the order of double sums differ by an ulp).
 *
 * Kernels: prep (one pass over the vocabulary: penalties, temperature, argmax by a 64-bit
 * atomicMax of (orderable logit, ~id)), for sampling a stable radix sort of all logits
 * (cub::DeviceRadixSort, descending, ids as values: ties keep ascending ids), then one
 * block over the first n candidates (n = top_k or the vocabulary) for the softmax, the
 * top-p / min-p cuts and the draw.  Logits are never modified; only the token (and, for
 * tests, the candidate count) is written.  Everything is stream-ordered and capturable.
 */
#include <cub/device/device_radix_sort.cuh>

#include "ke-cuda-common.cuh"
#include "ke-cuda-kernels.h"

struct ke_cuda_sampler {
  int vocab;
  float *keys, *keys_sorted, *probs; /* [vocab] */
  int32_t *ids, *ids_sorted;         /* [vocab]; ids = 0 .. vocab - 1 */
  unsigned long long *best;          /* [1] greedy argmax, 0 between runs */
  int32_t *info;                     /* [1] candidates kept by the last stochastic run */
  void *sort_tmp;
  size_t sort_tmp_bytes;
};

struct ke_cuda_token_sets {
  int vocab;
  uint32_t *stamp[2]; /* [vocab]: a token is in set i when stamp[i][t] == gen[i] */
  uint32_t gen[2];
  int32_t *ids;       /* staging for added ids */
  size_t ids_cap;
};

namespace {

constexpr int PREP_THREADS = 256;
constexpr int FINISH_THREADS = 1024;

/* Order-preserving map float → uint32 (larger float, larger integer). */
__device__ __forceinline__ uint32_t
orderable (float v)
{
  uint32_t b = __float_as_uint (v);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__global__ void
iota_kernel (int32_t *ids, int n)
{
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    ids[i] = i;
}

__global__ void
mark_kernel (uint32_t *stamp, uint32_t gen, const int32_t *ids, int n, int vocab)
{
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    int32_t t = ids[i];
    if (t >= 0 && t < vocab)
      stamp[t] = gen;
  }
}

/* Penalties, softcap, temperature.  greedy: argmax into *best; else keys[i] = logit / T. */
__global__ void __launch_bounds__ (PREP_THREADS)
prep_kernel (const float *__restrict__ logits, int vocab, float softcap,
             const uint32_t *ctx_stamp, uint32_t ctx_gen, float repetition,
             const uint32_t *gen_stamp, uint32_t gen_gen, float presence, float temperature,
             bool greedy, float *__restrict__ keys, unsigned long long *best)
{
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned long long mine = 0;
  if (i < vocab) {
    float v = logits[i];
    if (softcap > 0.0f)
      v = tanhf (v / softcap) * softcap;
    if (ctx_stamp && ctx_stamp[i] == ctx_gen)
      v = v > 0 ? v / repetition : v * repetition;
    if (gen_stamp && gen_stamp[i] == gen_gen)
      v -= presence;
    v = v + 0.0f; /* -0 → +0: the CPU compares them equal (then the lower id wins) */
    if (greedy)
      mine = ((unsigned long long) orderable (v) << 32) | (0xffffffffu - (uint32_t) i);
    else
      keys[i] = v / temperature;
  }
  if (greedy) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      unsigned long long other = __shfl_xor_sync (KE_FULL_MASK, mine, o);
      mine = other > mine ? other : mine;
    }
    if ((threadIdx.x & 31) == 0 && mine)
      atomicMax (best, mine);
  }
}

__global__ void
greedy_take_kernel (unsigned long long *best, int32_t *token)
{
  unsigned long long b = *best;
  *token = (int32_t) (0xffffffffu - (uint32_t) (b & 0xffffffffu));
  *best = 0;
}

/* Block-wide exclusive prefix sum of doubles; *total gets the sum.  FINISH_THREADS threads. */
__device__ double
block_scan (double v, double *total)
{
  __shared__ double warp_tot[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  double inc = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    double y = __shfl_up_sync (KE_FULL_MASK, inc, o);
    if (lane >= o)
      inc += y;
  }
  __syncthreads ();
  if (lane == 31)
    warp_tot[warp] = inc;
  __syncthreads ();
  if (warp == 0) {
    double w = lane < n_warps ? warp_tot[lane] : 0.0;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      double y = __shfl_up_sync (KE_FULL_MASK, w, o);
      if (lane >= o)
        w += y;
    }
    if (lane < 32)
      warp_tot[lane] = w; /* inclusive prefix of warp totals */
  }
  __syncthreads ();
  double before = (warp ? warp_tot[warp - 1] : 0.0) + inc - v;
  *total = warp_tot[n_warps - 1];
  return before;
}

/* One block: softmax over the first n sorted candidates, top-p, min-p, the draw. */
__global__ void __launch_bounds__ (FINISH_THREADS)
finish_kernel (const float *__restrict__ keys, const int32_t *__restrict__ ids, int n,
               float top_p, float min_p, double u, float *probs, int32_t *token, int32_t *info)
{
  __shared__ int cut;
  const int t = threadIdx.x;
  const int chunk = (n + blockDim.x - 1) / blockDim.x;
  const int lo = min (n, t * chunk), hi = min (n, lo + chunk);
  const float mx = keys[0];

  double part = 0.0;
  for (int i = lo; i < hi; i++) {
    const float k = keys[i];
    const float e = (isinf (k) && k < 0) ? 0.0f : expf (k - mx);
    probs[i] = e;
    part += e;
  }
  double sum;
  block_scan (part, &sum);
  part = 0.0;
  for (int i = lo; i < hi; i++) {
    const float p = (float) (probs[i] / sum);
    probs[i] = p;
    part += p;
  }
  if (t == 0)
    cut = n;
  double all;
  const double before = block_scan (part, &all); /* also a barrier: probs[] are visible */

  int keep = n;
  if (top_p > 0.0f && top_p < 1.0f) {
    /* keep = the smallest r >= 1 whose tail Σ_{i>=r} p_i <= 1 - top_p (else n): the tail
     * shrinks as r grows, so within a chunk the qualifying r form a suffix. */
    const double limit = 1.0 - (double) top_p;
    double tail = all - before - part; /* Σ over the chunks after this one */
    int best = n;
    for (int r = hi - 1; r >= lo && r >= 1; r--) {
      tail += probs[r];
      if (tail <= limit)
        best = r;
      else
        break;
    }
    if (best < n)
      atomicMin (&cut, best);
    __syncthreads ();
    keep = cut;
    __syncthreads ();
  }
  if (min_p > 0.0f) {
    const float threshold = min_p * probs[0];
    int first = keep;
    for (int i = max (lo, 1); i < min (hi, keep); i++)
      if (!(probs[i] >= threshold)) {
        first = i;
        break;
      }
    if (t == 0)
      cut = keep;
    __syncthreads ();
    if (first < keep)
      atomicMin (&cut, first);
    __syncthreads ();
    keep = cut;
    __syncthreads ();
  }

  /* the draw: the first i with Σ_{j<=i} p_j > u · Σ_{j<keep} p_j */
  part = 0.0;
  for (int i = lo; i < min (hi, keep); i++)
    part += probs[i];
  double total;
  double acc = block_scan (part, &total);
  const double target = u * total;
  if (t == 0)
    cut = keep - 1;
  __syncthreads ();
  for (int i = lo; i < min (hi, keep); i++) {
    acc += probs[i];
    if (target < acc) {
      atomicMin (&cut, i);
      break;
    }
  }
  __syncthreads ();
  if (t == 0) {
    *token = ids[cut];
    if (info)
      *info = keep;
  }
}

} // namespace

/* ---- sampler --------------------------------------------------------------------------- */

extern "C" void
ke_cuda_sampler_free (ke_cuda_sampler *s)
{
  if (!s)
    return;
  cudaFree (s->keys);
  cudaFree (s->keys_sorted);
  cudaFree (s->probs);
  cudaFree (s->ids);
  cudaFree (s->ids_sorted);
  cudaFree (s->best);
  cudaFree (s->info);
  cudaFree (s->sort_tmp);
  free (s);
}

extern "C" ke_cuda_sampler *
ke_cuda_sampler_new (int vocab, ke_error **error)
{
  if (vocab <= 0) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "A sampler needs a vocabulary.");
    return NULL;
  }
  ke_cuda_sampler *s = (ke_cuda_sampler *) calloc (1, sizeof *s);
  if (!s) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  s->vocab = vocab;
  size_t n = (size_t) vocab;
  bool ok = KE_CUDA_CHECK (cudaMalloc (&s->keys, n * 4), error) &&
            KE_CUDA_CHECK (cudaMalloc (&s->keys_sorted, n * 4), error) &&
            KE_CUDA_CHECK (cudaMalloc (&s->probs, n * 4), error) &&
            KE_CUDA_CHECK (cudaMalloc (&s->ids, n * 4), error) &&
            KE_CUDA_CHECK (cudaMalloc (&s->ids_sorted, n * 4), error) &&
            KE_CUDA_CHECK (cudaMalloc (&s->best, sizeof *s->best), error) &&
            KE_CUDA_CHECK (cudaMalloc (&s->info, sizeof *s->info), error) &&
            KE_CUDA_CHECK (cudaMemset (s->best, 0, sizeof *s->best), error) &&
            KE_CUDA_CHECK (cub::DeviceRadixSort::SortPairsDescending (
                             NULL, s->sort_tmp_bytes, s->keys, s->keys_sorted, s->ids,
                             s->ids_sorted, vocab), error) &&
            KE_CUDA_CHECK (cudaMalloc (&s->sort_tmp, s->sort_tmp_bytes ? s->sort_tmp_bytes : 16),
                           error);
  if (ok) {
    iota_kernel<<<(vocab + 255) / 256, 256>>> (s->ids, vocab);
    ok = KE_LAUNCH_CHECK (error) && KE_CUDA_CHECK (cudaDeviceSynchronize (), error);
  }
  if (!ok) {
    ke_cuda_sampler_free (s);
    return NULL;
  }
  return s;
}

extern "C" bool
ke_cuda_sampler_run (ke_cuda_sampler *s, const ke_cuda_token_sets *sets, const float *logits,
                     const ke_cuda_sample_params *p, int32_t *token, void *stream,
                     ke_error **error)
{
  if (!s || !logits || !p || !token)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Sampler arguments missing.");
  if (sets && sets->vocab != s->vocab)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Token sets of another vocabulary.");
  if (!(p->u >= 0.0 && p->u < 1.0))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "The draw must lie in [0, 1).");
  cudaStream_t st = (cudaStream_t) stream;
  const int vocab = s->vocab;
  const bool greedy = !(p->temperature > 0.0f);
  const bool rep = p->repetition_penalty > 0.0f && p->repetition_penalty != 1.0f && sets;
  const bool pres = p->presence_penalty != 0.0f && sets;
  prep_kernel<<<(vocab + PREP_THREADS - 1) / PREP_THREADS, PREP_THREADS, 0, st>>> (
    logits, vocab, p->softcap, rep ? sets->stamp[0] : NULL, rep ? sets->gen[0] : 0,
    p->repetition_penalty, pres ? sets->stamp[1] : NULL, pres ? sets->gen[1] : 0,
    p->presence_penalty, p->temperature, greedy, s->keys, s->best);
  if (!KE_LAUNCH_CHECK (error))
    return false;
  if (greedy) {
    greedy_take_kernel<<<1, 1, 0, st>>> (s->best, token);
    return KE_LAUNCH_CHECK (error);
  }
  size_t tmp_bytes = s->sort_tmp_bytes;
  if (!KE_CUDA_CHECK (cub::DeviceRadixSort::SortPairsDescending (
                        s->sort_tmp, tmp_bytes, s->keys, s->keys_sorted, s->ids, s->ids_sorted,
                        vocab, 0, 32, st), error))
    return false;
  const int n = p->top_k > 0 && p->top_k < vocab ? p->top_k : vocab;
  finish_kernel<<<1, FINISH_THREADS, 0, st>>> (s->keys_sorted, s->ids_sorted, n, p->top_p,
                                               p->min_p, p->u, s->probs, token, s->info);
  return KE_LAUNCH_CHECK (error);
}

extern "C" bool
ke_cuda_sampler_candidates (ke_cuda_sampler *s, int32_t *ids, float *probs, int *n,
                            ke_error **error)
{
  int32_t keep = 0;
  if (!KE_CUDA_CHECK (cudaDeviceSynchronize (), error) ||
      !KE_CUDA_CHECK (cudaMemcpy (&keep, s->info, sizeof keep, cudaMemcpyDeviceToHost), error))
    return false;
  if (keep < 0 || keep > s->vocab)
    return ke_set_error (error, KE_ERROR_DEVICE, "Bad candidate count %d.", keep);
  *n = keep;
  return (!ids || KE_CUDA_CHECK (cudaMemcpy (ids, s->ids_sorted, (size_t) keep * 4,
                                             cudaMemcpyDeviceToHost), error)) &&
         (!probs || KE_CUDA_CHECK (cudaMemcpy (probs, s->probs, (size_t) keep * 4,
                                               cudaMemcpyDeviceToHost), error));
}

/* ---- token sets ------------------------------------------------------------------------ */

extern "C" void
ke_cuda_token_sets_free (ke_cuda_token_sets *t)
{
  if (!t)
    return;
  cudaFree (t->stamp[0]);
  cudaFree (t->stamp[1]);
  cudaFree (t->ids);
  free (t);
}

extern "C" ke_cuda_token_sets *
ke_cuda_token_sets_new (int vocab, ke_error **error)
{
  ke_cuda_token_sets *t = (ke_cuda_token_sets *) calloc (1, sizeof *t);
  if (!t) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  t->vocab = vocab;
  t->gen[0] = t->gen[1] = 1;
  size_t bytes = (size_t) vocab * 4;
  if (!KE_CUDA_CHECK (cudaMalloc (&t->stamp[0], bytes), error) ||
      !KE_CUDA_CHECK (cudaMalloc (&t->stamp[1], bytes), error) ||
      !KE_CUDA_CHECK (cudaMemset (t->stamp[0], 0, bytes), error) ||
      !KE_CUDA_CHECK (cudaMemset (t->stamp[1], 0, bytes), error) ||
      !KE_CUDA_CHECK (cudaDeviceSynchronize (), error)) {
    ke_cuda_token_sets_free (t);
    return NULL;
  }
  return t;
}

extern "C" bool
ke_cuda_token_sets_add (ke_cuda_token_sets *t, int which, bool reset, const int32_t *ids,
                        size_t n, void *stream, ke_error **error)
{
  if (!t || which < 0 || which > 1 || (n && !ids) || n > (size_t) INT32_MAX)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Bad token-set arguments.");
  cudaStream_t st = (cudaStream_t) stream;
  if (reset && ++t->gen[which] == 0) { /* wrapped: clear the stamps once */
    if (!KE_CUDA_CHECK (cudaMemsetAsync (t->stamp[which], 0, (size_t) t->vocab * 4, st), error))
      return false;
    t->gen[which] = 1;
  }
  if (n == 0)
    return true;
  if (n > t->ids_cap) {
    size_t cap = n < 1024 ? 1024 : n;
    int32_t *fresh = NULL;
    /* cudaFree waits for the device: the old buffer is no longer read */
    if (!KE_CUDA_CHECK (cudaMalloc (&fresh, cap * 4), error))
      return false;
    cudaFree (t->ids);
    t->ids = fresh;
    t->ids_cap = cap;
  }
  /* From pageable memory: the call returns once the host data is staged. */
  if (!KE_CUDA_CHECK (cudaMemcpyAsync (t->ids, ids, n * 4, cudaMemcpyHostToDevice, st), error))
    return false;
  mark_kernel<<<(unsigned) ((n + 255) / 256), 256, 0, st>>> (t->stamp[which], t->gen[which],
                                                             t->ids, (int) n, t->vocab);
  return KE_LAUNCH_CHECK (error);
}
