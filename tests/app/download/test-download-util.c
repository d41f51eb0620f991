/* test-download-util.c — what the downloader tests share: the hub, running a download,
 * temporary folders, checking the result.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "test-download-util.h"

TestHub *hub;


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

gboolean
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

KestrelDownloader *
new_downloader (const char *repo_id,
                GFile      *destination)
{
  KestrelDownloader *downloader = kestrel_downloader_new (repo_id, destination);

  kestrel_downloader_set_endpoint (downloader, test_hub_get_endpoint (hub));
  kestrel_downloader_set_retry_policy (downloader, 4, 10);
  return downloader;
}

GFile *
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

void
cleanup_destination (GFile *destination)
{
  g_autoptr(GFile) parent = g_file_get_parent (destination);

  delete_tree (parent);
}

void
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

gint64
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

char *
lfs_path (const char *repo,
          const char *name)
{
  g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256,
                                                       test_hub_get_file (hub, name));
  return g_strdup_printf ("/cdn/%s/%s", repo, sha);
}

void
isolate_from_host_proxy (void)
{
  static const char *names[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                 "all_proxy", "ALL_PROXY" };

  /* the hub is on 127.0.0.1: a proxy from the environment must not get in between */
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_unsetenv (names[i]);
}
