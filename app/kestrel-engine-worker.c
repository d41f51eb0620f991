/* kestrel-engine-worker.c — the engine thread: model, sessions, prompts, streaming.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Requests run in arrival order; the prompt building is in kestrel-engine-prompt.c.
 */
#define G_LOG_DOMAIN "kestrel-engine"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ke-engine.h"

#include "kestrel-engine.h"
#include "kestrel-engine-prompt.h"
#include "kestrel-engine-worker.h"

/* Sessions kept per conversation; each holds a KV cache (on the GPU for CUDA). */
#define MAX_CACHED_SESSIONS 4

typedef struct
{
  char       *conversation_id;
  ke_session *session;
  gint64      last_used;
} CachedSession;

struct _KestrelEngineWorker
{
  GThread               *thread;
  GAsyncQueue           *queue;
  KestrelWorkerProgress  progress;
  gpointer               progress_data;
  gint                   quitting;          /* atomic */

  /* Owned by the worker thread only. */
  ke_model              *model;
  GPtrArray             *sessions;          /* CachedSession */
  GCancellable          *load_cancellable;
};

void
kestrel_load_info_free (KestrelLoadInfo *info)
{
  g_free (info->backend_name);
  g_free (info->device_name);
  g_free (info->notice);
  g_free (info);
}

void
kestrel_request_free (KestrelRequest *request)
{
  g_clear_object (&request->task);
  g_free (request->model_dir);
  g_free (request->replay_script);
  g_clear_pointer (&request->gpus, g_array_unref);
  g_free (request->conversation_id);
  g_clear_pointer (&request->turns, g_ptr_array_unref);
  g_clear_pointer (&request->feed, _kestrel_generation_feed_unref);
  g_free (request);
}

static void
cached_session_free (CachedSession *cached)
{
  ke_session_free (cached->session);
  g_free (cached->conversation_id);
  g_free (cached);
}

GError *
kestrel_engine_error_from_ke (const void *ke_err)
{
  const ke_error *e = ke_err;
  int code;

  if (e == NULL)
    return g_error_new_literal (KESTREL_ENGINE_ERROR, KESTREL_ENGINE_ERROR_FAILED,
                                _("The engine failed without saying why"));

  switch (e->code)
    {
    case KE_ERROR_CANCELLED:
      return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, e->message);
    case KE_ERROR_IO:
    case KE_ERROR_FORMAT:
      code = KESTREL_ENGINE_ERROR_INVALID_MODEL;
      break;
    case KE_ERROR_UNSUPPORTED:
      code = KESTREL_ENGINE_ERROR_UNSUPPORTED;
      break;
    case KE_ERROR_NO_DEVICE:
      code = KESTREL_ENGINE_ERROR_NO_DEVICE;
      break;
    case KE_ERROR_DEVICE_MEMORY:
      code = KESTREL_ENGINE_ERROR_DEVICE_MEMORY;
      break;
    case KE_ERROR_DEVICE:
      code = KESTREL_ENGINE_ERROR_DEVICE;
      break;
    case KE_ERROR_CONTEXT_FULL:
      code = KESTREL_ENGINE_ERROR_CONTEXT_FULL;
      break;
    case KE_ERROR_INVALID_ARGUMENT:
      code = KESTREL_ENGINE_ERROR_INVALID_INPUT;
      break;
    case KE_ERROR_FAILED:
    case KE_ERROR_NO_MEMORY:
    default:
      code = KESTREL_ENGINE_ERROR_FAILED;
      break;
    }

  return g_error_new_literal (KESTREL_ENGINE_ERROR, code, e->message);
}

static GError *
take_ke_error (ke_error *e)
{
  GError *error = kestrel_engine_error_from_ke (e);

  ke_error_free (e);
  return error;
}

/* ---- load -------------------------------------------------------------------------- */

typedef struct
{
  KestrelEngineWorker *worker;
  GCancellable        *cancellable;
} LoadProgress;

static bool
load_progress_cb (double      fraction,
                  const char *stage,
                  void       *user_data)
{
  LoadProgress *lp = user_data;

  lp->worker->progress (fraction, stage, lp->worker->progress_data);

  return !g_cancellable_is_cancelled (lp->cancellable) &&
         !g_atomic_int_get (&lp->worker->quitting);
}

