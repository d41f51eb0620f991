/* test-downloader.c — KestrelDownloader against a Hub look-alike on 127.0.0.1.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Full download, skipping files in place, resume after a dropped connection and after a
 * cancel, checksum failure, gated repositories (401/403) and the token, 404s, 5xx retries,
 * network down, the proxy resolver, unsafe names, disk full (in a private tmpfs), progress
 * throttling, and that the token shows up in no message and no log line.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "kestrel-download-error.h"
#include "kestrel-downloader.h"
#include "kestrel-memory-token-store.h"
#include "test-hub-server.h"

static TestHub *hub;
static GMutex log_lock;
static GString *log_text;

static GLogWriterOutput
capture_log_writer (GLogLevelFlags   level,
                    const GLogField *fields,
                    gsize            n_fields,
                    gpointer         user_data)
{
  g_mutex_lock (&log_lock);
  for (gsize i = 0; i < n_fields; i++)
    if (fields[i].length < 0 && (strcmp (fields[i].key, "MESSAGE") == 0 ||
                                 strcmp (fields[i].key, "GLIB_DOMAIN") == 0))
      g_string_append_printf (log_text, "%s ", (const char *) fields[i].value);
  g_string_append_c (log_text, '\n');
  g_mutex_unlock (&log_lock);
  /* debug lines are only captured: the TAP stream stays readable */
  if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* g_debug() and friends (not structured) go to the default handler, which g_test_init()
 * replaces: capture there too. */
static GLogFunc previous_handler;

static void
capture_log_handler (const char     *log_domain,
                     GLogLevelFlags  level,
                     const char     *message,
                     gpointer        user_data)
{
  g_mutex_lock (&log_lock);
  g_string_append_printf (log_text, "%s %s\n", log_domain ? log_domain : "", message);
  g_mutex_unlock (&log_lock);
  if (!(level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)))
    previous_handler (log_domain, level, message, user_data);
}

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct
{
  GMainLoop *loop;
  gboolean   ok;
  GError    *error;
} Wait;

static void
download_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Wait *wait = user_data;

  wait->ok = kestrel_downloader_download_finish (KESTREL_DOWNLOADER (object), result,
                                                 &wait->error);
  g_main_loop_quit (wait->loop);
}

static gboolean
run_download (KestrelDownloader  *downloader,
              GCancellable       *cancellable,
              GError            **error)
{
  Wait wait = { g_main_loop_new (NULL, FALSE), FALSE, NULL };

  kestrel_downloader_download_async (downloader, cancellable, download_done_cb, &wait);
  g_main_loop_run (wait.loop);
  g_main_loop_unref (wait.loop);
  if (wait.error != NULL)
    {
      g_assert_false (wait.ok);
      /* every message is free of the token */
      g_assert_null (strstr (wait.error->message, TEST_HUB_TOKEN));
      g_propagate_error (error, wait.error);
    }
  return wait.ok;
}

static KestrelDownloader *
new_downloader (const char *repo_id,
                GFile      *destination)
{
  KestrelDownloader *downloader = kestrel_downloader_new (repo_id, destination);

  kestrel_downloader_set_endpoint (downloader, test_hub_get_endpoint (hub));
  kestrel_downloader_set_retry_policy (downloader, 4, 10);
  return downloader;
}

static GFile *
new_destination (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("kestrel-download-XXXXXX", &error);

  g_assert_no_error (error);
  return g_file_new_build_filename (dir, "model", NULL);
}

static void
delete_tree (GFile *file)
{
  g_autoptr(GFileEnumerator) children = g_file_enumerate_children (file, "standard::*",
                                                                   G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                                   NULL, NULL);
  GFileInfo *info;
  GFile *child;

  while (children != NULL && g_file_enumerator_iterate (children, &info, &child, NULL, NULL) &&
         info != NULL)
    {
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        delete_tree (child);
      else
        g_file_delete (child, NULL, NULL);
    }
  g_file_delete (file, NULL, NULL);
}

