/* ke-numeric.h — scalar conversions between bf16, f16, fp8 e4m3 and f32.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Shared by the CPU backend, the loader (quantize-at-load) and host-side test references
 * of the CUDA kernels, so every place rounds the same way.
 */
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float
ke_bf16_to_f32 (uint16_t h)
{
  uint32_t u = (uint32_t) h << 16;
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* Round to nearest even, as torch's float → bfloat16 cast; NaN stays NaN. */
static inline uint16_t
ke_f32_to_bf16 (float f)
{
  uint32_t u;
  memcpy (&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t) ((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t) (u >> 16);
}

static inline float
ke_round_bf16 (float f)
{
  return ke_bf16_to_f32 (ke_f32_to_bf16 (f));
}

static inline float
ke_f16_to_f32 (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else { /* subnormal: normalise */
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      u = sign | ((uint32_t) (127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* FP8 e4m3 (the "fn" variant: no infinities, 0x7f/0xff are NaN, max 448). */
static inline float
ke_fp8e4m3_to_f32 (uint8_t v)
{
  uint32_t sign = (v & 0x80u) ? 1u : 0u;
  uint32_t exp = (v >> 3) & 0xfu;
  uint32_t mant = v & 0x7u;
  float f;
  if (exp == 0xf && mant == 0x7)
    return NAN;
  if (exp == 0)
    f = ldexpf ((float) mant, -9); /* subnormal: mant/8 * 2^-6 */
  else
    f = ldexpf ((float) (8 + mant), (int) exp - 10); /* (1+mant/8) * 2^(exp-7) */
  return sign ? -f : f;
}

#define KE_FP8_E4M3_MAX 448.0f

/* Round to nearest even with saturation to ±448, as torch's
 * x.clamp(-448, 448).to(torch.float8_e4m3fn); NaN → 0x7f. */
static inline uint8_t
ke_f32_to_fp8e4m3 (float f)
{
  if (isnan (f))
    return 0x7f;
  uint8_t sign = signbit (f) ? 0x80 : 0x00;
  float a = fabsf (f);
  if (a >= KE_FP8_E4M3_MAX)
    return sign | 0x7e;
  if (a < ldexpf (1.0f, -10)) /* below half the smallest subnormal (2^-9): rounds to 0 */
    return sign;
  int e;
  frexpf (a, &e); /* a = m * 2^e, m in [0.5, 1) → unbiased exponent e-1 */
  int unb = e - 1;
  if (unb < -6)
    unb = -6; /* subnormal range: fixed quantum 2^-9 */
  float quantum = ldexpf (1.0f, unb - 3);
  float q = nearbyintf (a / quantum); /* default rounding mode: ties to even */
  float r = q * quantum;
  if (r > KE_FP8_E4M3_MAX)
    r = KE_FP8_E4M3_MAX;
  /* encode r exactly */
  if (r == 0.0f)
    return sign;
  frexpf (r, &e);
  unb = e - 1;
  if (unb < -6) { /* subnormal */
    uint32_t mant = (uint32_t) (r / ldexpf (1.0f, -9));
    return sign | (uint8_t) mant;
  }
  uint32_t mant = (uint32_t) (r / ldexpf (1.0f, unb - 3)) - 8u;
  return sign | (uint8_t) (((uint32_t) (unb + 7) << 3) | mant);
}
