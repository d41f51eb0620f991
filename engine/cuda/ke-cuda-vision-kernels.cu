/* ke-cuda-vision-kernels.cu — the vision tower's small kernels: pixels → patch rows,
 * LayerNorm, the head split for the attention, average pool + Gemma RMSNorm.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-vision.h"
#include "ke-cuda-vision-private.h"

size_t
ke_cuda_vatt_rows (size_t n)
{
  return (n + KE_VATT_ROWS - 1) / KE_VATT_ROWS * KE_VATT_ROWS;
}

/* ---- pixels → patches ------------------------------------------------------------------
 * patches bf16 [grid², kpad]: row py·grid + px, column (c·P + ky)·P + kx (the conv weight's
 * flattening), zero in columns ≥ 3·P·P.  From uint8 RGB(A) [S, S, channels] (alpha unused): rescale in double then
 * f32 (numpy's float64 product stored as float32), normalize in f32 — as ke_image_preprocess. */
__global__ void
vision_patches_kernel (const uint8_t *rgb, int channels, const float *pixels, int S, int P,
                       int kpad, ke_vnorm norm, uint16_t *patches)
{
  int grid = S / P, kin = 3 * P * P;
  size_t total = (size_t) grid * grid * kpad;
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total;
       i += (size_t) gridDim.x * blockDim.x) {
    int col = (int) (i % kpad);
    int patch = (int) (i / kpad);
    float v = 0.0f;
    if (col < kin) {
      int c = col / (P * P), ky = (col / P) % P, kx = col % P;
      int y = (patch / grid) * P + ky, x = (patch % grid) * P + kx;
      if (rgb) {
        v = (float) rgb[((size_t) y * S + x) * channels + c];
        if (norm.rescale)
          v = (float) ((double) v * norm.rescale_factor);
        if (norm.normalize)
          v = __fdiv_rn (v - norm.mean[c], norm.std[c]);
      } else {
        v = pixels[((size_t) c * S + y) * S + x];
      }
    }
    patches[i] = ke_f32_to_bf16_bits (v);
  }
}

bool
ke_cuda_vpatches (const uint8_t *rgb, int channels, const float *pixels, int S, int P, int kpad,
                  const ke_vnorm *norm, uint16_t *patches, void *stream, ke_error **error)
{
  size_t total = (size_t) (S / P) * (S / P) * kpad;
  int blocks = (int) ((total + 255) / 256);
  if (blocks > 4096)
    blocks = 4096;
  vision_patches_kernel<<<blocks, 256, 0, (cudaStream_t) stream>>> (rgb, channels, pixels, S, P,
                                                                   kpad, *norm, patches);
  return KE_LAUNCH_CHECK (error);
}

/* ---- LayerNorm: one warp per row, f32 in, two passes (mean, then centred variance) ------ */
template <bool OUT_F32>
__global__ void
vision_layernorm_kernel (const float *x, const float *w, const float *b, float eps, int rows,
                         int d, void *out)
{
  int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (row >= rows)
    return;
  const float *xr = x + (size_t) row * d;
  float sum = 0.0f;
  for (int i = lane; i < d; i += 32)
    sum += xr[i];
  float mean = ke_warp_sum (sum) / (float) d;
  float var = 0.0f;
  for (int i = lane; i < d; i += 32) {
    float t = xr[i] - mean;
    var += t * t;
  }
  float inv = rsqrtf (ke_warp_sum (var) / (float) d + eps);
  for (int i = lane; i < d; i += 32) {
    float y = (xr[i] - mean) * inv * w[i] + b[i];
    if (OUT_F32)
      ((float *) out)[(size_t) row * d + i] = y;
    else
      ((uint16_t *) out)[(size_t) row * d + i] = ke_f32_to_bf16_bits (y);
  }
}

bool
ke_cuda_vlayernorm (const float *x, const float *w, const float *b, float eps, int rows, int d,
                    void *out, bool out_f32, void *stream, ke_error **error)
{
  int blocks = (rows + 7) / 8;
  if (out_f32)
    vision_layernorm_kernel<true><<<blocks, 256, 0, (cudaStream_t) stream>>> (x, w, b, eps, rows,
                                                                             d, out);
  else
    vision_layernorm_kernel<false><<<blocks, 256, 0, (cudaStream_t) stream>>> (x, w, b, eps,
                                                                              rows, d, out);
  return KE_LAUNCH_CHECK (error);
}

/* ---- head split ------------------------------------------------------------------------
 * Block (row tile of 64, head): q and k rows copied with zero padding to KE_VATT_DIM, v
 * transposed through shared memory so that both its reads and writes are coalesced. */
#define SPLIT_ROWS 64

