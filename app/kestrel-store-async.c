/* kestrel-store-async.c — the async calls the UI makes. Each packs its arguments, runs the
 * synchronous call on the database thread (kestrel-store-worker.c), and reports on the
 * caller's main context.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include "kestrel-store-private.h"

static gpointer
propagate (KestrelStore  *self,
           GAsyncResult  *result,
           gpointer       source_tag,
           GError       **error)
{
  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}


typedef struct
{
  gint64 id;
  gint64 parent_id;
  gboolean flag;
  guint limit;
  GObject *object;
  int role;
  int status;
  int format;
  char *text;
  char *text2;
  GPtrArray *attachments;
} Args;

static void
args_free (gpointer data)
{
  Args *args = data;

  g_free (args->text);
  g_free (args->text2);
  g_clear_pointer (&args->attachments, g_ptr_array_unref);
  g_clear_object (&args->object);
  g_free (args);
}

static gpointer
list_conversations_job (KestrelStore  *self,
                        gpointer       data,
                        GError       **error)
{
  Args *args = data;

  return kestrel_store_list_conversations (self, args->flag, (KestrelConversation *) args->object,
                                           args->limit, error);
}

void
kestrel_store_list_conversations_async (KestrelStore        *self,
                                        gboolean             archived,
                                        KestrelConversation *after,
                                        guint                limit,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  Args *args = g_new0 (Args, 1);

  g_return_if_fail (KESTREL_IS_STORE (self));

  args->flag = archived;
  /* A copy, not a reference: the caller's object may be updated on its thread meanwhile. */
  if (after != NULL)
    {
      args->object = g_object_new (KESTREL_TYPE_CONVERSATION, "id", kestrel_conversation_get_id (after), NULL);
      kestrel_conversation_update_from (KESTREL_CONVERSATION (args->object), after);
    }
  args->limit = limit;
  _kestrel_store_queue_job (self, kestrel_store_list_conversations_async, list_conversations_job, args, args_free,
                            (GDestroyNotify) g_ptr_array_unref, cancellable, callback, user_data);
}

GPtrArray *
kestrel_store_list_conversations_finish (KestrelStore  *self,
                                         GAsyncResult  *result,
                                         GError       **error)
{
  return propagate (self, result, kestrel_store_list_conversations_async, error);
}

static gpointer
get_conversation_job (KestrelStore  *self,
                      gpointer       data,
                      GError       **error)
{
  return kestrel_store_get_conversation (self, ((Args *) data)->id, error);
}

void
kestrel_store_get_conversation_async (KestrelStore        *self,
                                      gint64               conversation_id,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  Args *args = g_new0 (Args, 1);

  g_return_if_fail (KESTREL_IS_STORE (self));

  args->id = conversation_id;
  _kestrel_store_queue_job (self, kestrel_store_get_conversation_async, get_conversation_job, args, args_free,
                            g_object_unref, cancellable, callback, user_data);
}

KestrelConversation *
kestrel_store_get_conversation_finish (KestrelStore  *self,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  return propagate (self, result, kestrel_store_get_conversation_async, error);
}

static gpointer
load_thread_job (KestrelStore  *self,
                 gpointer       data,
                 GError       **error)
{
  return kestrel_store_load_thread (self, ((Args *) data)->id, error);
}

void
kestrel_store_load_thread_async (KestrelStore        *self,
                                 gint64               conversation_id,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  Args *args = g_new0 (Args, 1);

  g_return_if_fail (KESTREL_IS_STORE (self));

  args->id = conversation_id;
  _kestrel_store_queue_job (self, kestrel_store_load_thread_async, load_thread_job, args, args_free,
                            (GDestroyNotify) g_ptr_array_unref, cancellable, callback, user_data);
}

GPtrArray *
kestrel_store_load_thread_finish (KestrelStore  *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  return propagate (self, result, kestrel_store_load_thread_async, error);
}

