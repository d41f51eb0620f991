/* kestrel-engine.h — the engine worker: one thread owns the model and its sessions.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-engine-types.h"
#include "kestrel-generation.h"

G_BEGIN_DECLS

#define KESTREL_ENGINE_ERROR (kestrel_engine_error_quark ())

typedef enum
{
  KESTREL_ENGINE_ERROR_FAILED,
  KESTREL_ENGINE_ERROR_NOT_LOADED,     /* no model is loaded */
  KESTREL_ENGINE_ERROR_INVALID_MODEL,  /* the folder is not a usable Gemma 3 model */
  KESTREL_ENGINE_ERROR_UNSUPPORTED,
  KESTREL_ENGINE_ERROR_NO_DEVICE,      /* no usable NVIDIA GPU */
  KESTREL_ENGINE_ERROR_DEVICE_MEMORY,  /* not enough GPU memory */
  KESTREL_ENGINE_ERROR_DEVICE,         /* the GPU failed; reload to recover */
  KESTREL_ENGINE_ERROR_CONTEXT_FULL,   /* the message does not fit in the context */
  KESTREL_ENGINE_ERROR_INVALID_INPUT,  /* e.g. an image the engine refuses */
} KestrelEngineError;

GQuark kestrel_engine_error_quark (void);

typedef enum
{
  KESTREL_ENGINE_EMPTY,    /* no model */
  KESTREL_ENGINE_LOADING,
  KESTREL_ENGINE_READY,
  KESTREL_ENGINE_FAILED,   /* the last load failed; see kestrel_engine_get_error() */
} KestrelEngineState;

typedef enum
{
  KESTREL_BACKEND_AUTO,    /* CUDA when a usable GPU exists, else the CPU with a notice */
  KESTREL_BACKEND_CPU,
  KESTREL_BACKEND_CUDA,
  KESTREL_BACKEND_REPLAY,  /* tests and demos: replays the script set with set_replay_script() */
} KestrelBackendChoice;

#define KESTREL_TYPE_ENGINE (kestrel_engine_get_type ())

G_DECLARE_FINAL_TYPE (KestrelEngine, kestrel_engine, KESTREL, ENGINE, GObject)

KestrelEngine      *kestrel_engine_new                (void);

void                kestrel_engine_load_async         (KestrelEngine        *self,
                                                       const char           *model_dir,
                                                       KestrelBackendChoice  backend,
                                                       int                   gpu_index,
                                                       guint                 max_context,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
gboolean            kestrel_engine_load_finish        (KestrelEngine        *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);
void                kestrel_engine_unload             (KestrelEngine        *self);
/* The script KESTREL_BACKEND_REPLAY loads: {"replies": ["model turn 1", …]} (ke-engine.h). */
void                kestrel_engine_set_replay_script  (KestrelEngine        *self,
                                                       const char           *path);
/* The CUDA GPUs that share the model from the next load on (tensor parallelism,
 * docs/tensor-parallel.md); none (the default) = the gpu_index of each load, one = that
 * GPU.  GPUs that cannot share it make an AUTO load use the first of them alone, with a
 * notice. */
void                kestrel_engine_set_gpus           (KestrelEngine        *self,
                                                       const int            *indices,
                                                       gsize                 n_indices);
/* A GPU list as the preferences and kestrel-cli --gpus take it ("0,1"): an array of int,
 * or NULL with G_IO_ERROR_INVALID_ARGUMENT saying what is wrong.  "" is the empty list. */
GArray             *kestrel_gpu_list_parse            (const char           *text,
                                                       GError              **error);
/* "0,1" for {0, 1}. */
char               *kestrel_gpu_list_format           (const int            *indices,
                                                       gsize                 n_indices);

/* Starts a reply to `turns` (the whole conversation; the engine reuses what it has
 * cached for `conversation_id` and reads only what changed).  Returns the reply; watch
 * its "delta" and "finished" signals. */
KestrelGeneration  *kestrel_engine_generate           (KestrelEngine                 *self,
                                                       const char                    *conversation_id,
                                                       GPtrArray                     *turns,
                                                       const KestrelSamplingSettings *settings);

void                kestrel_engine_count_tokens_async (KestrelEngine        *self,
                                                       GPtrArray            *turns,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
gssize              kestrel_engine_count_tokens_finish (KestrelEngine       *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);

/* Images also as pan-and-scan crops in the next requests (the "pan-and-scan" property). */
void                kestrel_engine_set_pan_and_scan   (KestrelEngine        *self,
                                                       gboolean              pan_and_scan);
gboolean            kestrel_engine_get_pan_and_scan   (KestrelEngine        *self);

/* Forgets the cached session of a conversation (e.g. when it is deleted). */
void                kestrel_engine_forget_conversation (KestrelEngine       *self,
                                                       const char           *conversation_id);

KestrelEngineState  kestrel_engine_get_state          (KestrelEngine        *self);
double              kestrel_engine_get_load_fraction  (KestrelEngine        *self);
const char         *kestrel_engine_get_load_stage     (KestrelEngine        *self);
const char         *kestrel_engine_get_backend_name   (KestrelEngine        *self);
const char         *kestrel_engine_get_device_name    (KestrelEngine        *self);
/* A sentence for the user when something is worth knowing ("No NVIDIA GPU found — using
 * the CPU"), or NULL. */
const char         *kestrel_engine_get_notice         (KestrelEngine        *self);
const GError       *kestrel_engine_get_error          (KestrelEngine        *self);
guint               kestrel_engine_get_context_length (KestrelEngine        *self);

G_END_DECLS
