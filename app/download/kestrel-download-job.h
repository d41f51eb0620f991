/* kestrel-download-job.h — the blocking work of one download (internal to KestrelDownloader).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-hub-client.h"

G_BEGIN_DECLS

typedef struct
{
  guint64     bytes_done;        /* bytes in place or in .partial files */
  guint64     bytes_total;
  guint64     bytes_transferred; /* received over the network by this run (for the speed) */
  guint       files_done;
  guint       files_total;
  const char *current_file;      /* NULL between files */
  const char *commit;            /* NULL until the file list is known */
} KestrelDownloadProgress;

/* Called from the worker thread, after each chunk. */
typedef void (*KestrelDownloadProgressFunc) (const KestrelDownloadProgress *progress,
                                             gpointer                       user_data);

typedef struct
{
  KestrelHubClient            *client;
  const char                  *repo_id;
  const char                  *revision;
  GFile                       *destination;
  guint                        max_attempts;
  guint                        first_delay_ms;
  KestrelDownloadProgressFunc  progress_func;
  gpointer                     progress_data;
} KestrelDownloadJob;

/* Runs the whole download in the calling thread. */
gboolean kestrel_download_job_run (const KestrelDownloadJob  *job,
                                   GCancellable              *cancellable,
                                   GError                   **error);

G_END_DECLS