static void
drop_model (KestrelEngineWorker *worker)
{
  g_ptr_array_set_size (worker->sessions, 0);
  g_clear_pointer (&worker->model, ke_model_free);
}

static gboolean
model_dir_has_tokenizer (const char *dir)
{
  g_autofree char *json = g_build_filename (dir, "tokenizer.json", NULL);
  g_autofree char *spm = g_build_filename (dir, "tokenizer.model", NULL);

  return g_file_test (json, G_FILE_TEST_IS_REGULAR) || g_file_test (spm, G_FILE_TEST_IS_REGULAR);
}

static void
handle_load (KestrelEngineWorker *worker,
             KestrelRequest      *request)
{
  GCancellable *cancellable = g_task_get_cancellable (request->task);
  ke_model_options options;
  ke_error *ke_err = NULL;
  const ke_model_info *info;
  LoadProgress lp = { worker, cancellable };
  g_autoptr(KestrelLoadInfo) result = g_new0 (KestrelLoadInfo, 1);
  gboolean fell_back = FALSE;

  drop_model (worker);

  if (!g_file_test (request->model_dir, G_FILE_TEST_IS_DIR))
    {
      g_task_return_new_error (request->task, KESTREL_ENGINE_ERROR,
                               KESTREL_ENGINE_ERROR_INVALID_MODEL,
                               _("The model folder “%s” does not exist"), request->model_dir);
      return;
    }
  if (!model_dir_has_tokenizer (request->model_dir))
    {
      g_task_return_new_error (request->task, KESTREL_ENGINE_ERROR,
                               KESTREL_ENGINE_ERROR_INVALID_MODEL,
                               _("The folder has no tokenizer.json"));
      return;
    }

  ke_model_options_init (&options);
  options.device = MAX (request->gpu_index, 0);
  if (request->gpus != NULL && request->gpus->len > 0)
    {
      /* Several GPUs share the model (tensor parallelism); one is just that GPU. */
      options.devices = (const int *) request->gpus->data;
      options.n_devices = request->gpus->len;
    }
  options.max_context = request->max_context;
  switch (request->backend)
    {
    case KESTREL_BACKEND_CPU:
      options.backend = KE_BACKEND_CPU;
      break;
    case KESTREL_BACKEND_CUDA:
      options.backend = KE_BACKEND_CUDA;
      break;
    case KESTREL_BACKEND_REPLAY:
      options.backend = KE_BACKEND_REPLAY;
      options.replay_script = request->replay_script;
      break;
    case KESTREL_BACKEND_AUTO:
    default:
      options.backend = KE_BACKEND_AUTO;
      break;
    }

  worker->progress (0.0, _("Opening the model"), worker->progress_data);
  worker->model = ke_model_open (request->model_dir, &options, load_progress_cb, &lp, &ke_err);

  /* Several GPUs that cannot share the model: the first of them alone, visibly. */
  if (worker->model == NULL && options.n_devices > 1 && ke_err != NULL &&
      (ke_err->code == KE_ERROR_UNSUPPORTED || ke_err->code == KE_ERROR_NO_DEVICE ||
       ke_err->code == KE_ERROR_INVALID_ARGUMENT))
    {
      result->notice = g_strdup_printf (_("The selected GPUs cannot share the model (%s) — using GPU %d only"),
                                        ke_err->message, options.devices[0]);
      g_clear_pointer (&ke_err, ke_error_free);
      options.device = options.devices[0];
      options.devices = NULL;
      options.n_devices = 0;
      worker->model = ke_model_open (request->model_dir, &options, load_progress_cb, &lp, &ke_err);
    }

  /* AUTO: a GPU that exists but cannot take the model falls back to the CPU, visibly. */
  if (worker->model == NULL && request->backend == KESTREL_BACKEND_AUTO && ke_err != NULL &&
      (ke_err->code == KE_ERROR_NO_DEVICE || ke_err->code == KE_ERROR_DEVICE_MEMORY ||
       ke_err->code == KE_ERROR_UNSUPPORTED || ke_err->code == KE_ERROR_DEVICE))
    {
      g_free (result->notice);
      result->notice = g_strdup_printf (_("The GPU could not be used (%s) — using the CPU, which is much slower"),
                                        ke_err->message);
      g_clear_pointer (&ke_err, ke_error_free);
      options.backend = KE_BACKEND_CPU;
      fell_back = TRUE;
      worker->model = ke_model_open (request->model_dir, &options, load_progress_cb, &lp, &ke_err);
    }

  if (worker->model == NULL)
    {
      g_task_return_error (request->task, take_ke_error (ke_err));
      return;
    }

  info = ke_model_get_info (worker->model);
  result->backend_name = g_strdup (info->backend);
  result->device_name = g_strdup (info->device_name);
  result->context_length = info->max_context;
  if (!fell_back && request->backend == KESTREL_BACKEND_AUTO && g_strcmp0 (info->backend, "cpu") == 0)
    result->notice = g_strdup (_("No NVIDIA GPU found — using the CPU, which is much slower"));

  g_task_return_pointer (request->task, g_steal_pointer (&result),
                         (GDestroyNotify) kestrel_load_info_free);
}

