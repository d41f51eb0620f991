/* ke-text-hash.h — open-addressing hash tables for the tokenizer (not public API).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two tables, both linear probing over a power-of-two slot array kept at most half full:
 *   ke_u64_map: uint64 key → uint32 value (merge pairs, code points, trie edges);
 *   ke_str_map: byte string → int32 value, the strings living in a caller-owned buffer
 *               (the tokenizer's piece arena) addressed by offset, so entries are 12 bytes.
 * Both grow on insert; lookups never allocate.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KE_U64_MAP_EMPTY UINT64_MAX

static inline uint64_t
ke_hash_u64 (uint64_t x)
{
  /* murmur3's fmix64 */
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

static inline uint64_t
ke_hash_bytes (const void *data, size_t len)
{
  const unsigned char *p = data;
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0x100000001b3ull);
  while (len >= 8) {
    uint64_t w;
    memcpy (&w, p, 8);
    h = (h ^ ke_hash_u64 (w)) * 0x100000001b3ull;
    p += 8;
    len -= 8;
  }
  uint64_t w = 0;
  for (size_t i = 0; i < len; i++)
    w |= (uint64_t) p[i] << (8 * i);
  return ke_hash_u64 (h ^ w ^ 0x5bd1e995u);
}

typedef struct {
  uint64_t key;   /* KE_U64_MAP_EMPTY marks a free slot */
  uint64_t value; /* key and value share a cache line: one miss per probe */
} ke_u64_slot;

typedef struct {
  ke_u64_slot *slots;
  size_t mask;    /* capacity - 1 */
  size_t count;
} ke_u64_map;

bool ke_u64_map_init (ke_u64_map *map, size_t expected);
void ke_u64_map_clear (ke_u64_map *map);
/* Inserts or overwrites; key must not be KE_U64_MAP_EMPTY.  False when out of memory. */
bool ke_u64_map_put (ke_u64_map *map, uint64_t key, uint32_t value);

static inline bool
ke_u64_map_get (const ke_u64_map *map, uint64_t key, uint32_t *value)
{
  if (map->slots == NULL)
    return false;
  size_t i = (size_t) ke_hash_u64 (key) & map->mask;
  for (;;) {
    uint64_t k = map->slots[i].key;
    if (k == key) {
      *value = (uint32_t) map->slots[i].value;
      return true;
    }
    if (k == KE_U64_MAP_EMPTY)
      return false;
    i = (i + 1) & map->mask;
  }
}

typedef struct {
  uint32_t off;  /* into the map's base buffer */
  uint32_t len;
  int32_t value;
} ke_str_entry;

typedef struct {
  const char **base;     /* where the strings live (a pointer to the owner's buffer) */
  ke_str_entry *entries;
  size_t n_entries, cap_entries;
  uint32_t *slots;       /* entry index + 1; 0 = free */
  uint32_t *slot_hash;   /* low 32 bits of each slot's hash, to skip most compares */
  size_t mask;
} ke_str_map;

bool ke_str_map_init (ke_str_map *map, const char **base, size_t expected);
void ke_str_map_clear (ke_str_map *map);
/* Inserts or overwrites the value of the string at (*base)[off .. off+len). */
bool ke_str_map_put (ke_str_map *map, uint32_t off, uint32_t len, int32_t value);
/* The value, or -1 when absent. */
int32_t ke_str_map_get (const ke_str_map *map, const char *s, size_t len);
