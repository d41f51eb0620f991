/* ke-cuda-vision-image.cu — a caller's image on its way into the GPU vision tower: pinned
 * staging, the direct upload of tower-sized images, Pillow's bilinear resize on the GPU.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "ke-cuda-internal.h"
#include "ke-cuda-vision-private.h"

extern "C" {
#include "ke-cpu.h"
}

/* h_stage holds [S, S, channels]: upload it (pinned, asynchronous) and run the tower. */
static bool
encode_staged (ke_cuda_vision *v, int channels, float *out, ke_error **error)
{
  size_t bytes = (size_t) v->S * v->S * channels;
  v->rgb_channels = channels;
  return KE_CUDA_CHECK (cudaMemcpyAsync (v->rgb, v->h_stage, bytes, cudaMemcpyHostToDevice,
                                         v->stream), error) &&
         KE_CUDA_CHECK (cudaEventRecord (v->staged, v->stream), error) &&
         ke_cuda_vision_run_tower (v, true, out, error);
}

/* The staging buffer may still be read by the previous image's upload. */
static bool
stage_wait (ke_cuda_vision *v, ke_error **error)
{
  return KE_CUDA_CHECK (cudaEventSynchronize (v->staged), error);
}

bool
ke_cuda_vision_encode_rgb (ke_cuda_vision *v, const uint8_t *rgb, float *out, ke_error **error)
{
  if (!stage_wait (v, error))
    return false;
  memcpy (v->h_stage, rgb, (size_t) v->S * v->S * 3);
  return encode_staged (v, 3, out, error);
}

static bool
grow_pinned (uint8_t **p, size_t *have, size_t need, ke_error **error)
{
  if (*have >= need)
    return true;
  cudaFreeHost (*p);
  *p = NULL;
  *have = 0;
  if (!KE_CUDA_CHECK (cudaMallocHost ((void **) p, need), error))
    return false;
  *have = need;
  return true;
}

static bool
grow_device (uint8_t **p, size_t *have, size_t need, ke_error **error)
{
  if (*have >= need)
    return true;
  cudaFree (*p);
  *p = NULL;
  *have = 0;
  if (!KE_CUDA_CHECK (cudaMalloc ((void **) p, need), error))
    return false;
  *have = need;
  return true;
}

/* Pillow's bilinear resize on the GPU (the arithmetic of ke-image.c, coefficients from
 * ke_image_resize_coeffs): the original's rows and both axes' coefficients go up in one
 * pinned copy; horizontal pass into d_mid, vertical pass into rgb [S, S, 3]. */
