/* ke-cuda-attention-fused.cu — one decode step's QK-norm + RoPE + KV write + attention in
 * ONE kernel, for short key ranges (sliding layers, small global caches), sm_90+.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Why: at short contexts the two-kernel split-K path (ke-cuda-attention-decode.cu) plus the
 * RoPE kernel cost ≈ 10 µs per layer for < 1 µs of bytes: three launch/ramp boundaries
 * (docs/cuda-notes.md).  Here one thread-block cluster per KV head does everything:
 *
 *   grid n_kv · CS blocks, cluster (CS, 1, 1), 8 warps per block; block rank r of cluster
 *   kvh takes the r-th contiguous part of the keys of kv head kvh.
 *   1. every block: warps 0 … G−1 each make one query head (the G heads that read kvh):
 *      bf16-rounded projection → RMSNorm (1 + w) → bf16 → rotate_half RoPE → bf16, into
 *      shared memory pre-scaled by scale · log2 e (rank 0 also writes q_out);
 *   2. the block holding the newest key (pos): warp G makes k (norm + RoPE), warp G+1 v,
 *      writes both into the cache slot pos % capacity and keeps them in shared memory, so
 *      that its own key loop uses them without reading back what it wrote;
 *   3. the key loop of the split kernel (4 keys per warp-step, 16-byte loads per lane,
 *      online softmax in base 2), the 8 warps merged in shared memory → the block's partial
 *      (m, l, acc[G][256]);
 *   4. cluster barrier; block r merges output elements [r·G·256/CS, (r+1)·G·256/CS) over
 *      the CS partials read from the other blocks' shared memory (DSMEM), in parallel —
 *      not serially in one last block (the v4 attempt that lost) — and writes bf16 o;
 *      a second barrier keeps every block's shared memory alive until all have read it.
 *
 * The semantics are those of ke_cuda_qk_norm_rope followed by ke_cuda_attn_decode.
 */
#include <cooperative_groups.h>

#include "ke-cuda-common.cuh"
#include "ke-cuda-kernels.h"

namespace cg = cooperative_groups;

namespace {

constexpr int HEAD_DIM = 256;
constexpr int WARPS = 8;
constexpr int KEYS_PER_STEP = 4;
constexpr float LOG2E = 1.4426950408889634f;

struct fused_args {
  ke_rope_args r;
  ke_attn_decode_args a;
};

/* Lane l holds dims 8l … 8l+7 of one head (f32 projection, bf16-rounded as HF holds it);
 * returns them normalized (RMSNorm with 1 + w, bf16) and rotated (rotate_half, bf16). */
static __device__ __forceinline__ void
norm_rope_lane (float x[8], const uint16_t *w, float eps, float theta, float scaling, int pos,
                int lane)
{
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < 8; j++)
    ss = fmaf (x[j], x[j], ss);
  ss = ke_warp_sum (ss);
  const float inv = rsqrtf (ss / (float) HEAD_DIM + eps);
#pragma unroll
  for (int j = 0; j < 8; j++) /* weights: 2-byte loads, no alignment asked of the caller */
    x[j] = ke_round_bf16_dev (x[j] * inv * (1.0f + ke_bf16_bits_to_f32 (__ldg (w + lane * 8 + j))));
  /* dim i < 128 (lanes 0–15) pairs with i + 128 (lane + 16) */
  const bool low = lane < 16;
#pragma unroll
  for (int j = 0; j < 8; j++) {
    const float partner = __shfl_xor_sync (0xffffffffu, x[j], 16);
    const int i = (lane & 15) * 8 + j; /* the pair's frequency index */
    const float inv_freq = (1.0f / powf (theta, (float) (2 * i) / (float) HEAD_DIM)) / scaling;
    float s, c;
    sincosf ((float) pos * inv_freq, &s, &c);
    x[j] = low ? x[j] * c - partner * s : x[j] * c + partner * s;
  }
#pragma unroll
  for (int j = 0; j < 8; j++)
    x[j] = ke_round_bf16_dev (x[j]);
}

