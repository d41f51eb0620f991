/* bench-store.c — the conversation store at scale: 10,000 conversations × 100 messages.
 *
 * Generates the data in one transaction of prepared inserts (through the real schema, so the
 * FTS triggers index every message), reopens the file, then measures what the UI waits for:
 * the sidebar's first page, the whole sidebar, a thread, and full-text searches. Targets:
 * sidebar page and search ≤ 50 ms.
 *
 * Usage: bench-store [N_CONVERSATIONS [N_MESSAGES [DATABASE]]]   (default 10000 100)
 * With DATABASE, a file made by an earlier run with the same sizes is reused (and kept).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "kestrel-conversation-list.h"
#include "store-test-util.h"

#define VOCABULARY 20000
#define REPEATS 30
#define TARGET_MS 50.0

static char *vocabulary[VOCABULARY];
static double zipf_cdf[VOCABULARY];

static void
make_vocabulary (GRand *rand)
{
  static const char * const syllables[] = {
    "ka", "te", "ri", "lo", "mu", "sa", "ven", "dor", "pel", "gri", "no", "fa", "zu", "bre", "shi", "tom",
  };
  double total = 0;

  for (guint i = 0; i < VOCABULARY; i++)
    {
      GString *w = g_string_new (NULL);
      guint n = 2 + g_rand_int_range (rand, 0, 3);

      for (guint j = 0; j < n; j++)
        g_string_append (w, syllables[g_rand_int_range (rand, 0, G_N_ELEMENTS (syllables))]);
      g_string_append_printf (w, "%u", i % 97); /* unique enough, and searchable */
      vocabulary[i] = g_string_free (w, FALSE);
      total += 1.0 / (i + 1);
      zipf_cdf[i] = total;
    }
  for (guint i = 0; i < VOCABULARY; i++)
    zipf_cdf[i] /= total;
}

static const char *
zipf_word (GRand *rand)
{
  double u = g_rand_double (rand);
  guint lo = 0, hi = VOCABULARY - 1;

  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;

      if (zipf_cdf[mid] < u)
        lo = mid + 1;
      else
        hi = mid;
    }
  return vocabulary[lo];
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

typedef struct
{
  double median, p95, max;
} Stats;

static Stats
stats_of (GArray *samples)
{
  Stats s;

  g_array_sort (samples, compare_double);
  s.median = g_array_index (samples, double, samples->len / 2);
  s.p95 = g_array_index (samples, double, MIN (samples->len - 1, (guint) (samples->len * 0.95)));
  s.max = g_array_index (samples, double, samples->len - 1);
  return s;
}

static double
ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

static void
report (const char *what,
        GArray     *samples,
        gboolean    has_target)
{
  Stats s = stats_of (samples);

  printf ("%-44s median %8.3f ms  p95 %8.3f ms  max %8.3f ms%s\n", what, s.median, s.p95, s.max,
          has_target ? (s.p95 <= TARGET_MS ? "  [target <= 50 ms: met]" : "  [target <= 50 ms: MISSED]") : "");
}

