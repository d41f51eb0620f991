/* kestrel-downloader.c — downloads one model repository from the Hugging Face Hub.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The transfer runs in a GTask thread (kestrel-download-job.c, blocking libsoup calls on a
 * session of its own).  The thread only stores counters under a mutex; a 100 ms timer in the
 * caller's main context turns them into property notifications, so progress reaches the UI
 * at most 10 times a second and always in the caller's thread.
 */
#define G_LOG_DOMAIN "kestrel-download"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "kestrel-download-error.h"
#include "kestrel-download-job.h"
#include "kestrel-downloader.h"
#include "kestrel-hub-repo.h"

#define PROGRESS_INTERVAL_MS 100
#define SPEED_TIME_CONSTANT_S 3.0

struct _KestrelDownloader
{
  GObject          parent_instance;

  /* configuration */
  char            *repo_id;
  GFile           *destination;
  char            *revision;
  char            *endpoint;
  char            *token;
  GProxyResolver  *proxy_resolver;
  guint            max_attempts;
  guint            first_delay_ms;

  /* published progress (main context) */
  guint64          bytes_done;
  guint64          bytes_total;
  double           speed;
  gint64           eta;
  char            *current_file;
  guint            files_done;
  guint            files_total;
  char            *commit;
  guint64          last_transferred;
  gint64           last_sample_us;
  double           speed_ema;      /* biased moving average, corrected in publish_progress */
  double           speed_seconds;  /* time averaged so far, since the first byte */
  GSource         *timer;
  gboolean         running;

  /* written by the worker under @lock */
  GMutex           lock;
  KestrelDownloadProgress shared;
  char            *shared_current_file;
  char            *shared_commit;
};

