/* image-conversation.h — a multi-turn conversation with two images, shared by the CPU
 * (tests/engine/cpu/test-image-cache.c) and CUDA (tests/gpu/test-multimodal.c) tests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Include after ke-tap.h and ke-engine.h.  The steps, and what each must cost in vision
 * tower runs (ke_stats.images_encoded) and embedding-cache hits (image_cache_hits):
 *   1  [user: A, text]                               A encoded
 *   2  + [model: reply] + [user: text, B]            B encoded (A is in the KV cache)
 *   3  the same prompt again (regenerate)            nothing (everything in the KV cache)
 *   4  turn 1's text edited (after A)                B from the cache (A still in the KV)
 *   5  a system prompt added (before A)              A and B from the cache
 *   6  step 2's prompt in a new session              A and B from the cache
 * so each image goes through the tower exactly once over the whole conversation.
 */
#pragma once

#include <stdlib.h>
#include <string.h>

#define CONV_W 40
#define CONV_H 30

typedef struct {
  uint8_t a[CONV_W * CONV_H * 3], b[CONV_W * CONV_H * 4];
  ke_image image_a, image_b;
} conv_images;

static void
conv_images_init (conv_images *im)
{
  for (int y = 0; y < CONV_H; y++)
    for (int x = 0; x < CONV_W; x++) {
      for (int c = 0; c < 3; c++) {
        im->a[(y * CONV_W + x) * 3 + c] = (uint8_t) ((7 * x + 13 * y + 50 * c) % 256);
        im->b[(y * CONV_W + x) * 4 + c] = (uint8_t) ((x * x + 3 * y + 90 * c) % 256);
      }
      im->b[(y * CONV_W + x) * 4 + 3] = 255;
    }
  im->image_a = (ke_image) { CONV_W, CONV_H, 3, CONV_W * 3, im->a };
  im->image_b = (ke_image) { CONV_W, CONV_H, 4, CONV_W * 4, im->b };
}

static ke_chat_part
conv_text (const char *t)
{
  return (ke_chat_part) { .kind = KE_PART_TEXT, .text = t, .text_len = strlen (t) };
}

/* The prompt of step `step` (1..6, see above). */
static bool
conv_prompt (const ke_model *model, const conv_images *im, int step, ke_prompt *prompt,
             ke_error **error)
{
  ke_chat_part sys[1] = { conv_text ("Answer briefly.") };
  ke_chat_part u1[2] = { { .kind = KE_PART_IMAGE, .image = &im->image_a },
                         conv_text (step == 4 || step == 5 ? "What is in this image?"
                                                           : "What is in this picture?") };
  ke_chat_part m1[1] = { conv_text ("A pattern of diagonal stripes.") };
  ke_chat_part u2[2] = { conv_text ("Compare it with this one:"),
                         { .kind = KE_PART_IMAGE, .image = &im->image_b } };
  ke_chat_message msgs[4];
  size_t n = 0;
  if (step == 5)
    msgs[n++] = (ke_chat_message) { KE_ROLE_SYSTEM, sys, 1 };
  msgs[n++] = (ke_chat_message) { KE_ROLE_USER, u1, 2 };
  if (step >= 2) {
    msgs[n++] = (ke_chat_message) { KE_ROLE_MODEL, m1, 1 };
    msgs[n++] = (ke_chat_message) { KE_ROLE_USER, u2, 2 };
  }
  return ke_chat_build (ke_model_get_tokenizer (model), msgs, n, NULL,
                        ke_model_get_info (model)->mm_tokens_per_image, prompt, error);
}

static bool
conv_count_token (ke_token t, void *data)
{
  (void) t;
  (*(int *) data)++;
  return true;
}

/* Runs steps 1..6 on `model`; step 5's last-position logits into logits5 [vocab]; the
 * total tower runs into *total_encoded.  Checks every step's counts. */
static void
conv_run (ke_model *model, float *logits5, uint32_t *total_encoded)
{
  static const uint32_t want_encoded[7] = { 0, 1, 1, 0, 0, 0, 0 };
  static const uint32_t want_hits[7] = { 0, 0, 0, 0, 1, 2, 2 };
  conv_images im;
  conv_images_init (&im);
  ke_error *error = NULL;
  ke_session *s = ke_session_new (model, NULL, &error);
  KE_REQUIRE (s, "session: %s", error ? error->message : "");
  *total_encoded = 0;
  for (int step = 1; step <= 6; step++) {
    if (step == 6) {
      ke_session_free (s);
      s = ke_session_new (model, NULL, &error);
      KE_REQUIRE (s, "session: %s", error ? error->message : "");
    }
    ke_prompt p = { 0 };
    ke_stats st = { 0 };
    KE_REQUIRE (conv_prompt (model, &im, step == 6 ? 2 : step == 3 ? 2 : step, &p, &error),
                "prompt %d: %s", step, error ? error->message : "");
    bool ok = ke_session_prefill (s, &p, step == 5 ? logits5 : NULL, &st, &error);
    KE_CHECK (ok, "prefill %d: %s", step, error ? error->message : "");
    ke_prompt_clear (&p);
    if (!ok)
      break;
    *total_encoded += st.images_encoded;
    ke_tap_diag ("step %d: %u prompt tokens, %u reused, %u images encoded, %u from the cache",
                 step, st.prompt_tokens, st.cached_tokens, st.images_encoded,
                 st.image_cache_hits);
    KE_CHECK (st.images_encoded == want_encoded[step] && st.image_cache_hits == want_hits[step],
              "step %d: %u encoded (want %u), %u cache hits (want %u)", step, st.images_encoded,
              want_encoded[step], st.image_cache_hits, want_hits[step]);
    if (step <= 2) { /* a short reply, appended to the session as the app does */
      ke_sampling sp;
      ke_sampling_init (&sp, NULL);
      sp.max_tokens = 3;
      int got = 0;
      KE_CHECK (ke_session_generate (s, &sp, conv_count_token, &got, NULL, &error),
                "generate %d: %s", step, error ? error->message : "");
    }
  }
  ke_error_free (error);
  ke_session_free (s);
}
