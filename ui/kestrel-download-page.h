/* kestrel-download-page.h — downloads a model from Hugging Face, with progress and errors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A dialog around one KestrelDownloader: the repository id, Download, the progress (bytes,
 * speed, time left, current file) from the downloader's properties, Cancel, and the
 * failures with Retry — for gated or private models with an access-token entry whose
 * token goes to the KestrelTokenStore (the keyring), never to a label or a log.  Emits
 * "finished" (GFile *folder) when the model is complete on disk.
 */
#pragma once

#include <adwaita.h>

#include "kestrel-downloader.h"
#include "kestrel-token-store.h"

G_BEGIN_DECLS

typedef enum
{
  KESTREL_DOWNLOAD_PAGE_IDLE,     /* nothing running (also after a cancel) */
  KESTREL_DOWNLOAD_PAGE_RUNNING,
  KESTREL_DOWNLOAD_PAGE_FAILED,   /* an error with Retry */
  KESTREL_DOWNLOAD_PAGE_DONE,
} KestrelDownloadPageState;

#define KESTREL_TYPE_DOWNLOAD_PAGE_STATE (kestrel_download_page_state_get_type ())
GType kestrel_download_page_state_get_type (void) G_GNUC_CONST;

#define KESTREL_TYPE_DOWNLOAD_PAGE (kestrel_download_page_get_type ())

G_DECLARE_FINAL_TYPE (KestrelDownloadPage, kestrel_download_page, KESTREL, DOWNLOAD_PAGE, AdwDialog)

AdwDialog                *kestrel_download_page_new              (KestrelTokenStore   *token_store);
const char               *kestrel_download_page_get_repo_id      (KestrelDownloadPage *self);
void                      kestrel_download_page_set_repo_id      (KestrelDownloadPage *self,
                                                                  const char          *repo_id);
/* NULL (the default): kestrel_hub_default_endpoint(). */
void                      kestrel_download_page_set_endpoint     (KestrelDownloadPage *self,
                                                                  const char          *endpoint);
/* Passed on to each downloader (kestrel_downloader_set_retry_policy); 0 keeps its default. */
void                      kestrel_download_page_set_retry_policy (KestrelDownloadPage *self,
                                                                  guint                max_attempts,
                                                                  guint                first_delay_ms);
KestrelDownloadPageState  kestrel_download_page_get_state        (KestrelDownloadPage *self);
/* The downloader of the current or last run, or NULL. */
KestrelDownloader        *kestrel_download_page_get_downloader   (KestrelDownloadPage *self);
/* The error shown in the FAILED state, or NULL. */
const GError             *kestrel_download_page_get_error        (KestrelDownloadPage *self);
/* Starts downloading the repository in the entry, as the Download and Retry buttons do. */
void                      kestrel_download_page_start            (KestrelDownloadPage *self);
void                      kestrel_download_page_cancel           (KestrelDownloadPage *self);
/* Shows @error as the download's failure (FAILED state, with Retry). */
void                      kestrel_download_page_show_error       (KestrelDownloadPage *self,
                                                                  const GError        *error);

G_END_DECLS
