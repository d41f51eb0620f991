/* ke-cuda-flash-prefill.cu — tensor-core prefill attention (flash style), head_dim 64/128/256.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Semantics and arguments: ke_attn_prefill_args (ke-cuda-prefill.h) — causal, sliding
 * window (j > i − window), bidirectional image runs of the batch; earlier keys from the
 * session cache (a ring of `capacity` slots), the batch's own keys from k_new/v_new.
 *
 * One block = 4 warps = 64 (query, head) rows: the G = n_q / n_kv query heads of one KV head
 * times 64 / G consecutive queries (2-warp blocks, tried for short batches, measured slower
 * even at 512 tokens: 53 vs 45 µs), so one K/V tile in shared memory serves every query head that reads it (GQA).
 * Warp w owns rows 16w … 16w + 15.  Per tile of 32 keys:
 *   S = Q·Kᵀ with mma.sync m16n8k16 (bf16 in, f32 accumulate; Q and K via ldmatrix),
 *   mask, online softmax in f32 (exp2, the scale folded in), P rounded to bf16 in registers
 *   (the S accumulators are laid out as the next mma's A operand), O += P·V (V via
 *   ldmatrix.trans).
 * K/V tiles are double-buffered with cp.async (16-byte copies; keys outside the range are
 * zero-filled, so no stale NaN meets a zero probability), shared memory rows are XOR-swizzled
 * in 16-byte chunks so that ldmatrix is conflict-free.  Tiles no row of the block can see
 * (outside the causal/window range and outside the block's image runs) are skipped; the
 * heaviest query blocks (the last ones) are scheduled first.
 * sm_80+ (mma.sync bf16, cp.async, ldmatrix).
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-prefill.h"

namespace {

constexpr int MAX_ROWS = 64; /* (query, head) rows per block: 16 per warp */
constexpr int BN = 32;       /* keys per tile */

template <int HD, int NW>
struct flash_shape {
  static constexpr int ROWS = 16 * NW;
  static constexpr int CH = HD / 8;                         /* 16-byte chunks per row */
  static constexpr int Q_BYTES = ROWS * HD * 2;
  static constexpr int KV_BYTES = BN * HD * 2;              /* one K or V tile */
  static constexpr int SMEM = Q_BYTES + 4 * KV_BYTES;       /* Q + 2 stages × (K, V) */
};

/* Byte offset of 16-byte chunk c of row r in a swizzled [rows][CH chunks] tile. */
template <int CH>
__device__ __forceinline__ uint32_t
swz (int r, int c)
{
  return (uint32_t) (r * CH + (c ^ (r & 7))) * 16u;
}