static void
generate (KestrelStore *store,
          guint         n_conversations,
          guint         n_messages,
          GRand        *rand)
{
  sqlite3 *db = _kestrel_store_get_db (store);
  sqlite3_stmt *conv = NULL, *msg = NULL, *select_child = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  gint64 base = g_get_real_time () - (gint64) n_conversations * 60 * G_USEC_PER_SEC;

  raw_exec (db, "BEGIN");
  g_assert_cmpint (sqlite3_prepare_v2 (db, "INSERT INTO conversations (title, title_source, created_at, updated_at,"
                                           " pinned, archived, selected_root_id) VALUES (?, 1, ?, ?, ?, ?, NULL)",
                                       -1, &conv, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "INSERT INTO messages (conversation_id, parent_id, role, status, content,"
                                           " created_at, updated_at) VALUES (?, ?, ?, 'complete', ?, ?, ?)",
                                       -1, &msg, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "UPDATE messages SET selected_child_id = ?2 WHERE id = ?1",
                                       -1, &select_child, NULL), ==, SQLITE_OK);

  for (guint c = 0; c < n_conversations; c++)
    {
      gint64 created = base + (gint64) c * 60 * G_USEC_PER_SEC;
      /* Updated times are shuffled relative to creation, as in real use. */
      gint64 updated = created + g_rand_int_range (rand, 0, 3600) * (gint64) G_USEC_PER_SEC * 24;
      gint64 conversation_id, parent = 0;

      g_string_printf (text, "%s %s %s", zipf_word (rand), zipf_word (rand), zipf_word (rand));
      sqlite3_bind_text (conv, 1, text->str, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64 (conv, 2, created);
      sqlite3_bind_int64 (conv, 3, updated);
      sqlite3_bind_int (conv, 4, g_rand_int_range (rand, 0, 100) == 0);
      sqlite3_bind_int (conv, 5, g_rand_int_range (rand, 0, 20) == 0);
      g_assert_cmpint (sqlite3_step (conv), ==, SQLITE_DONE);
      sqlite3_reset (conv);
      conversation_id = sqlite3_last_insert_rowid (db);

      for (guint m = 0; m < n_messages; m++)
        {
          guint n_words = 5 + g_rand_int_range (rand, 0, 50);
          gint64 id;

          g_string_truncate (text, 0);
          for (guint w = 0; w < n_words; w++)
            {
              if (w > 0)
                g_string_append_c (text, ' ');
              g_string_append (text, zipf_word (rand));
            }
          /* A rare word: in about one message in 20,000. */
          if (g_rand_int_range (rand, 0, 20000) == 0)
            g_string_append (text, " gyrfalcon");

          sqlite3_bind_int64 (msg, 1, conversation_id);
          if (parent != 0)
            sqlite3_bind_int64 (msg, 2, parent);
          else
            sqlite3_bind_null (msg, 2);
          sqlite3_bind_text (msg, 3, m % 2 ? "model" : "user", -1, SQLITE_STATIC);
          sqlite3_bind_text (msg, 4, text->str, text->len, SQLITE_STATIC);
          sqlite3_bind_int64 (msg, 5, created + m);
          sqlite3_bind_int64 (msg, 6, created + m);
          g_assert_cmpint (sqlite3_step (msg), ==, SQLITE_DONE);
          sqlite3_reset (msg);
          id = sqlite3_last_insert_rowid (db);

          if (parent != 0)
            {
              sqlite3_bind_int64 (select_child, 1, parent);
              sqlite3_bind_int64 (select_child, 2, id);
              g_assert_cmpint (sqlite3_step (select_child), ==, SQLITE_DONE);
              sqlite3_reset (select_child);
            }
          parent = id;
        }

      if ((c + 1) % 1000 == 0)
        {
          printf ("  generated %u conversations\n", c + 1);
          fflush (stdout);
        }
    }

  sqlite3_finalize (conv);
  sqlite3_finalize (msg);
  sqlite3_finalize (select_child);
  raw_exec (db, "COMMIT");
}

static void
bench_search (KestrelStore *store,
              const char   *label,
              const char   *query)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GError) error = NULL;
  guint n_hits = 0;
  char what[128];

  for (guint i = 0; i < REPEATS; i++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr(GPtrArray) hits = kestrel_store_search (store, query, 50, &error);
      double ms = ms_since (t0);

      g_assert_no_error (error);
      n_hits = hits->len;
      g_array_append_val (samples, ms);
    }
  g_snprintf (what, sizeof what, "search %s \"%s\" (%u hits)", label, query, n_hits);
  report (what, samples, TRUE);
}

