/* test-numeric.c — bf16/f16/fp8 conversions against their definitions.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>

#include "ke-numeric.h"
#include "../ke-tap.h"

/* Every finite e4m3 value converts to f32 and back to the same bits. */
KE_TEST (fp8_round_trip)
{
  int finite = 0;
  for (int v = 0; v < 256; v++) {
    float f = ke_fp8e4m3_to_f32 ((uint8_t) v);
    if (isnan (f)) {
      KE_CHECK ((v & 0x7f) == 0x7f, "only 0x7f/0xff are NaN, got 0x%02x", v);
      continue;
    }
    finite++;
    uint8_t back = ke_f32_to_fp8e4m3 (f);
    if (v == 0x80) /* -0 */
      KE_CHECK (back == 0x80, "-0 → 0x%02x", back);
    else
      KE_CHECK (back == v, "0x%02x → %g → 0x%02x", v, f, back);
  }
  KE_CHECK (finite == 254, "finite values: %d", finite);
  KE_CHECK (ke_fp8e4m3_to_f32 (0x7e) == 448.0f, "max is 448");
  KE_CHECK (ke_fp8e4m3_to_f32 (0x01) == ldexpf (1.0f, -9), "smallest subnormal is 2^-9");
}

/* Rounding: nearest, ties to even, saturating at ±448 (torch's clamp-then-cast). */
KE_TEST (fp8_rounding)
{
  /* Between 1.0 (0x38) and 1.125 (0x39): the midpoint ties to even (1.0). */
  KE_CHECK (ke_f32_to_fp8e4m3 (1.0625f) == 0x38, "tie 1.0625 → even");
  KE_CHECK (ke_f32_to_fp8e4m3 (1.0626f) == 0x39, "above tie rounds up");
  /* 1.1875 is the tie between 1.125 (odd mantissa 1) and 1.25 (mantissa 2, even). */
  KE_CHECK (ke_f32_to_fp8e4m3 (1.1875f) == 0x3a, "tie 1.1875 → 1.25");
  KE_CHECK (ke_f32_to_fp8e4m3 (1000.0f) == 0x7e, "saturates");
  KE_CHECK (ke_f32_to_fp8e4m3 (-1000.0f) == 0xfe, "saturates negative");
  KE_CHECK (ke_f32_to_fp8e4m3 (ldexpf (1.0f, -10)) == 0x00, "half the smallest subnormal ties to 0");
  KE_CHECK (ke_f32_to_fp8e4m3 (ldexpf (1.5f, -10)) == 0x01, "above half rounds up to 2^-9");
  /* Exhaustive check against a brute-force nearest search on a dense grid. */
  unsigned long long seed = 42;
  for (int i = 0; i < 200000; i++) {
    float x = ke_test_rand_uniform (&seed) * 460.0f;
    uint8_t q = ke_f32_to_fp8e4m3 (x);
    float best = NAN;
    float best_err = INFINITY;
    for (int v = 0; v < 256; v++) {
      float f = ke_fp8e4m3_to_f32 ((uint8_t) v);
      if (isnan (f))
        continue;
      float e = fabsf (f - (fabsf (x) > 448.0f ? copysignf (448.0f, x) : x));
      if (e < best_err) {
        best_err = e;
        best = f;
      }
    }
    float got = ke_fp8e4m3_to_f32 (q);
    float clamped = fabsf (x) > 448.0f ? copysignf (448.0f, x) : x;
    KE_REQUIRE (fabsf (got - clamped) <= best_err, "x=%.9g got %.9g best %.9g", x, got, best);
  }
}

KE_TEST (bf16_rounding)
{
  KE_CHECK (ke_f32_to_bf16 (1.0f) == 0x3f80, "1.0");
  /* 1 + 2^-8 is the tie between 1.0 and 1 + 2^-7: to even (1.0). */
  KE_CHECK (ke_f32_to_bf16 (1.0f + ldexpf (1.0f, -8)) == 0x3f80, "tie to even");
  KE_CHECK (ke_f32_to_bf16 (1.0f + ldexpf (3.0f, -8)) == 0x3f82, "tie to even (up)");
  KE_CHECK (isnan (ke_bf16_to_f32 (ke_f32_to_bf16 (NAN))), "NaN stays NaN");
  /* sqrt(2560) rounded to bf16, the Gemma 3 4b embedding scale: 50.5 (50.596… → 50.5). */
  KE_CHECK (ke_round_bf16 (sqrtf (2560.0f)) == 50.5f, "sqrt(2560) in bf16 = %g",
            ke_round_bf16 (sqrtf (2560.0f)));
}

KE_TEST (f16_decode)
{
  KE_CHECK (ke_f16_to_f32 (0x3c00) == 1.0f, "1.0");
  KE_CHECK (ke_f16_to_f32 (0xc000) == -2.0f, "-2.0");
  KE_CHECK (ke_f16_to_f32 (0x0001) == ldexpf (1.0f, -24), "smallest subnormal");
  KE_CHECK (ke_f16_to_f32 (0x7bff) == 65504.0f, "max");
  KE_CHECK (isinf (ke_f16_to_f32 (0x7c00)), "inf");
}

KE_TAP_MAIN (KE_TAP_ENTRY (fp8_round_trip), KE_TAP_ENTRY (fp8_rounding),
             KE_TAP_ENTRY (bf16_rounding), KE_TAP_ENTRY (f16_decode))
