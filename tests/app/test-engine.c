/* test-engine.c — KestrelEngine on the CPU backend with a tiny generated checkpoint:
 * load (progress, failures), streaming, cancel, KV reuse, context overflow, token counts,
 * main-loop blocking, leaks; session eviction by device memory on the replay backend.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "kestrel-engine.h"
#include "kestrel-generation-private.h"
#include "../kestrel-test-fixture.h"

static char *tiny_dir;     /* a tiny fp8 checkpoint, made once for all tests */
static char *tmp_root;

/* ---- helpers ----------------------------------------------------------------------- */

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
  guint     fraction_notifies;
} LoadResult;

static void
load_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  LoadResult *r = user_data;

  r->ok = kestrel_engine_load_finish (KESTREL_ENGINE (source), result, &r->error);
  r->done = TRUE;
}

static void
fraction_notify_cb (GObject    *object,
                    GParamSpec *pspec,
                    LoadResult *r)
{
  r->fraction_notifies++;
}

static void
wait_for (gboolean *flag)
{
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (*flag);
}

static KestrelEngine *
load_engine (const char *dir,
             guint       max_context,
             LoadResult *r)
{
  KestrelEngine *engine = kestrel_engine_new ();
  gulong id = g_signal_connect (engine, "notify::load-fraction", G_CALLBACK (fraction_notify_cb), r);

  kestrel_engine_load_async (engine, dir, KESTREL_BACKEND_CPU, 0, max_context, NULL, load_cb, r);
  g_assert_cmpint (kestrel_engine_get_state (engine), ==, KESTREL_ENGINE_LOADING);
  wait_for (&r->done);
  g_signal_handler_disconnect (engine, id);
  return engine;
}

static GPtrArray *
make_turns (const char *first, ...)
{
  GPtrArray *turns = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_chat_turn_unref);
  KestrelRole role = KESTREL_ROLE_USER;
  va_list ap;

  va_start (ap, first);
  for (const char *text = first; text != NULL; text = va_arg (ap, const char *))
    {
      g_ptr_array_add (turns, kestrel_chat_turn_new (role, text));
      role = role == KESTREL_ROLE_USER ? KESTREL_ROLE_MODEL : KESTREL_ROLE_USER;
    }
  va_end (ap);
  return turns;
}

typedef struct
{
  GString  *deltas;
  gboolean  finished;
  guint     n_deltas;
  gboolean  cancel_on_first_delta;
} Stream;

static void
delta_cb (KestrelGeneration *generation,
          const char        *delta,
          Stream            *s)
{
  g_string_append (s->deltas, delta);
  s->n_deltas++;
  if (s->cancel_on_first_delta)
    kestrel_generation_cancel (generation);
}

static void
finished_cb (KestrelGeneration *generation,
             Stream            *s)
{
  s->finished = TRUE;
}

/* Runs the main loop until the reply finishes; returns the longest single main-loop
 * dispatch in microseconds (what a frame would wait for). */
static gint64
run_stream (KestrelGeneration *generation,
            Stream            *s)
{
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  gint64 longest = 0;

  g_signal_connect (generation, "delta", G_CALLBACK (delta_cb), s);
  g_signal_connect (generation, "finished", G_CALLBACK (finished_cb), s);
  while (!s->finished && g_get_monotonic_time () < deadline)
    {
      gint64 start = g_get_monotonic_time ();
      gboolean dispatched = g_main_context_iteration (NULL, FALSE);

      if (dispatched)
        longest = MAX (longest, g_get_monotonic_time () - start);
      else
        g_usleep (200);
    }
  g_assert_true (s->finished);
  return longest;
}

/* ---- tests ------------------------------------------------------------------------- */

