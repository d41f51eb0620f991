/* kestrel-model-library.h — the models on disk, as a GListModel of KestrelModelEntry.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-model-entry.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_MODEL_LIBRARY (kestrel_model_library_get_type ())

G_DECLARE_FINAL_TYPE (KestrelModelLibrary, kestrel_model_library, KESTREL, MODEL_LIBRARY, GObject)

/* The Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub (huggingface_hub's order). */
GFile               *kestrel_model_library_default_hf_cache  (void);
/* Where KestrelDownloader puts models by default: $XDG_DATA_HOME/kestrel/models. */
GFile               *kestrel_model_library_default_downloads (void);

/* An empty library; add roots, then refresh. */
KestrelModelLibrary *kestrel_model_library_new               (void);
/* Adds the cache (and ~/.cache/huggingface/hub when that differs, as in Flatpak) and
 * Kestrel's downloads folder. */
void                 kestrel_model_library_add_default_roots (KestrelModelLibrary *self);
/* @root is a hub cache (HF_CACHE: models--org--name/snapshots/<commit>), a folder of model
 * folders (DOWNLOADS, FOLDER), or a model folder itself (FOLDER, config.json inside). */
void                 kestrel_model_library_add_root          (KestrelModelLibrary *self,
                                                              GFile               *root,
                                                              KestrelModelSource   source);

/* Scans the roots in a thread and replaces the list (one items-changed). */
void                 kestrel_model_library_refresh_async     (KestrelModelLibrary  *self,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
gboolean             kestrel_model_library_refresh_finish    (KestrelModelLibrary  *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);

/* Deletes the model's files (for the cache: its whole models--org--name folder, blobs
 * included) and drops it from the list. */
void                 kestrel_model_library_remove_async      (KestrelModelLibrary  *self,
                                                              KestrelModelEntry    *entry,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
gboolean             kestrel_model_library_remove_finish     (KestrelModelLibrary  *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);

G_END_DECLS
