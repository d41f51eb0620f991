/* gpu-test-util.h — small helpers shared by the CUDA kernel tests (device buffers, random
 * data, error measures).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <math.h>
#include <stdint.h>
#include <time.h>

#include "ke-cuda.h"
#include "ke-numeric.h"
#include "../ke-tap.h"

static unsigned long long gpu_test_seed;

static inline void
gpu_test_init_seed (void)
{
  const char *s = getenv ("KESTREL_TEST_SEED");
  gpu_test_seed = s ? strtoull (s, NULL, 10) : (unsigned long long) time (NULL);
}

/* Prints the device and the seed; false (the caller skips) without a CUDA device. */
static inline bool
gpu_test_have_device (int *cc)
{
  if (ke_cuda_device_count () == 0) {
    ke_tap_diag ("no CUDA device");
    return false;
  }
  char name[256];
  int major = 0, minor = 0;
  ke_cuda_device_info (0, name, sizeof name, &major, &minor, NULL, NULL);
  ke_tap_diag ("device: %s (sm_%d%d), seed %llu (KESTREL_TEST_SEED to repeat)", name, major,
               minor, gpu_test_seed);
  if (cc)
    *cc = major * 10 + minor;
  return true;
}

/* A device copy of host data; aborts the test on failure through the caller's KE_REQUIRE. */
static inline void *
gpu_upload (const void *host, size_t bytes)
{
  ke_error *error = NULL;
  void *d = ke_cuda_malloc (bytes ? bytes : 1, &error);
  if (d == NULL) {
    ke_tap_diag ("cudaMalloc(%zu): %s", bytes, error->message);
    ke_error_free (error);
    return NULL;
  }
  if (host && bytes && !ke_cuda_memcpy_h2d (d, host, bytes, &error)) {
    ke_tap_diag ("upload: %s", error->message);
    ke_error_free (error);
    ke_cuda_free (d);
    return NULL;
  }
  return d;
}

/* A device buffer filled with 0xff bytes: NaN as bf16 and f32, NaN as e4m3 too. */
static inline void *
gpu_poisoned (size_t bytes)
{
  void *d = gpu_upload (NULL, bytes);
  if (d && !ke_cuda_memset (d, 0xff, bytes, NULL)) {
    ke_cuda_free (d);
    return NULL;
  }
  return d;
}

static inline bool
gpu_download (void *host, const void *dev, size_t bytes)
{
  ke_error *error = NULL;
  if (!ke_cuda_synchronize (&error) || !ke_cuda_memcpy_d2h (host, dev, bytes, &error)) {
    ke_tap_diag ("download: %s", error->message);
    ke_error_free (error);
    return false;
  }
  return true;
}

static inline float
gpu_rand (void)
{
  return ke_test_rand_uniform (&gpu_test_seed);
}

static inline void
fill_bf16 (uint16_t *v, size_t n, float magnitude)
{
  for (size_t i = 0; i < n; i++)
    v[i] = ke_f32_to_bf16 (gpu_rand () * magnitude);
}

/* ‖got − ref‖ / ‖ref‖ with a count of NaN (unwritten) values. */
typedef struct {
  double num, den;
  size_t nan;
} nmse_acc;

static inline void
nmse_add (nmse_acc *a, double got, double ref)
{
  if (isnan (got)) {
    a->nan++;
    return;
  }
  a->num += (got - ref) * (got - ref);
  a->den += ref * ref;
}

static inline double
nmse_rel (const nmse_acc *a)
{
  return a->den > 0 ? sqrt (a->num / a->den) : sqrt (a->num);
}