static __device__ __forceinline__ void
load_head_f32 (const float *src, int lane, float x[8])
{
  const float4 a = reinterpret_cast<const float4 *> (src + lane * 8)[0];
  const float4 b = reinterpret_cast<const float4 *> (src + lane * 8)[1];
  x[0] = ke_round_bf16_dev (a.x); x[1] = ke_round_bf16_dev (a.y);
  x[2] = ke_round_bf16_dev (a.z); x[3] = ke_round_bf16_dev (a.w);
  x[4] = ke_round_bf16_dev (b.x); x[5] = ke_round_bf16_dev (b.y);
  x[6] = ke_round_bf16_dev (b.z); x[7] = ke_round_bf16_dev (b.w);
}

static __device__ __forceinline__ uint4
pack_bf16x8 (const float x[8])
{
  uint32_t w[4];
#pragma unroll
  for (int j = 0; j < 4; j++)
    w[j] = (uint32_t) ke_f32_to_bf16_bits (x[2 * j]) |
           ((uint32_t) ke_f32_to_bf16_bits (x[2 * j + 1]) << 16);
  return make_uint4 (w[0], w[1], w[2], w[3]);
}

template <int G, int CS>
__global__ void __launch_bounds__ (WARPS * 32)
attn_fused_kernel (fused_args fa)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  __shared__ float s_acc[WARPS][G][HEAD_DIM]; /* [0] ends up as the block's partial */
  __shared__ float s_ml[WARPS][G][2];
  __shared__ float s_q[G][HEAD_DIM];
  __shared__ __align__ (16) uint16_t s_knew[HEAD_DIM], s_vnew[HEAD_DIM];
  const ke_rope_args &r = fa.r;
  const ke_attn_decode_args &a = fa.a;
  cg::cluster_group cluster = cg::this_cluster ();
  const int rank = (int) cluster.block_rank ();
  const int kvh = blockIdx.x / CS;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  ke_pdl_trigger ();
  ke_pdl_wait ();
  const int pos = *a.pos;
  if (pos < 0) /* uniform over the grid: no block reaches a cluster barrier */
    return;
  int lo = a.window > 0 ? max (0, pos - a.window + 1) : 0;
  lo = max (lo, pos - a.capacity + 1);
  const int n = pos - lo + 1;
  const int chunk = (n + CS - 1) / CS;
  const int start = lo + rank * chunk;
  const int end = min (start + chunk, lo + n); /* may be ≤ start: no keys */
  const bool owns_new = start <= pos && pos < end;

  /* 1–2: q heads (every block), the new k and v (the block holding pos) */
  if (warp < G) {
    const int h = kvh * G + warp;
    float x[8];
    load_head_f32 (r.qkv + (size_t) h * HEAD_DIM, lane, x);
    norm_rope_lane (x, r.q_norm, r.eps, r.theta, r.scaling, pos, lane);
    if (rank == 0)
      *reinterpret_cast<uint4 *> (r.q_out + (size_t) h * HEAD_DIM + lane * 8) = pack_bf16x8 (x);
    const float qs = a.scale * LOG2E;
#pragma unroll
    for (int j = 0; j < 8; j++)
      s_q[warp][lane * 8 + j] = x[j] * qs;
  } else if (owns_new && (warp == G || warp == G + 1)) {
    const bool is_k = warp == G;
    const int head = a.n_q + (is_k ? 0 : a.n_kv) + kvh;
    float x[8];
    load_head_f32 (r.qkv + (size_t) head * HEAD_DIM, lane, x);
    if (is_k)
      norm_rope_lane (x, r.k_norm, r.eps, r.theta, r.scaling, pos, lane);
    const uint4 packed = pack_bf16x8 (x);
    uint16_t *cache = is_k ? r.k_cache : r.v_cache; /* = a's (checked on the host) */
    const size_t slot = (size_t) (pos % a.capacity);
    *reinterpret_cast<uint4 *> (cache +
                                ((size_t) kvh * a.capacity + slot) * HEAD_DIM + lane * 8) = packed;
    *reinterpret_cast<uint4 *> ((is_k ? s_knew : s_vnew) + lane * 8) = packed;
  }
  __syncthreads ();

  float qv[G][8];