static void
test_engine_load_failures (void)
{
  g_autofree char *empty = g_build_filename (tmp_root, "empty-model", NULL);
  g_autofree char *broken = g_build_filename (tmp_root, "broken-model", NULL);
  g_autofree char *tok = g_build_filename (broken, "tokenizer.json", NULL);
  g_autofree char *src_tok = g_build_filename (tiny_dir, "tokenizer.json", NULL);
  g_autofree char *config = g_build_filename (broken, "config.json", NULL);
  g_autofree char *contents = NULL;
  gsize len;
  struct { const char *dir; int code; const char *needle; } cases[] = {
    { "/nonexistent/kestrel-model", KESTREL_ENGINE_ERROR_INVALID_MODEL, "does not exist" },
    { empty, KESTREL_ENGINE_ERROR_INVALID_MODEL, "no tokenizer.json" },
    { broken, KESTREL_ENGINE_ERROR_INVALID_MODEL, "config.json" },
  };

  g_assert_no_errno (g_mkdir_with_parents (empty, 0700));
  g_assert_no_errno (g_mkdir_with_parents (broken, 0700));
  g_assert_true (g_file_get_contents (src_tok, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (tok, contents, len, NULL));
  g_assert_true (g_file_set_contents (config, "{\"architectures\": [", -1, NULL));

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      LoadResult r = { 0 };
      KestrelEngine *engine = load_engine (cases[i].dir, 0, &r);

      g_assert_false (r.ok);
      g_assert_error (r.error, KESTREL_ENGINE_ERROR, cases[i].code);
      g_test_message ("%s → %s", cases[i].dir, r.error->message);
      g_assert_nonnull (strstr (r.error->message, cases[i].needle));
      g_assert_cmpint (kestrel_engine_get_state (engine), ==, KESTREL_ENGINE_FAILED);
      g_assert_nonnull (kestrel_engine_get_error (engine));
      g_clear_error (&r.error);
      g_assert_finalize_object (engine);
    }
}

static void
test_engine_generate_without_model (void)
{
  KestrelEngine *engine = kestrel_engine_new ();
  g_autoptr(GPtrArray) turns = make_turns ("Hello", NULL);
  KestrelGeneration *generation = kestrel_engine_generate (engine, "c1", turns, NULL);
  Stream s = { g_string_new (NULL) };

  run_stream (generation, &s);
  g_assert_cmpint (kestrel_generation_get_status (generation), ==, KESTREL_GENERATION_FAILED);
  g_assert_error ((GError *) kestrel_generation_get_error (generation),
                  KESTREL_ENGINE_ERROR, KESTREL_ENGINE_ERROR_NOT_LOADED);
  g_string_free (s.deltas, TRUE);
  g_assert_finalize_object (generation);
  g_assert_finalize_object (engine);
}