static void
cleanup_destination (GFile *destination)
{
  g_autoptr(GFile) parent = g_file_get_parent (destination);

  delete_tree (parent);
}

static void
assert_checkpoint (GFile *destination)
{
  for (guint i = 0; i < test_hub_get_n_files (hub); i++)
    {
      const char *name = test_hub_get_file_name (hub, i);
      g_autoptr(GFile) file = g_file_get_child (destination, name);
      g_autofree char *partial_name = g_strconcat (name, ".partial", NULL);
      g_autoptr(GFile) partial = g_file_get_child (destination, partial_name);
      g_autoptr(GBytes) contents = g_file_load_bytes (file, NULL, NULL, NULL);

      g_assert_nonnull (contents);
      g_assert_true (g_bytes_equal (contents, test_hub_get_file (hub, name)));
      g_assert_false (g_file_query_exists (partial, NULL));
    }
}

static gint64
range_start_of (const char *path_prefix)
{
  g_autoptr(GPtrArray) requests = test_hub_get_requests (hub);
  gint64 start = -1;

  for (guint i = 0; i < requests->len; i++)
    {
      TestHubRequest *request = g_ptr_array_index (requests, i);

      if (g_str_has_prefix (request->path, path_prefix) && request->range_start >= 0)
        start = request->range_start;
    }
  return start;
}

static char *
lfs_path (const char *repo,
          const char *name)
{
  g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256,
                                                       test_hub_get_file (hub, name));
  return g_strdup_printf ("/cdn/%s/%s", repo, sha);
}

/* ---- tests -------------------------------------------------------------------------------- */

typedef struct
{
  guint   notifies;
  gint64  first_us;
  gint64  last_us;
  guint64 last_done;
  gboolean monotonic;
} ProgressLog;

static void
bytes_done_cb (KestrelDownloader *downloader,
               GParamSpec        *pspec,
               ProgressLog       *log)
{
  gint64 now = g_get_monotonic_time ();
  guint64 done = kestrel_downloader_get_bytes_done (downloader);

  if (log->notifies++ == 0)
    log->first_us = now;
  log->last_us = now;
  if (done < log->last_done)
    log->monotonic = FALSE;
  log->last_done = done;
}

static void
test_full_download (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) downloader = new_downloader ("kestrel-test/slow", destination);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) requests = NULL;
  ProgressLog log = { .monotonic = TRUE };
  double seconds;

  test_hub_reset (hub);
  g_signal_connect (downloader, "notify::bytes-done", G_CALLBACK (bytes_done_cb), &log);
  kestrel_downloader_set_token (downloader, TEST_HUB_TOKEN);

  g_assert_true (run_download (downloader, NULL, &error));
  g_assert_no_error (error);
  assert_checkpoint (destination);

  g_assert_cmpuint (kestrel_downloader_get_bytes_done (downloader), ==,
                    test_hub_get_total_size (hub));
  g_assert_cmpuint (kestrel_downloader_get_bytes_total (downloader), ==,
                    test_hub_get_total_size (hub));
  g_assert_cmpuint (kestrel_downloader_get_files_done (downloader), ==, 3);
  g_assert_cmpuint (kestrel_downloader_get_files_total (downloader), ==, 3);
  g_assert_cmpstr (kestrel_downloader_get_commit (downloader), ==, TEST_HUB_COMMIT);
  g_assert_cmpint (kestrel_downloader_get_eta (downloader), ==, 0);
  g_assert_null (kestrel_downloader_get_current_file (downloader));

  /* the trickled file takes ~0.5 s: progress came several times, but at most 10 a second
   * (+1 for the final update) */
  seconds = (log.last_us - log.first_us) / (double) G_USEC_PER_SEC;
  g_test_message ("%u bytes-done notifications over %.2f s", log.notifies, seconds);
  g_assert_cmpuint (log.notifies, >=, 3);
  g_assert_cmpfloat (log.notifies, <=, 10.0 * seconds + 2.0);
  g_assert_true (log.monotonic);

  /* the token went to the Hub's origin, never to the CDN it redirects to */
  requests = test_hub_get_requests (hub);
  g_assert_cmpuint (test_hub_count (hub, "/api/models/kestrel-test/slow/revision/main"), ==, 1);
  g_assert_cmpuint (test_hub_count (hub, "/cdn/"), ==, 2);
  for (guint i = 0; i < requests->len; i++)
    {
      TestHubRequest *request = g_ptr_array_index (requests, i);

      if (g_str_has_prefix (request->path, "/cdn/"))
        {
          g_assert_false (request->authorized);
          g_assert_true (g_str_has_prefix (request->host, "localhost:"));
        }
      else
        g_assert_true (request->authorized);
      g_assert_cmpint (request->range_start, ==, -1);
    }

  /* a second run finds everything in place and transfers nothing */
  test_hub_reset (hub);
  g_assert_true (run_download (downloader, NULL, &error));
  g_assert_cmpuint (test_hub_count (hub, "/api/"), ==, 1);
  g_assert_cmpuint (test_hub_count (hub, "/kestrel-test/"), ==, 0);
  g_assert_cmpuint (test_hub_count (hub, "/cdn/"), ==, 0);

  cleanup_destination (destination);
}

