/* kestrel-engine.c — the engine worker's main-thread face: state, progress, requests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Everything here runs on the main thread; the model and its sessions live on the worker
 * thread (kestrel-engine-worker.c).  Load progress arrives from the worker and is folded
 * into at most one pending main-loop update, like generation deltas.
 */
#define G_LOG_DOMAIN "kestrel-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-engine.h"
#include "kestrel-engine-worker.h"
#include "ke-engine.h"

struct _KestrelEngine
{
  GObject              parent_instance;

  KestrelEngineWorker *worker;
  KestrelEngineState   state;
  char                *backend_name;
  char                *device_name;
  char                *notice;
  GError              *error;
  guint                context_length;
  guint                load_serial;
  char                *replay_script;
  GArray              *gpus;          /* int; NULL or empty: the gpu_index of each load */
  gboolean             pan_and_scan;  /* images also as crops (Gemma3 do_pan_and_scan) */

  /* Progress shared with the worker thread. */
  GMutex               progress_mutex;
  double               progress_fraction;
  char                *progress_stage;
  GSource             *progress_source;

  /* Last delivered values (main thread). */
  double               load_fraction;
  char                *load_stage;
};

G_DEFINE_FINAL_TYPE (KestrelEngine, kestrel_engine, G_TYPE_OBJECT)

G_DEFINE_QUARK (kestrel-engine-error-quark, kestrel_engine_error)

enum {
  PROP_0,
  PROP_STATE,
  PROP_LOAD_FRACTION,
  PROP_LOAD_STAGE,
  PROP_BACKEND_NAME,
  PROP_DEVICE_NAME,
  PROP_NOTICE,
  PROP_CONTEXT_LENGTH,
  PROP_PAN_AND_SCAN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
kestrel_engine_set_state (KestrelEngine      *self,
                          KestrelEngineState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* ---- progress (worker → main) ------------------------------------------------------ */

typedef struct
{
  GWeakRef engine;
} ProgressTarget;

static gboolean
progress_flush_cb (gpointer data)
{
  ProgressTarget *target = data;
  g_autoptr(KestrelEngine) self = g_weak_ref_get (&target->engine);
  g_autofree char *stage = NULL;
  double fraction;

  if (self == NULL)
    return G_SOURCE_REMOVE;

  g_mutex_lock (&self->progress_mutex);
  fraction = self->progress_fraction;
  stage = g_strdup (self->progress_stage);
  g_clear_pointer (&self->progress_source, g_source_unref);
  g_mutex_unlock (&self->progress_mutex);

  if (self->state != KESTREL_ENGINE_LOADING)
    return G_SOURCE_REMOVE;

  g_object_freeze_notify (G_OBJECT (self));
  if (fraction != self->load_fraction)
    {
      self->load_fraction = fraction;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOAD_FRACTION]);
    }
  if (g_strcmp0 (stage, self->load_stage) != 0)
    {
      g_free (self->load_stage);
      self->load_stage = g_steal_pointer (&stage);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOAD_STAGE]);
    }
  g_object_thaw_notify (G_OBJECT (self));

  return G_SOURCE_REMOVE;
}

static void
progress_target_free (gpointer data)
{
  ProgressTarget *target = data;

  g_weak_ref_clear (&target->engine);
  g_free (target);
}

/* Worker thread. */
static void
worker_progress_cb (double      fraction,
                    const char *stage,
                    gpointer    user_data)
{
  KestrelEngine *self = user_data;

  g_mutex_lock (&self->progress_mutex);
  self->progress_fraction = CLAMP (fraction, 0.0, 1.0);
  if (stage != NULL && g_strcmp0 (stage, self->progress_stage) != 0)
    {
      g_free (self->progress_stage);
      self->progress_stage = g_strdup (stage);
    }
  if (self->progress_source == NULL)
    {
      ProgressTarget *target = g_new0 (ProgressTarget, 1);

      /* ~30 updates a second at most: a progress bar needs no more. */
      g_weak_ref_init (&target->engine, self);
      self->progress_source = g_timeout_source_new (33);
      g_source_set_static_name (self->progress_source, "[kestrel] load progress");
      g_source_set_callback (self->progress_source, progress_flush_cb, target, progress_target_free);
      g_source_attach (self->progress_source, NULL);
    }
  g_mutex_unlock (&self->progress_mutex);
}

/* ---- load -------------------------------------------------------------------------- */

/* Requests that answer through a GTask use two: the caller's task, whose source object is
 * the engine, stays on the main thread; the worker gets a task without a source object,
 * so that the worker thread, which drops its reference whenever it gets to it, never
 * holds the engine alive (tests check that it finalizes right after its last request). */