#pragma unroll
  for (int h = 0; h < G; h++)
#pragma unroll
    for (int j = 0; j < 8; j++)
      qv[h][j] = s_q[h][lane * 8 + j];
  float m[G], l[G], acc[G][8];
#pragma unroll
  for (int h = 0; h < G; h++) {
    m[h] = -INFINITY;
    l[h] = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; j++)
      acc[h][j] = 0.0f;
  }
  const size_t head_off = (size_t) kvh * a.capacity * HEAD_DIM + lane * 8;
  const uint16_t *kc = a.k_cache + head_off, *vc = a.v_cache + head_off;

  /* 3: the split kernel's loop over this block's keys */
  for (int base = start + warp * KEYS_PER_STEP; base < end; base += WARPS * KEYS_PER_STEP) {
    uint4 kr[KEYS_PER_STEP], vr[KEYS_PER_STEP];
#pragma unroll
    for (int u = 0; u < KEYS_PER_STEP; u++) {
      const int j = base + u;
      if (j < end && j != pos) {
        const size_t off = (size_t) (j % a.capacity) * HEAD_DIM;
        kr[u] = __ldcs (reinterpret_cast<const uint4 *> (kc + off));
        vr[u] = __ldcs (reinterpret_cast<const uint4 *> (vc + off));
      } else if (j == pos) {
        kr[u] = *reinterpret_cast<const uint4 *> (s_knew + lane * 8);
        vr[u] = *reinterpret_cast<const uint4 *> (s_vnew + lane * 8);
      } else {
        kr[u] = make_uint4 (0, 0, 0, 0);
        vr[u] = kr[u];
      }
    }
#pragma unroll
    for (int h = 0; h < G; h++) {
      float s[KEYS_PER_STEP];
#pragma unroll
      for (int u = 0; u < KEYS_PER_STEP; u++) {
        const uint32_t w[4] = { kr[u].x, kr[u].y, kr[u].z, kr[u].w };
        float d0 = 0.0f, d1 = 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
          float2 f = ke_bf16x2_to_f32x2 (w[j]);
          d0 = fmaf (qv[h][2 * j], f.x, d0);
          d1 = fmaf (qv[h][2 * j + 1], f.y, d1);
        }
        s[u] = d0 + d1;
      }
#pragma unroll
      for (int u = 0; u < KEYS_PER_STEP; u++) {
        s[u] = ke_warp_sum (s[u]);
        if (base + u >= end)
          s[u] = -INFINITY;
      }
      float m_new = m[h];
#pragma unroll
      for (int u = 0; u < KEYS_PER_STEP; u++)
        m_new = fmaxf (m_new, s[u]);
      const float corr = exp2f (m[h] - m_new);
      l[h] *= corr;
#pragma unroll
      for (int j = 0; j < 8; j++)
        acc[h][j] *= corr;
#pragma unroll
      for (int u = 0; u < KEYS_PER_STEP; u++) {
        const float p = exp2f (s[u] - m_new);
        l[h] += p;
        const uint32_t w[4] = { vr[u].x, vr[u].y, vr[u].z, vr[u].w };
#pragma unroll
        for (int j = 0; j < 4; j++) {
          float2 f = ke_bf16x2_to_f32x2 (w[j]);
          acc[h][2 * j] = fmaf (p, f.x, acc[h][2 * j]);
          acc[h][2 * j + 1] = fmaf (p, f.y, acc[h][2 * j + 1]);
        }
      }
      m[h] = m_new;
    }
  }

  /* the 8 warps → the block's partial in s_acc[0], s_ml[0] (a warp or a block without keys
   * has m = −inf, l = 0, acc = 0) */