static void
test_resume_after_drop (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) downloader = new_downloader ("kestrel-test/dropping",
                                                            destination);
  g_autoptr(GError) error = NULL;
  g_autofree char *weights = lfs_path ("kestrel-test/dropping", "model.safetensors");

  test_hub_reset (hub);
  g_assert_true (run_download (downloader, NULL, &error));
  g_assert_no_error (error);
  assert_checkpoint (destination);

  /* first request cut after DROP_AFTER bytes, the second asked for the rest only */
  g_assert_cmpuint (test_hub_count (hub, weights), ==, 2);
  g_assert_cmpint (range_start_of (weights), ==, TEST_HUB_DROP_AFTER);

  cleanup_destination (destination);
}

/* Eight connections in a row break, each after 100 kB: with 4 attempts allowed, this only
 * completes because an attempt that moved the file forward does not count. */
static void
test_resume_repeatedly (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) downloader = new_downloader ("kestrel-test/stutter",
                                                            destination);
  g_autoptr(GError) error = NULL;
  g_autofree char *weights = lfs_path ("kestrel-test/stutter", "model.safetensors");
  gsize size = g_bytes_get_size (test_hub_get_file (hub, "model.safetensors"));

  test_hub_reset (hub);
  g_assert_true (run_download (downloader, NULL, &error));
  g_assert_no_error (error);
  assert_checkpoint (destination);
  g_assert_cmpuint (test_hub_count (hub, weights), ==,
                    (size + TEST_HUB_STUTTER_BYTES - 1) / TEST_HUB_STUTTER_BYTES);
  g_assert_cmpuint (test_hub_count (hub, weights), >, 4);

  cleanup_destination (destination);
}

typedef struct
{
  GCancellable *cancellable;
  guint64       threshold;
} CancelAt;

static void
cancel_at_cb (KestrelDownloader *downloader,
              GParamSpec        *pspec,
              CancelAt          *at)
{
  if (kestrel_downloader_get_bytes_done (downloader) >= at->threshold)
    g_cancellable_cancel (at->cancellable);
}

