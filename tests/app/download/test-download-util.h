/* test-download-util.h — what the downloader tests share.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-download-error.h"
#include "kestrel-downloader.h"
#include "test-hub-server.h"

G_BEGIN_DECLS

/* The hub of this test program (each main() starts one). */
extern TestHub *hub;

/* Runs a download to the end in the default main context (the hub's sockets are accepted
 * there too); asserts that no error message contains the test token. */
gboolean           run_download        (KestrelDownloader  *downloader,
                                        GCancellable       *cancellable,
                                        GError            **error);
/* A downloader for @repo_id on the hub, retrying 4 times 10 ms apart. */
KestrelDownloader *new_downloader      (const char         *repo_id,
                                        GFile              *destination);
/* TMP/kestrel-download-XXXXXX/model (not created) */
GFile             *new_destination     (void);
/* Deletes what new_destination() made. */
void               cleanup_destination (GFile              *destination);
/* Every file of the hub's checkpoint is in @destination, byte for byte, and no .partial. */
void               assert_checkpoint   (GFile              *destination);
/* The start of the last Range request for a path starting with @path_prefix, or -1. */
gint64             range_start_of      (const char         *path_prefix);
/* The hub's CDN path of an LFS file. */
char              *lfs_path            (const char         *repo,
                                        const char         *name);

/* Unsets the proxy environment variables (before any thread starts). */
void               isolate_from_host_proxy (void);

G_END_DECLS