#pragma unroll
  for (int h = 0; h < G; h++) {
#pragma unroll
    for (int j = 0; j < 8; j++)
      s_acc[warp][h][lane * 8 + j] = acc[h][j];
    if (lane == 0) {
      s_ml[warp][h][0] = m[h];
      s_ml[warp][h][1] = l[h];
    }
  }
  __syncthreads ();
  float part[(G * HEAD_DIM + WARPS * 32 - 1) / (WARPS * 32)];
  float ml[G][2];
#pragma unroll
  for (int h = 0; h < G; h++) {
    float mx = -INFINITY, lsum = 0.0f;
#pragma unroll
    for (int w = 0; w < WARPS; w++)
      mx = fmaxf (mx, s_ml[w][h][0]);
#pragma unroll
    for (int w = 0; w < WARPS; w++)
      lsum += s_ml[w][h][0] == -INFINITY ? 0.0f : s_ml[w][h][1] * exp2f (s_ml[w][h][0] - mx);
    ml[h][0] = mx;
    ml[h][1] = lsum;
  }
#pragma unroll
  for (int i = 0; i * WARPS * 32 < G * HEAD_DIM; i++) {
    const int idx = i * WARPS * 32 + threadIdx.x;
    const int h = idx / HEAD_DIM, dim = idx % HEAD_DIM;
    float asum = 0.0f;
#pragma unroll
    for (int w = 0; w < WARPS; w++)
      asum += s_ml[w][h][0] == -INFINITY ? 0.0f : s_acc[w][h][dim] * exp2f (s_ml[w][h][0] - ml[h][0]);
    part[i] = asum;
  }
  __syncthreads (); /* every thread has read s_acc / s_ml: overwrite row 0 with the partial */
#pragma unroll
  for (int i = 0; i * WARPS * 32 < G * HEAD_DIM; i++) {
    const int idx = i * WARPS * 32 + threadIdx.x;
    s_acc[0][idx / HEAD_DIM][idx % HEAD_DIM] = part[i];
  }
#pragma unroll
  for (int h = 0; h < G; h++)
    if (threadIdx.x == h) {
      s_ml[0][h][0] = ml[h][0];
      s_ml[0][h][1] = ml[h][1];
    }

  /* 4: the cluster's CS partials, merged in parallel: block r takes its slice of outputs */
  cluster.sync ();
  constexpr int PER_BLOCK = G * HEAD_DIM / CS;
  for (int t = threadIdx.x; t < PER_BLOCK; t += WARPS * 32) {
    const int idx = rank * PER_BLOCK + t;
    const int h = idx / HEAD_DIM, dim = idx % HEAD_DIM;
    float mb[CS], mx = -INFINITY;
#pragma unroll
    for (int b = 0; b < CS; b++) {
      const float (*rml)[G][2] = cluster.map_shared_rank (&s_ml[0], b);
      mb[b] = rml[0][h][0];
      mx = fmaxf (mx, mb[b]);
    }
    float lsum = 0.0f, asum = 0.0f;
#pragma unroll
    for (int b = 0; b < CS; b++) {
      if (mb[b] == -INFINITY)
        continue;
      const float f = exp2f (mb[b] - mx);
      const float (*rml)[G][2] = cluster.map_shared_rank (&s_ml[0], b);
      const float (*racc)[G][HEAD_DIM] = cluster.map_shared_rank (&s_acc[0], b);
      lsum += rml[0][h][1] * f;
      asum += racc[0][h][dim] * f;
    }
    a.o[(size_t) (kvh * G + h) * HEAD_DIM + dim] = ke_f32_to_bf16_bits (asum / lsum);
  }
  cluster.sync (); /* keep this block's shared memory until every block has read it */
#endif
}

static int cc_major = -1;

