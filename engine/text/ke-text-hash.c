/* ke-text-hash.c — open-addressing hash tables for the tokenizer.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>

#include "ke-internal.h"
#include "ke-text-hash.h"

static size_t
capacity_for (size_t expected)
{
  size_t cap = 16;
  while (cap < expected * 2 + 2) {
    if (cap > SIZE_MAX / 4)
      return 0;
    cap *= 2;
  }
  return cap;
}

bool
ke_u64_map_init (ke_u64_map *map, size_t expected)
{
  memset (map, 0, sizeof *map);
  size_t cap = capacity_for (expected);
  if (cap == 0)
    return false;
  map->slots = ke_malloc_array (cap, sizeof *map->slots);
  if (map->slots == NULL)
    return false;
  for (size_t i = 0; i < cap; i++)
    map->slots[i].key = KE_U64_MAP_EMPTY;
  map->mask = cap - 1;
  return true;
}

void
ke_u64_map_clear (ke_u64_map *map)
{
  free (map->slots);
  memset (map, 0, sizeof *map);
}

static bool
u64_map_grow (ke_u64_map *map)
{
  ke_u64_map bigger;
  if (!ke_u64_map_init (&bigger, (map->mask + 1)))
    return false;
  for (size_t i = 0; i <= map->mask; i++)
    if (map->slots[i].key != KE_U64_MAP_EMPTY)
      ke_u64_map_put (&bigger, map->slots[i].key, (uint32_t) map->slots[i].value);
  ke_u64_map_clear (map);
  *map = bigger;
  return true;
}

bool
ke_u64_map_put (ke_u64_map *map, uint64_t key, uint32_t value)
{
  if (map->slots == NULL && !ke_u64_map_init (map, 8))
    return false;
  if ((map->count + 1) * 2 > map->mask + 1 && !u64_map_grow (map))
    return false;
  size_t i = (size_t) ke_hash_u64 (key) & map->mask;
  while (map->slots[i].key != KE_U64_MAP_EMPTY && map->slots[i].key != key)
    i = (i + 1) & map->mask;
  if (map->slots[i].key == KE_U64_MAP_EMPTY)
    map->count++;
  map->slots[i].key = key;
  map->slots[i].value = value;
  return true;
}

bool
ke_str_map_init (ke_str_map *map, const char **base, size_t expected)
{
  memset (map, 0, sizeof *map);
  map->base = base;
  size_t cap = capacity_for (expected);
  if (cap == 0 || cap > UINT32_MAX)
    return false;
  map->slots = ke_calloc_array (cap, sizeof *map->slots);
  map->slot_hash = ke_malloc_array (cap, sizeof *map->slot_hash);
  map->cap_entries = expected > 0 ? expected : 4;
  map->entries = ke_malloc_array (map->cap_entries, sizeof *map->entries);
  if (map->slots == NULL || map->slot_hash == NULL || map->entries == NULL) {
    ke_str_map_clear (map);
    return false;
  }
  map->mask = cap - 1;
  return true;
}

void
ke_str_map_clear (ke_str_map *map)
{
  free (map->entries);
  free (map->slots);
  free (map->slot_hash);
  memset (map, 0, sizeof *map);
}

/* The slot holding `s`, or the free slot where it would go. */
static size_t
str_map_find (const ke_str_map *map, const char *s, size_t len, uint64_t hash)
{
  size_t i = (size_t) hash & map->mask;
  uint32_t h32 = (uint32_t) hash;
  for (;;) {
    uint32_t slot = map->slots[i];
    if (slot == 0)
      return i;
    if (map->slot_hash[i] == h32) {
      const ke_str_entry *e = &map->entries[slot - 1];
      if (e->len == len && memcmp (*map->base + e->off, s, len) == 0)
        return i;
    }
    i = (i + 1) & map->mask;
  }
}

static bool
str_map_grow (ke_str_map *map)
{
  size_t cap = (map->mask + 1) * 2;
  uint32_t *slots = ke_calloc_array (cap, sizeof *slots);
  uint32_t *hashes = ke_malloc_array (cap, sizeof *hashes);
  if (slots == NULL || hashes == NULL || cap > UINT32_MAX) {
    free (slots);
    free (hashes);
    return false;
  }
  for (size_t e = 0; e < map->n_entries; e++) {
    const ke_str_entry *en = &map->entries[e];
    uint64_t h = ke_hash_bytes (*map->base + en->off, en->len);
    size_t i = (size_t) h & (cap - 1);
    while (slots[i] != 0)
      i = (i + 1) & (cap - 1);
    slots[i] = (uint32_t) e + 1;
    hashes[i] = (uint32_t) h;
  }
  free (map->slots);
  free (map->slot_hash);
  map->slots = slots;
  map->slot_hash = hashes;
  map->mask = cap - 1;
  return true;
}

bool
ke_str_map_put (ke_str_map *map, uint32_t off, uint32_t len, int32_t value)
{
  if ((map->n_entries + 1) * 2 > map->mask + 1 && !str_map_grow (map))
    return false;
  const char *s = *map->base + off;
  uint64_t h = ke_hash_bytes (s, len);
  size_t i = str_map_find (map, s, len, h);
  if (map->slots[i] != 0) {
    map->entries[map->slots[i] - 1].value = value;
    return true;
  }
  if (map->n_entries == map->cap_entries) {
    size_t cap = map->cap_entries * 2;
    ke_str_entry *e = ke_realloc_array (map->entries, cap, sizeof *e);
    if (e == NULL)
      return false;
    map->entries = e;
    map->cap_entries = cap;
  }
  if (map->n_entries >= UINT32_MAX - 1)
    return false;
  map->entries[map->n_entries] = (ke_str_entry) { off, len, value };
  map->slots[i] = (uint32_t) ++map->n_entries;
  map->slot_hash[i] = (uint32_t) h;
  return true;
}

int32_t
ke_str_map_get (const ke_str_map *map, const char *s, size_t len)
{
  if (map->slots == NULL)
    return -1;
  size_t i = str_map_find (map, s, len, ke_hash_bytes (s, len));
  return map->slots[i] ? map->entries[map->slots[i] - 1].value : -1;
}