static void
test_engine_stream (void)
{
  LoadResult r = { 0 };
  KestrelEngine *engine = load_engine (tiny_dir, 0, &r);
  g_autoptr(GPtrArray) turns = make_turns ("Hello there, how are you?", NULL);
  g_autoptr(GPtrArray) follow_up = NULL;
  KestrelSamplingSettings settings;
  KestrelGenerationStats stats;
  KestrelGeneration *generation;
  Stream s = { g_string_new (NULL) };
  gint64 longest;

  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_cmpint (kestrel_engine_get_state (engine), ==, KESTREL_ENGINE_READY);
  g_assert_cmpstr (kestrel_engine_get_backend_name (engine), ==, "cpu");
  g_assert_cmpfloat (kestrel_engine_get_load_fraction (engine), ==, 1.0);
  g_assert_cmpuint (r.fraction_notifies, >=, 1);
  g_assert_cmpuint (kestrel_engine_get_context_length (engine), >, 0);

  kestrel_sampling_settings_init (&settings);
  settings.temperature = 0;
  settings.max_tokens = 24;
  generation = kestrel_engine_generate (engine, "conversation-1", turns, &settings);
  longest = run_stream (generation, &s);

  g_assert_cmpint (kestrel_generation_get_status (generation), ==, KESTREL_GENERATION_COMPLETE);
  g_assert_null (kestrel_generation_get_error (generation));
  g_assert_cmpstr (kestrel_generation_get_text (generation), ==, s.deltas->str);
  g_assert_true (g_utf8_validate (s.deltas->str, -1, NULL));
  kestrel_generation_get_stats (generation, &stats);
  g_assert_cmpuint (stats.generated_tokens, >=, 1);
  g_assert_cmpuint (stats.generated_tokens, <=, 24);
  g_assert_cmpuint (kestrel_generation_get_n_tokens (generation), ==, stats.generated_tokens);
  g_assert_cmpuint (stats.prompt_tokens, >, 5);
  /* coalescing: never more main-loop updates than tokens (+ status and end) */
  g_assert_cmpuint (_kestrel_generation_get_n_updates (generation), <=, stats.generated_tokens + 2);
  g_test_message ("streamed %u tokens in %u updates, %u deltas; longest main-loop dispatch %.2f ms; %.1f tok/s",
                  stats.generated_tokens, _kestrel_generation_get_n_updates (generation), s.n_deltas,
                  longest / 1000.0, stats.tokens_per_second);
  /* the main loop is never blocked for a frame by the stream */
  g_assert_cmpint (longest, <, 16000);

  /* A follow-up in the same conversation reuses the cached prefix. */
  follow_up = make_turns ("Hello there, how are you?", kestrel_generation_get_text (generation),
                          "And what is the time?", NULL);
  g_assert_finalize_object (generation);
  g_string_truncate (s.deltas, 0);
  s.finished = FALSE;
  generation = kestrel_engine_generate (engine, "conversation-1", follow_up, &settings);
  run_stream (generation, &s);
  g_assert_cmpint (kestrel_generation_get_status (generation), ==, KESTREL_GENERATION_COMPLETE);
  kestrel_generation_get_stats (generation, &stats);
  g_test_message ("follow-up: %u prompt tokens, %u from the cache", stats.prompt_tokens, stats.cached_tokens);
  g_assert_cmpuint (stats.cached_tokens, >=, 10);
  g_assert_cmpuint (stats.cached_tokens, <, stats.prompt_tokens);

  g_string_free (s.deltas, TRUE);
  g_assert_finalize_object (generation);
  g_assert_finalize_object (engine);
}

static void
test_engine_cancel (void)
{
  LoadResult r = { 0 };
  KestrelEngine *engine = load_engine (tiny_dir, 0, &r);
  g_autoptr(GPtrArray) turns = make_turns ("Write a very long story.", NULL);
  KestrelSamplingSettings settings;
  KestrelGeneration *generation;
  Stream s = { g_string_new (NULL), .cancel_on_first_delta = TRUE };
  guint produced, at_cancel;

  g_assert_true (r.ok);
  kestrel_sampling_settings_init (&settings);
  settings.temperature = 1.0;
  settings.seed = 7;
  settings.max_tokens = 4000;
  generation = kestrel_engine_generate (engine, "c-cancel", turns, &settings);
  run_stream (generation, &s);

  produced = _kestrel_generation_get_n_produced (generation);
  at_cancel = _kestrel_generation_get_n_produced_at_cancel (generation);
  g_test_message ("cancelled after %u tokens; %u produced in all", at_cancel, produced);
  g_assert_cmpint (kestrel_generation_get_status (generation), ==, KESTREL_GENERATION_CANCELLED);
  /* stops within one token of the cancel */
  g_assert_cmpuint (produced, <=, at_cancel + 1);
  g_assert_cmpuint (produced, <, 4000);

  g_string_free (s.deltas, TRUE);
  g_assert_finalize_object (generation);
  g_assert_finalize_object (engine);
}

