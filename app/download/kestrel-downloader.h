/* kestrel-downloader.h — downloads one model repository from the Hugging Face Hub.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define KESTREL_DEFAULT_MODEL_REPO "BCCard/gemma-3-4b-it-FP8-Dynamic"

#define KESTREL_TYPE_DOWNLOADER (kestrel_downloader_get_type ())

G_DECLARE_FINAL_TYPE (KestrelDownloader, kestrel_downloader, KESTREL, DOWNLOADER, GObject)

/* Where Kestrel keeps the models it downloads: $XDG_DATA_HOME/kestrel/models/ORG--NAME. */
GFile             *kestrel_downloader_default_destination (const char *repo_id);

/* @repo_id: "org/name"; @destination: the folder the files go to (created if needed). */
KestrelDownloader *kestrel_downloader_new              (const char        *repo_id,
                                                        GFile             *destination);

const char        *kestrel_downloader_get_repo_id      (KestrelDownloader *self);
GFile             *kestrel_downloader_get_destination  (KestrelDownloader *self);
const char        *kestrel_downloader_get_revision     (KestrelDownloader *self);
void               kestrel_downloader_set_revision     (KestrelDownloader *self,
                                                        const char        *revision);
/* NULL: kestrel_hub_default_endpoint() ($KESTREL_HF_ENDPOINT, $HF_ENDPOINT, huggingface.co) */
const char        *kestrel_downloader_get_endpoint     (KestrelDownloader *self);
void               kestrel_downloader_set_endpoint     (KestrelDownloader *self,
                                                        const char        *endpoint);
/* NULL (the default) keeps the system proxy settings. */
GProxyResolver    *kestrel_downloader_get_proxy_resolver (KestrelDownloader *self);
void               kestrel_downloader_set_proxy_resolver (KestrelDownloader *self,
                                                          GProxyResolver    *resolver);
/* The Hugging Face access token (NULL: none).  It is kept in memory only, never logged and
 * never a readable property. */
void               kestrel_downloader_set_token        (KestrelDownloader *self,
                                                        const char        *token);
/* Transient failures (5xx, network) are retried @max_attempts times in all, waiting
 * @first_delay_ms, then twice as long each time (capped at 30 s).  Default: 5, 1000 ms. */
void               kestrel_downloader_set_retry_policy (KestrelDownloader *self,
                                                        guint              max_attempts,
                                                        guint              first_delay_ms);

/* Progress, updated at most 10 times a second while a download runs (explicit notify). */
guint64            kestrel_downloader_get_bytes_done   (KestrelDownloader *self);
guint64            kestrel_downloader_get_bytes_total  (KestrelDownloader *self);
/* bytes/s, moving average over the last seconds; 0 when unknown */
double             kestrel_downloader_get_speed        (KestrelDownloader *self);
/* seconds left, -1 when unknown */
gint64             kestrel_downloader_get_eta          (KestrelDownloader *self);
const char        *kestrel_downloader_get_current_file (KestrelDownloader *self);
guint              kestrel_downloader_get_files_done   (KestrelDownloader *self);
guint              kestrel_downloader_get_files_total  (KestrelDownloader *self);
/* The commit the revision resolved to, once the file list is known. */
const char        *kestrel_downloader_get_commit       (KestrelDownloader *self);

/* Lists the files, checks free space, downloads what is missing (resuming .partial files),
 * verifies sizes and hashes and renames each file into place.  Files already in place are
 * kept.  Errors are KESTREL_DOWNLOAD_ERROR (or G_IO_ERROR_CANCELLED); a failed or cancelled
 * download keeps its .partial files so that the next run resumes.  One run at a time. */
void               kestrel_downloader_download_async   (KestrelDownloader   *self,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
gboolean           kestrel_downloader_download_finish  (KestrelDownloader   *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

G_END_DECLS