static void
test_cancel_and_resume (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) downloader = new_downloader ("kestrel-test/slow", destination);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) partial = g_file_get_child (destination, "model.safetensors.partial");
  g_autoptr(GFile) weights = g_file_get_child (destination, "model.safetensors");
  g_autoptr(GFileInfo) info = NULL;
  g_autofree char *weights_path = lfs_path ("kestrel-test/slow", "model.safetensors");
  CancelAt at = { cancellable, 128 * 1024 };
  gulong handler;
  guint64 kept;

  test_hub_reset (hub);
  handler = g_signal_connect (downloader, "notify::bytes-done", G_CALLBACK (cancel_at_cb), &at);
  g_assert_false (run_download (downloader, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_signal_handler_disconnect (downloader, handler);

  /* cancelled mid-file: the .partial stays, nothing under the final name */
  g_assert_false (g_file_query_exists (weights, NULL));
  info = g_file_query_info (partial, G_FILE_ATTRIBUTE_STANDARD_SIZE, 0, NULL, &error);
  g_assert_no_error (error);
  kept = g_file_info_get_size (info);
  g_assert_cmpuint (kept, >, 0);
  g_assert_cmpuint (kept, <, g_bytes_get_size (test_hub_get_file (hub, "model.safetensors")));

  /* the next run asks only for the rest */
  test_hub_reset (hub);
  g_assert_true (run_download (downloader, NULL, &error));
  g_assert_no_error (error);
  assert_checkpoint (destination);
  g_assert_cmpint (range_start_of (weights_path), ==, (gint64) kept);

  cleanup_destination (destination);
}

static void
test_checksum_failure (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) downloader = new_downloader ("kestrel-test/corrupt", destination);
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) weights = g_file_get_child (destination, "model.safetensors");
  g_autoptr(GFile) partial = g_file_get_child (destination, "model.safetensors.partial");

  test_hub_reset (hub);
  g_assert_false (run_download (downloader, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_CHECKSUM);
  g_assert_nonnull (strstr (error->message, "model.safetensors"));
  g_test_message ("%s", error->message);
  /* the damaged bytes are neither in place nor kept for a resume */
  g_assert_false (g_file_query_exists (weights, NULL));
  g_assert_false (g_file_query_exists (partial, NULL));

  cleanup_destination (destination);
}

static void
lookup_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  char **token = user_data;
  g_autoptr(GError) error = NULL;

  *token = kestrel_token_store_lookup_finish (KESTREL_TOKEN_STORE (object), result, &error);
  g_assert_no_error (error);
}

static void
store_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (kestrel_token_store_store_finish (KESTREL_TOKEN_STORE (object), result,
                                                   &error));
  g_assert_no_error (error);
  *done = TRUE;
}