static void
test_engine_context_overflow (void)
{
  LoadResult r = { 0 };
  KestrelEngine *engine = load_engine (tiny_dir, 96, &r);
  g_autoptr(GString) long_text = g_string_new (NULL);
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(GPtrArray) too_long = NULL;
  KestrelSamplingSettings settings;
  KestrelGenerationStats stats;
  KestrelGeneration *generation;
  Stream s = { g_string_new (NULL) };

  g_assert_true (r.ok);
  g_assert_cmpuint (kestrel_engine_get_context_length (engine), ==, 96);
  kestrel_sampling_settings_init (&settings);
  settings.temperature = 0;
  settings.max_tokens = 8;

  /* Old turns are dropped to make room; the newest question stays. */
  history = make_turns ("first question about many different things", "first answer about them all",
                        "second question about other things entirely", "second answer, equally long",
                        "third question, which still has to be answered", "third answer that is long too",
                        "the newest question", NULL);
  g_ptr_array_insert (history, 0, kestrel_chat_turn_new (KESTREL_ROLE_SYSTEM, "Be brief."));
  generation = kestrel_engine_generate (engine, "c-overflow", history, &settings);
  run_stream (generation, &s);
  g_assert_cmpint (kestrel_generation_get_status (generation), ==, KESTREL_GENERATION_COMPLETE);
  kestrel_generation_get_stats (generation, &stats);
  g_test_message ("dropped %u turns; prompt %u tokens", stats.dropped_turns, stats.prompt_tokens);
  g_assert_cmpuint (stats.dropped_turns, >=, 2);
  g_assert_cmpuint (stats.prompt_tokens + 8, <=, 96);
  g_assert_finalize_object (generation);

  /* A single message longer than the context is refused with a clear error. */
  for (int i = 0; i < 200; i++)
    g_string_append (long_text, "word ");
  too_long = make_turns (long_text->str, NULL);
  s.finished = FALSE;
  generation = kestrel_engine_generate (engine, "c-overflow", too_long, &settings);
  run_stream (generation, &s);
  g_assert_cmpint (kestrel_generation_get_status (generation), ==, KESTREL_GENERATION_FAILED);
  g_assert_error ((GError *) kestrel_generation_get_error (generation),
                  KESTREL_ENGINE_ERROR, KESTREL_ENGINE_ERROR_CONTEXT_FULL);
  g_test_message ("%s", kestrel_generation_get_error (generation)->message);

  g_string_free (s.deltas, TRUE);
  g_assert_finalize_object (generation);
  g_assert_finalize_object (engine);
}

static void
count_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  gssize *n = user_data;
  g_autoptr(GError) error = NULL;

  *n = kestrel_engine_count_tokens_finish (KESTREL_ENGINE (source), result, &error);
  g_assert_no_error (error);
}

static void
test_engine_count_tokens (void)
{
  LoadResult r = { 0 };
  KestrelEngine *engine = load_engine (tiny_dir, 0, &r);
  g_autoptr(GPtrArray) short_turns = make_turns ("Hi", NULL);
  g_autoptr(GPtrArray) long_turns = make_turns ("Hi", "Hello! How can I help?", "Tell me more.", NULL);
  gssize n_short = -1, n_long = -1;

  g_assert_true (r.ok);
  kestrel_engine_count_tokens_async (engine, short_turns, NULL, count_cb, &n_short);
  kestrel_engine_count_tokens_async (engine, long_turns, NULL, count_cb, &n_long);
  while (n_short < 0 || n_long < 0)
    g_main_context_iteration (NULL, TRUE);
  g_test_message ("short %zd tokens, long %zd tokens", n_short, n_long);
  /* "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n" is at least 7 */
  g_assert_cmpint (n_short, >=, 7);
  g_assert_cmpint (n_long, >, n_short + 8);
  g_assert_finalize_object (engine);
}

/* Pan-and-scan (the "pan-and-scan" property, Preferences' "Read Images in Detail"): a wide
 * image also goes in as crops, each one more image in the prompt. */
static gssize
count_now (KestrelEngine *engine,
           GPtrArray     *turns)
{
  gssize n = -1;

  kestrel_engine_count_tokens_async (engine, turns, NULL, count_cb, &n);
  while (n < 0)
    g_main_context_iteration (NULL, TRUE);
  return n;
}