static gpointer
search_job (KestrelStore  *self,
            gpointer       data,
            GError       **error)
{
  Args *args = data;

  return kestrel_store_search (self, args->text, args->limit, error);
}

void
kestrel_store_search_async (KestrelStore        *self,
                            const char          *query,
                            guint                limit,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  Args *args = g_new0 (Args, 1);

  g_return_if_fail (KESTREL_IS_STORE (self));
  g_return_if_fail (query != NULL);

  args->text = g_strdup (query);
  args->limit = limit;
  _kestrel_store_queue_job (self, kestrel_store_search_async, search_job, args, args_free,
                            (GDestroyNotify) g_ptr_array_unref, cancellable, callback, user_data);
}

GPtrArray *
kestrel_store_search_finish (KestrelStore  *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  return propagate (self, result, kestrel_store_search_async, error);
}

static gpointer
append_message_job (KestrelStore  *self,
                    gpointer       data,
                    GError       **error)
{
  Args *args = data;

  return kestrel_store_append_message (self, args->id, args->parent_id, args->role, args->status,
                                       args->text, args->attachments, error);
}

void
kestrel_store_append_message_async (KestrelStore         *self,
                                    gint64                conversation_id,
                                    gint64                parent_id,
                                    KestrelMessageRole    role,
                                    KestrelMessageStatus  status,
                                    const char           *content,
                                    GPtrArray            *attachments,
                                    GCancellable         *cancellable,
                                    GAsyncReadyCallback   callback,
                                    gpointer              user_data)
{
  Args *args = g_new0 (Args, 1);

  g_return_if_fail (KESTREL_IS_STORE (self));

  args->id = conversation_id;
  args->parent_id = parent_id;
  args->role = role;
  args->status = status;
  args->text = g_strdup (content);
  args->attachments = attachments ? g_ptr_array_ref (attachments) : NULL;
  _kestrel_store_queue_job (self, kestrel_store_append_message_async, append_message_job, args, args_free,
                            g_object_unref, cancellable, callback, user_data);
}

KestrelMessage *
kestrel_store_append_message_finish (KestrelStore  *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  return propagate (self, result, kestrel_store_append_message_async, error);
}

static gpointer
finish_message_job (KestrelStore  *self,
                    gpointer       data,
                    GError       **error)
{
  Args *args = data;

  /* Any non-NULL pointer for success; the result is never handed out. */
  return kestrel_store_finish_message (self, args->id, args->text, args->status, args->text2, error)
    ? GINT_TO_POINTER (1) : NULL;
}

void
kestrel_store_finish_message_async (KestrelStore         *self,
                                    gint64                message_id,
                                    const char           *content,
                                    KestrelMessageStatus  status,
                                    const char           *stats_json,
                                    GCancellable         *cancellable,
                                    GAsyncReadyCallback   callback,
                                    gpointer              user_data)
{
  Args *args = g_new0 (Args, 1);

  g_return_if_fail (KESTREL_IS_STORE (self));

  args->id = message_id;
  args->text = g_strdup (content);
  args->status = status;
  args->text2 = g_strdup (stats_json);
  _kestrel_store_queue_job (self, kestrel_store_finish_message_async, finish_message_job, args, args_free,
                            NULL, cancellable, callback, user_data);
}

gboolean
kestrel_store_finish_message_finish (KestrelStore  *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  return propagate (self, result, kestrel_store_finish_message_async, error) != NULL;
}

static gpointer
export_job (KestrelStore  *self,
            gpointer       data,
            GError       **error)
{
  Args *args = data;

  return kestrel_store_export (self, args->id, args->format, error);
}

void
kestrel_store_export_async (KestrelStore        *self,
                            gint64               conversation_id,
                            KestrelExportFormat  format,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  Args *args = g_new0 (Args, 1);

  g_return_if_fail (KESTREL_IS_STORE (self));

  args->id = conversation_id;
  args->format = format;
  _kestrel_store_queue_job (self, kestrel_store_export_async, export_job, args, args_free,
                            g_free, cancellable, callback, user_data);
}