static void
test_gated (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) downloader = new_downloader ("kestrel-test/gated", destination);
  g_autoptr(KestrelTokenStore) store = kestrel_memory_token_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  gboolean stored = FALSE;

  /* no token: 401 GatedRepo → explain the licence and the token */
  test_hub_reset (hub);
  g_assert_false (run_download (downloader, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_GATED);
  g_assert_nonnull (strstr (error->message, "gated"));
  g_assert_nonnull (strstr (error->message, "accept its licence"));
  g_assert_nonnull (strstr (error->message, "access token"));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* a token whose account has not accepted the licence: 403 GatedRepo */
  kestrel_downloader_set_token (downloader, "hf_NotAllowedToken");
  g_assert_false (run_download (downloader, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_GATED);
  g_assert_null (strstr (error->message, "hf_NotAllowedToken"));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* the right token, through a token store: downloads */
  kestrel_token_store_store_async (store, "  " TEST_HUB_TOKEN "\n", NULL, store_done_cb, &stored);
  while (!stored)
    g_main_context_iteration (NULL, TRUE);
  kestrel_token_store_lookup_async (store, NULL, lookup_done_cb, &token);
  while (token == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (token, ==, TEST_HUB_TOKEN);
  kestrel_downloader_set_token (downloader, token);
  g_assert_true (run_download (downloader, NULL, &error));
  g_assert_no_error (error);
  assert_checkpoint (destination);

  cleanup_destination (destination);
}

static void
test_not_found (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) unknown = new_downloader ("kestrel-test/nope", destination);
  g_autoptr(KestrelDownloader) revision = new_downloader ("kestrel-test/tiny", destination);
  g_autoptr(GError) error = NULL;

  g_assert_false (run_download (unknown, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "kestrel-test/nope"));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  kestrel_downloader_set_revision (revision, "missing");
  g_assert_false (run_download (revision, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "revision"));
  g_clear_error (&error);

  cleanup_destination (destination);
}

static void
test_server_errors (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) flaky = new_downloader ("kestrel-test/flaky", destination);
  g_autoptr(KestrelDownloader) down = new_downloader ("kestrel-test/down", destination);
  g_autoptr(GError) error = NULL;

  /* 503 twice, then OK: retried */
  test_hub_reset (hub);
  g_assert_true (run_download (flaky, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (test_hub_count (hub, "/api/models/kestrel-test/flaky/"), ==, 3);
  assert_checkpoint (destination);

  /* always 503: gives up after the attempts with a clear message */
  test_hub_reset (hub);
  g_assert_false (run_download (down, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_SERVER);
  g_assert_nonnull (strstr (error->message, "HTTP 503"));
  g_assert_nonnull (strstr (error->message, "try again later"));
  g_assert_cmpuint (test_hub_count (hub, "/api/models/kestrel-test/down/"), ==, 4);

  cleanup_destination (destination);
}

static void
test_network_down (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) downloader = new_downloader ("kestrel-test/tiny", destination);
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *endpoint = NULL;
  guint16 port;

  /* a port that was free a moment ago and has nobody listening */
  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (listener);
  endpoint = g_strdup_printf ("http://127.0.0.1:%u", port);
  kestrel_downloader_set_endpoint (downloader, endpoint);
  kestrel_downloader_set_retry_policy (downloader, 2, 10);

  g_assert_false (run_download (downloader, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NETWORK);
  g_assert_nonnull (strstr (error->message, "online"));
  g_test_message ("%s", error->message);

  cleanup_destination (destination);
}

static void
test_proxy_resolver (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) downloader = new_downloader ("kestrel-test/tiny", destination);
  g_autoptr(GProxyResolver) resolver = NULL;
  g_autoptr(GPtrArray) requests = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *proxy = g_strdup_printf ("http://127.0.0.1:%u", test_hub_get_port (hub));

  /* the default is no resolver of our own: libsoup's default, the system settings */
  g_assert_null (kestrel_downloader_get_proxy_resolver (downloader));

  /* a name that does not resolve: only the proxy can reach it */
  kestrel_downloader_set_endpoint (downloader, "http://hub.invalid");
  resolver = g_simple_proxy_resolver_new (proxy, NULL);
  kestrel_downloader_set_proxy_resolver (downloader, resolver);

  test_hub_reset (hub);
  g_assert_true (run_download (downloader, NULL, &error));
  g_assert_no_error (error);
  assert_checkpoint (destination);
  requests = test_hub_get_requests (hub);
  g_assert_cmpuint (requests->len, >=, 4);
  for (guint i = 0; i < requests->len; i++)
    g_assert_true (((TestHubRequest *) g_ptr_array_index (requests, i))->absolute);

  cleanup_destination (destination);
}

static void
test_bad_names (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autoptr(KestrelDownloader) evil = new_downloader ("kestrel-test/evil", destination);
  g_autoptr(KestrelDownloader) bad_id = new_downloader ("../../etc", destination);
  g_autoptr(GFile) parent = g_file_get_parent (destination);
  g_autoptr(GFile) escaped = g_file_get_child (parent, "evil");
  g_autoptr(GError) error = NULL;

  g_assert_false (run_download (bad_id, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_INVALID_REPO_ID);
  g_clear_error (&error);

  test_hub_reset (hub);
  g_assert_false (run_download (evil, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_INVALID_RESPONSE);
  g_assert_false (g_file_query_exists (escaped, NULL));
  g_assert_cmpuint (test_hub_count (hub, "/cdn/"), ==, 0);

  cleanup_destination (destination);
}

static void
test_default_destination (void)
{
  g_autoptr(GFile) file = kestrel_downloader_default_destination (KESTREL_DEFAULT_MODEL_REPO);
  g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "kestrel", "models",
                                                "BCCard--gemma-3-4b-it-FP8-Dynamic", NULL);
  g_autofree char *path = g_file_get_path (file);

  g_assert_cmpstr (path, ==, expected);
}

/* ---- disk full, in a tmpfs of a private mount namespace ----------------------------------- */

#define TMPFS_SIZE_KB 1024

static char *tmpfs_dir;      /* set in the child when the tmpfs is mounted */
static char *tmpfs_failure;  /* why not, otherwise */

static gboolean
write_file (const char *path,
            const char *text)
{
  int fd = open (path, O_WRONLY);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = write (fd, text, strlen (text)) == (ssize_t) strlen (text);
  close (fd);
  return ok;
}

/* Runs before g_test_init(), while the process has one thread (unshare needs that). */
static void
maybe_enter_tmpfs (void)
{
  const char *dir = g_getenv ("KESTREL_TEST_TMPFS");
  g_autofree char *map = NULL;
  uid_t uid = getuid ();
  gid_t gid = getgid ();
  char options[64];

  if (dir == NULL)
    return;
  if (unshare (uid == 0 ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) != 0)
    {
      tmpfs_failure = g_strdup_printf ("unshare: %s", g_strerror (errno));
      return;
    }
  if (uid != 0)
    {
      map = g_strdup_printf ("%u %u 1", uid, uid);
      write_file ("/proc/self/setgroups", "deny");
      if (!write_file ("/proc/self/uid_map", map))
        {
          tmpfs_failure = g_strdup ("cannot write uid_map");
          return;
        }
      g_free (map);
      map = g_strdup_printf ("%u %u 1", gid, gid);
      write_file ("/proc/self/gid_map", map);
    }
  mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  g_snprintf (options, sizeof options, "size=%uk", TMPFS_SIZE_KB);
  if (mount ("tmpfs", dir, "tmpfs", 0, options) != 0)
    {
      tmpfs_failure = g_strdup_printf ("mount tmpfs: %s", g_strerror (errno));
      return;
    }
  tmpfs_dir = g_strdup (dir);
}

typedef struct
{
  char     *filler;
  gboolean  filled;
} Filler;

/* Once the download is under way, take the rest of the tmpfs. */
static void
fill_disk_cb (KestrelDownloader *downloader,
              GParamSpec        *pspec,
              Filler            *filler)
{
  g_autofree guint8 *block = NULL;
  int fd;

  if (filler->filled || kestrel_downloader_get_bytes_done (downloader) < 64 * 1024)
    return;
  filler->filled = TRUE;
  block = g_malloc0 (64 * 1024);
  fd = open (filler->filler, O_WRONLY | O_CREAT, 0644);
  g_assert_cmpint (fd, >=, 0);
  while (write (fd, block, 64 * 1024) > 0)
    ;
  while (write (fd, block, 512) > 0)
    ;
  close (fd);
}

static void
test_disk_full_child (void)
{
  g_autoptr(GFile) destination = NULL;
  g_autoptr(GFile) small_tmpfs = NULL;
  g_autoptr(KestrelDownloader) downloader = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) partial = NULL;
  g_autofree char *marker = NULL;
  g_autofree char *small = NULL;
  Filler filler = { 0 };

  if (!g_test_subprocess ())
    {
      g_test_skip ("runs inside /download/disk-full");
      return;
    }
  if (tmpfs_dir == NULL)
    {
      g_printerr ("tmpfs unavailable: %s\n", tmpfs_failure ? tmpfs_failure : "not asked for");
      return;
    }

  /* 1. before starting: the checkpoint (~0.9 MB) does not fit in what is left */
  small = g_build_filename (tmpfs_dir, "big", NULL);
  g_file_set_contents (small, "", 0, NULL);
  {
    /* leave ~400 kB free */
    g_autofree guint8 *block = g_malloc0 ((TMPFS_SIZE_KB - 400) * 1024);

    g_assert_true (g_file_set_contents (small, (const char *) block,
                                        (TMPFS_SIZE_KB - 400) * 1024, NULL));
  }
  destination = g_file_new_build_filename (tmpfs_dir, "model", NULL);
  downloader = new_downloader ("kestrel-test/slow", destination);
  test_hub_reset (hub);
  g_assert_false (run_download (downloader, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "No space left: needs"));
  g_test_message ("%s", error->message);
  g_assert_cmpuint (test_hub_count (hub, "/cdn/"), ==, 0);
  g_clear_error (&error);
  g_unlink (small);

  /* 2. while writing: something else takes the space mid-download */
  filler.filler = g_build_filename (tmpfs_dir, "filler", NULL);
  g_signal_connect (downloader, "notify::bytes-done", G_CALLBACK (fill_disk_cb), &filler);
  g_assert_false (run_download (downloader, NULL, &error));
  g_assert_true (filler.filled);
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "model.safetensors"));
  g_test_message ("%s", error->message);
  partial = g_file_get_child (destination, "model.safetensors.partial");
  g_assert_true (g_file_query_exists (partial, NULL));
  g_clear_error (&error);

  /* 3. space again: the download resumes and completes */
  g_unlink (filler.filler);
  g_signal_handlers_disconnect_by_data (downloader, &filler);
  g_assert_true (run_download (downloader, NULL, &error));
  g_assert_no_error (error);
  assert_checkpoint (destination);
  g_assert_cmpint (range_start_of ("/cdn/kestrel-test/slow/"), >, 0);
  g_free (filler.filler);

  /* tell the parent that this really ran */
  marker = g_strconcat (g_getenv ("KESTREL_TEST_TMPFS"), ".ran", NULL);
  g_assert_true (g_file_set_contents (marker, "", 0, NULL));
}