/* ---- sessions ---------------------------------------------------------------------- */

/* Drops the least recently used cached session; FALSE when there is none. */
static gboolean
evict_least_recent (KestrelEngineWorker *worker)
{
  guint oldest = 0;

  if (worker->sessions->len == 0)
    return FALSE;
  for (guint i = 1; i < worker->sessions->len; i++)
    if (((CachedSession *) g_ptr_array_index (worker->sessions, i))->last_used <
        ((CachedSession *) g_ptr_array_index (worker->sessions, oldest))->last_used)
      oldest = i;
  g_ptr_array_remove_index_fast (worker->sessions, oldest);
  return TRUE;
}

static ke_session *
session_for_conversation (KestrelEngineWorker  *worker,
                          const char           *conversation_id,
                          GError              **error)
{
  CachedSession *cached;
  ke_session_options options;
  ke_error *ke_err = NULL;
  ke_session *session;

  for (guint i = 0; i < worker->sessions->len; i++)
    {
      cached = g_ptr_array_index (worker->sessions, i);
      if (g_strcmp0 (cached->conversation_id, conversation_id) == 0)
        {
          cached->last_used = g_get_monotonic_time ();
          return cached->session;
        }
    }

  /* Bounded by count: the least recently used conversation gives its cache up. */
  if (worker->sessions->len >= MAX_CACHED_SESSIONS)
    evict_least_recent (worker);

  /* Bounded by memory: each session's KV cache lives in GPU memory with the CUDA backend;
   * when a new one does not fit, the least recently used sessions give theirs up until it
   * does (or none is left, and the error stands). */
  ke_session_options_init (&options);
  for (;;)
    {
      session = ke_session_new (worker->model, &options, &ke_err);
      if (session != NULL || ke_err->code != KE_ERROR_DEVICE_MEMORY || !evict_least_recent (worker))
        break;
      g_clear_pointer (&ke_err, ke_error_free);
    }
  if (session == NULL)
    {
      g_propagate_error (error, take_ke_error (ke_err));
      return NULL;
    }

  cached = g_new0 (CachedSession, 1);
  cached->conversation_id = g_strdup (conversation_id);
  cached->session = session;
  cached->last_used = g_get_monotonic_time ();
  g_ptr_array_add (worker->sessions, cached);

  return session;
}

static void
forget_conversation (KestrelEngineWorker *worker,
                     const char          *conversation_id)
{
  for (guint i = 0; i < worker->sessions->len; i++)
    {
      CachedSession *cached = g_ptr_array_index (worker->sessions, i);

      if (g_strcmp0 (cached->conversation_id, conversation_id) == 0)
        {
          g_ptr_array_remove_index_fast (worker->sessions, i);
          return;
        }
    }
}

/* ---- generate ---------------------------------------------------------------------- */

typedef struct
{
  KestrelEngineWorker   *worker;
  KestrelGenerationFeed *feed;
  ke_detokenizer        *detok;
  gboolean               cancelled;
} StreamState;

static bool
on_token_cb (ke_token  token,
             void     *user_data)
{
  StreamState *st = user_data;
  size_t len = 0;
  const char *text = ke_detokenizer_push (st->detok, token, &len);

  _kestrel_generation_feed_append (st->feed, text ? text : "", text ? len : 0, 1);

  if (_kestrel_generation_feed_is_cancelled (st->feed) || g_atomic_int_get (&st->worker->quitting))
    {
      st->cancelled = TRUE;
      return false;
    }
  return true;
}