char *
kestrel_store_export_finish (KestrelStore  *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  return propagate (self, result, kestrel_store_export_async, error);
}

static gpointer
set_title_job (KestrelStore  *self,
               gpointer       data,
               GError       **error)
{
  Args *args = data;

  return kestrel_store_set_title (self, args->id, args->text, args->format, error) ? GINT_TO_POINTER (1) : NULL;
}

/* For a title the model generated in the background (KESTREL_TITLE_SOURCE_MODEL): it lands
 * unless the user named the conversation meanwhile. */
void
kestrel_store_set_title_async (KestrelStore        *self,
                               gint64               conversation_id,
                               const char          *title,
                               KestrelTitleSource   source,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  Args *args = g_new0 (Args, 1);

  g_return_if_fail (KESTREL_IS_STORE (self));
  g_return_if_fail (title != NULL);

  args->id = conversation_id;
  args->text = g_strdup (title);
  args->format = source;
  _kestrel_store_queue_job (self, kestrel_store_set_title_async, set_title_job, args, args_free,
                            NULL, cancellable, callback, user_data);
}

gboolean
kestrel_store_set_title_finish (KestrelStore  *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  return propagate (self, result, kestrel_store_set_title_async, error) != NULL;
}

static gpointer
set_pinned_job (KestrelStore  *self,
                gpointer       data,
                GError       **error)
{
  Args *args = data;

  return kestrel_store_set_pinned (self, args->id, args->flag, error) ? GINT_TO_POINTER (1) : NULL;
}

void
kestrel_store_set_pinned_async (KestrelStore        *self,
                                gint64               conversation_id,
                                gboolean             pinned,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  Args *args = g_new0 (Args, 1);

  g_return_if_fail (KESTREL_IS_STORE (self));

  args->id = conversation_id;
  args->flag = !!pinned;
  _kestrel_store_queue_job (self, kestrel_store_set_pinned_async, set_pinned_job, args, args_free,
                            NULL, cancellable, callback, user_data);
}

gboolean
kestrel_store_set_pinned_finish (KestrelStore  *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  return propagate (self, result, kestrel_store_set_pinned_async, error) != NULL;
}

static gpointer
delete_conversation_job (KestrelStore  *self,
                         gpointer       data,
                         GError       **error)
{
  Args *args = data;

  return kestrel_store_delete_conversation (self, args->id, error) ? GINT_TO_POINTER (1) : NULL;
}

static gpointer
delete_all_job (KestrelStore  *self,
                gpointer       data,
                GError       **error)
{
  return kestrel_store_delete_all_conversations (self, error) ? GINT_TO_POINTER (1) : NULL;
}

void
kestrel_store_delete_all_conversations_async (KestrelStore        *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data)
{
  g_return_if_fail (KESTREL_IS_STORE (self));

  _kestrel_store_queue_job (self, kestrel_store_delete_all_conversations_async, delete_all_job,
                            g_new0 (Args, 1), args_free, NULL, cancellable, callback, user_data);
}

gboolean
kestrel_store_delete_all_conversations_finish (KestrelStore  *self,
                                               GAsyncResult  *result,
                                               GError       **error)
{
  return propagate (self, result, kestrel_store_delete_all_conversations_async, error) != NULL;
}

/* Deleting a long conversation rewrites its messages' FTS entries: off the main thread. */
void
kestrel_store_delete_conversation_async (KestrelStore        *self,
                                         gint64               conversation_id,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  Args *args = g_new0 (Args, 1);

  g_return_if_fail (KESTREL_IS_STORE (self));

  args->id = conversation_id;
  _kestrel_store_queue_job (self, kestrel_store_delete_conversation_async, delete_conversation_job,
                            args, args_free, NULL, cancellable, callback, user_data);
}

gboolean
kestrel_store_delete_conversation_finish (KestrelStore  *self,
                                          GAsyncResult  *result,
                                          GError       **error)
{
  return propagate (self, result, kestrel_store_delete_conversation_async, error) != NULL;
}