static void
test_disk_full (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_dir_make_tmp ("kestrel-diskfull-XXXXXX", &error);
  g_autofree char *mount_point = g_build_filename (base, "tmpfs", NULL);
  g_autofree char *marker = g_strconcat (mount_point, ".ran", NULL);
  g_auto(GStrv) envp = g_get_environ ();

  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir (mount_point, 0700), ==, 0);
  envp = g_environ_setenv (envp, "KESTREL_TEST_TMPFS", mount_point, TRUE);
  g_test_trap_subprocess_with_envp ("/download/disk-full/child", (const char * const *) envp,
                                    30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  if (!g_file_test (marker, G_FILE_TEST_EXISTS))
    g_test_skip ("cannot mount a private tmpfs here (no user namespaces)");
  g_unlink (marker);
  g_rmdir (mount_point);
  g_rmdir (base);
}

/* ---- kestrel-cli download ---------------------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  char      *out;
  char      *err;
} CliRun;

static void
communicate_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  CliRun *run = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (object), result, &run->out, &run->err,
                                        &error);
  g_assert_no_error (error);
  g_main_loop_quit (run->loop);
}

/* Runs kestrel-cli with the hub as endpoint and no keyring; the hub answers from this
 * process, so the main loop runs meanwhile. */
static int
run_cli (const char  *stdin_text,
         char       **out,
         char       **err,
         ...)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  CliRun run = { g_main_loop_new (NULL, FALSE), NULL, NULL };
  const char *build_dir = g_getenv ("KESTREL_BUILD_DIR");
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, g_build_filename (build_dir, "app", "cli", "kestrel-cli", NULL));
  g_ptr_array_add (argv, g_strdup ("download"));
  va_start (ap, err);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "KESTREL_HF_ENDPOINT", test_hub_get_endpoint (hub),
                                TRUE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS",
                                "unix:path=/nonexistent/kestrel-test-bus", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "DISPLAY");
  g_subprocess_launcher_setenv (launcher, "G_MESSAGES_DEBUG", "all", TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, stdin_text ? stdin_text : "", NULL,
                                       communicate_cb, &run);
  g_main_loop_run (run.loop);
  g_main_loop_unref (run.loop);
  *out = run.out;
  *err = run.err;
  return g_subprocess_get_exit_status (process);
}