/* For comparison only: ranking by bm25 scores every match before the first row comes back. */
static void
bench_ranked_search (KestrelStore *store,
                     const char   *word)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  sqlite3 *db = _kestrel_store_get_db (store);
  sqlite3_stmt *stmt = NULL;
  g_autofree char *match = g_strdup_printf ("\"%s\"", word);
  char what[128];

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rank LIMIT 50",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  for (guint i = 0; i < 5; i++)
    {
      gint64 t0 = g_get_monotonic_time ();
      double ms;

      sqlite3_bind_text (stmt, 1, match, -1, SQLITE_STATIC);
      while (sqlite3_step (stmt) == SQLITE_ROW)
        ;
      sqlite3_reset (stmt);
      ms = ms_since (t0);
      g_array_append_val (samples, ms);
    }
  sqlite3_finalize (stmt);
  g_snprintf (what, sizeof what, "(not used) bm25-ranked \"%s\"", word);
  report (what, samples, FALSE);
}

static void
list_loaded_cb (GObject    *object,
                GParamSpec *pspec,
                gpointer    user_data)
{
  if (!kestrel_conversation_list_get_loading (KESTREL_CONVERSATION_LIST (object)))
    g_main_loop_quit (user_data);
}

int
main (int   argc,
      char *argv[])
{
  guint n_conversations = argc > 1 ? (guint) atoi (argv[1]) : 10000;
  guint n_messages = argc > 2 ? (guint) atoi (argv[2]) : 100;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("kestrel-bench-XXXXXX", &error);
  g_autofree char *path = NULL;
  gboolean reuse = FALSE;
  g_autoptr(GArray) samples = NULL;
  KestrelStore *store;
  GRand *rand = g_rand_new_with_seed (1);
  gint64 t0;
  gint64 some_conversation = 0;
  GStatBuf st;

  g_assert_no_error (error);
  if (argc > 3)
    {
      path = g_strdup (argv[3]);
      reuse = g_file_test (path, G_FILE_TEST_EXISTS);
    }
  else
    path = g_build_filename (dir, "kestrel.db", NULL);
  setvbuf (stdout, NULL, _IOLBF, 0);
  printf ("Store benchmark: %u conversations x %u messages = %u messages, in %s\n",
          n_conversations, n_messages, n_conversations * n_messages, dir);

  make_vocabulary (rand);
  if (!reuse)
    {
      store = kestrel_store_new (path, &error);
      g_assert_no_error (error);
      t0 = g_get_monotonic_time ();
      generate (store, n_conversations, n_messages, rand);
      printf ("generate (one transaction, FTS indexed)     %8.1f s\n", ms_since (t0) / 1000);
      g_assert_finalize_object (store);
    }
  g_stat (path, &st);
  printf ("database size                               %8.1f MiB\n", st.st_size / 1048576.0);

  t0 = g_get_monotonic_time ();
  store = kestrel_store_new (path, &error);
  g_assert_no_error (error);
  printf ("open (checks, migration check, interrupted) %8.3f ms\n", ms_since (t0));

  /* Sidebar: the first page, the first time (statement prepared, caches cold in SQLite). */
  {
    g_autoptr(GPtrArray) page = NULL;

    t0 = g_get_monotonic_time ();
    page = kestrel_store_list_conversations (store, FALSE, NULL, 50, &error);
    g_assert_no_error (error);
    printf ("sidebar first page of 50, first call        %8.3f ms\n", ms_since (t0));
    g_assert_cmpuint (page->len, ==, MIN (50, n_conversations));
    /* Pinned first, then newest. */
    for (guint i = 1; i < page->len; i++)
      g_assert_cmpint (kestrel_conversation_compare_sidebar (g_ptr_array_index (page, i - 1), g_ptr_array_index (page, i)), <, 0);
    some_conversation = kestrel_conversation_get_id (g_ptr_array_index (page, page->len / 2));
  }

  samples = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint i = 0; i < REPEATS; i++)
    {
      gint64 t = g_get_monotonic_time ();
      g_autoptr(GPtrArray) page = kestrel_store_list_conversations (store, FALSE, NULL, 50, &error);
      double ms = ms_since (t);

      g_array_append_val (samples, ms);
    }
  report ("sidebar first page of 50", samples, TRUE);
  g_array_set_size (samples, 0);

  /* A page deep in the list (keyset: an index seek, not an offset scan). */
  {
    g_autoptr(GPtrArray) page = kestrel_store_list_conversations (store, FALSE, NULL, n_conversations, &error);
    KestrelConversation *late = g_ptr_array_index (page, page->len * 9 / 10);

    for (guint i = 0; i < REPEATS; i++)
      {
        gint64 t = g_get_monotonic_time ();
        g_autoptr(GPtrArray) next = kestrel_store_list_conversations (store, FALSE, late, 50, &error);
        double ms = ms_since (t);

        g_array_append_val (samples, ms);
      }
    report ("sidebar page of 50 at 90% depth", samples, TRUE);
    g_array_set_size (samples, 0);
  }

  /* The whole sidebar, as KestrelConversationList loads it (pages of 200 on the DB thread). */
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
      KestrelConversationList *list;
      gint64 t = g_get_monotonic_time ();
      double ms;

      list = kestrel_conversation_list_new (store, FALSE);
      g_signal_connect (list, "notify::loading", G_CALLBACK (list_loaded_cb), loop);
      g_main_loop_run (loop);
      ms = ms_since (t);
      g_array_append_val (samples, ms);
      if (i == 0)
        printf ("  list model holds %u conversations\n", g_list_model_get_n_items (G_LIST_MODEL (list)));
      g_signal_handlers_disconnect_by_data (list, loop);
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_assert_finalize_object (list);
    }
  report ("whole sidebar into the list model (async)", samples, FALSE);
  g_array_set_size (samples, 0);

  for (guint i = 0; i < REPEATS; i++)
    {
      gint64 t = g_get_monotonic_time ();
      g_autoptr(GPtrArray) thread = kestrel_store_load_thread (store, some_conversation, &error);
      double ms = ms_since (t);

      g_assert_no_error (error);
      g_assert_cmpuint (thread->len, ==, n_messages);
      g_array_append_val (samples, ms);
    }
  report ("load a 100-message thread", samples, FALSE);
  g_array_set_size (samples, 0);

  bench_search (store, "rare", "gyrfalcon");
  bench_search (store, "common", vocabulary[0]);
  bench_search (store, "mid", vocabulary[500]);
  bench_search (store, "two words", "gyrfalcon kate");
  {
    g_autofree char *two = g_strdup_printf ("%s %s", vocabulary[3], vocabulary[40]);
    bench_search (store, "two common", two);
  }
  {
    g_autofree char *prefix = g_strndup (vocabulary[7], 3);
    bench_search (store, "prefix", prefix);
  }
  bench_search (store, "no hits", "zzzzqqq");
  {
    /* The expensive case: a partial word (longer than the prefix indexes) of the commonest word. */
    g_autofree char *partial = g_strndup (vocabulary[0], strlen (vocabulary[0]) - 1);
    bench_search (store, "partial common", partial);
  }
  {
    g_autofree char *partial4 = g_strndup (vocabulary[0], 4);
    bench_search (store, "4-char prefix", partial4);
  }
  /* Partial words of less extreme words (rank 10: ~0.9% of all words; rank 100: ~0.1%). */
  for (guint rank = 10; rank <= 100; rank *= 10)
    {
      g_autofree char *partial = g_strndup (vocabulary[rank], strlen (vocabulary[rank]) - 1);
      g_autofree char *label = g_strdup_printf ("partial rank-%u", rank);

      bench_search (store, label, partial);
    }
  bench_ranked_search (store, vocabulary[0]);
  bench_ranked_search (store, "gyrfalcon");

  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_finalize_object (store);
  rm_rf (dir);
  g_rand_free (rand);
  for (guint i = 0; i < VOCABULARY; i++)
    g_free (vocabulary[i]);
  return 0;
}