static GTask *
worker_task_new (GTask               *outer,
                 GAsyncReadyCallback  callback)
{
  return g_task_new (NULL, g_task_get_cancellable (outer), callback, outer);
}

static void
load_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) outer = user_data;
  KestrelEngine *self = g_task_get_source_object (outer);
  g_autoptr(KestrelLoadInfo) info = NULL;
  GError *error = NULL;
  guint serial = GPOINTER_TO_UINT (g_task_get_task_data (G_TASK (result)));

  info = g_task_propagate_pointer (G_TASK (result), &error);

  /* A newer load or an unload superseded this one: its result is stale. */
  if (serial != self->load_serial)
    {
      g_clear_error (&error);
      g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               _("Another model was loaded in the meantime"));
      return;
    }

  g_object_freeze_notify (G_OBJECT (self));
  g_clear_error (&self->error);
  if (info != NULL)
    {
      g_free (self->backend_name);
      self->backend_name = g_strdup (info->backend_name);
      g_free (self->device_name);
      self->device_name = g_strdup (info->device_name);
      g_free (self->notice);
      self->notice = g_strdup (info->notice);
      self->context_length = info->context_length;
      self->load_fraction = 1.0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BACKEND_NAME]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DEVICE_NAME]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NOTICE]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONTEXT_LENGTH]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOAD_FRACTION]);
      kestrel_engine_set_state (self, KESTREL_ENGINE_READY);
      g_task_return_boolean (outer, TRUE);
    }
  else
    {
      gboolean cancelled = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

      self->error = g_error_copy (error);
      kestrel_engine_set_state (self, cancelled ? KESTREL_ENGINE_EMPTY : KESTREL_ENGINE_FAILED);
      g_task_return_error (outer, error);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

void
kestrel_engine_load_async (KestrelEngine        *self,
                           const char           *model_dir,
                           KestrelBackendChoice  backend,
                           int                   gpu_index,
                           guint                 max_context,
                           GCancellable         *cancellable,
                           GAsyncReadyCallback   callback,
                           gpointer              user_data)
{
  KestrelRequest *request;
  GTask *outer;

  g_return_if_fail (KESTREL_IS_ENGINE (self));
  g_return_if_fail (model_dir != NULL);

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, kestrel_engine_load_async);

  self->load_serial++;
  self->load_fraction = 0;
  g_clear_pointer (&self->load_stage, g_free);
  g_clear_error (&self->error);
  kestrel_engine_set_state (self, KESTREL_ENGINE_LOADING);

  request = g_new0 (KestrelRequest, 1);
  request->kind = KESTREL_REQUEST_LOAD;
  request->task = worker_task_new (outer, load_done_cb);
  g_task_set_task_data (request->task, GUINT_TO_POINTER (self->load_serial), NULL);
  request->model_dir = g_strdup (model_dir);
  request->backend = backend;
  request->gpu_index = gpu_index;
  request->max_context = max_context;
  request->replay_script = g_strdup (self->replay_script);
  if (self->gpus != NULL && self->gpus->len > 0)
    request->gpus = g_array_copy (self->gpus);
  kestrel_engine_worker_push (self->worker, request);
}

gboolean
kestrel_engine_load_finish (KestrelEngine  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
kestrel_engine_set_replay_script (KestrelEngine *self,
                                  const char    *path)
{
  g_return_if_fail (KESTREL_IS_ENGINE (self));

  g_free (self->replay_script);
  self->replay_script = g_strdup (path);
}

void
kestrel_engine_set_gpus (KestrelEngine *self,
                         const int     *indices,
                         gsize          n_indices)
{
  g_return_if_fail (KESTREL_IS_ENGINE (self));
  g_return_if_fail (indices != NULL || n_indices == 0);

  g_clear_pointer (&self->gpus, g_array_unref);
  if (n_indices == 0)
    return;
  self->gpus = g_array_sized_new (FALSE, FALSE, sizeof (int), (guint) n_indices);
  g_array_append_vals (self->gpus, indices, (guint) n_indices);
}

GArray *
kestrel_gpu_list_parse (const char  *text,
                        GError     **error)
{
  int indices[8]; /* the most GPUs one model can be shared by */
  ke_error *ke_err = NULL;
  g_autoptr(GArray) list = g_array_new (FALSE, FALSE, sizeof (int));
  g_autofree char *stripped = g_strstrip (g_strdup (text != NULL ? text : ""));
  size_t n;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (stripped[0] == '\0')
    return g_steal_pointer (&list);
  n = ke_parse_device_list (stripped, indices, G_N_ELEMENTS (indices), &ke_err);
  if (n == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           ke_err != NULL ? ke_err->message : _("Not a list of GPUs"));
      ke_error_free (ke_err);
      return NULL;
    }
  g_array_append_vals (list, indices, (guint) n);
  return g_steal_pointer (&list);
}

