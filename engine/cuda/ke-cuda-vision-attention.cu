/* ke-cuda-vision-attention.cu — unmasked softmax attention for the vision tower
 * (4096 patches × 16 heads × head_dim 72 for SigLIP-so400m at 896 px), flash style on
 * bf16 tensor cores (mma.sync m16n8k16, f32 accumulation).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Operands come from ke_cuda_vsplit_qkv: q, k [heads, rows, 80] (head_dim zero-padded to 80
 * = 5 k-steps of 16), vt [heads, hd, rows] (v transposed, so that P·V's B fragments are
 * contiguous pairs along the key axis).  rows is a multiple of 128; padded keys (≥ n) are
 * masked to -inf, padded query rows are computed and not stored.
 *
 * A block takes KE_VATT_ROWS (128) queries of one head: WARPS warps × MT m-tiles of 16 rows.  Each warp
 * keeps its Q fragments in registers and walks the keys in tiles of 64, double-buffered in
 * shared memory with cp.async:
 *   S (16×64 per m-tile) = Q·Kᵀ   — 8 n-tiles × 5 k-steps
 *   online softmax in registers (row max/sum over the 4 lanes that share a row)
 *   O (16×hd) += P·V               — P re-packed from S's accumulators as A fragments
 * Fragment layouts (PTX ISA, mma.m16n8k16 .bf16): lane = 4g + t;
 *   A regs: (row g, cols 2t..2t+1), (g+8, 2t), (g, 2t+8), (g+8, 2t+8);
 *   B regs: (k 2t..2t+1, col g), (k 2t+8.., col g);  C: (g, 2t..), (g+8, 2t..).
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-vision.h"

#define VA_BK 64                 /* keys per tile */
#define VA_KS (KE_VATT_DIM + 8)  /* smem row stride of a K tile (bf16): 176 B, conflict-free */
#define VA_VS (VA_BK + 8)        /* smem row stride of a Vᵀ tile: 144 B, conflict-free */
#define VA_KSTEPS (KE_VATT_DIM / 16)
#define VA_NT_MAX (KE_VATT_DIM / 8)

