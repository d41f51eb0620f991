/* kestrel-generation.c — one streamed reply: text deltas coalesced to frame rate.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Pattern of gnome-text-editor's editor-document-statistics.c: the worker produces, the
 * main loop consumes through a source that holds a weak reference, and nothing the worker
 * does can block the main thread for longer than copying the pending text.
 */
#define G_LOG_DOMAIN "kestrel-generation"

#include "config.h"

#include <gio/gio.h>

#include "kestrel-generation-private.h"

#define FRAME_USEC (G_USEC_PER_SEC / 60)

struct _KestrelGenerationFeed
{
  gatomicrefcount         ref_count;
  GMutex                  mutex;
  GWeakRef                generation;
  GMainContext           *context;
  gint                    cancelled;      /* atomic */
  gint                    produced;       /* atomic: tokens appended by the worker */
  gint                    produced_at_cancel; /* atomic */

  /* protected by mutex */
  GString                *pending_text;
  guint                   pending_tokens;
  KestrelGenerationStatus status;
  gboolean                finished;
  KestrelGenerationStats  stats;
  GError                 *error;
  GSource                *pending_source;
  gint64                  last_flush_usec;
};

struct _KestrelGeneration
{
  GObject                 parent_instance;

  KestrelGenerationFeed  *feed;
  char                   *conversation_id;
  GString                *text;
  guint                   n_tokens;
  KestrelGenerationStatus status;
  KestrelGenerationStats  stats;
  GError                 *error;
  gboolean                finished;
  guint                   n_updates;
};

G_DEFINE_FINAL_TYPE (KestrelGeneration, kestrel_generation, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TEXT,
  PROP_STATUS,
  PROP_N_TOKENS,
  PROP_CONVERSATION_ID,
  N_PROPS
};