G_DEFINE_FINAL_TYPE (KestrelDownloader, kestrel_downloader, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_REPO_ID,
  PROP_DESTINATION,
  PROP_REVISION,
  PROP_ENDPOINT,
  PROP_PROXY_RESOLVER,
  PROP_BYTES_DONE,
  PROP_BYTES_TOTAL,
  PROP_SPEED,
  PROP_ETA,
  PROP_CURRENT_FILE,
  PROP_FILES_DONE,
  PROP_FILES_TOTAL,
  PROP_COMMIT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

typedef struct
{
  KestrelDownloadJob job;
  char              *repo_id;
  char              *revision;
  char              *endpoint;
  char              *token;
  GProxyResolver    *proxy_resolver;
  GFile             *destination;
} RunData;

static void
run_data_free (RunData *data)
{
  g_free (data->repo_id);
  g_free (data->revision);
  g_free (data->endpoint);
  if (data->token != NULL)
    memset (data->token, 0, strlen (data->token));
  g_free (data->token);
  g_clear_object (&data->proxy_resolver);
  g_clear_object (&data->destination);
  g_free (data);
}

GFile *
kestrel_downloader_default_destination (const char *repo_id)
{
  g_auto(GStrv) parts = NULL;
  g_autofree char *folder = NULL;

  g_return_val_if_fail (kestrel_hub_is_valid_repo_id (repo_id), NULL);

  /* "org/name" → "org--name", like the Hugging Face cache's models--org--name */
  parts = g_strsplit (repo_id, "/", 2);
  folder = g_strjoin ("--", parts[0], parts[1], NULL);
  return g_file_new_build_filename (g_get_user_data_dir (), "kestrel", "models", folder, NULL);
}

KestrelDownloader *
kestrel_downloader_new (const char *repo_id,
                        GFile      *destination)
{
  g_return_val_if_fail (repo_id != NULL, NULL);
  g_return_val_if_fail (G_IS_FILE (destination), NULL);

  return g_object_new (KESTREL_TYPE_DOWNLOADER,
                       "repo-id", repo_id,
                       "destination", destination,
                       NULL);
}

static void
kestrel_downloader_finalize (GObject *object)
{
  KestrelDownloader *self = KESTREL_DOWNLOADER (object);

  g_clear_pointer (&self->repo_id, g_free);
  g_clear_object (&self->destination);
  g_clear_pointer (&self->revision, g_free);
  g_clear_pointer (&self->endpoint, g_free);
  kestrel_downloader_set_token (self, NULL);
  g_clear_object (&self->proxy_resolver);
  g_clear_pointer (&self->current_file, g_free);
  g_clear_pointer (&self->commit, g_free);
  g_clear_pointer (&self->shared_current_file, g_free);
  g_clear_pointer (&self->shared_commit, g_free);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (kestrel_downloader_parent_class)->finalize (object);
}

static void
kestrel_downloader_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  KestrelDownloader *self = KESTREL_DOWNLOADER (object);

  switch (prop_id)
    {
    case PROP_REPO_ID: g_value_set_string (value, self->repo_id); break;
    case PROP_DESTINATION: g_value_set_object (value, self->destination); break;
    case PROP_REVISION: g_value_set_string (value, self->revision); break;
    case PROP_ENDPOINT: g_value_set_string (value, self->endpoint); break;
    case PROP_PROXY_RESOLVER: g_value_set_object (value, self->proxy_resolver); break;
    case PROP_BYTES_DONE: g_value_set_uint64 (value, self->bytes_done); break;
    case PROP_BYTES_TOTAL: g_value_set_uint64 (value, self->bytes_total); break;
    case PROP_SPEED: g_value_set_double (value, self->speed); break;
    case PROP_ETA: g_value_set_int64 (value, self->eta); break;
    case PROP_CURRENT_FILE: g_value_set_string (value, self->current_file); break;
    case PROP_FILES_DONE: g_value_set_uint (value, self->files_done); break;
    case PROP_FILES_TOTAL: g_value_set_uint (value, self->files_total); break;
    case PROP_COMMIT: g_value_set_string (value, self->commit); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_downloader_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  KestrelDownloader *self = KESTREL_DOWNLOADER (object);

  switch (prop_id)
    {
    case PROP_REPO_ID: self->repo_id = g_value_dup_string (value); break;
    case PROP_DESTINATION: self->destination = g_value_dup_object (value); break;
    case PROP_REVISION: kestrel_downloader_set_revision (self, g_value_get_string (value)); break;
    case PROP_ENDPOINT: kestrel_downloader_set_endpoint (self, g_value_get_string (value)); break;
    case PROP_PROXY_RESOLVER:
      kestrel_downloader_set_proxy_resolver (self, g_value_get_object (value));
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_downloader_class_init (KestrelDownloaderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = kestrel_downloader_finalize;
  object_class->get_property = kestrel_downloader_get_property;
  object_class->set_property = kestrel_downloader_set_property;

  properties[PROP_REPO_ID] =
    g_param_spec_string ("repo-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DESTINATION] =
    g_param_spec_object ("destination", NULL, NULL, G_TYPE_FILE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_REVISION] = g_param_spec_string ("revision", NULL, NULL, "main", rw);
  properties[PROP_ENDPOINT] = g_param_spec_string ("endpoint", NULL, NULL, NULL, rw);
  properties[PROP_PROXY_RESOLVER] =
    g_param_spec_object ("proxy-resolver", NULL, NULL, G_TYPE_PROXY_RESOLVER, rw);
  properties[PROP_BYTES_DONE] =
    g_param_spec_uint64 ("bytes-done", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_BYTES_TOTAL] =
    g_param_spec_uint64 ("bytes-total", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_SPEED] = g_param_spec_double ("speed", NULL, NULL, 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_ETA] = g_param_spec_int64 ("eta", NULL, NULL, -1, G_MAXINT64, -1, ro);
  properties[PROP_CURRENT_FILE] = g_param_spec_string ("current-file", NULL, NULL, NULL, ro);
  properties[PROP_FILES_DONE] = g_param_spec_uint ("files-done", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_FILES_TOTAL] =
    g_param_spec_uint ("files-total", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_COMMIT] = g_param_spec_string ("commit", NULL, NULL, NULL, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_downloader_init (KestrelDownloader *self)
{
  g_mutex_init (&self->lock);
  self->revision = g_strdup ("main");
  self->max_attempts = 5;
  self->first_delay_ms = 1000;
  self->eta = -1;
}

#define DEFINE_GETTER(type, name, field, fallback) \
  type \
  kestrel_downloader_get_##name (KestrelDownloader *self) \
  { \
    g_return_val_if_fail (KESTREL_IS_DOWNLOADER (self), fallback); \
    return self->field; \
  }

DEFINE_GETTER (const char *, repo_id, repo_id, NULL)
DEFINE_GETTER (GFile *, destination, destination, NULL)
DEFINE_GETTER (const char *, revision, revision, NULL)
DEFINE_GETTER (const char *, endpoint, endpoint, NULL)
DEFINE_GETTER (GProxyResolver *, proxy_resolver, proxy_resolver, NULL)
DEFINE_GETTER (guint64, bytes_done, bytes_done, 0)
DEFINE_GETTER (guint64, bytes_total, bytes_total, 0)
DEFINE_GETTER (double, speed, speed, 0)
DEFINE_GETTER (gint64, eta, eta, -1)
DEFINE_GETTER (const char *, current_file, current_file, NULL)
DEFINE_GETTER (guint, files_done, files_done, 0)
DEFINE_GETTER (guint, files_total, files_total, 0)
DEFINE_GETTER (const char *, commit, commit, NULL)

void
kestrel_downloader_set_revision (KestrelDownloader *self,
                                 const char        *revision)
{
  g_return_if_fail (KESTREL_IS_DOWNLOADER (self));

  if (revision == NULL || revision[0] == '\0')
    revision = "main";
  if (g_set_str (&self->revision, revision))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVISION]);
}

void
kestrel_downloader_set_endpoint (KestrelDownloader *self,
                                 const char        *endpoint)
{
  g_return_if_fail (KESTREL_IS_DOWNLOADER (self));

  if (g_set_str (&self->endpoint, endpoint))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENDPOINT]);
}

void
kestrel_downloader_set_proxy_resolver (KestrelDownloader *self,
                                       GProxyResolver    *resolver)
{
  g_return_if_fail (KESTREL_IS_DOWNLOADER (self));
  g_return_if_fail (resolver == NULL || G_IS_PROXY_RESOLVER (resolver));

  if (g_set_object (&self->proxy_resolver, resolver))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROXY_RESOLVER]);
}

