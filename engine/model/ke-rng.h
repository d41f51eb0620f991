/* ke-rng.h — splitmix64 seeding + xoshiro256** (fast, reproducible, not cryptographic).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdint.h>

typedef struct ke_rng {
  uint64_t s[4];
} ke_rng;

static inline uint64_t
ke_splitmix64 (uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline void
ke_rng_seed (ke_rng *rng, uint64_t seed)
{
  for (int i = 0; i < 4; i++)
    rng->s[i] = ke_splitmix64 (&seed);
}

static inline uint64_t
ke_rng_rotl (uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

static inline uint64_t
ke_rng_next (ke_rng *rng)
{
  uint64_t *s = rng->s;
  uint64_t result = ke_rng_rotl (s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = ke_rng_rotl (s[3], 45);
  return result;
}

/* Uniform in [-1, 1) with 24 random bits. */
static inline float
ke_rng_uniform (ke_rng *rng)
{
  return (float) (int32_t) (ke_rng_next (rng) >> 40) * (1.0f / 8388608.0f) - 1.0f;
}

/* FNV-1a of a string, to key streams by tensor role. */
static inline uint64_t
ke_hash_str (const char *s)
{
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++)
    h = (h ^ (uint8_t) *s) * 0x100000001b3ull;
  return h;
}
