/* test-image-cache.c — image content hashes, the model's image-embedding cache (LRU,
 * pinning, counts) and, on the CPU backend with a generated tiny checkpoint, a multi-turn
 * conversation with two images in which each image goes through the vision tower exactly
 * once (tests/image-conversation.h), with the cached embeddings giving the same logits as
 * a fresh model.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ke-tap.h"
#include "ke-internal.h"
#include "ke-backend.h"
#include "ke-image-cache.h"
#include "ke-checkpoint-writer.h"
#include "../model/ckpt-test-util.h"
#include "image-conversation.h"

static char *ckpt_dir; /* tiny_checkpoint_in_tmp () */

KE_TEST (hash_identifies_content)
{
  uint8_t a[6 * 5 * 4], padded[5 * 32];
  for (size_t i = 0; i < sizeof a; i++)
    a[i] = (uint8_t) (i * 37 + 11);
  ke_image img = { 6, 5, 4, 24, a };
  /* the same pixels with a padded stride hash the same */
  for (int y = 0; y < 5; y++) {
    memcpy (padded + y * 32, a + y * 24, 24);
    memset (padded + y * 32 + 24, y + 1, 8);
  }
  ke_image strided = { 6, 5, 4, 32, padded };
  ke_hash128 h = ke_image_hash (&img), hs = ke_image_hash (&strided);
  KE_CHECK (h.lo == hs.lo && h.hi == hs.hi, "stride padding must not change the hash");
  ke_image transposed = { 5, 6, 4, 20, a };
  ke_hash128 ht = ke_image_hash (&transposed);
  KE_CHECK (ht.lo != h.lo && ht.hi != h.hi, "the size is part of the hash");
  /* every single-bit change of the pixels changes both halves */
  int same = 0;
  for (size_t i = 0; i < sizeof a; i++)
    for (int bit = 0; bit < 8; bit++) {
      a[i] ^= (uint8_t) (1u << bit);
      ke_hash128 hb = ke_image_hash (&img);
      same += hb.lo == h.lo || hb.hi == h.hi;
      a[i] ^= (uint8_t) (1u << bit);
    }
  KE_CHECK (same == 0, "%d single-bit flips left a half of the hash unchanged", same);
  /* byte strings: length matters even with zero tails; streaming = one shot */
  uint8_t z[80] = { 0 };
  ke_hash128 z63 = ke_hash128_bytes (z, 63), z64 = ke_hash128_bytes (z, 64);
  KE_CHECK (z63.lo != z64.lo, "zero-padded tails of different lengths must differ");
}

/* ---- the cache on a counting mock backend --------------------------------------------- */

static int mock_live;

static ke_image_embeds *
mock_encode (ke_backend *b, const ke_image *image, ke_error **error)
{
  (void) b;
  if (image->width == 999) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "mock refuses this image");
    return NULL;
  }
  mock_live++;
  return malloc (16);
}

static void
mock_free (ke_backend *b, ke_image_embeds *e)
{
  (void) b;
  if (e)
    mock_live--;
  free (e);
}

KE_TEST (cache_lru_and_pins)
{
  static const ke_backend_ops ops = { .name = "mock", .encode_image = mock_encode,
                                      .embeds_free = mock_free };
  ke_backend backend = { .ops = &ops };
  ke_image_cache *c = ke_image_cache_new (&backend, 2, NULL);
  KE_REQUIRE (c, "cache");
  static uint8_t px[999 * 3]; /* one row, wide enough for every image below */
  ke_image img[4];
  ke_hash128 key[4];
  for (int i = 0; i < 4; i++) {
    img[i] = (ke_image) { 1 + (uint32_t) i, 1, 3, 3 * (1 + (size_t) i), px };
    key[i] = ke_image_hash (&img[i]);
  }
  bool enc;
  const char *seq = "XYXZYX"; /* capacity 2: X Y | X hit | Z evicts Y | Y evicts X | X again */
  const bool want[] = { true, true, false, true, true, true };
  for (int i = 0; seq[i]; i++) {
    int k = seq[i] == 'X' ? 0 : seq[i] == 'Y' ? 1 : 2;
    const ke_image_embeds *e = ke_image_cache_acquire (c, &img[k], key[k], &enc, NULL);
    KE_CHECK (e && enc == want[i], "step %d (%c): encoded %d, want %d", i, seq[i], enc, want[i]);
    ke_image_cache_release (c, e);
    KE_CHECK (mock_live <= 2, "step %d: %d embeddings alive in a cache of 2", i, mock_live);
  }
  uint64_t n_enc, n_hits;
  ke_image_cache_counts (c, &n_enc, &n_hits);
  KE_CHECK (n_enc == 5 && n_hits == 1, "counts %llu encoded, %llu hits",
            (unsigned long long) n_enc, (unsigned long long) n_hits);
  /* pinned entries survive past the capacity until released */
  const ke_image_embeds *p[3];
  for (int k = 0; k < 3; k++)
    p[k] = ke_image_cache_acquire (c, &img[k + 1], key[k + 1], &enc, NULL);
  KE_CHECK (p[0] && p[1] && p[2] && mock_live == 3, "three pinned entries must all stay (%d)",
            mock_live);
  for (int k = 0; k < 3; k++)
    ke_image_cache_release (c, p[k]);
  KE_CHECK (mock_live == 2, "released: back to the capacity (%d)", mock_live);
  /* an encoder error is passed on and caches nothing */
  ke_image bad = { 999, 1, 3, 3 * 999, px };
  ke_error *error = NULL;
  KE_CHECK (!ke_image_cache_acquire (c, &bad, ke_image_hash (&bad), &enc, &error) && error &&
            error->code == KE_ERROR_INVALID_ARGUMENT, "encoder errors reach the caller");
  ke_error_free (error);
  ke_image_cache_free (c);
  KE_CHECK (mock_live == 0, "the cache frees what it holds (%d left)", mock_live);
}