enum {
  DELTA,
  FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* ---- feed (any thread) ------------------------------------------------------------- */

KestrelGenerationFeed *
_kestrel_generation_feed_ref (KestrelGenerationFeed *feed)
{
  g_atomic_ref_count_inc (&feed->ref_count);
  return feed;
}

void
_kestrel_generation_feed_unref (KestrelGenerationFeed *feed)
{
  if (!g_atomic_ref_count_dec (&feed->ref_count))
    return;

  g_assert (feed->pending_source == NULL);
  g_weak_ref_clear (&feed->generation);
  g_main_context_unref (feed->context);
  g_string_free (feed->pending_text, TRUE);
  g_clear_error (&feed->error);
  g_mutex_clear (&feed->mutex);
  g_free (feed);
}

gboolean
_kestrel_generation_feed_is_cancelled (KestrelGenerationFeed *feed)
{
  return g_atomic_int_get (&feed->cancelled) != 0;
}

static gboolean flush_cb (gpointer data);

/* Called with the mutex held: makes sure exactly one update is pending, no sooner than
 * one frame after the previous one. */
static void
schedule_flush_locked (KestrelGenerationFeed *feed)
{
  gint64 now, wait_usec;

  if (feed->pending_source != NULL)
    return;

  now = g_get_monotonic_time ();
  wait_usec = feed->last_flush_usec + FRAME_USEC - now;
  if (feed->finished || wait_usec <= 0)
    feed->pending_source = g_idle_source_new ();
  else
    feed->pending_source = g_timeout_source_new ((guint) ((wait_usec + 999) / 1000));

  g_source_set_priority (feed->pending_source, G_PRIORITY_DEFAULT_IDLE);
  g_source_set_static_name (feed->pending_source, "[kestrel] generation update");
  g_source_set_callback (feed->pending_source, flush_cb,
                         _kestrel_generation_feed_ref (feed),
                         (GDestroyNotify) _kestrel_generation_feed_unref);
  g_source_attach (feed->pending_source, feed->context);
}

void
_kestrel_generation_feed_set_status (KestrelGenerationFeed   *feed,
                                     KestrelGenerationStatus  status)
{
  g_mutex_lock (&feed->mutex);
  if (!feed->finished)
    {
      feed->status = status;
      schedule_flush_locked (feed);
    }
  g_mutex_unlock (&feed->mutex);
}

void
_kestrel_generation_feed_append (KestrelGenerationFeed *feed,
                                 const char            *text,
                                 gsize                  len,
                                 guint                  n_tokens)
{
  g_atomic_int_add (&feed->produced, (gint) n_tokens);
  g_mutex_lock (&feed->mutex);
  if (!feed->finished)
    {
      g_string_append_len (feed->pending_text, text, len);
      feed->pending_tokens += n_tokens;
      feed->status = KESTREL_GENERATION_STREAMING;
      schedule_flush_locked (feed);
    }
  g_mutex_unlock (&feed->mutex);
}

void
_kestrel_generation_feed_finish (KestrelGenerationFeed        *feed,
                                 KestrelGenerationStatus       status,
                                 const KestrelGenerationStats *stats,
                                 GError                       *error)
{
  g_mutex_lock (&feed->mutex);
  if (feed->finished)
    {
      g_mutex_unlock (&feed->mutex);
      g_clear_error (&error);
      return;
    }
  feed->finished = TRUE;
  feed->status = status;
  if (stats != NULL)
    feed->stats = *stats;
  feed->error = error;
  schedule_flush_locked (feed);
  g_mutex_unlock (&feed->mutex);
}

/* ---- main thread ------------------------------------------------------------------- */

static gboolean
flush_cb (gpointer data)
{
  KestrelGenerationFeed *feed = data;
  g_autoptr(KestrelGeneration) self = g_weak_ref_get (&feed->generation);
  g_autofree char *delta = NULL;
  gsize delta_len;
  guint tokens;
  KestrelGenerationStatus status;
  gboolean finished;
  GError *error = NULL;

  g_mutex_lock (&feed->mutex);
  delta_len = feed->pending_text->len;
  delta = g_string_free_and_steal (feed->pending_text);
  feed->pending_text = g_string_new (NULL);
  tokens = feed->pending_tokens;
  feed->pending_tokens = 0;
  status = feed->status;
  finished = feed->finished;
  if (finished && self != NULL)
    {
      self->stats = feed->stats;
      error = g_steal_pointer (&feed->error);
    }
  g_clear_pointer (&feed->pending_source, g_source_unref);
  feed->last_flush_usec = g_get_monotonic_time ();
  g_mutex_unlock (&feed->mutex);

  /* Nobody holds the reply any more: the update is dropped. */
  if (self == NULL || self->finished)
    {
      g_clear_error (&error);
      return G_SOURCE_REMOVE;
    }

  self->n_updates++;
  g_object_freeze_notify (G_OBJECT (self));

  if (delta_len > 0 || tokens > 0)
    {
      g_string_append_len (self->text, delta, delta_len);
      self->n_tokens += tokens;
      g_signal_emit (self, signals[DELTA], 0, delta);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_TOKENS]);
    }

  if (status != self->status)
    {
      self->status = status;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
    }

  if (finished)
    {
      self->finished = TRUE;
      self->error = error;
    }

  g_object_thaw_notify (G_OBJECT (self));

  if (finished)
    g_signal_emit (self, signals[FINISHED], 0);

  return G_SOURCE_REMOVE;
}

KestrelGeneration *
_kestrel_generation_new (const char   *conversation_id,
                         GMainContext *context)
{
  KestrelGeneration *self = g_object_new (KESTREL_TYPE_GENERATION, NULL);
  KestrelGenerationFeed *feed = g_new0 (KestrelGenerationFeed, 1);

  g_atomic_ref_count_init (&feed->ref_count);
  g_mutex_init (&feed->mutex);
  g_weak_ref_init (&feed->generation, self);
  feed->context = g_main_context_ref (context ? context : g_main_context_default ());
  feed->pending_text = g_string_new (NULL);
  feed->status = KESTREL_GENERATION_PENDING;

  self->feed = feed;
  self->conversation_id = g_strdup (conversation_id);

  return self;
}

KestrelGenerationFeed *
_kestrel_generation_get_feed (KestrelGeneration *self)
{
  return self->feed;
}