static void
test_cli (void)
{
  g_autoptr(GFile) destination = new_destination ();
  g_autofree char *dir = g_file_get_path (destination);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *expected_out = g_strconcat (dir, "\n", NULL);
  int status;

  if (g_getenv ("KESTREL_BUILD_DIR") == NULL)
    {
      g_test_skip ("KESTREL_BUILD_DIR is not set (run through meson test)");
      return;
    }

  /* gated without a token: exit 1 and the explanation */
  status = run_cli (NULL, &out, &err, "kestrel-test/gated", "--dir", dir, NULL);
  g_test_message ("stderr: %s", err);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "This model is gated"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* with the token on stdin (no keyring here: used for this run only); not a terminal, so
   * plain progress lines; the folder on stdout */
  status = run_cli (TEST_HUB_TOKEN "\n", &out, &err, "kestrel-test/gated", "--dir", dir,
                    "--token-from-stdin", NULL);
  g_test_message ("stderr: %s", err);
  g_assert_cmpint (status, ==, 0);
  /* stdout ends with the folder (with G_MESSAGES_DEBUG=all, GLib's debug lines precede it:
   * all of them are checked for the token below) */
  g_assert_true (g_str_has_suffix (out, expected_out));
  g_assert_nonnull (strstr (err, "for this download only"));
  g_assert_nonnull (strstr (err, "100%"));
  g_assert_nonnull (strstr (err, "Done: 3 files"));
  g_assert_null (strchr (err, '\r'));
  g_assert_null (strstr (err, TEST_HUB_TOKEN));
  g_assert_null (strstr (out, TEST_HUB_TOKEN));
  assert_checkpoint (destination);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* usage errors */
  status = run_cli (NULL, &out, &err, "not a repo", NULL);
  g_assert_cmpint (status, ==, 2);

  cleanup_destination (destination);
}