/* ---- a conversation on the CPU backend ----------------------------------------------------- */

static ke_model *
open_model (void)
{
  ke_model_options o;
  ke_model_options_init (&o);
  o.backend = KE_BACKEND_CPU;
  o.n_threads = 2;
  o.max_context = 2048;
  ke_error *error = NULL;
  ke_model *m = ke_model_open (ckpt_dir, &o, NULL, NULL, &error);
  if (!m) {
    printf ("# open: %s\n", error->message);
    ke_error_free (error);
  }
  return m;
}

KE_TEST (conversation_encodes_each_image_once)
{
  ke_model *model = open_model ();
  KE_REQUIRE (model, "model");
  uint32_t vocab = ke_model_get_info (model)->vocab_size, total = 0;
  float *l5 = malloc (vocab * 4), *fresh = malloc (vocab * 4);
  KE_REQUIRE (l5 && fresh, "memory");
  conv_run (model, l5, &total);
  KE_CHECK (total == 2, "two distinct images, %u tower runs", total);
  /* step 5 from scratch on a fresh model: the cached embeddings give the same logits */
  ke_model *m2 = open_model ();
  KE_REQUIRE (m2, "model");
  conv_images im;
  conv_images_init (&im);
  ke_prompt p = { 0 };
  ke_stats st = { 0 };
  ke_error *error = NULL;
  ke_session *s = NULL;
  KE_REQUIRE (conv_prompt (m2, &im, 5, &p, &error) && (s = ke_session_new (m2, NULL, &error)) &&
              ke_session_prefill (s, &p, fresh, &st, &error),
              "fresh: %s", error ? error->message : "");
  double worst = 0;
  for (uint32_t i = 0; i < vocab; i++)
    worst = fmax (worst, fabs ((double) fresh[i] - l5[i]));
  ke_tap_diag ("step 5 from cached embeddings vs a fresh model: max |Δlogit| %.3g (%u encoded)",
               worst, st.images_encoded);
  KE_CHECK (st.images_encoded == 2 && worst < 1e-4, "cached vs fresh logits differ (%.3g)", worst);
  ke_session_free (s);
  ke_prompt_clear (&p);
  ke_model_free (m2);
  ke_model_free (model);
  free (l5);
  free (fresh);
}

/* Crop boxes worked out by hand from Gemma3ImageProcessor.pan_and_scan (defaults 256 / 4 /
 * 1.2): x, y, w, h of each crop. */
