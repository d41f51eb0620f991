/* kestrel-model-status-page.h — first run: choose the model folder.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Emits "folder-chosen" (GFile *folder) when the user picks a folder with the file chooser
 * or accepts the copy of the model found in the Hugging Face cache, and
 * "download-requested" from the download button, which shows only while "can-download" is
 * set (by whoever handles the signal with the downloader).
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define KESTREL_MODEL_REPO_ID "BCCard/gemma-3-4b-it-FP8-Dynamic"

#define KESTREL_TYPE_MODEL_STATUS_PAGE (kestrel_model_status_page_get_type ())

G_DECLARE_FINAL_TYPE (KestrelModelStatusPage, kestrel_model_status_page, KESTREL, MODEL_STATUS_PAGE, GtkWidget)

GtkWidget *kestrel_model_status_page_new          (void);
/* The snapshot folder of the model in the Hugging Face cache (see
 * kestrel_model_library_default_hf_cache()) that has a config.json, or NULL. */
GFile     *kestrel_model_status_page_find_cached_model (void);
gboolean   kestrel_model_status_page_get_can_download (KestrelModelStatusPage *self);
void       kestrel_model_status_page_set_can_download (KestrelModelStatusPage *self,
                                                      gboolean                can_download);
/* The detected folder the page offers, or NULL. */
GFile     *kestrel_model_status_page_get_detected_folder (KestrelModelStatusPage *self);

G_END_DECLS