static bool
resize_on_gpu (ke_cuda_vision *v, const ke_image *image, ke_error **error)
{
  uint32_t w = image->width, h = image->height, ch = image->channels, S = (uint32_t) v->S;
  bool need_x = w != S, need_y = h != S;
  int kx = 0, ky = 0, *bx = NULL, *wx = NULL, *by = NULL, *wy = NULL;
  bool ok = (!need_x || ke_image_resize_coeffs (w, S, &kx, &bx, &wx)) &&
            (!need_y || ke_image_resize_coeffs (h, S, &ky, &by, &wy));
  if (!ok) {
    free (bx); free (wx); free (by); free (wy);
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory resizing an image.");
  }
  size_t img = ((size_t) w * h * ch + 15) / 16 * 16;
  size_t nbx = need_x ? 2 * (size_t) S : 0, nwx = need_x ? (size_t) S * kx : 0;
  size_t nby = need_y ? 2 * (size_t) S : 0, nwy = need_y ? (size_t) S * ky : 0;
  size_t total = img + (nbx + nwx + nby + nwy) * sizeof (int);
  size_t host_have = v->big_bytes, dev_have = v->big_bytes;
  ok = grow_pinned (&v->h_big, &host_have, total, error) &&
       grow_device (&v->d_big, &dev_have, total, error) &&
       grow_device (&v->d_mid, &v->mid_bytes, (size_t) h * S * 3, error);
  if (ok) {
    v->big_bytes = host_have < dev_have ? host_have : dev_have;
    size_t row = (size_t) w * ch;
    for (uint32_t y = 0; y < h; y++)
      memcpy (v->h_big + y * row, image->pixels + (size_t) y * image->stride, row);
    int *hi = (int *) (v->h_big + img);
    memcpy (hi, bx, nbx * sizeof (int));
    memcpy (hi + nbx, wx, nwx * sizeof (int));
    memcpy (hi + nbx + nwx, by, nby * sizeof (int));
    memcpy (hi + nbx + nwx + nby, wy, nwy * sizeof (int));
    const int *di = (const int *) (v->d_big + img);
    void *s = v->stream;
    v->rgb_channels = 3;
    ok = KE_CUDA_CHECK (cudaMemcpyAsync (v->d_big, v->h_big, total, cudaMemcpyHostToDevice,
                                         (cudaStream_t) s), error) &&
         KE_CUDA_CHECK (cudaEventRecord (v->staged, (cudaStream_t) s), error) &&
         ke_cuda_vresize_pass (v->d_big, (int) ch, (int) w, (int) S, (int) h, true,
                               need_x ? di : NULL, di + nbx, kx, v->d_mid, s, error) &&
         ke_cuda_vresize_pass (v->d_mid, 3, (int) S, (int) S, (int) S, false,
                               need_y ? di + nbx + nwx : NULL, di + nbx + nwx + nby, ky, v->rgb,
                               s, error);
  }
  free (bx); free (wx); free (by); free (wy);
  return ok;
}

bool
ke_cuda_vision_encode_image (ke_cuda_vision *v, const ke_image *image,
                             const ke_preprocess_config *pc, float *out, ke_error **error)
{
  if (!ke_image_validate (image, error))
    return false;
  if (pc->do_resize && (pc->width != (uint32_t) v->S || pc->height != (uint32_t) v->S))
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "The preprocessor size %u×%u does not match the vision tower's %d.",
                         pc->width, pc->height, v->S);
  if (!pc->do_resize && (image->width != (uint32_t) v->S || image->height != (uint32_t) v->S))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Without resizing, images must be %d×%d.", v->S, v->S);
  if (pc->resample != 2)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "Only bilinear resampling (PIL 2) is supported, not %d.", pc->resample);
  if (!stage_wait (v, error))
    return false;
  /* Already the tower's size: the rows go to the GPU as they are (RGB or RGBA, the patch
   * kernel skips alpha).  Otherwise Pillow-exact resize on the CPU (ke-image.c) straight into
   * the staging buffer.  Rescale/normalize happen on the GPU in the patch kernel. */
  if (image->width == (uint32_t) v->S && image->height == (uint32_t) v->S) {
    size_t row = (size_t) v->S * image->channels;
    for (int y = 0; y < v->S; y++)
      memcpy (v->h_stage + (size_t) y * row, image->pixels + (size_t) y * image->stride, row);
    return encode_staged (v, (int) image->channels, out, error);
  }
  if ((uint64_t) image->width * image->height > KE_VISION_GPU_RESIZE_PIXELS)
    return ke_image_resize_bilinear (image, (uint32_t) v->S, (uint32_t) v->S, v->h_stage,
                                     error) &&
           encode_staged (v, 3, out, error);
  return resize_on_gpu (v, image, error) && ke_cuda_vision_run_tower (v, true, out, error);
}

bool
ke_cuda_vision_last_rgb (ke_cuda_vision *v, uint8_t *host, int *channels, ke_error **error)
{
  *channels = v->rgb_channels;
  return KE_CUDA_CHECK (cudaStreamSynchronize (v->stream), error) &&
         KE_CUDA_CHECK (cudaMemcpy (host, v->rgb, (size_t) v->S * v->S * v->rgb_channels,
                                    cudaMemcpyDeviceToHost), error);
}