static void
sampling_from_settings (ke_sampling                   *sampling,
                        const ke_model                *model,
                        const KestrelSamplingSettings *settings)
{
  ke_sampling_init (sampling, model);
  if (settings->temperature >= 0)
    sampling->temperature = (float) settings->temperature;
  if (settings->top_k >= 0)
    sampling->top_k = settings->top_k;
  if (settings->top_p >= 0)
    sampling->top_p = (float) settings->top_p;
  if (settings->min_p >= 0)
    sampling->min_p = (float) settings->min_p;
  sampling->max_tokens = settings->max_tokens;
  if (settings->seed != 0)
    sampling->seed = settings->seed;
}

static void
handle_generate (KestrelEngineWorker *worker,
                 KestrelRequest      *request)
{
  KestrelGenerationFeed *feed = request->feed;
  KestrelGenerationStats stats = { 0 };
  KestrelPromptBuild pb = { 0 };
  ke_prompt prompt = { 0 };
  ke_sampling sampling;
  ke_stats ke_st = { 0 };
  ke_error *ke_err = NULL;
  ke_session *session;
  GError *error = NULL;
  StreamState st = { worker, feed, NULL, FALSE };
  guint context_length, room;
  size_t len = 0;
  const char *tail;

  if (_kestrel_generation_feed_is_cancelled (feed))
    {
      _kestrel_generation_feed_finish (feed, KESTREL_GENERATION_CANCELLED, NULL, NULL);
      return;
    }
  if (worker->model == NULL)
    {
      _kestrel_generation_feed_finish (feed, KESTREL_GENERATION_FAILED, NULL,
                                       g_error_new_literal (KESTREL_ENGINE_ERROR,
                                                            KESTREL_ENGINE_ERROR_NOT_LOADED,
                                                            _("No model is loaded")));
      return;
    }

  _kestrel_generation_feed_set_status (feed, KESTREL_GENERATION_PREFILLING);

  session = session_for_conversation (worker, request->conversation_id, &error);
  if (session == NULL)
    goto failed;

  context_length = ke_model_get_info (worker->model)->max_context;
  room = request->settings.max_tokens > 0 ? request->settings.max_tokens : MAX (context_length / 4, 1);
  room = MIN (room, context_length / 2);

  if (!kestrel_engine_build_prompt (worker->model, request->turns, room, context_length,
                                    request->pan_and_scan, &pb, &prompt,
                                    &stats.dropped_turns, &error))
    goto failed;

  if (!ke_session_prefill (session, &prompt, NULL, &ke_st, &ke_err))
    {
      error = take_ke_error (ke_err);
      goto failed;
    }

  sampling_from_settings (&sampling, worker->model, &request->settings);
  if (sampling.max_tokens == 0 || sampling.max_tokens > context_length - prompt.n_ids)
    sampling.max_tokens = context_length - (guint) prompt.n_ids;

  st.detok = ke_detokenizer_new (ke_model_get_tokenizer (worker->model), KE_DECODE_SKIP_SPECIAL);
  if (!ke_session_generate (session, &sampling, on_token_cb, &st, &ke_st, &ke_err))
    {
      ke_detokenizer_free (st.detok);
      error = take_ke_error (ke_err);
      goto failed;
    }

  tail = ke_detokenizer_flush (st.detok, &len);
  if (tail != NULL && len > 0)
    _kestrel_generation_feed_append (feed, tail, len, 0);
  ke_detokenizer_free (st.detok);

  stats.prompt_tokens = ke_st.prompt_tokens;
  stats.cached_tokens = ke_st.cached_tokens;
  stats.generated_tokens = ke_st.generated_tokens;
  stats.time_to_first_token = ke_st.time_to_first_token;
  stats.tokens_per_second = ke_st.decode_seconds > 0 ? ke_st.generated_tokens / ke_st.decode_seconds : 0;

  ke_prompt_clear (&prompt);
  kestrel_prompt_build_clear (&pb);
  _kestrel_generation_feed_finish (feed,
                                   st.cancelled ? KESTREL_GENERATION_CANCELLED : KESTREL_GENERATION_COMPLETE,
                                   &stats, NULL);
  return;

failed:
  ke_prompt_clear (&prompt);
  kestrel_prompt_build_clear (&pb);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&error);
      _kestrel_generation_feed_finish (feed, KESTREL_GENERATION_CANCELLED, &stats, NULL);
      return;
    }
  /* After a device fault the cached sessions may be unusable: drop them. */
  if (g_error_matches (error, KESTREL_ENGINE_ERROR, KESTREL_ENGINE_ERROR_DEVICE))
    g_ptr_array_set_size (worker->sessions, 0);
  _kestrel_generation_feed_finish (feed, KESTREL_GENERATION_FAILED, &stats, error);
}