static void
test_engine_pan_and_scan (void)
{
  LoadResult r = { 0 };
  KestrelEngine *engine = load_engine (tiny_dir, 0, &r);
  g_autoptr(GPtrArray) text_only = make_turns ("What does the sign say?", NULL);
  g_autoptr(GPtrArray) with_image = make_turns ("What does the sign say?", NULL);
  g_autoptr(GBytes) pixels = NULL;
  g_autoptr(KestrelImage) wide = NULL;
  guint8 *data = g_malloc (1600 * 400 * 3);
  gssize n_text, n_off, n_on;
  guint notified = 0;

  g_assert_true (r.ok);
  for (gsize i = 0; i < 1600 * 400 * 3; i++)
    data[i] = (guint8) (i * 7);
  pixels = g_bytes_new_take (data, 1600 * 400 * 3);
  wide = kestrel_image_new (pixels, 1600, 400, 3, 1600 * 3);
  kestrel_chat_turn_add_image (g_ptr_array_index (with_image, 0), wide);

  g_assert_false (kestrel_engine_get_pan_and_scan (engine));
  n_text = count_now (engine, text_only);
  n_off = count_now (engine, with_image);

  g_signal_connect_swapped (engine, "notify::pan-and-scan", G_CALLBACK (g_atomic_int_inc), &notified);
  g_object_set (engine, "pan-and-scan", TRUE, NULL);
  g_object_set (engine, "pan-and-scan", TRUE, NULL); /* no change, no notify */
  g_assert_true (kestrel_engine_get_pan_and_scan (engine));
  g_assert_cmpuint (notified, ==, 1);
  n_on = count_now (engine, with_image);
  g_test_message ("text %zd, with the image %zd, with pan-and-scan %zd tokens", n_text, n_off, n_on);
  /* 1600×400 → four 400×400 crops, each as many tokens as the image itself */
  g_assert_cmpint (n_off, >, n_text);
  g_assert_cmpint (n_on - n_off, >=, 4 * (n_off - n_text));
  /* a text-only prompt does not change */
  g_assert_cmpint (count_now (engine, text_only), ==, n_text);

  kestrel_engine_set_pan_and_scan (engine, FALSE);
  g_assert_cmpint (count_now (engine, with_image), ==, n_off);
  g_assert_cmpuint (notified, ==, 2);
  g_assert_finalize_object (engine);
}

/* Sessions bounded by device memory: a replay "device" with room for two KV caches
 * (KE_ERROR_DEVICE_MEMORY for a third, as the CUDA backend answers when a cache does not
 * fit) makes the worker give up the least recently used session, not fail the request. */
static KestrelGenerationStats
generate_in (KestrelEngine *engine,
             const char    *conversation_id,
             GPtrArray     *turns)
{
  KestrelSamplingSettings settings;
  KestrelGenerationStats stats;
  KestrelGeneration *generation;
  Stream s = { g_string_new (NULL) };

  kestrel_sampling_settings_init (&settings);
  settings.temperature = 0;
  settings.max_tokens = 16;
  generation = kestrel_engine_generate (engine, conversation_id, turns, &settings);
  run_stream (generation, &s);
  g_assert_no_error ((GError *) kestrel_generation_get_error (generation));
  g_assert_cmpint (kestrel_generation_get_status (generation), ==, KESTREL_GENERATION_COMPLETE);
  kestrel_generation_get_stats (generation, &stats);
  g_string_free (s.deltas, TRUE);
  g_assert_finalize_object (generation);
  return stats;
}

static KestrelEngine *
load_replay_engine (const char *script_json,
                    LoadResult *r)
{
  g_autofree char *script = g_build_filename (tmp_root, "replay-sessions.json", NULL);
  g_autoptr(GError) error = NULL;
  KestrelEngine *engine = kestrel_engine_new ();

  g_assert_true (g_file_set_contents (script, script_json, -1, &error));
  g_assert_no_error (error);
  kestrel_engine_set_replay_script (engine, script);
  kestrel_engine_load_async (engine, tiny_dir, KESTREL_BACKEND_REPLAY, 0, 0, NULL, load_cb, r);
  wait_for (&r->done);
  g_assert_no_error (r->error);
  g_assert_true (r->ok);
  return engine;
}