char *
kestrel_gpu_list_format (const int *indices,
                         gsize      n_indices)
{
  GString *text = g_string_new (NULL);

  for (gsize i = 0; i < n_indices; i++)
    g_string_append_printf (text, "%s%d", i > 0 ? "," : "", indices[i]);
  return g_string_free (text, FALSE);
}

void
kestrel_engine_unload (KestrelEngine *self)
{
  KestrelRequest *request;

  g_return_if_fail (KESTREL_IS_ENGINE (self));

  self->load_serial++;
  request = g_new0 (KestrelRequest, 1);
  request->kind = KESTREL_REQUEST_UNLOAD;
  kestrel_engine_worker_push (self->worker, request);
  kestrel_engine_set_state (self, KESTREL_ENGINE_EMPTY);
}

/* ---- generate / count -------------------------------------------------------------- */

static GPtrArray *
copy_turns (GPtrArray *turns)
{
  GPtrArray *copy = g_ptr_array_new_full (turns->len, (GDestroyNotify) kestrel_chat_turn_unref);

  for (guint i = 0; i < turns->len; i++)
    g_ptr_array_add (copy, kestrel_chat_turn_ref (g_ptr_array_index (turns, i)));
  return copy;
}

KestrelGeneration *
kestrel_engine_generate (KestrelEngine                 *self,
                         const char                    *conversation_id,
                         GPtrArray                     *turns,
                         const KestrelSamplingSettings *settings)
{
  KestrelGeneration *generation;
  KestrelRequest *request;

  g_return_val_if_fail (KESTREL_IS_ENGINE (self), NULL);
  g_return_val_if_fail (conversation_id != NULL, NULL);
  g_return_val_if_fail (turns != NULL, NULL);

  generation = _kestrel_generation_new (conversation_id, g_main_context_get_thread_default ());

  request = g_new0 (KestrelRequest, 1);
  request->kind = KESTREL_REQUEST_GENERATE;
  request->conversation_id = g_strdup (conversation_id);
  request->turns = copy_turns (turns);
  request->pan_and_scan = self->pan_and_scan;
  if (settings != NULL)
    request->settings = *settings;
  else
    kestrel_sampling_settings_init (&request->settings);
  request->feed = _kestrel_generation_feed_ref (_kestrel_generation_get_feed (generation));
  kestrel_engine_worker_push (self->worker, request);

  return generation;
}

static void
count_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) outer = user_data;
  GError *error = NULL;
  gssize n = g_task_propagate_int (G_TASK (result), &error);

  if (error != NULL)
    g_task_return_error (outer, error);
  else
    g_task_return_int (outer, n);
}

void
kestrel_engine_count_tokens_async (KestrelEngine       *self,
                                   GPtrArray           *turns,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  KestrelRequest *request;
  GTask *outer;

  g_return_if_fail (KESTREL_IS_ENGINE (self));

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, kestrel_engine_count_tokens_async);

  request = g_new0 (KestrelRequest, 1);
  request->kind = KESTREL_REQUEST_COUNT_TOKENS;
  request->task = worker_task_new (outer, count_done_cb);
  request->turns = copy_turns (turns);
  request->pan_and_scan = self->pan_and_scan;
  kestrel_engine_worker_push (self->worker, request);
}

gssize
kestrel_engine_count_tokens_finish (KestrelEngine  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), -1);

  return g_task_propagate_int (G_TASK (result), error);
}

void
kestrel_engine_set_pan_and_scan (KestrelEngine *self,
                                 gboolean       pan_and_scan)
{
  g_return_if_fail (KESTREL_IS_ENGINE (self));

  pan_and_scan = !!pan_and_scan;
  if (self->pan_and_scan == pan_and_scan)
    return;
  self->pan_and_scan = pan_and_scan;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAN_AND_SCAN]);
}

gboolean
kestrel_engine_get_pan_and_scan (KestrelEngine *self)
{
  g_return_val_if_fail (KESTREL_IS_ENGINE (self), FALSE);

  return self->pan_and_scan;
}

void
kestrel_engine_forget_conversation (KestrelEngine *self,
                                    const char    *conversation_id)
{
  KestrelRequest *request;

  g_return_if_fail (KESTREL_IS_ENGINE (self));

  request = g_new0 (KestrelRequest, 1);
  request->kind = KESTREL_REQUEST_FORGET;
  request->conversation_id = g_strdup (conversation_id);
  kestrel_engine_worker_push (self->worker, request);
}

/* ---- object ------------------------------------------------------------------------ */

KestrelEngine *
kestrel_engine_new (void)
{
  return g_object_new (KESTREL_TYPE_ENGINE, NULL);
}