KE_TEST (pan_and_scan_geometry)
{
  static uint8_t px[4000 * 3];
  static const struct {
    uint32_t w, h, n;
    uint32_t box[4][4];
  } cases[] = {
    { 896, 896, 0, { { 0 } } },                     /* square: ratio 1 < 1.2 */
    { 1000, 400, 3, { { 0, 0, 334, 400 }, { 334, 0, 334, 400 }, { 668, 0, 332, 400 } } },
    { 300, 1000, 3, { { 0, 0, 300, 334 }, { 0, 334, 300, 334 }, { 0, 668, 300, 332 } } },
    { 500, 300, 0, { { 0 } } },                     /* 2 crops of 250 px < 256 */
    { 4000, 500, 4, { { 0, 0, 1000, 500 }, { 1000, 0, 1000, 500 }, { 2000, 0, 1000, 500 },
                      { 3000, 0, 1000, 500 } } }, /* 8 wanted, at most 4 */
    { 600, 500, 2, { { 0, 0, 300, 500 }, { 300, 0, 300, 500 } } }, /* ratio 1.2: on, 2 at least */
    { 599, 500, 0, { { 0 } } },                     /* ratio 1.198 < 1.2 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    /* a fake tall buffer: stride 4000·3 covers every row view the crops make */
    ke_image img = { cases[i].w, cases[i].h, 3, 4000 * 3, px };
    ke_image crops[KE_PAN_AND_SCAN_MAX_CROPS];
    uint32_t n = ke_image_pan_and_scan (&img, crops);
    bool ok = n == cases[i].n;
    for (uint32_t c = 0; ok && c < n; c++) {
      size_t off = (size_t) (crops[c].pixels - px);
      uint32_t x = (uint32_t) (off % (4000 * 3) / 3), y = (uint32_t) (off / (4000 * 3));
      ok = x == cases[i].box[c][0] && y == cases[i].box[c][1] && crops[c].width == cases[i].box[c][2] &&
           crops[c].height == cases[i].box[c][3] && crops[c].stride == img.stride;
    }
    KE_CHECK (ok, "%u×%u: %u crops, want %u (or wrong boxes)", cases[i].w, cases[i].h, n,
              cases[i].n);
  }
}

/* The prompt text and image list with pan-and-scan on, through a CPU session. */
KE_TEST (pan_and_scan_prompt)
{
  ke_model *model = open_model ();
  KE_REQUIRE (model, "model");
  static uint8_t px[1000 * 400 * 3];
  for (size_t i = 0; i < sizeof px; i++)
    px[i] = (uint8_t) (i * 7);
  ke_image wide = { 1000, 400, 3, 1000 * 3, px };
  ke_chat_part parts[2] = { { .kind = KE_PART_IMAGE, .image = &wide }, conv_text ("Read it.") };
  ke_chat_message msg = { KE_ROLE_USER, parts, 2 };
  ke_chat_options co;
  ke_chat_options_init (&co);
  KE_CHECK (!co.pan_and_scan, "pan-and-scan is off by default");
  co.pan_and_scan = true;
  uint32_t mm = ke_model_get_info (model)->mm_tokens_per_image;
  ke_error *error = NULL;
  size_t len = 0;
  char *text = ke_chat_render (&msg, 1, &co, mm, &len, &error);
  ke_prompt p = { 0 };
  KE_REQUIRE (text && ke_chat_build (ke_model_get_tokenizer (model), &msg, 1, &co, mm, &p, &error),
              "build: %s", error ? error->message : "");
  const char *want = "<start_of_turn>user\nHere is the original image \n\n<start_of_image>";
  const char *crops = "<end_of_image>\n\n and here are some crops to help you see better \n\n"
                      "<start_of_image>";
  const char *between = "<end_of_image>\n\n \n\n<start_of_image>";
  size_t n_between = 0;
  for (const char *q = text; (q = strstr (q, between)); q++)
    n_between++;
  KE_CHECK (strstr (text, want) && strstr (text, crops) && n_between == 2,
            "pan-and-scan text as Gemma3Processor's");
  KE_CHECK (p.n_images == 4 && p.images[0] == &wide && p.images[1]->width == 334 &&
            p.images[3]->width == 332 && p.images[3]->pixels == px + 668 * 3,
            "the original then its 3 crops (%zu images)", p.n_images);
  ke_session *s = ke_session_new (model, NULL, &error);
  ke_stats st = { 0 };
  KE_CHECK (s && ke_session_prefill (s, &p, NULL, &st, &error) && st.images_encoded == 4,
            "prefill with crops: %s (%u encoded)", error ? error->message : "", st.images_encoded);
  ke_error_free (error);
  ke_session_free (s);
  ke_prompt_clear (&p);
  free (text);
  ke_model_free (model);
}

int
main (int argc, char **argv)
{
  if (!(ckpt_dir = tiny_checkpoint_in_tmp (5)))
    return 1;
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (hash_identifies_content),
    KE_TAP_ENTRY (cache_lru_and_pins),
    KE_TAP_ENTRY (conversation_encodes_each_image_once),
    KE_TAP_ENTRY (pan_and_scan_geometry),
    KE_TAP_ENTRY (pan_and_scan_prompt),
  };
  int rc = ke_tap_run (argc, argv, tests, (int) (sizeof tests / sizeof tests[0]));
  rm_dir (ckpt_dir);
  free (ckpt_dir);
  return rc;
}