static void
test_token_never_logged (void)
{
  g_mutex_lock (&log_lock);
  /* the earlier tests did log (so this can fail), but never the token */
  g_assert_cmpuint (log_text->len, >, 0);
  g_assert_nonnull (strstr (log_text->str, "GET /api/models/kestrel-test/gated"));
  g_assert_null (strstr (log_text->str, TEST_HUB_TOKEN));
  g_assert_null (strstr (log_text->str, "hf_NotAllowedToken"));
  g_mutex_unlock (&log_lock);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  maybe_enter_tmpfs ();

  log_text = g_string_new (NULL);
  g_log_set_writer_func (capture_log_writer, NULL, NULL);
  g_log_set_debug_enabled (TRUE);
  g_unsetenv ("http_proxy");
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("all_proxy");
  g_unsetenv ("ALL_PROXY");
  g_test_init (&argc, &argv, NULL);
  previous_handler = g_log_set_default_handler (capture_log_handler, NULL);

  hub = test_hub_new ();

  g_test_add_func ("/download/full", test_full_download);
  g_test_add_func ("/download/resume-after-drop", test_resume_after_drop);
  g_test_add_func ("/download/resume-repeatedly", test_resume_repeatedly);
  g_test_add_func ("/download/cancel-and-resume", test_cancel_and_resume);
  g_test_add_func ("/download/checksum", test_checksum_failure);
  g_test_add_func ("/download/gated", test_gated);
  g_test_add_func ("/download/not-found", test_not_found);
  g_test_add_func ("/download/server-errors", test_server_errors);
  g_test_add_func ("/download/network-down", test_network_down);
  g_test_add_func ("/download/proxy-resolver", test_proxy_resolver);
  g_test_add_func ("/download/bad-names", test_bad_names);
  g_test_add_func ("/download/default-destination", test_default_destination);
  g_test_add_func ("/download/disk-full", test_disk_full);
  g_test_add_func ("/download/disk-full/child", test_disk_full_child);
  g_test_add_func ("/download/cli", test_cli);
  g_test_add_func ("/download/token-never-logged", test_token_never_logged);

  status = g_test_run ();
  test_hub_free (hub);
  g_string_free (log_text, TRUE);
  return status;
}