static void
handle_count_tokens (KestrelEngineWorker *worker,
                     KestrelRequest      *request)
{
  KestrelPromptBuild pb = { 0 };
  ke_prompt prompt = { 0 };
  guint dropped = 0;
  GError *error = NULL;
  gssize n;

  if (worker->model == NULL)
    {
      g_task_return_new_error (request->task, KESTREL_ENGINE_ERROR,
                               KESTREL_ENGINE_ERROR_NOT_LOADED, _("No model is loaded"));
      return;
    }

  if (!kestrel_engine_build_prompt (worker->model, request->turns, 0, G_MAXUINT / 2,
                                    request->pan_and_scan, &pb, &prompt, &dropped, &error))
    {
      kestrel_prompt_build_clear (&pb);
      g_task_return_error (request->task, error);
      return;
    }
  n = (gssize) prompt.n_ids;
  ke_prompt_clear (&prompt);
  kestrel_prompt_build_clear (&pb);
  g_task_return_int (request->task, n);
}

/* ---- the thread -------------------------------------------------------------------- */

static gpointer
worker_thread (gpointer data)
{
  KestrelEngineWorker *worker = data;

  for (;;)
    {
      KestrelRequest *request = g_async_queue_pop (worker->queue);
      gboolean quit = request->kind == KESTREL_REQUEST_QUIT;

      if (g_atomic_int_get (&worker->quitting) && !quit)
        {
          /* Draining on shutdown: answer everything as cancelled. */
          if (request->task != NULL)
            g_task_return_new_error (request->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                     _("The engine is shutting down"));
          if (request->feed != NULL)
            _kestrel_generation_feed_finish (request->feed, KESTREL_GENERATION_CANCELLED, NULL, NULL);
          kestrel_request_free (request);
          continue;
        }

      switch (request->kind)
        {
        case KESTREL_REQUEST_LOAD:
          handle_load (worker, request);
          break;
        case KESTREL_REQUEST_UNLOAD:
          drop_model (worker);
          break;
        case KESTREL_REQUEST_GENERATE:
          handle_generate (worker, request);
          break;
        case KESTREL_REQUEST_COUNT_TOKENS:
          handle_count_tokens (worker, request);
          break;
        case KESTREL_REQUEST_FORGET:
          forget_conversation (worker, request->conversation_id);
          break;
        case KESTREL_REQUEST_QUIT:
        default:
          break;
        }

      kestrel_request_free (request);
      if (quit)
        break;
    }

  drop_model (worker);
  return NULL;
}

KestrelEngineWorker *
kestrel_engine_worker_new (KestrelWorkerProgress progress,
                           gpointer              progress_data)
{
  KestrelEngineWorker *worker = g_new0 (KestrelEngineWorker, 1);

  worker->queue = g_async_queue_new ();
  worker->progress = progress;
  worker->progress_data = progress_data;
  worker->sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) cached_session_free);
  worker->thread = g_thread_new ("kestrel-engine", worker_thread, worker);

  return worker;
}

void
kestrel_engine_worker_push (KestrelEngineWorker *worker,
                            KestrelRequest      *request)
{
  g_async_queue_push (worker->queue, request);
}

void
kestrel_engine_worker_free (KestrelEngineWorker *worker)
{
  KestrelRequest *quit = g_new0 (KestrelRequest, 1);

  quit->kind = KESTREL_REQUEST_QUIT;
  g_atomic_int_set (&worker->quitting, 1);
  g_async_queue_push (worker->queue, quit);
  g_thread_join (worker->thread);

  g_async_queue_unref (worker->queue);
  g_ptr_array_unref (worker->sessions);
  g_free (worker);
}
