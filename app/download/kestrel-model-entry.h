/* kestrel-model-entry.h — a model found on disk: name, folder, size, format.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  KESTREL_MODEL_SOURCE_HF_CACHE,  /* ~/.cache/huggingface/hub/models--org--name/snapshots/… */
  KESTREL_MODEL_SOURCE_DOWNLOADS, /* Kestrel's own downloads: $XDG_DATA_HOME/kestrel/models */
  KESTREL_MODEL_SOURCE_FOLDER,    /* a folder the user picked */
} KestrelModelSource;

#define KESTREL_TYPE_MODEL_ENTRY (kestrel_model_entry_get_type ())

G_DECLARE_FINAL_TYPE (KestrelModelEntry, kestrel_model_entry, KESTREL, MODEL_ENTRY, GObject)

/* Reads @folder/config.json and sums the sizes of the files in @folder (following the cache's
 * symlinks).  @removable is what removing the model deletes (the folder itself, or the whole
 * models--org--name of the cache).  NULL with an error when there is no usable config.json. */
KestrelModelEntry *kestrel_model_entry_new_from_folder (GFile               *folder,
                                                        GFile               *removable,
                                                        const char          *name,
                                                        KestrelModelSource   source,
                                                        GCancellable        *cancellable,
                                                        GError             **error);

const char         *kestrel_model_entry_get_name         (KestrelModelEntry *self);
GFile              *kestrel_model_entry_get_folder       (KestrelModelEntry *self);
GFile              *kestrel_model_entry_get_removable    (KestrelModelEntry *self);
guint64             kestrel_model_entry_get_size         (KestrelModelEntry *self);
/* "FP8 (compressed-tensors, dynamic activations)", "BF16", "GPTQ 4-bit"… */
const char         *kestrel_model_entry_get_format       (KestrelModelEntry *self);
/* config.json's model_type, e.g. "gemma3"; NULL when absent */
const char         *kestrel_model_entry_get_architecture (KestrelModelEntry *self);
KestrelModelSource  kestrel_model_entry_get_source       (KestrelModelEntry *self);
/* FALSE while .partial files are left (an unfinished download) */
gboolean            kestrel_model_entry_get_complete     (KestrelModelEntry *self);

/* The format of a checkpoint from the text of its config.json (exposed for tests). */
char               *kestrel_model_format_from_config     (const char  *config_json,
                                                          gssize       length,
                                                          char       **architecture,
                                                          GError     **error);

G_END_DECLS
