/* ke-image-cache.h — image content hashes and the model's image-embedding cache.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every image a prompt carries is identified by a 128-bit hash of its size, channel count
 * and pixel rows (the stride padding excluded).  The session compares the hashes of the
 * positions it already holds (prefix reuse); the model keeps the projector outputs of the
 * most recently used images, so that a regenerated or edited turn whose image is no longer
 * in the KV cache does not run the vision tower again.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ke-backend.h"

typedef struct {
  uint64_t lo, hi;
} ke_hash128;

/* A fast 128-bit hash (four 64-bit multiply–rotate lanes over 32-byte stripes, XXH64's
 * round and avalanche, two differently mixed outputs): not cryptographic, but with 2^-128
 * odds of an accidental collision.  Fed: "KEIMG1", width, height, channels, then each
 * row's width·channels bytes. */
ke_hash128 ke_image_hash (const ke_image *image);
/* The same function over a plain byte string (for tests). */
ke_hash128 ke_hash128_bytes (const void *data, size_t len);

typedef struct ke_image_cache ke_image_cache;

/* Holds at most `capacity` embeddings of `backend` (entries in use by a batch are never
 * evicted; the cache may then hold more until they are released). */
ke_image_cache *ke_image_cache_new (ke_backend *backend, uint32_t capacity, ke_error **error);
void ke_image_cache_free (ke_image_cache *cache);

/* The embeddings of `image` (key: its ke_image_hash): from the cache, or encoded now
 * (*encoded = true).  The entry stays pinned until ke_image_cache_release. */
const ke_image_embeds *ke_image_cache_acquire (ke_image_cache *cache, const ke_image *image,
                                               ke_hash128 key, bool *encoded, ke_error **error);
void ke_image_cache_release (ke_image_cache *cache, const ke_image_embeds *embeds);

/* Images a model keeps (a 4b image is 256 × 2560 f32 = 2.5 MiB of device memory). */
#define KE_IMAGE_CACHE_SIZE 16

/* The model's cache (NULL for a model without vision); ke-model.c. */
ke_image_cache *ke_model_image_cache (const ke_model *model);

/* Lifetime counts: tower runs and cache hits. */
void ke_image_cache_counts (const ke_image_cache *cache, uint64_t *encoded, uint64_t *hits);