__device__ __forceinline__ void
cp_async16 (uint32_t dst, const void *src, bool valid)
{
  const int n = valid ? 16 : 0; /* 0: zero-fill, nothing read */
  asm volatile ("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}

__device__ __forceinline__ void
cp_async_commit (void)
{
  asm volatile ("cp.async.commit_group;\n" ::);
}

template <int N>
__device__ __forceinline__ void
cp_async_wait (void)
{
  asm volatile ("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void
ldsm_x4 (uint32_t addr, uint32_t r[4])
{
  asm volatile ("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                : "r"(addr));
}

__device__ __forceinline__ void
ldsm_x4_trans (uint32_t addr, uint32_t r[4])
{
  asm volatile ("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                : "r"(addr));
}

/* d += a (16×16, row) · b (16×8, col), bf16 → f32. */
__device__ __forceinline__ void
mma_bf16 (float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
  asm volatile ("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* 2^x with the MUFU instruction (ex2.approx: ~2 ulp; −inf → +0). */
__device__ __forceinline__ float
fast_exp2 (float x)
{
  float y;
  asm ("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ uint32_t
pack_bf16 (float lo, float hi)
{
  const __nv_bfloat162 v = __floats2bfloat162_rn (lo, hi);
  return *reinterpret_cast<const uint32_t *> (&v);
}

/* The block's key ranges: [c_lo, c_hi] causal/window for its queries, plus its image runs. */
struct block_ranges {
  int c_lo, c_hi, lo, hi, n_img;
  int img_lo[MAX_ROWS], img_hi[MAX_ROWS];
};

__device__ __forceinline__ bool
tile_visible (const block_ranges &br, int b)
{
  const int e = b + BN - 1;
  if (e >= br.c_lo && b <= br.c_hi)
    return true;
  for (int k = 0; k < br.n_img; k++)
    if (e >= br.img_lo[k] && b <= br.img_hi[k])
      return true;
  return false;
}

__device__ __forceinline__ int
next_visible (const block_ranges &br, int b)
{
  while (b <= br.hi && !tile_visible (br, b))
    b += BN;
  return b;
}

template <int HD, int NW>
__global__ void __launch_bounds__ (NW * 32, 2)
flash_prefill_kernel (ke_attn_prefill_args a)
{
  using S = flash_shape<HD, NW>;
  constexpr int CH = S::CH, ROWS = S::ROWS, WARPS = NW;
  extern __shared__ __align__ (128) uint8_t smem[];
  __shared__ block_ranges br;
  __shared__ int key_group[2][BN];

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int G = a.n_q / a.n_kv, BQ = ROWS / G;
  const int qb = gridDim.x - 1 - blockIdx.x; /* heavy (late) query blocks first */
  const int kvh = blockIdx.y;
  const int t0 = qb * BQ, t_last = min (t0 + BQ, a.n_tokens) - 1;
  const uint32_t s_q = (uint32_t) __cvta_generic_to_shared (smem);
  const uint32_t s_k0 = s_q + S::Q_BYTES;
  /* stage st: K at s_k0 + st·2·KV_BYTES, V KV_BYTES after it */

  if (tid == 0) {
    br.c_lo = a.window ? a.pos0 + t0 - a.window + 1 : 0;
    if (br.c_lo < 0)
      br.c_lo = 0;
    br.c_hi = a.pos0 + t_last;
    br.lo = br.c_lo;
    br.hi = br.c_hi;
    int n = 0, prev = -1;
    for (int u = t0; u <= t_last; u++) {
      const int g = a.group[u];
      if (g >= 0 && g != prev) { /* image runs are contiguous: a new one starts here */
        const int lo = a.pos0 + a.group_start[g], hi = lo + a.group_len[g] - 1;
        br.img_lo[n] = lo;
        br.img_hi[n] = hi;
        n++;
        br.lo = min (br.lo, lo);
        br.hi = max (br.hi, hi);
      }
      prev = g;
    }
    br.n_img = n;
  }

  /* Q rows: row r = (head kvh·G + r / BQ, query t0 + r % BQ); rows past the batch are 0. */
  for (int idx = tid; idx < ROWS * CH; idx += WARPS * 32) {
    const int r = idx / CH, c = idx % CH;
    const int t = t0 + r % BQ, head = kvh * G + r / BQ;
    const bool ok = t < a.n_tokens;
    const uint16_t *src = a.q + ((size_t) (ok ? t : 0) * a.n_q + head) * HD + c * 8;
    cp_async16 (s_q + swz<CH> (r, c), src, ok);
  }
  __syncthreads (); /* br */

  /* Slots without a modulo per row: the batch's key j sits at (j − pos0 + pos0 % n) mod n,
   * a cache key at (base mod cap + r) mod cap, one modulo per tile. */
  const int p0n = a.pos0 % a.n_tokens;
  auto load_tile = [&] (int st, int base) {
    const uint32_t sk = s_k0 + (uint32_t) st * 2 * S::KV_BYTES, sv = sk + S::KV_BYTES;
    const int bc = base < a.pos0 ? base % a.capacity : 0;
#pragma unroll
    for (int k = 0; k < BN * CH / (WARPS * 32); k++) {
      const int idx = tid + k * WARPS * 32, r = idx / CH, c = idx % CH, j = base + r;
      const bool ok = j <= br.hi;
      size_t off;
      const uint16_t *kb, *vb;
      if (!ok || j >= a.pos0) {
        int slot = ok ? j - a.pos0 + p0n : 0;
        if (slot >= a.n_tokens)
          slot -= a.n_tokens;
        off = ((size_t) kvh * a.n_tokens + slot) * HD + c * 8;
        kb = a.k_new;
        vb = a.v_new;
      } else {
        int slot = bc + r;
        while (slot >= a.capacity)
          slot -= a.capacity;
        off = ((size_t) kvh * a.capacity + slot) * HD + c * 8;
        kb = a.k_cache;
        vb = a.v_cache;
      }
      cp_async16 (sk + swz<CH> (r, c), kb + off, ok);
      cp_async16 (sv + swz<CH> (r, c), vb + off, ok);
    }
    if (tid < BN) {
      const int j = base + tid;
      key_group[st][tid] = (j >= a.pos0 && j <= br.hi) ? a.group[j - a.pos0] : -1;
    }
  };

  /* This thread's two rows (g and g + 8 of the warp's 16). */
  const int g = lane >> 2, tig = lane & 3;
  int qi[2], gi[2];
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const int r = warp * 16 + g + 8 * h, t = t0 + r % BQ;
    qi[h] = a.pos0 + t;
    gi[h] = t < a.n_tokens ? a.group[t] : -1;
  }
  const float sl2 = a.scale * 1.4426950408889634f; /* scores in log2 units */
  /* The warp's query positions (rows past the batch included: their output is dropped):
   * a tile is visible to all of them when every key is ≤ the first and inside the window
   * of the last; then the mask is skipped. */
  const int w_first = a.pos0 + t0 + (warp * 16) % BQ, w_last = w_first + min (16, BQ) - 1;
  const bool w_contig = BQ >= 16; /* the warp's rows are 16 consecutive queries of one head */

  float o[HD / 8][4];
#pragma unroll
  for (int n = 0; n < HD / 8; n++)
    o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m[2] = { -INFINITY, -INFINITY }, l[2] = { 0.0f, 0.0f };

  int base = next_visible (br, br.lo);
  if (base <= br.hi)
    load_tile (0, base);
  cp_async_commit ();
  int st = 0;
  while (base <= br.hi) {
    const int next = next_visible (br, base + BN);
    if (next <= br.hi)
      load_tile (st ^ 1, next);
    cp_async_commit ();
    cp_async_wait<1> ();
    __syncthreads ();

    const uint32_t sk = s_k0 + (uint32_t) st * 2 * S::KV_BYTES, sv = sk + S::KV_BYTES;

    /* S = Q · Kᵀ: 16 rows × 32 keys per warp. */
    float s[BN / 8][4];
#pragma unroll
    for (int n = 0; n < BN / 8; n++)
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kc = 0; kc < HD / 16; kc++) {
      uint32_t qa[4];
      ldsm_x4 (s_q + swz<CH> (warp * 16 + (lane & 15), kc * 2 + (lane >> 4)), qa);
#pragma unroll
      for (int np = 0; np < BN / 16; np++) {
        uint32_t kb[4];
        ldsm_x4 (sk + swz<CH> (np * 16 + (lane & 7) + ((lane >> 4) << 3),
                               kc * 2 + ((lane >> 3) & 1)), kb);
        mma_bf16 (s[2 * np], qa, kb[0], kb[1]);
        mma_bf16 (s[2 * np + 1], qa, kb[2], kb[3]);
      }
    }

    /* Mask, online softmax.  Element e of tile n: row g + 8·(e / 2), key 8n + 2·tig + e % 2. */
    float corr[2];
    const bool full = w_contig && base + BN - 1 <= w_first &&
                      (a.window == 0 || base + a.window > w_last);
#pragma unroll
    for (int h = 0; h < 2; h++) {
      float mx = -INFINITY;
      if (full) {
#pragma unroll
        for (int n = 0; n < BN / 8; n++)
#pragma unroll
          for (int e = 0; e < 2; e++) {
            s[n][2 * h + e] *= sl2;
            mx = fmaxf (mx, s[n][2 * h + e]);
          }
      } else {
#pragma unroll
        for (int n = 0; n < BN / 8; n++)
#pragma unroll
          for (int e = 0; e < 2; e++) {
            const int col = 8 * n + 2 * tig + e, j = base + col;
            const int gj = key_group[st][col];
            const bool vis = (gi[h] >= 0 && gi[h] == gj) ||
                             (j <= qi[h] && (a.window == 0 || j + a.window > qi[h]));
            const float v = vis ? s[n][2 * h + e] * sl2 : -INFINITY;
            s[n][2 * h + e] = v;
            mx = fmaxf (mx, v);
          }
      }
      mx = fmaxf (mx, __shfl_xor_sync (KE_FULL_MASK, mx, 1));
      mx = fmaxf (mx, __shfl_xor_sync (KE_FULL_MASK, mx, 2));
      const float m_new = fmaxf (m[h], mx);
      const float m_use = m_new == -INFINITY ? 0.0f : m_new; /* nothing visible yet */
      corr[h] = fast_exp2 (m[h] - m_use);
      m[h] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int n = 0; n < BN / 8; n++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
          const float p = fast_exp2 (s[n][2 * h + e] - m_use);
          s[n][2 * h + e] = p;
          sum += p;
        }
      l[h] = l[h] * corr[h] + sum; /* this thread's partial sum; the quad's meet at the end */
    }
    if (__any_sync (KE_FULL_MASK, corr[0] != 1.0f || corr[1] != 1.0f)) {
#pragma unroll
      for (int n = 0; n < HD / 8; n++) {
        o[n][0] *= corr[0];
        o[n][1] *= corr[0];
        o[n][2] *= corr[1];
        o[n][3] *= corr[1];
      }
    }

    /* O += P · V. */
#pragma unroll
    for (int kc = 0; kc < BN / 16; kc++) {
      uint32_t pa[4];
      pa[0] = pack_bf16 (s[2 * kc][0], s[2 * kc][1]);
      pa[1] = pack_bf16 (s[2 * kc][2], s[2 * kc][3]);
      pa[2] = pack_bf16 (s[2 * kc + 1][0], s[2 * kc + 1][1]);
      pa[3] = pack_bf16 (s[2 * kc + 1][2], s[2 * kc + 1][3]);
#pragma unroll
      for (int dp = 0; dp < HD / 16; dp++) {
        uint32_t vb[4];
        ldsm_x4_trans (sv + swz<CH> (kc * 16 + (lane & 7) + (((lane >> 3) & 1) << 3),
                                     dp * 2 + (lane >> 4)), vb);
        mma_bf16 (o[2 * dp], pa, vb[0], vb[1]);
        mma_bf16 (o[2 * dp + 1], pa, vb[2], vb[3]);
      }
    }
    __syncthreads (); /* the stage is refilled next iteration */
    base = next;
    st ^= 1;
  }
  cp_async_wait<0> ();

#pragma unroll
  for (int h = 0; h < 2; h++) {
    float sum = l[h];
    sum += __shfl_xor_sync (KE_FULL_MASK, sum, 1);
    sum += __shfl_xor_sync (KE_FULL_MASK, sum, 2);
    const int r = warp * 16 + g + 8 * h, t = t0 + r % BQ, head = kvh * G + r / BQ;
    if (t >= a.n_tokens)
      continue;
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    uint32_t *dst = reinterpret_cast<uint32_t *> (a.o + ((size_t) t * a.n_q + head) * HD);
#pragma unroll
    for (int n = 0; n < HD / 8; n++)
      dst[4 * n + tig] = pack_bf16 (o[n][2 * h] * inv, o[n][2 * h + 1] * inv);
  }
}

template <int HD, int NW>
bool
launch_nw (const ke_attn_prefill_args *a, cudaStream_t s, ke_error **error)
{
  using S = flash_shape<HD, NW>;
  /* Static + dynamic shared memory above 48 KiB needs the opt-in (cheap; per device
   * context, so set on every launch rather than cached). */
  if (!KE_CUDA_CHECK (cudaFuncSetAttribute (flash_prefill_kernel<HD, NW>,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            S::SMEM), error))
    return false;
  const int bq = S::ROWS / (a->n_q / a->n_kv);
  dim3 grid ((a->n_tokens + bq - 1) / bq, a->n_kv);
  flash_prefill_kernel<HD, NW><<<grid, NW * 32, S::SMEM, s>>> (*a);
  return KE_LAUNCH_CHECK (error);
}

} /* namespace */

extern "C" bool
ke_cuda_flash_prefill_supported (int head_dim, int n_q, int n_kv)
{
  if (n_kv <= 0 || n_q % n_kv)
    return false;
  const int g = n_q / n_kv;
  return (head_dim == 64 || head_dim == 128 || head_dim == 256) && MAX_ROWS % g == 0;
}

extern "C" bool
ke_cuda_flash_prefill (const ke_attn_prefill_args *a, void *stream, ke_error **error)
{
  if (!a || !ke_cuda_flash_prefill_supported (a->head_dim, a->n_q, a->n_kv))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Flash prefill attention: head_dim %d with %d/%d heads is not supported.",
                         a ? a->head_dim : 0, a ? a->n_q : 0, a ? a->n_kv : 0);
  if (a->n_tokens <= 0 || a->capacity <= 0 || a->pos0 < 0 || a->window < 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Prefill attention: bad arguments.");
  cudaStream_t s = (cudaStream_t) stream;
  switch (a->head_dim) {
  case 64: return launch_nw<64, 4> (a, s, error);
  case 128: return launch_nw<128, 4> (a, s, error);
  default: return launch_nw<256, 4> (a, s, error);
  }
}
