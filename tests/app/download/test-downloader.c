/* test-downloader.c — KestrelDownloader against a Hub look-alike on 127.0.0.1.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Full download, skipping files in place, resume after a dropped connection and after a
 * cancel, checksum failure, gated repositories (401/403) and the token, 404s, 5xx retries,
 * network down, the proxy resolver, unsafe names, progress throttling, and that the token
 * shows up in no message and no log line.  Disk full and kestrel-cli: test-download-*.c.
 */
#include "config.h"

#include <string.h>

#include "kestrel-memory-token-store.h"
#include "test-download-util.h"

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


/* ---- tests -------------------------------------------------------------------------------- */

typedef struct
{
  guint   notifies;
  gint64  first_us;
  gint64  last_us;
  guint64 first_done;
  guint64 last_done;
  gboolean monotonic;
  double last_speed;   /* the last non-zero speed reported while running */
  guint64 running_done; /* bytes done at that moment */
} ProgressLog;

static void
bytes_done_cb (KestrelDownloader *downloader,
               GParamSpec        *pspec,
               ProgressLog       *log)
{
  gint64 now = g_get_monotonic_time ();
  guint64 done = kestrel_downloader_get_bytes_done (downloader);

  if (log->notifies++ == 0)
    {
      log->first_us = now;
      log->first_done = done;
    }
  if (kestrel_downloader_get_speed (downloader) > 0)
    {
      log->last_us = now;
      log->last_speed = kestrel_downloader_get_speed (downloader);
      log->running_done = done;
    }
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

  /* the speed agrees with what the test saw arrive (within a factor of 2: the first
   * notification's bytes arrived before it, the moving average lags a little) */
  {
    double seen = (log.running_done - log.first_done) / seconds;

    g_test_message ("reported speed %.0f B/s, observed %.0f B/s", log.last_speed, seen);
    g_assert_cmpfloat (log.last_speed, >, seen / 2);
    g_assert_cmpfloat (log.last_speed, <, seen * 2);
  }

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

  /* file list 503 twice, then OK; a file 500 once, then OK: both retried */
  test_hub_reset (hub);
  g_assert_true (run_download (flaky, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (test_hub_count (hub, "/api/models/kestrel-test/flaky/"), ==, 3);
  g_assert_cmpuint (test_hub_count (hub, "/kestrel-test/flaky/resolve/" TEST_HUB_COMMIT
                                    "/config.json"), ==, 2);
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

  /* a malformed endpoint is an error too, not a crash */
  {
    g_autoptr(KestrelDownloader) bad_endpoint = new_downloader ("kestrel-test/tiny", destination);

    kestrel_downloader_set_endpoint (bad_endpoint, "::not a url::");
    kestrel_downloader_set_retry_policy (bad_endpoint, 1, 0);
    g_assert_false (run_download (bad_endpoint, NULL, &error));
    g_assert_nonnull (error);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
  }

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

  log_text = g_string_new (NULL);
  g_log_set_writer_func (capture_log_writer, NULL, NULL);
  g_log_set_debug_enabled (TRUE);
  isolate_from_host_proxy ();
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
  g_test_add_func ("/download/token-never-logged", test_token_never_logged);

  status = g_test_run ();
  test_hub_free (hub);
  g_string_free (log_text, TRUE);
  return status;
}