__global__ void
vision_split_kernel (const uint16_t *qkv, int n, int rows, int heads, int hd, uint16_t *q,
                     uint16_t *k, uint16_t *vt)
{
  __shared__ uint16_t tile[SPLIT_ROWS][KE_VATT_DIM + 2];
  int r0 = blockIdx.x * SPLIT_ROWS, h = blockIdx.y, vh = heads * hd;
  size_t stride = 3 * (size_t) vh;
  for (int i = threadIdx.x; i < SPLIT_ROWS * KE_VATT_DIM; i += blockDim.x) {
    int r = i / KE_VATT_DIM, c = i % KE_VATT_DIM, row = r0 + r;
    bool in = row < n && c < hd;
    const uint16_t *src = qkv + (size_t) row * stride + (size_t) h * hd + c;
    size_t dst = ((size_t) h * rows + row) * KE_VATT_DIM + c;
    q[dst] = in ? src[0] : 0;
    k[dst] = in ? src[vh] : 0;
    if (c < hd)
      tile[r][c] = row < n ? src[2 * vh] : 0;
  }
  __syncthreads ();
  for (int i = threadIdx.x; i < hd * SPLIT_ROWS; i += blockDim.x) {
    int c = i / SPLIT_ROWS, r = i % SPLIT_ROWS;
    vt[((size_t) h * hd + c) * rows + r0 + r] = tile[r][c];
  }
}

bool
ke_cuda_vsplit_qkv (const uint16_t *qkv, int n, int heads, int hd, uint16_t *q, uint16_t *k,
                    uint16_t *vt, void *stream, ke_error **error)
{
  if (hd > KE_VATT_DIM || hd <= 0)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "Vision head_dim %d is not supported.", hd);
  int rows = (int) ke_cuda_vatt_rows ((size_t) n);
  dim3 grid (rows / SPLIT_ROWS, heads);
  vision_split_kernel<<<grid, 256, 0, (cudaStream_t) stream>>> (qkv, n, rows, heads, hd, q, k, vt);
  return KE_LAUNCH_CHECK (error);
}

/* ---- projector front: AvgPool2d(kernel) over the patch grid, then Gemma RMSNorm --------
 * One block per pooled token; x f32 [grid², d] → out bf16 [side², d]. */
__global__ void
vision_pool_norm_kernel (const float *x, int grid, int kernel, int d, const float *w, float eps,
                         uint16_t *out)
{
  extern __shared__ float pooled[]; /* [d] */
  __shared__ float scratch[32];
  int side = grid / kernel, R = blockIdx.x / side, C = blockIdx.x % side;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < d; i += blockDim.x) {
    float sum = 0.0f;
    for (int ky = 0; ky < kernel; ky++)
      for (int kx = 0; kx < kernel; kx++)
        sum += x[((size_t) (R * kernel + ky) * grid + C * kernel + kx) * d + i];
    float v = sum / (float) (kernel * kernel);
    pooled[i] = v;
    ss += v * v;
  }
  float inv = rsqrtf (ke_block_sum (ss, scratch) / (float) d + eps);
  for (int i = threadIdx.x; i < d; i += blockDim.x)
    out[(size_t) blockIdx.x * d + i] = ke_f32_to_bf16_bits ((pooled[i] * inv) * (1.0f + w[i]));
}

bool
ke_cuda_vpool_norm (const float *x, int grid, int kernel, int d, const float *w, float eps,
                    uint16_t *out, void *stream, ke_error **error)
{
  int side = grid / kernel;
  vision_pool_norm_kernel<<<side * side, 256, (size_t) d * sizeof (float), (cudaStream_t) stream>>> (
    x, grid, kernel, d, w, eps, out);
  return KE_LAUNCH_CHECK (error);
}

/* ---- Pillow's bilinear resize (ke-image.c), the same integer arithmetic -----------------
 * One pass along x (rows of src → rows of dst) or along y; src has `ch` channels (alpha
 * skipped), dst 3.  A pass with bounds == NULL copies (the size did not change). */
__global__ void
vision_resize_pass_kernel (const uint8_t *src, int ch, int src_w, int dst_w, int dst_h,
                           bool along_x, const int *bounds, const int *kk, int ksize,
                           uint8_t *dst)
{
  size_t total = (size_t) dst_h * dst_w * 3;
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total;
       i += (size_t) gridDim.x * blockDim.x) {
    int c = (int) (i % 3);
    int x = (int) (i / 3 % dst_w), y = (int) (i / 3 / dst_w);
    if (!bounds) {
      dst[i] = src[((size_t) y * src_w + x) * ch + c];
      continue;
    }
    int o = along_x ? x : y, first = bounds[2 * o], count = bounds[2 * o + 1];
    const int *k = kk + (size_t) o * ksize;
    long long ss = 1ll << 21;
    for (int t = 0; t < count; t++) {
      int sx = along_x ? first + t : x, sy = along_x ? y : first + t;
      ss += (long long) src[((size_t) sy * src_w + sx) * ch + c] * k[t];
    }
    dst[i] = ss >= (255ll << 22) ? 255 : ss <= 0 ? 0 : (uint8_t) (ss >> 22);
  }
}

bool
ke_cuda_vresize_pass (const uint8_t *src, int ch, int src_w, int dst_w, int dst_h, bool along_x,
                      const int *bounds, const int *kk, int ksize, uint8_t *dst, void *stream,
                      ke_error **error)
{
  size_t total = (size_t) dst_h * dst_w * 3;
  int blocks = (int) ((total + 255) / 256);
  if (blocks > 8192)
    blocks = 8192;
  vision_resize_pass_kernel<<<blocks, 256, 0, (cudaStream_t) stream>>> (
    src, ch, src_w, dst_w, dst_h, along_x, bounds, kk, ksize, dst);
  return KE_LAUNCH_CHECK (error);
}