void
kestrel_downloader_set_token (KestrelDownloader *self,
                              const char        *token)
{
  g_return_if_fail (KESTREL_IS_DOWNLOADER (self));

  if (self->token != NULL)
    memset (self->token, 0, strlen (self->token));
  g_clear_pointer (&self->token, g_free);
  if (token != NULL && token[0] != '\0')
    self->token = g_strstrip (g_strdup (token));
}

void
kestrel_downloader_set_retry_policy (KestrelDownloader *self,
                                     guint              max_attempts,
                                     guint              first_delay_ms)
{
  g_return_if_fail (KESTREL_IS_DOWNLOADER (self));

  self->max_attempts = MAX (max_attempts, 1);
  self->first_delay_ms = first_delay_ms;
}

/* Worker thread: keep the latest counters for the timer. */
static void
job_progress_cb (const KestrelDownloadProgress *progress,
                 gpointer                       user_data)
{
  KestrelDownloader *self = user_data;

  g_mutex_lock (&self->lock);
  self->shared = *progress;
  g_set_str (&self->shared_current_file, progress->current_file);
  g_set_str (&self->shared_commit, progress->commit);
  self->shared.current_file = NULL;
  self->shared.commit = NULL;
  g_mutex_unlock (&self->lock);
}

#define SET_AND_NOTIFY(field, value, prop) \
  G_STMT_START { \
    if (self->field != (value)) \
      { \
        self->field = (value); \
        g_object_notify_by_pspec (G_OBJECT (self), properties[prop]); \
      } \
  } G_STMT_END

/* Main context: publish what the worker reported. */
static void
publish_progress (KestrelDownloader *self,
                  gboolean           finished)
{
  KestrelDownloadProgress snapshot;
  g_autofree char *current_file = NULL;
  g_autofree char *commit = NULL;
  gint64 now = g_get_monotonic_time ();
  double speed = self->speed;
  gint64 eta;

  g_mutex_lock (&self->lock);
  snapshot = self->shared;
  current_file = g_strdup (self->shared_current_file);
  commit = g_strdup (self->shared_commit);
  g_mutex_unlock (&self->lock);

  if (finished)
    speed = 0;
  else if (now > self->last_sample_us)
    {
      /* Exponential moving average of the network rate (time constant SPEED_TIME_CONSTANT_S)
       * started at 0 and divided by the weight gathered so far, so that it is not biased
       * towards 0 in the first seconds.  The clock starts with the first byte. */
      double dt = (now - self->last_sample_us) / (double) G_USEC_PER_SEC;
      guint64 delta = snapshot.bytes_transferred - self->last_transferred;

      if (self->speed_seconds > 0 || delta > 0)
        {
          double alpha = 1.0 - exp (-dt / SPEED_TIME_CONSTANT_S);

          self->speed_ema += alpha * (delta / dt - self->speed_ema);
          self->speed_seconds += dt;
          speed = self->speed_ema / (1.0 - exp (-self->speed_seconds / SPEED_TIME_CONSTANT_S));
        }
      self->last_sample_us = now;
      self->last_transferred = snapshot.bytes_transferred;
    }

  if (speed > 1.0 && snapshot.bytes_total >= snapshot.bytes_done)
    eta = (gint64) ceil ((snapshot.bytes_total - snapshot.bytes_done) / speed);
  else
    eta = finished && snapshot.bytes_done == snapshot.bytes_total ? 0 : -1;

  g_object_freeze_notify (G_OBJECT (self));
  SET_AND_NOTIFY (bytes_done, snapshot.bytes_done, PROP_BYTES_DONE);
  SET_AND_NOTIFY (bytes_total, snapshot.bytes_total, PROP_BYTES_TOTAL);
  SET_AND_NOTIFY (files_done, snapshot.files_done, PROP_FILES_DONE);
  SET_AND_NOTIFY (files_total, snapshot.files_total, PROP_FILES_TOTAL);
  SET_AND_NOTIFY (eta, eta, PROP_ETA);
  if (self->speed != speed)
    {
      self->speed = speed;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SPEED]);
    }
  if (g_set_str (&self->current_file, current_file))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CURRENT_FILE]);
  if (g_set_str (&self->commit, commit))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COMMIT]);
  g_object_thaw_notify (G_OBJECT (self));
}

