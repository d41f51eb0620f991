/* test-store-crash.c — SIGKILL a writer in the middle of streaming, again and again, and check
 * that the database always opens, passes integrity_check, holds every committed message intact,
 * and marks the reply that was streaming as interrupted, with at most about a flush interval
 * of its text lost.
 *
 * KESTREL_CRASH_ITERATIONS (default 20) sets the number of kills; the `store-crash` benchmark
 * runs 1000. KESTREL_CRASH_WRITER is the store-crash-writer executable.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store-test-util.h"

typedef struct
{
  gint64 id;
  char *full_text;
  GArray *updates; /* UpdateSeen */
} Streaming;

typedef struct
{
  gint64 received_at;
  gsize length;
} UpdateSeen;

static void
streaming_free (Streaming *s)
{
  g_free (s->full_text);
  g_array_unref (s->updates);
  g_free (s);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Streaming, streaming_free)

typedef struct
{
  GHashTable *committed;   /* gint64* -> char* content, over all iterations */
  GHashTable *streaming;   /* gint64* -> Streaming*, started and not (yet) committed */
  gint64 max_lag;          /* µs between a lost token being handed in and the kill */
  guint n_killed_streaming;
  guint n_interrupted_with_text;
} CrashLog;

static void
handle_line (CrashLog   *log,
             const char *line,
             gint64      received_at)
{
  char kind = line[0];
  char *end = NULL;
  gint64 id;

  if (line[0] == '\0' || line[1] != ' ')
    g_error ("bad line from the writer: %s", line);
  id = g_ascii_strtoll (line + 2, &end, 10);
  g_assert_true (end != NULL && (*end == ' ' || *end == '\0'));
  if (*end == ' ')
    end++;

  switch (kind)
    {
    case 'M':
      g_hash_table_insert (log->committed, g_memdup2 (&id, sizeof id), g_strdup (end));
      g_hash_table_remove (log->streaming, &id);
      break;
    case 'S':
      {
        Streaming *s = g_new0 (Streaming, 1);

        s->id = id;
        s->full_text = g_strdup (end);
        s->updates = g_array_new (FALSE, FALSE, sizeof (UpdateSeen));
        g_hash_table_insert (log->streaming, g_memdup2 (&id, sizeof id), s);
      }
      break;
    case 'U':
      {
        Streaming *s = g_hash_table_lookup (log->streaming, &id);
        UpdateSeen u = { received_at, g_ascii_strtoull (end, NULL, 10) };

        g_assert_nonnull (s);
        g_array_append_val (s->updates, u);
      }
      break;
    default:
      g_error ("bad line from the writer: %s", line);
    }
}

/* Reads lines until @deadline (monotonic µs), or to EOF when @deadline is 0. */
static void
read_lines (int       fd,
            GString  *buffer,
            CrashLog *log,
            gint64    deadline)
{
  for (;;)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      char chunk[65536];
      gint64 now = g_get_monotonic_time ();
      int timeout_ms = deadline == 0 ? -1 : (int) MAX (0, (deadline - now + 999) / 1000);
      ssize_t n;
      char *nl;

      if (deadline != 0 && now >= deadline)
        return;
      if (poll (&pfd, 1, timeout_ms) <= 0)
        {
          if (deadline != 0)
            return;
          continue;
        }

      n = read (fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      g_string_append_len (buffer, chunk, n);

      now = g_get_monotonic_time ();
      while ((nl = memchr (buffer->str, '\n', buffer->len)) != NULL)
        {
          *nl = '\0';
          handle_line (log, buffer->str, now);
          g_string_erase (buffer, 0, nl - buffer->str + 1);
        }
    }
}

