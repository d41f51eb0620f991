/* kestrel-engine-worker.h — the engine thread (private to KestrelEngine).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One thread owns the ke_model, its CUDA context and every ke_session; nothing else ever
 * calls the engine.  Requests arrive through a GAsyncQueue and run in order; a generation
 * or a load already running is stopped through its cancel flag / GCancellable.
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-engine.h"
#include "kestrel-generation-private.h"

G_BEGIN_DECLS

typedef struct _KestrelEngineWorker KestrelEngineWorker;

typedef enum
{
  KESTREL_REQUEST_LOAD,
  KESTREL_REQUEST_UNLOAD,
  KESTREL_REQUEST_GENERATE,
  KESTREL_REQUEST_COUNT_TOKENS,
  KESTREL_REQUEST_FORGET,
  KESTREL_REQUEST_QUIT,
} KestrelRequestKind;

typedef struct
{
  KestrelRequestKind       kind;
  GTask                   *task;            /* LOAD, COUNT_TOKENS */
  char                    *model_dir;       /* LOAD */
  KestrelBackendChoice     backend;         /* LOAD */
  int                      gpu_index;       /* LOAD */
  guint                    max_context;     /* LOAD: 0 = the model's (capped by the engine) */
  char                    *replay_script;   /* LOAD with KESTREL_BACKEND_REPLAY */
  GArray                  *gpus;            /* LOAD: int CUDA indices sharing the model, or NULL */
  char                    *conversation_id; /* GENERATE, FORGET */
  GPtrArray               *turns;           /* GENERATE, COUNT_TOKENS: KestrelChatTurn */
  KestrelSamplingSettings  settings;        /* GENERATE */
  gboolean                 pan_and_scan;    /* GENERATE, COUNT_TOKENS: images also as crops */
  KestrelGenerationFeed   *feed;            /* GENERATE */
} KestrelRequest;

/* What a finished load reports (returned through the LOAD task as a pointer). */
typedef struct
{
  char  *backend_name;
  char  *device_name;
  char  *notice;
  guint  context_length;
} KestrelLoadInfo;

void kestrel_load_info_free (KestrelLoadInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KestrelLoadInfo, kestrel_load_info_free)

/* Progress of a load, reported from the worker thread. */
typedef void (*KestrelWorkerProgress) (double      fraction,
                                       const char *stage,
                                       gpointer    user_data);

KestrelEngineWorker *kestrel_engine_worker_new   (KestrelWorkerProgress progress,
                                                  gpointer              progress_data);
/* Takes ownership of request. */
void                 kestrel_engine_worker_push  (KestrelEngineWorker  *worker,
                                                  KestrelRequest       *request);
/* Stops the thread (cancelling what runs) and frees everything the engine held. */
void                 kestrel_engine_worker_free  (KestrelEngineWorker  *worker);

void                 kestrel_request_free        (KestrelRequest       *request);

/* Maps an engine error to a GError in KESTREL_ENGINE_ERROR with an actionable message. */
GError              *kestrel_engine_error_from_ke (const void          *ke_error);

G_END_DECLS