static gboolean
progress_timer_cb (gpointer user_data)
{
  publish_progress (KESTREL_DOWNLOADER (user_data), FALSE);
  return G_SOURCE_CONTINUE;
}

static void
download_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  RunData *data = task_data;
  g_autoptr(KestrelHubClient) client = NULL;
  GError *error = NULL;

  client = kestrel_hub_client_new (data->endpoint, data->token, data->proxy_resolver);
  data->job.client = client;
  if (kestrel_download_job_run (&data->job, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  data->job.client = NULL;
}

static void
download_thread_done_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  KestrelDownloader *self = KESTREL_DOWNLOADER (object);
  g_autoptr(GTask) outer = user_data;
  GError *error = NULL;

  if (self->timer != NULL)
    g_source_destroy (self->timer);
  g_clear_pointer (&self->timer, g_source_unref);
  self->running = FALSE;
  publish_progress (self, TRUE);

  if (g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_boolean (outer, TRUE);
  else
    g_task_return_error (outer, error);
}

void
kestrel_downloader_download_async (KestrelDownloader   *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) outer = NULL;
  g_autoptr(GTask) inner = NULL;
  RunData *data;

  g_return_if_fail (KESTREL_IS_DOWNLOADER (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, kestrel_downloader_download_async);

  if (self->running)
    {
      g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_PENDING,
                               _("A download is already running"));
      return;
    }
  if (!kestrel_hub_is_valid_repo_id (self->repo_id))
    {
      g_task_return_new_error (outer, KESTREL_DOWNLOAD_ERROR,
                               KESTREL_DOWNLOAD_ERROR_INVALID_REPO_ID,
                               _("“%s” is not a Hugging Face model name: expected the form "
                                 "organisation/model, e.g. %s"),
                               self->repo_id ? self->repo_id : "", KESTREL_DEFAULT_MODEL_REPO);
      return;
    }

  data = g_new0 (RunData, 1);
  data->repo_id = g_strdup (self->repo_id);
  data->revision = g_strdup (self->revision);
  data->endpoint = g_strdup (self->endpoint);
  data->token = g_strdup (self->token);
  data->proxy_resolver = self->proxy_resolver ? g_object_ref (self->proxy_resolver) : NULL;
  data->destination = g_object_ref (self->destination);
  data->job.repo_id = data->repo_id;
  data->job.revision = data->revision;
  data->job.destination = data->destination;
  data->job.max_attempts = self->max_attempts;
  data->job.first_delay_ms = self->first_delay_ms;
  data->job.progress_func = job_progress_cb;
  data->job.progress_data = self;

  g_mutex_lock (&self->lock);
  memset (&self->shared, 0, sizeof self->shared);
  g_clear_pointer (&self->shared_current_file, g_free);
  g_clear_pointer (&self->shared_commit, g_free);
  g_mutex_unlock (&self->lock);
  self->speed = 0;
  self->speed_ema = 0;
  self->speed_seconds = 0;
  self->last_transferred = 0;
  self->last_sample_us = g_get_monotonic_time ();
  self->running = TRUE;

  /* The timer runs in the caller's context, like the callback. */
  self->timer = g_timeout_source_new (PROGRESS_INTERVAL_MS);
  g_source_set_callback (self->timer, progress_timer_cb, g_object_ref (self), g_object_unref);
  g_source_set_static_name (self->timer, "[kestrel] download progress");
  g_source_attach (self->timer, g_main_context_get_thread_default ());

  inner = g_task_new (self, cancellable, download_thread_done_cb, g_steal_pointer (&outer));
  g_task_set_source_tag (inner, download_thread);
  g_task_set_task_data (inner, data, (GDestroyNotify) run_data_free);
  g_task_run_in_thread (inner, download_thread);
}

gboolean
kestrel_downloader_download_finish (KestrelDownloader  *self,
                                    GAsyncResult       *result,
                                    GError            **error)
{
  g_return_val_if_fail (KESTREL_IS_DOWNLOADER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
