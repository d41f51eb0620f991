/* ke-image-cache.c — image content hashes and the model's bounded LRU of image embeddings
 * (see ke-image-cache.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-image-cache.h"

/* ---- hash ------------------------------------------------------------------------------ */

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static inline uint64_t
rotl (uint64_t x, int r)
{
  return (x << r) | (x >> (64 - r));
}

static inline uint64_t
read64 (const uint8_t *p)
{
  uint64_t v;
  memcpy (&v, p, 8); /* little-endian hosts; the hash only has to be stable per machine */
  return v;
}

static inline uint64_t
round64 (uint64_t acc, uint64_t input)
{
  acc += input * P2;
  acc = rotl (acc, 31);
  return acc * P1;
}

static inline uint64_t
avalanche (uint64_t h)
{
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

typedef struct {
  uint64_t v[4];
  uint8_t buf[32];
  size_t buffered;
  uint64_t total;
} hash_state;

static void
hash_init (hash_state *s)
{
  memset (s, 0, sizeof *s);
  s->v[0] = P1 + P2;
  s->v[1] = P2;
  s->v[2] = 0;
  s->v[3] = 0 - P1;
}

static void
hash_stripe (hash_state *s, const uint8_t *p)
{
  s->v[0] = round64 (s->v[0], read64 (p));
  s->v[1] = round64 (s->v[1], read64 (p + 8));
  s->v[2] = round64 (s->v[2], read64 (p + 16));
  s->v[3] = round64 (s->v[3], read64 (p + 24));
}

static void
hash_update (hash_state *s, const void *data, size_t len)
{
  const uint8_t *p = data;
  s->total += len;
  if (s->buffered) {
    size_t take = 32 - s->buffered < len ? 32 - s->buffered : len;
    memcpy (s->buf + s->buffered, p, take);
    s->buffered += take;
    p += take;
    len -= take;
    if (s->buffered < 32)
      return;
    hash_stripe (s, s->buf);
    s->buffered = 0;
  }
  for (; len >= 32; p += 32, len -= 32)
    hash_stripe (s, p);
  memcpy (s->buf, p, len);
  s->buffered = len;
}

static uint64_t
merge (uint64_t h, uint64_t v)
{
  h ^= round64 (0, v);
  return h * P1 + P4;
}

static ke_hash128
hash_final (hash_state *s)
{
  /* the tail: zero-padded to a stripe, its length folded in through `total` */
  if (s->buffered) {
    memset (s->buf + s->buffered, 0, 32 - s->buffered);
    hash_stripe (s, s->buf);
  }
  uint64_t *v = s->v;
  uint64_t a = rotl (v[0], 1) + rotl (v[1], 7) + rotl (v[2], 12) + rotl (v[3], 18);
  a = merge (merge (merge (merge (a, v[0]), v[1]), v[2]), v[3]);
  uint64_t b = rotl (v[3], 3) + rotl (v[2], 11) + rotl (v[1], 23) + rotl (v[0], 41);
  b = merge (merge (merge (merge (b ^ P5, v[3]), v[2]), v[1]), v[0]);
  ke_hash128 h = { avalanche (a + s->total), avalanche (b ^ (s->total * P3)) };
  return h;
}

ke_hash128
ke_hash128_bytes (const void *data, size_t len)
{
  hash_state s;
  hash_init (&s);
  hash_update (&s, data, len);
  return hash_final (&s);
}

ke_hash128
ke_image_hash (const ke_image *image)
{
  hash_state s;
  hash_init (&s);
  uint32_t head[4] = { 0x4d49454b, image->width, image->height, image->channels }; /* "KEIM" */
  hash_update (&s, head, sizeof head);
  size_t row = (size_t) image->width * image->channels;
  for (uint32_t y = 0; y < image->height; y++)
    hash_update (&s, image->pixels + (size_t) y * image->stride, row);
  ke_hash128 h = hash_final (&s);
  if (h.lo == 0 && h.hi == 0)
    h.lo = 1; /* the session uses 0 for "text" */
  return h;
}

/* ---- cache ------------------------------------------------------------------------------ */

typedef struct {
  ke_hash128 key;
  ke_image_embeds *embeds;
  uint64_t last_use;
  uint32_t pins;
} cache_entry;

struct ke_image_cache {
  ke_backend *backend;
  uint32_t capacity;
  cache_entry *entries;
  size_t n, allocated;
  uint64_t clock, encoded, hits;
};

ke_image_cache *
ke_image_cache_new (ke_backend *backend, uint32_t capacity, ke_error **error)
{
  ke_image_cache *c = calloc (1, sizeof *c);
  if (!c) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    return NULL;
  }
  c->backend = backend;
  c->capacity = capacity ? capacity : 1;
  return c;
}

void
ke_image_cache_free (ke_image_cache *c)
{
  if (!c)
    return;
  for (size_t i = 0; i < c->n; i++)
    c->backend->ops->embeds_free (c->backend, c->entries[i].embeds);
  free (c->entries);
  free (c);
}

/* Drops least recently used unpinned entries until at most `keep` remain (or none is
 * unpinned). */
static void
evict (ke_image_cache *c, size_t keep)
{
  while (c->n > keep) {
    size_t victim = SIZE_MAX;
    for (size_t i = 0; i < c->n; i++)
      if (!c->entries[i].pins &&
          (victim == SIZE_MAX || c->entries[i].last_use < c->entries[victim].last_use))
        victim = i;
    if (victim == SIZE_MAX)
      return;
    c->backend->ops->embeds_free (c->backend, c->entries[victim].embeds);
    c->entries[victim] = c->entries[--c->n];
  }
}

const ke_image_embeds *
ke_image_cache_acquire (ke_image_cache *c, const ke_image *image, ke_hash128 key, bool *encoded,
                        ke_error **error)
{
  *encoded = false;
  for (size_t i = 0; i < c->n; i++)
    if (c->entries[i].key.lo == key.lo && c->entries[i].key.hi == key.hi) {
      c->entries[i].pins++;
      c->entries[i].last_use = ++c->clock;
      c->hits++;
      return c->entries[i].embeds;
    }
  ke_image_embeds *e = c->backend->ops->encode_image (c->backend, image, error);
  if (!e)
    return NULL;
  c->encoded++;
  *encoded = true;
  evict (c, c->capacity - 1);
  if (c->n == c->allocated) {
    size_t want = c->allocated ? 2 * c->allocated : 8;
    cache_entry *grown = ke_realloc_array (c->entries, want, sizeof *grown);
    if (!grown) {
      c->backend->ops->embeds_free (c->backend, e);
      ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
      return NULL;
    }
    c->entries = grown;
    c->allocated = want;
  }
  c->entries[c->n++] = (cache_entry) { key, e, ++c->clock, 1 };
  return e;
}

void
ke_image_cache_release (ke_image_cache *c, const ke_image_embeds *embeds)
{
  for (size_t i = 0; i < c->n; i++)
    if (c->entries[i].embeds == embeds && c->entries[i].pins) {
      c->entries[i].pins--;
      break;
    }
  evict (c, c->capacity);
}

void
ke_image_cache_counts (const ke_image_cache *c, uint64_t *encoded, uint64_t *hits)
{
  if (encoded)
    *encoded = c ? c->encoded : 0;
  if (hits)
    *hits = c ? c->hits : 0;
}