static void
test_engine_session_memory_eviction (void)
{
  LoadResult r = { 0 };
  KestrelEngine *engine = load_replay_engine ("{\"replies\": [\"Fine.\", \"Still fine.\"], "
                                              "\"device_sessions\": 2}", &r);
  g_autoptr(GPtrArray) a1 = make_turns ("Conversation A asks something.", NULL);
  g_autoptr(GPtrArray) b1 = make_turns ("Conversation B asks something else.", NULL);
  g_autoptr(GPtrArray) c1 = make_turns ("Conversation C asks a third thing.", NULL);
  g_autoptr(GPtrArray) a2 = make_turns ("Conversation A asks something.", "Fine.", "And more?", NULL);
  g_autoptr(GPtrArray) b2 = make_turns ("Conversation B asks something else.", "Fine.", "And more?", NULL);
  KestrelGenerationStats stats;

  g_assert_cmpstr (kestrel_engine_get_backend_name (engine), ==, "replay");
  stats = generate_in (engine, "A", a1);
  g_assert_cmpuint (stats.cached_tokens, ==, 0);
  generate_in (engine, "B", b1);
  /* the device is full: C's cache takes the place of A's (the least recently used) */
  stats = generate_in (engine, "C", c1);
  g_assert_cmpuint (stats.cached_tokens, ==, 0);
  /* B kept its cache: its follow-up prefills only the new turn */
  stats = generate_in (engine, "B", b2);
  g_test_message ("B follow-up: %u prompt tokens, %u from the cache", stats.prompt_tokens, stats.cached_tokens);
  g_assert_cmpuint (stats.cached_tokens, >=, 8);
  g_assert_cmpuint (stats.cached_tokens, <, stats.prompt_tokens);
  /* A lost its cache to C and starts over (evicting C, now the least recently used) */
  stats = generate_in (engine, "A", a2);
  g_test_message ("A follow-up after eviction: %u prompt tokens, %u from the cache",
                  stats.prompt_tokens, stats.cached_tokens);
  g_assert_cmpuint (stats.cached_tokens, ==, 0);
  /* B is still cached */
  stats = generate_in (engine, "B", b2);
  g_assert_cmpuint (stats.cached_tokens, >, 0);
  g_assert_finalize_object (engine);

  /* A device with room for none: the error stands, clearly, and nothing crashes. */
  {
    LoadResult r0 = { 0 };
    KestrelEngine *full = load_replay_engine ("{\"replies\": [\"Fine.\"], \"device_sessions\": 0}", &r0);
    KestrelGeneration *generation = kestrel_engine_generate (full, "A", a1, NULL);
    Stream s = { g_string_new (NULL) };

    run_stream (generation, &s);
    g_assert_cmpint (kestrel_generation_get_status (generation), ==, KESTREL_GENERATION_FAILED);
    g_assert_error ((GError *) kestrel_generation_get_error (generation),
                    KESTREL_ENGINE_ERROR, KESTREL_ENGINE_ERROR_DEVICE_MEMORY);
    g_test_message ("no room: %s", kestrel_generation_get_error (generation)->message);
    g_string_free (s.deltas, TRUE);
    g_assert_finalize_object (generation);
    g_assert_finalize_object (full);
  }
}

/* ---- fixture ----------------------------------------------------------------------- */

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tiny_dir = kestrel_test_make_tiny_checkpoint ("kestrel-engine-XXXXXX", 3, &tmp_root);

  g_test_add_func ("/kestrel/engine/load-failures", test_engine_load_failures);
  g_test_add_func ("/kestrel/engine/generate-without-model", test_engine_generate_without_model);
  g_test_add_func ("/kestrel/engine/stream", test_engine_stream);
  g_test_add_func ("/kestrel/engine/cancel", test_engine_cancel);
  g_test_add_func ("/kestrel/engine/context-overflow", test_engine_context_overflow);
  g_test_add_func ("/kestrel/engine/count-tokens", test_engine_count_tokens);
  g_test_add_func ("/kestrel/engine/session-memory-eviction", test_engine_session_memory_eviction);
  g_test_add_func ("/kestrel/engine/pan-and-scan", test_engine_pan_and_scan);

  ret = g_test_run ();
  kestrel_test_remove_tree (tmp_root);
  g_free (tiny_dir);
  g_free (tmp_root);
  return ret;
}