static __device__ __forceinline__ void
mma_bf16 (float *d, const uint32_t *a, uint32_t b0, uint32_t b1)
{
  asm volatile ("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Four 8×8 b16 matrices from shared memory (lanes 8i..8i+7 give matrix i's row addresses);
 * each lane receives (row lane/4, columns 2·(lane%4) + {0,1}) of each. */
static __device__ __forceinline__ void
ldmatrix_x4 (uint32_t *r, const void *smem)
{
  uint32_t a = (uint32_t) __cvta_generic_to_shared (smem);
  asm volatile ("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                : "r"(a));
}

static __device__ __forceinline__ void
ldmatrix_x2 (uint32_t *r, const void *smem)
{
  uint32_t a = (uint32_t) __cvta_generic_to_shared (smem);
  asm volatile ("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
                : "=r"(r[0]), "=r"(r[1])
                : "r"(a));
}

/* 2^x on the SFU without exp2f's denormal handling (results below 2^-126 flush to 0, which
 * for softmax weights relative to the row maximum is no loss). */
static __device__ __forceinline__ float
fast_exp2 (float x)
{
  float y;
  asm ("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

static __device__ __forceinline__ uint32_t
pack_bf16x2 (float lo, float hi)
{
  __nv_bfloat162 v = __floats2bfloat162_rn (lo, hi);
  return *reinterpret_cast<uint32_t *> (&v);
}

static __device__ __forceinline__ void
cp_async16 (void *smem, const void *gmem)
{
  uint32_t s = (uint32_t) __cvta_generic_to_shared (smem);
  asm volatile ("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}

static __device__ __forceinline__ void
cp_async_commit (void)
{
  asm volatile ("cp.async.commit_group;\n" ::);
}

static __device__ __forceinline__ void
cp_async_wait1 (void)
{
  asm volatile ("cp.async.wait_group 1;\n" ::);
}

/* LDM: B fragments with ldmatrix.x4 (two n-tiles × k 16 per instruction: matrices (n0, k0),
 * (n0, k0 + 8), (n0 + 8, k0), (n0 + 8, k0 + 8)) instead of two 32-bit loads per n-tile. */
template <int WARPS, int MT, bool LDM>
__global__ void __launch_bounds__ (WARPS * 32)
vision_attention_kernel (const uint16_t *__restrict__ q, const uint16_t *__restrict__ k,
                         const uint16_t *__restrict__ vt, int n, int rows, int heads, int hd,
                         float scale_log2, uint16_t *__restrict__ out)
{
  __shared__ __align__ (16) uint16_t ks[2][VA_BK * VA_KS];
  __shared__ __align__ (16) uint16_t vs[2][KE_VATT_DIM * VA_VS];
  const int threads = WARPS * 32;
  int head = blockIdx.y, tid = threadIdx.x;
  int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const uint16_t *qh = q + (size_t) head * rows * KE_VATT_DIM;
  const uint16_t *kh = k + (size_t) head * rows * KE_VATT_DIM;
  const uint16_t *vh = vt + (size_t) head * hd * rows;
  int ksteps = (hd + 15) / 16, ntiles = hd / 8;

  /* Q fragments of this warp's MT m-tiles (rows always inside the padded buffer). */
  uint32_t qf[MT][VA_KSTEPS][4];
  int row0 = blockIdx.x * (WARPS * 16 * MT) + warp * 16 * MT;
#pragma unroll
  for (int mt = 0; mt < MT; mt++)
#pragma unroll
    for (int kk = 0; kk < VA_KSTEPS; kk++) {
      const uint16_t *a = qh + (size_t) (row0 + mt * 16 + g) * KE_VATT_DIM + kk * 16 + 2 * t;
      qf[mt][kk][0] = *(const uint32_t *) a;
      qf[mt][kk][1] = *(const uint32_t *) (a + 8 * KE_VATT_DIM);
      qf[mt][kk][2] = *(const uint32_t *) (a + 8);
      qf[mt][kk][3] = *(const uint32_t *) (a + 8 * KE_VATT_DIM + 8);
    }

  float o[MT][VA_NT_MAX][4];
  float m_run[MT][2], l_run[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; mt++) {
#pragma unroll
    for (int j = 0; j < VA_NT_MAX; j++)
      o[mt][j][0] = o[mt][j][1] = o[mt][j][2] = o[mt][j][3] = 0.0f;
    m_run[mt][0] = m_run[mt][1] = -INFINITY;
    l_run[mt][0] = l_run[mt][1] = 0.0f;
  }

  int n_tiles = (n + VA_BK - 1) / VA_BK;
  auto load_tile = [&] (int buf, int k0) {
    for (int c = tid; c < VA_BK * (KE_VATT_DIM / 8); c += threads) {
      int r = c / (KE_VATT_DIM / 8), col = (c % (KE_VATT_DIM / 8)) * 8;
      cp_async16 (&ks[buf][r * VA_KS + col], kh + (size_t) (k0 + r) * KE_VATT_DIM + col);
    }
    for (int c = tid; c < hd * (VA_BK / 8); c += threads) {
      int r = c / (VA_BK / 8), col = (c % (VA_BK / 8)) * 8;
      cp_async16 (&vs[buf][r * VA_VS + col], vh + (size_t) r * rows + k0 + col);
    }
  };
  load_tile (0, 0);
  cp_async_commit ();

  for (int it = 0; it < n_tiles; it++) {
    int buf = it & 1, k0 = it * VA_BK;
    if (it + 1 < n_tiles)
      load_tile (buf ^ 1, k0 + VA_BK);
    cp_async_commit ();
    cp_async_wait1 ();
    __syncthreads ();

    const uint16_t *kt = ks[buf], *vtile = vs[buf];
    float s[MT][8][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
      for (int j = 0; j < 8; j++)
        s[mt][j][0] = s[mt][j][1] = s[mt][j][2] = s[mt][j][3] = 0.0f;
    /* ldmatrix addressing: this lane supplies row (lane & 7) of matrix lane >> 3 */
    const int lrow = ((lane >> 4) << 3) + (lane & 7), lcol = ((lane >> 3) & 1) * 8;
#pragma unroll
    for (int kk = 0; kk < VA_KSTEPS; kk++) {
      if (kk < ksteps) {
        if constexpr (LDM) {
#pragma unroll
          for (int j = 0; j < 8; j += 2) {
            uint32_t b[4];
            ldmatrix_x4 (b, kt + (j * 8 + lrow) * VA_KS + kk * 16 + lcol);
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
              mma_bf16 (s[mt][j], qf[mt][kk], b[0], b[1]);
              mma_bf16 (s[mt][j + 1], qf[mt][kk], b[2], b[3]);
            }
          }
        } else {
#pragma unroll
          for (int j = 0; j < 8; j++) {
            const uint16_t *b = kt + (j * 8 + g) * VA_KS + kk * 16 + 2 * t;
            uint32_t b0 = *(const uint32_t *) b, b1 = *(const uint32_t *) (b + 8);
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
              mma_bf16 (s[mt][j], qf[mt][kk], b0, b1);
          }
        }
      }
    }
    if (k0 + VA_BK > n) {
#pragma unroll
      for (int j = 0; j < 8; j++)
#pragma unroll
        for (int e = 0; e < 4; e++)
          if (k0 + j * 8 + 2 * t + (e & 1) >= n)
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
              s[mt][j][e] = -INFINITY;
    }

    uint32_t pf[MT][4][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
      float mx0 = m_run[mt][0], mx1 = m_run[mt][1];
#pragma unroll
      for (int j = 0; j < 8; j++) {
        mx0 = fmaxf (mx0, fmaxf (s[mt][j][0], s[mt][j][1]));
        mx1 = fmaxf (mx1, fmaxf (s[mt][j][2], s[mt][j][3]));
      }
      mx0 = fmaxf (mx0, __shfl_xor_sync (KE_FULL_MASK, mx0, 1));
      mx0 = fmaxf (mx0, __shfl_xor_sync (KE_FULL_MASK, mx0, 2));
      mx1 = fmaxf (mx1, __shfl_xor_sync (KE_FULL_MASK, mx1, 1));
      mx1 = fmaxf (mx1, __shfl_xor_sync (KE_FULL_MASK, mx1, 2));
      /* Every tile holds at least one real key, so mx is finite from the first tile on. */
      float c0 = fast_exp2 ((m_run[mt][0] - mx0) * scale_log2);
      float c1 = fast_exp2 ((m_run[mt][1] - mx1) * scale_log2);
      m_run[mt][0] = mx0;
      m_run[mt][1] = mx1;
      float b0 = mx0 * scale_log2, b1 = mx1 * scale_log2;
      float rs0 = 0.0f, rs1 = 0.0f;
#pragma unroll
      for (int j = 0; j < 8; j++) {
        float p0 = fast_exp2 (fmaf (s[mt][j][0], scale_log2, -b0));
        float p1 = fast_exp2 (fmaf (s[mt][j][1], scale_log2, -b0));
        float p2 = fast_exp2 (fmaf (s[mt][j][2], scale_log2, -b1));
        float p3 = fast_exp2 (fmaf (s[mt][j][3], scale_log2, -b1));
        rs0 += p0 + p1;
        rs1 += p2 + p3;
        pf[mt][j >> 1][(j & 1) * 2 + 0] = pack_bf16x2 (p0, p1);
        pf[mt][j >> 1][(j & 1) * 2 + 1] = pack_bf16x2 (p2, p3);
      }
      l_run[mt][0] = l_run[mt][0] * c0 + rs0;
      l_run[mt][1] = l_run[mt][1] * c1 + rs1;
      /* once the row maxima settle (most tiles after the first few) nothing to rescale */
      if (__any_sync (KE_FULL_MASK, c0 != 1.0f || c1 != 1.0f)) {
#pragma unroll
        for (int j = 0; j < VA_NT_MAX; j++) {
          if (j < ntiles) {
            o[mt][j][0] *= c0;
            o[mt][j][1] *= c0;
            o[mt][j][2] *= c1;
            o[mt][j][3] *= c1;
          }
        }
      }
    }

    if constexpr (LDM) {
#pragma unroll
      for (int j = 0; j < VA_NT_MAX; j += 2) {
        if (j + 1 < ntiles) {
#pragma unroll
          for (int kk = 0; kk < 4; kk++) {
            uint32_t b[4];
            ldmatrix_x4 (b, vtile + (j * 8 + lrow) * VA_VS + kk * 16 + lcol);
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
              mma_bf16 (o[mt][j], pf[mt][kk], b[0], b[1]);
              mma_bf16 (o[mt][j + 1], pf[mt][kk], b[2], b[3]);
            }
          }
        } else if (j < ntiles) {
#pragma unroll
          for (int kk = 0; kk < 4; kk++) {
            uint32_t b[2];
            ldmatrix_x2 (b, vtile + (j * 8 + (lane & 7)) * VA_VS + kk * 16 + lcol);
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
              mma_bf16 (o[mt][j], pf[mt][kk], b[0], b[1]);
          }
        }
      }
    } else {
#pragma unroll
      for (int j = 0; j < VA_NT_MAX; j++) {
        if (j < ntiles) {
#pragma unroll
          for (int kk = 0; kk < 4; kk++) {
            const uint16_t *b = vtile + (j * 8 + g) * VA_VS + kk * 16 + 2 * t;
            uint32_t b0 = *(const uint32_t *) b, b1 = *(const uint32_t *) (b + 8);
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
              mma_bf16 (o[mt][j], pf[mt][kk], b0, b1);
          }
        }
      }
    }
    __syncthreads (); /* the next iteration's prefetch overwrites this buffer */
  }

  size_t stride = (size_t) heads * hd;
#pragma unroll
  for (int mt = 0; mt < MT; mt++) {
    float l0 = l_run[mt][0], l1 = l_run[mt][1];
    l0 += __shfl_xor_sync (KE_FULL_MASK, l0, 1);
    l0 += __shfl_xor_sync (KE_FULL_MASK, l0, 2);
    l1 += __shfl_xor_sync (KE_FULL_MASK, l1, 1);
    l1 += __shfl_xor_sync (KE_FULL_MASK, l1, 2);
    float inv0 = 1.0f / l0, inv1 = 1.0f / l1;
    int r = row0 + mt * 16 + g;
#pragma unroll
    for (int j = 0; j < VA_NT_MAX; j++) {
      if (j < ntiles) {
        size_t col = (size_t) head * hd + j * 8 + 2 * t;
        if (r < n)
          *(uint32_t *) (out + (size_t) r * stride + col) =
            pack_bf16x2 (o[mt][j][0] * inv0, o[mt][j][1] * inv0);
        if (r + 8 < n)
          *(uint32_t *) (out + (size_t) (r + 8) * stride + col) =
            pack_bf16x2 (o[mt][j][2] * inv1, o[mt][j][3] * inv1);
      }
    }
  }
}

/* Variant 0: 4 warps × 2 m-tiles, each K/V fragment read from shared memory feeds two MMAs
 * (255 registers, 2 blocks per SM).  Variant 1: 8 warps × 1 m-tile (more warps, twice the
 * shared-memory reads per MMA).  Variants 2 and 3: 0 and 1 with ldmatrix.  All cover
 * KE_VATT_ROWS queries.  Measured on the H100 at 4096 × 16 × 72 (docs/performance.md):
 * 0.395 / 0.580 / 0.384 / 0.565 ms, so ke_cuda_vattention runs variant 2. */
bool
ke_cuda_vattention_variant (const uint16_t *q, const uint16_t *k, const uint16_t *vt, int n,
                            int heads, int hd, float scale, uint16_t *out, int variant,
                            void *stream, ke_error **error)
{
  if (hd <= 0 || hd % 8 || hd > KE_VATT_DIM || n <= 0 || heads <= 0)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "Vision attention of %d tokens × %d heads × head_dim %d is not "
                         "supported (head_dim must be a multiple of 8, at most %d).",
                         n, heads, hd, KE_VATT_DIM);
  int rows = (int) ke_cuda_vatt_rows ((size_t) n);
  dim3 grid (rows / KE_VATT_ROWS, heads);
  float sl = scale * 1.4426950408889634f; /* exp(x) = exp2(x · log2 e) */
  if (variant == 1)
    vision_attention_kernel<8, 1, false><<<grid, 256, 0, (cudaStream_t) stream>>> (
      q, k, vt, n, rows, heads, hd, sl, out);
  else if (variant == 2)
    vision_attention_kernel<4, 2, true><<<grid, 128, 0, (cudaStream_t) stream>>> (
      q, k, vt, n, rows, heads, hd, sl, out);
  else if (variant == 3)
    vision_attention_kernel<8, 1, true><<<grid, 256, 0, (cudaStream_t) stream>>> (
      q, k, vt, n, rows, heads, hd, sl, out);
  else
    vision_attention_kernel<4, 2, false><<<grid, 128, 0, (cudaStream_t) stream>>> (
      q, k, vt, n, rows, heads, hd, sl, out);
  return KE_LAUNCH_CHECK (error);
}

bool
ke_cuda_vattention (const uint16_t *q, const uint16_t *k, const uint16_t *vt, int n, int heads,
                    int hd, float scale, uint16_t *out, void *stream, ke_error **error)
{
  return ke_cuda_vattention_variant (q, k, vt, n, heads, hd, scale, out, 2, stream, error);
}