static void
verify (const char *path,
        CrashLog   *log,
        gint64      killed_at,
        guint       flush_interval_ms,
        gboolean    check_all)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *integrity = NULL;
  KestrelStore *store;
  sqlite3 *db;
  GHashTableIter iter;
  gpointer key, value;

  store = kestrel_store_new (path, &error);
  g_assert_no_error (error);
  g_assert_null (kestrel_store_get_recovery_message (store));
  db = _kestrel_store_get_db (store);

  integrity = raw_text (db, "PRAGMA integrity_check");
  g_assert_cmpstr (integrity, ==, "ok");
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
  raw_exec (db, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')");
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM messages WHERE status = 'streaming'"), ==, 0);

  /* Every committed message, exactly. */
  if (check_all)
    {
      g_hash_table_iter_init (&iter, log->committed);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          g_autoptr(KestrelMessage) m = kestrel_store_get_message (store, *(gint64 *) key, &error);

          g_assert_no_error (error);
          g_assert_cmpstr (kestrel_message_get_content (m), ==, value);
          g_assert_cmpint (kestrel_message_get_status (m), ==, KESTREL_MESSAGE_STATUS_COMPLETE);
        }
    }

  /* The reply cut off: interrupted, its text a prefix of what it would have been. */
  g_hash_table_iter_init (&iter, log->streaming);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Streaming *s = value;
      g_autoptr(KestrelMessage) m = kestrel_store_get_message (store, s->id, &error);
      const char *content;
      gsize persisted;

      g_assert_no_error (error);
      g_assert_cmpint (kestrel_message_get_status (m), ==, KESTREL_MESSAGE_STATUS_INTERRUPTED);
      content = kestrel_message_get_content (m);
      persisted = strlen (content);
      g_assert_true (g_str_has_prefix (s->full_text, content));
      log->n_killed_streaming++;
      if (persisted > 0)
        log->n_interrupted_with_text++;

      /* The oldest token the writer had handed in that did not reach the disk. */
      for (guint i = 0; i < s->updates->len; i++)
        {
          UpdateSeen *u = &g_array_index (s->updates, UpdateSeen, i);

          if (u->length > persisted)
            {
              gint64 lag = killed_at - u->received_at;

              log->max_lag = MAX (log->max_lag, lag);
              /* About one interval, plus slack for a loaded machine. */
              g_assert_cmpint (lag, <, (gint64) (flush_interval_ms + 1500) * 1000);
              break;
            }
        }
    }
  g_hash_table_remove_all (log->streaming);

  g_assert_finalize_object (store);
}

static void
test_crash (StoreFixture  *f,
            gconstpointer  data)
{
  const char *writer = g_getenv ("KESTREL_CRASH_WRITER");
  const char *iterations_env = g_getenv ("KESTREL_CRASH_ITERATIONS");
  guint iterations = iterations_env ? (guint) g_ascii_strtoull (iterations_env, NULL, 10) : 20;
  /* The CI run uses the app's settings: the default 1 s interval, ~100 tokens/s, replies of up
   * to a few seconds. The 1000-kill benchmark compresses time (100 ms interval, ~500
   * tokens/s, kills within 400 ms) so that it finishes in minutes. */
  gboolean long_run = iterations > 100;
  guint flush_interval_ms = long_run ? 100 : 1000;
  guint max_kill_ms = long_run ? 400 : 3000;
  const char *token_us_min = long_run ? "1000" : "5000";
  const char *token_us_max = long_run ? "3000" : "15000";
  CrashLog log = { 0 };
  GRand *rand = g_rand_new ();
  gint64 start = g_get_monotonic_time ();

  if (writer == NULL)
    {
      g_test_skip ("KESTREL_CRASH_WRITER is not set (run through meson test)");
      g_rand_free (rand);
      return;
    }

  log.committed = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  log.streaming = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) streaming_free);

  for (guint i = 0; i < iterations; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GString) buffer = g_string_new (NULL);
      g_autofree char *seed = g_strdup_printf ("%u", g_rand_int (rand));
      g_autofree char *interval = g_strdup_printf ("%u", flush_interval_ms);
      const char *argv[] = { writer, f->path, seed, interval, token_us_min, token_us_max, NULL };
      GPid pid;
      int out_fd, status;
      gint64 spawned_at, killed_at;

      g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                               NULL, NULL, &pid, NULL, &out_fd, NULL, &error));
      g_assert_no_error (error);
      spawned_at = g_get_monotonic_time ();

      read_lines (out_fd, buffer, &log, spawned_at + g_rand_int_range (rand, 30, max_kill_ms) * 1000);
      killed_at = g_get_monotonic_time ();
      g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      g_spawn_close_pid (pid);
      /* Whatever it had reported before dying still counts: it was committed. */
      read_lines (out_fd, buffer, &log, 0);
      close (out_fd);

      /* It died by our hand, not by an error of its own. */
      g_assert_true (WIFSIGNALED (status));
      g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);

      verify (f->path, &log, killed_at, flush_interval_ms, i % 100 == 99 || i == iterations - 1);
    }

  g_test_message ("%u kills in %.1f s (flush interval %u ms): %u committed messages intact, "
                  "%u replies killed mid-stream (%u with saved text), max text lost %.0f ms",
                  iterations, (g_get_monotonic_time () - start) / 1e6, flush_interval_ms,
                  g_hash_table_size (log.committed), log.n_killed_streaming, log.n_interrupted_with_text,
                  log.max_lag / 1000.0);
  g_assert_cmpuint (log.n_killed_streaming, >, 0);

  g_hash_table_unref (log.committed);
  g_hash_table_unref (log.streaming);
  g_rand_free (rand);
}

int
main (int   argc,
      char *argv[])
{
  store_test_init (&argc, &argv);
  g_test_add ("/store/crash/sigkill-while-streaming", StoreFixture, NULL, fixture_setup, test_crash, fixture_teardown);
  return store_test_run ();
}