KestrelEngineState kestrel_engine_get_state (KestrelEngine *self) { return self->state; }
double kestrel_engine_get_load_fraction (KestrelEngine *self) { return self->load_fraction; }
const char *kestrel_engine_get_load_stage (KestrelEngine *self) { return self->load_stage; }
const char *kestrel_engine_get_backend_name (KestrelEngine *self) { return self->backend_name; }
const char *kestrel_engine_get_device_name (KestrelEngine *self) { return self->device_name; }
const char *kestrel_engine_get_notice (KestrelEngine *self) { return self->notice; }
const GError *kestrel_engine_get_error (KestrelEngine *self) { return self->error; }
guint kestrel_engine_get_context_length (KestrelEngine *self) { return self->context_length; }

static void
kestrel_engine_dispose (GObject *object)
{
  KestrelEngine *self = (KestrelEngine *) object;

  /* Joins the thread: the model is freed on the thread that owns it. */
  g_clear_pointer (&self->worker, kestrel_engine_worker_free);

  g_mutex_lock (&self->progress_mutex);
  if (self->progress_source != NULL)
    {
      g_source_destroy (self->progress_source);
      g_clear_pointer (&self->progress_source, g_source_unref);
    }
  g_mutex_unlock (&self->progress_mutex);

  G_OBJECT_CLASS (kestrel_engine_parent_class)->dispose (object);
}

static void
kestrel_engine_finalize (GObject *object)
{
  KestrelEngine *self = (KestrelEngine *) object;

  g_free (self->backend_name);
  g_free (self->device_name);
  g_free (self->notice);
  g_free (self->progress_stage);
  g_free (self->load_stage);
  g_free (self->replay_script);
  g_clear_pointer (&self->gpus, g_array_unref);
  g_clear_error (&self->error);
  g_mutex_clear (&self->progress_mutex);

  G_OBJECT_CLASS (kestrel_engine_parent_class)->finalize (object);
}

static void
kestrel_engine_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  KestrelEngine *self = KESTREL_ENGINE (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_LOAD_FRACTION:
      g_value_set_double (value, self->load_fraction);
      break;
    case PROP_LOAD_STAGE:
      g_value_set_string (value, self->load_stage);
      break;
    case PROP_BACKEND_NAME:
      g_value_set_string (value, self->backend_name);
      break;
    case PROP_DEVICE_NAME:
      g_value_set_string (value, self->device_name);
      break;
    case PROP_NOTICE:
      g_value_set_string (value, self->notice);
      break;
    case PROP_CONTEXT_LENGTH:
      g_value_set_uint (value, self->context_length);
      break;
    case PROP_PAN_AND_SCAN:
      g_value_set_boolean (value, self->pan_and_scan);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_engine_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  KestrelEngine *self = KESTREL_ENGINE (object);

  switch (prop_id)
    {
    case PROP_PAN_AND_SCAN:
      kestrel_engine_set_pan_and_scan (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_engine_class_init (KestrelEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = kestrel_engine_dispose;
  object_class->finalize = kestrel_engine_finalize;
  object_class->get_property = kestrel_engine_get_property;
  object_class->set_property = kestrel_engine_set_property;

  properties[PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL, KESTREL_ENGINE_EMPTY, KESTREL_ENGINE_FAILED,
                      KESTREL_ENGINE_EMPTY, flags);
  properties[PROP_LOAD_FRACTION] =
    g_param_spec_double ("load-fraction", NULL, NULL, 0, 1, 0, flags);
  properties[PROP_LOAD_STAGE] = g_param_spec_string ("load-stage", NULL, NULL, NULL, flags);
  properties[PROP_BACKEND_NAME] = g_param_spec_string ("backend-name", NULL, NULL, NULL, flags);
  properties[PROP_DEVICE_NAME] = g_param_spec_string ("device-name", NULL, NULL, NULL, flags);
  properties[PROP_NOTICE] = g_param_spec_string ("notice", NULL, NULL, NULL, flags);
  properties[PROP_CONTEXT_LENGTH] =
    g_param_spec_uint ("context-length", NULL, NULL, 0, G_MAXUINT, 0, flags);
  /**
   * KestrelEngine:pan-and-scan:
   *
   * Whether images also go to the model as crops (Gemma3ImageProcessor's do_pan_and_scan,
   * off by default as in transformers): better for wide or tall images with small text, at
   * the cost of one more image encoding per crop.  Applies to the next request.
   */
  properties[PROP_PAN_AND_SCAN] =
    g_param_spec_boolean ("pan-and-scan", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_engine_init (KestrelEngine *self)
{
  g_mutex_init (&self->progress_mutex);
  self->worker = kestrel_engine_worker_new (worker_progress_cb, self);
}
