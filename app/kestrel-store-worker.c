/* kestrel-store-worker.c — the database thread: queued work for the UI, and coalesced writes
 * of streaming text.
 *
 * One thread per store runs GTasks in the order they were queued, so the UI never waits on
 * SQLite. The same thread writes streaming replies: kestrel_store_update_message_text () only
 * copies the text under a small lock (cheap enough per token) and, the first time after a
 * write, sets a deadline; the thread writes everything pending when the deadline passes, at
 * most once per flush-interval (1 s by default), which bounds what a crash can lose.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include "kestrel-store-private.h"

/* Markers in the job queue besides GTasks. */
static char wake_marker;
static char quit_marker;
#define WAKE ((gpointer) &wake_marker)
#define QUIT ((gpointer) &quit_marker)

typedef struct
{
  KestrelStoreJobFunc func;
  gpointer data;
  GDestroyNotify data_free;
  GDestroyNotify result_free;
} Job;

static void
job_free (gpointer user_data)
{
  Job *job = user_data;

  if (job->data_free != NULL)
    job->data_free (job->data);
  g_free (job);
}

/* Returns whether anything was written; FALSE with @error when the write failed (the text
 * stays pending and is retried after another interval). */
gboolean
_kestrel_store_flush_pending (KestrelStore  *self,
                              gboolean       only_if_due,
                              GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  g_autoptr(GHashTable) batch = NULL;
  GHashTableIter iter;
  gpointer key, value;
  gint64 now = g_get_monotonic_time ();

  /* db_lock first, then pending_lock: the order finish_message uses too. */
  locker = g_rec_mutex_locker_new (&self->db_lock);

  g_mutex_lock (&self->pending_lock);
  if (g_hash_table_size (self->pending) == 0 ||
      (only_if_due && (self->flush_deadline == 0 || now < self->flush_deadline)))
    {
      if (g_hash_table_size (self->pending) == 0)
        self->flush_deadline = 0;
      g_mutex_unlock (&self->pending_lock);
      return TRUE;
    }
  batch = g_steal_pointer (&self->pending);
  self->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) g_string_free);
  self->flush_deadline = 0;
  self->last_flush = now;
  self->n_flushes++;
  g_mutex_unlock (&self->pending_lock);

  if (!_kestrel_store_begin (self, error))
    goto failed;

  g_hash_table_iter_init (&iter, batch);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GString *text = value;
      sqlite3_stmt *stmt;

      /* Only while still streaming: a finished reply's final text is never overwritten. */
      if (!(stmt = _kestrel_store_prepare (self,
                                           "UPDATE messages SET content = ?2, updated_at = ?3"
                                           " WHERE id = ?1 AND status = 'streaming'", error)))
        goto failed_in_transaction;

      sqlite3_bind_int64 (stmt, 1, *(gint64 *) key);
      sqlite3_bind_text (stmt, 2, text->str, text->len, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 3, _kestrel_store_now ());
      if (!_kestrel_store_step_done (self, stmt, "Saving a streaming reply failed", error))
        goto failed_in_transaction;
    }

  if (!_kestrel_store_commit (self, error))
    goto failed;

  return TRUE;

failed_in_transaction:
  _kestrel_store_rollback (self);
failed:
  /* Put back what was not superseded meanwhile, and retry after another interval. */
  g_mutex_lock (&self->pending_lock);
  g_hash_table_iter_init (&iter, batch);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      if (!g_hash_table_contains (self->pending, key))
        {
          g_hash_table_iter_steal (&iter);
          g_hash_table_insert (self->pending, key, value);
        }
    }
  if (g_hash_table_size (self->pending) > 0 && self->flush_deadline == 0)
    self->flush_deadline = now + (gint64) self->flush_interval_ms * 1000;
  g_mutex_unlock (&self->pending_lock);
  return FALSE;
}

/**
 * kestrel_store_update_message_text:
 * @text: the whole text of the streaming reply so far
 *
 * Records the latest text of a streaming reply; it is written within about flush-interval
 * (1 s), on the database thread. Cheap enough to call for every token: no I/O, no allocation
 * once the buffer has grown. Errors of the deferred write are logged and the write retried;
 * kestrel_store_finish_message () makes the final, checked write.
 */