static bool
device_has_clusters (void)
{
  if (cc_major < 0) {
    int dev = 0, major = 0;
    if (cudaGetDevice (&dev) != cudaSuccess ||
        cudaDeviceGetAttribute (&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
      cudaGetLastError ();
      major = 0;
    }
    cc_major = major;
  }
  return cc_major >= 9;
}

template <int G, int CS>
static cudaError_t
launch (const fused_args &fa, void *stream)
{
  if (CS > 8) {
    cudaError_t e = cudaFuncSetAttribute (attn_fused_kernel<G, CS>,
                                          cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    if (e != cudaSuccess)
      return e;
  }
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[2];
  cfg.gridDim = dim3 (fa.a.n_kv * CS);
  cfg.blockDim = dim3 (WARPS * 32);
  cfg.dynamicSmemBytes = 0;
  cfg.stream = (cudaStream_t) stream;
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = CS;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[1].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = stream != NULL && ke_pdl_enabled () ? 2 : 1;
  return cudaLaunchKernelEx (&cfg, attn_fused_kernel<G, CS>, fa);
}

} /* namespace */

extern "C" bool
ke_cuda_attn_decode_fused_usable (const ke_attn_decode_args *a)
{
  if (a == NULL || a->head_dim != HEAD_DIM || a->n_kv <= 0 || a->n_q % a->n_kv != 0)
    return false;
  const int g = a->n_q / a->n_kv;
  const int keys = a->window > 0 && a->window < a->capacity ? a->window : a->capacity;
  return (g == 1 || g == 2 || g == 4) && keys <= KE_ATTN_FUSED_MAX_KEYS && device_has_clusters ();
}

extern "C" bool
ke_cuda_attn_decode_fused (const ke_rope_args *r, const ke_attn_decode_args *a, void *stream,
                           ke_error **error)
{
  if (r == NULL || a == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "fused attention: missing arguments");
  if (!ke_cuda_attn_decode_fused_usable (a))
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "fused decode attention: needs sm_90+, head_dim %d, 1, 2 or 4 query "
                         "heads per kv head and at most %d keys", HEAD_DIM,
                         KE_ATTN_FUSED_MAX_KEYS);
  if (a->window < 0 || (a->window > 0 && a->capacity < a->window) ||
      !(a->scale > 0.0f) || a->n_splits < 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "fused decode attention: bad window, scale or cluster size");
  if (r->n_tokens != 1 || r->n_q != a->n_q || r->n_kv != a->n_kv || r->head_dim != HEAD_DIM ||
      r->capacity != a->capacity || r->k_cache != a->k_cache || r->v_cache != a->v_cache ||
      r->pos != a->pos || r->q_out == NULL || r->qkv == NULL || r->q_norm == NULL ||
      r->k_norm == NULL || !ke_is_aligned16 (r->qkv) || !ke_is_aligned16 (r->q_out))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "fused decode attention: the RoPE and attention arguments disagree "
                         "(one token, same heads, cache, position) or a pointer is missing or "
                         "misaligned");
  if (!(r->theta > 1.0f) || !(r->scaling > 0.0f))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "fused decode attention: theta must be > 1 and scaling > 0");
  if (a->k_cache == NULL || a->v_cache == NULL || a->pos == NULL || a->o == NULL ||
      !ke_is_aligned16 (a->k_cache) || !ke_is_aligned16 (a->v_cache))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "fused decode attention: missing or misaligned pointer");
  const int cs = a->n_splits == 0 ? KE_ATTN_FUSED_DEFAULT_CLUSTER : a->n_splits;
  if (cs != 8 && cs != 16)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "fused decode attention: cluster size %d (8 or 16)", cs);
  fused_args fa = { *r, *a };
  const int g = a->n_q / a->n_kv;
  cudaError_t e;
  if (cs == 8)
    e = g == 1 ? launch<1, 8> (fa, stream) : g == 2 ? launch<2, 8> (fa, stream)
                                                    : launch<4, 8> (fa, stream);
  else
    e = g == 1 ? launch<1, 16> (fa, stream) : g == 2 ? launch<2, 16> (fa, stream)
                                                     : launch<4, 16> (fa, stream);
  return ke_cuda_check_impl (e, "attn_fused_kernel", error);
}