guint
_kestrel_generation_get_n_updates (KestrelGeneration *self)
{
  return self->n_updates;
}

guint
_kestrel_generation_get_n_produced (KestrelGeneration *self)
{
  return (guint) g_atomic_int_get (&self->feed->produced);
}

guint
_kestrel_generation_get_n_produced_at_cancel (KestrelGeneration *self)
{
  return (guint) g_atomic_int_get (&self->feed->produced_at_cancel);
}

const char *
kestrel_generation_get_text (KestrelGeneration *self)
{
  g_return_val_if_fail (KESTREL_IS_GENERATION (self), NULL);
  return self->text->str;
}

const char *
kestrel_generation_get_conversation_id (KestrelGeneration *self)
{
  g_return_val_if_fail (KESTREL_IS_GENERATION (self), NULL);
  return self->conversation_id;
}

KestrelGenerationStatus
kestrel_generation_get_status (KestrelGeneration *self)
{
  g_return_val_if_fail (KESTREL_IS_GENERATION (self), KESTREL_GENERATION_FAILED);
  return self->status;
}

guint
kestrel_generation_get_n_tokens (KestrelGeneration *self)
{
  g_return_val_if_fail (KESTREL_IS_GENERATION (self), 0);
  return self->n_tokens;
}

const GError *
kestrel_generation_get_error (KestrelGeneration *self)
{
  g_return_val_if_fail (KESTREL_IS_GENERATION (self), NULL);
  return self->error;
}

void
kestrel_generation_get_stats (KestrelGeneration      *self,
                              KestrelGenerationStats *stats)
{
  g_return_if_fail (KESTREL_IS_GENERATION (self));
  *stats = self->stats;
}

gboolean
kestrel_generation_is_finished (KestrelGeneration *self)
{
  g_return_val_if_fail (KESTREL_IS_GENERATION (self), TRUE);
  return self->finished;
}

void
kestrel_generation_cancel (KestrelGeneration *self)
{
  g_return_if_fail (KESTREL_IS_GENERATION (self));
  if (g_atomic_int_get (&self->feed->cancelled))
    return;
  g_atomic_int_set (&self->feed->produced_at_cancel, g_atomic_int_get (&self->feed->produced));
  g_atomic_int_set (&self->feed->cancelled, 1);
}

static void
kestrel_generation_finalize (GObject *object)
{
  KestrelGeneration *self = (KestrelGeneration *) object;

  /* The worker may still hold the feed; it sees the cancel flag and stops. */
  g_atomic_int_set (&self->feed->cancelled, 1);
  _kestrel_generation_feed_unref (self->feed);
  g_string_free (self->text, TRUE);
  g_free (self->conversation_id);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (kestrel_generation_parent_class)->finalize (object);
}

static void
kestrel_generation_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  KestrelGeneration *self = KESTREL_GENERATION (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      g_value_set_string (value, self->text->str);
      break;
    case PROP_STATUS:
      g_value_set_int (value, self->status);
      break;
    case PROP_N_TOKENS:
      g_value_set_uint (value, self->n_tokens);
      break;
    case PROP_CONVERSATION_ID:
      g_value_set_string (value, self->conversation_id);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_generation_class_init (KestrelGenerationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = kestrel_generation_finalize;
  object_class->get_property = kestrel_generation_get_property;

  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, "",
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS] =
    g_param_spec_int ("status", NULL, NULL,
                      KESTREL_GENERATION_PENDING, KESTREL_GENERATION_FAILED,
                      KESTREL_GENERATION_PENDING,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_TOKENS] =
    g_param_spec_uint ("n-tokens", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONVERSATION_ID] =
    g_param_spec_string ("conversation-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The new text since the last "delta", at most once per frame. */
  signals[DELTA] = g_signal_new ("delta", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /* Status is COMPLETE, CANCELLED or FAILED (then get_error() says why). */
  signals[FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
kestrel_generation_init (KestrelGeneration *self)
{
  self->text = g_string_new (NULL);
  self->status = KESTREL_GENERATION_PENDING;
}