void
kestrel_store_update_message_text (KestrelStore *self,
                                   gint64        message_id,
                                   const char   *text)
{
  GString *pending;
  gboolean wake = FALSE;

  g_return_if_fail (KESTREL_IS_STORE (self));
  g_return_if_fail (text != NULL);

  g_mutex_lock (&self->pending_lock);

  pending = g_hash_table_lookup (self->pending, &message_id);
  if (pending == NULL)
    {
      pending = g_string_new (NULL);
      g_hash_table_insert (self->pending, g_memdup2 (&message_id, sizeof message_id), pending);
    }
  g_string_assign (pending, text);

  if (self->flush_deadline == 0)
    {
      gint64 next = self->last_flush + (gint64) self->flush_interval_ms * 1000;

      self->flush_deadline = MAX (next, g_get_monotonic_time ());
      wake = TRUE;
    }

  g_mutex_unlock (&self->pending_lock);

  if (wake)
    _kestrel_store_wake_worker (self);
}

/* Writes all pending streaming text now. */
gboolean
kestrel_store_flush (KestrelStore  *self,
                     GError       **error)
{
  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);

  return _kestrel_store_flush_pending (self, FALSE, error);
}

guint
_kestrel_store_get_n_flushes (KestrelStore *self)
{
  guint ret;

  g_mutex_lock (&self->pending_lock);
  ret = self->n_flushes;
  g_mutex_unlock (&self->pending_lock);

  return ret;
}

void
_kestrel_store_wake_worker (KestrelStore *self)
{
  if (self->jobs != NULL)
    g_async_queue_push (self->jobs, WAKE);
}

static void
run_job (KestrelStore *self,
         GTask        *task)
{
  Job *job = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gpointer result;

  if (g_task_return_error_if_cancelled (task))
    return;

  result = job->func (self, job->data, &error);
  if (error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, result, job->result_free);
}

static gboolean
unref_task_cb (gpointer user_data)
{
  g_object_unref (user_data);
  return G_SOURCE_REMOVE;
}

/* Not g_main_context_invoke (): that runs the callback right here when nobody owns the
 * context, which is exactly what must not happen. */
static void
unref_on_context (GTask *task)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  g_source_set_callback (source, unref_task_cb, task, NULL);
  g_source_set_static_name (source, "[kestrel-store] release task");
  g_source_attach (source, g_task_get_context (task));
}

static gpointer
worker_main (gpointer user_data)
{
  KestrelStore *self = user_data; /* not a reference: dispose joins this thread first */
  GAsyncQueue *jobs = self->jobs;

  for (;;)
    {
      gint64 deadline;
      gpointer item;

      g_mutex_lock (&self->pending_lock);
      deadline = self->flush_deadline;
      g_mutex_unlock (&self->pending_lock);

      if (deadline == 0)
        item = g_async_queue_pop (jobs);
      else
        item = g_async_queue_timeout_pop (jobs, MAX (0, deadline - g_get_monotonic_time ()));

      if (item == QUIT)
        break;

      if (item != NULL && item != WAKE)
        {
          GTask *task = item;

          run_job (self, task);
          /* The task holds the store; its last reference must not drop here, or the store
           * would be disposed on its own thread. */
          unref_on_context (task);
        }

      {
        g_autoptr(GError) error = NULL;

        if (!_kestrel_store_flush_pending (self, TRUE, &error))
          g_debug ("Saving streaming text failed, will retry: %s", error->message);
      }
    }

  return NULL;
}

void
_kestrel_store_worker_start (KestrelStore *self)
{
  self->jobs = g_async_queue_new ();
  self->worker = g_thread_new ("kestrel-store", worker_main, self);
}

void
_kestrel_store_worker_stop (KestrelStore *self)
{
  g_autoptr(GError) error = NULL;

  if (self->worker != NULL)
    {
      g_async_queue_push (self->jobs, QUIT);
      g_thread_join (g_steal_pointer (&self->worker));
      g_clear_pointer (&self->jobs, g_async_queue_unref);
    }

  if (self->db != NULL && !_kestrel_store_flush_pending (self, FALSE, &error))
    g_message ("Saving streaming text at close failed: %s", error->message);
}

void
_kestrel_store_queue_job (KestrelStore        *self,
                          gpointer             source_tag,
                          KestrelStoreJobFunc  func,
                          gpointer             data,
                          GDestroyNotify       data_free,
                          GDestroyNotify       result_free,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Job *job = g_new0 (Job, 1);

  job->func = func;
  job->data = data;
  job->data_free = data_free;
  job->result_free = result_free;

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, job, job_free);
  /* The queue's reference is dropped on the caller's context once the job has run. */
  g_async_queue_push (self->jobs, task);
}
