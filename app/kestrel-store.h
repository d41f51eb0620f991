/* kestrel-store.h — the SQLite conversation store.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-attachment.h"
#include "kestrel-conversation.h"
#include "kestrel-message.h"
#include "kestrel-search-hit.h"
#include "kestrel-store-types.h"
#include "kestrel-stored-tool-call.h"

G_BEGIN_DECLS

#define KESTREL_STORE_ERROR (kestrel_store_error_quark ())

typedef enum
{
  KESTREL_STORE_ERROR_CORRUPT,      /* the file is damaged or not a Kestrel database */
  KESTREL_STORE_ERROR_NEWER_SCHEMA, /* written by a newer Kestrel; left untouched */
  KESTREL_STORE_ERROR_LOCKED,       /* another process holds the database */
  KESTREL_STORE_ERROR_FULL,         /* the disk (or the size limit) is full */
  KESTREL_STORE_ERROR_READ_ONLY,    /* the folder or file cannot be written */
  KESTREL_STORE_ERROR_NOT_FOUND,    /* no such conversation, message or tool call */
  KESTREL_STORE_ERROR_INVALID,      /* a bad argument or a bad import file */
  KESTREL_STORE_ERROR_FAILED,       /* any other database failure */
} KestrelStoreError;

typedef enum
{
  KESTREL_EXPORT_FORMAT_MARKDOWN,
  KESTREL_EXPORT_FORMAT_JSON,
} KestrelExportFormat;

/* The schema version this build writes (PRAGMA user_version). */
#define KESTREL_STORE_SCHEMA_VERSION 4

#define KESTREL_TYPE_STORE (kestrel_store_get_type ())

G_DECLARE_FINAL_TYPE (KestrelStore, kestrel_store, KESTREL, STORE, GObject)

GQuark               kestrel_store_error_quark           (void);
char                *kestrel_store_dup_default_path      (void);

KestrelStore        *kestrel_store_new                   (const char            *path,
                                                          GError               **error);
KestrelStore        *kestrel_store_new_in_memory         (GError               **error);
const char          *kestrel_store_get_path              (KestrelStore          *self);
const char          *kestrel_store_get_recovery_message  (KestrelStore          *self);
const char          *kestrel_store_get_moved_aside_path  (KestrelStore          *self);
gboolean             kestrel_store_get_read_only         (KestrelStore          *self);
guint                kestrel_store_get_flush_interval    (KestrelStore          *self);
void                 kestrel_store_set_flush_interval    (KestrelStore          *self,
                                                          guint                  flush_interval_ms);

/* Conversations */
KestrelConversation *kestrel_store_create_conversation   (KestrelStore          *self,
                                                          const char            *system_prompt,
                                                          const char            *settings_json,
                                                          GError               **error);
KestrelConversation *kestrel_store_get_conversation      (KestrelStore          *self,
                                                          gint64                 conversation_id,
                                                          GError               **error);
GPtrArray           *kestrel_store_list_conversations    (KestrelStore          *self,
                                                          gboolean               archived,
                                                          KestrelConversation   *after,
                                                          guint                  limit,
                                                          GError               **error);
gboolean             kestrel_store_set_title             (KestrelStore          *self,
                                                          gint64                 conversation_id,
                                                          const char            *title,
                                                          KestrelTitleSource     source,
                                                          GError               **error);
gboolean             kestrel_store_set_pinned            (KestrelStore          *self,
                                                          gint64                 conversation_id,
                                                          gboolean               pinned,
                                                          GError               **error);
gboolean             kestrel_store_set_archived          (KestrelStore          *self,
                                                          gint64                 conversation_id,
                                                          gboolean               archived,
                                                          GError               **error);
gboolean             kestrel_store_set_system_prompt     (KestrelStore          *self,
                                                          gint64                 conversation_id,
                                                          const char            *system_prompt,
                                                          GError               **error);
gboolean             kestrel_store_set_settings          (KestrelStore          *self,
                                                          gint64                 conversation_id,
                                                          const char            *settings_json,
                                                          GError               **error);
gboolean             kestrel_store_delete_conversation   (KestrelStore          *self,
                                                          gint64                 conversation_id,
                                                          GError               **error);
gboolean             kestrel_store_delete_all_conversations (KestrelStore       *self,
                                                          GError               **error);

/* Messages */
KestrelMessage      *kestrel_store_append_message        (KestrelStore          *self,
                                                          gint64                 conversation_id,
                                                          gint64                 parent_id,
                                                          KestrelMessageRole     role,
                                                          KestrelMessageStatus   status,
                                                          const char            *content,
                                                          GPtrArray             *attachments,
                                                          GError               **error);
KestrelMessage      *kestrel_store_get_message           (KestrelStore          *self,
                                                          gint64                 message_id,
                                                          GError               **error);
GPtrArray           *kestrel_store_load_thread           (KestrelStore          *self,
                                                          gint64                 conversation_id,
                                                          GError               **error);
GPtrArray           *kestrel_store_list_siblings         (KestrelStore          *self,
                                                          gint64                 message_id,
                                                          GError               **error);
gboolean             kestrel_store_select_message        (KestrelStore          *self,
                                                          gint64                 message_id,
                                                          GError               **error);
gboolean             kestrel_store_delete_message        (KestrelStore          *self,
                                                          gint64                 message_id,
                                                          GError               **error);
void                 kestrel_store_update_message_text   (KestrelStore          *self,
                                                          gint64                 message_id,
                                                          const char            *text);
gboolean             kestrel_store_finish_message        (KestrelStore          *self,
                                                          gint64                 message_id,
                                                          const char            *content,
                                                          KestrelMessageStatus   status,
                                                          const char            *stats_json,
                                                          GError               **error);
gboolean             kestrel_store_flush                 (KestrelStore          *self,
                                                          GError               **error);

/* Tool calls */
KestrelStoredToolCall     *kestrel_store_add_tool_call         (KestrelStore          *self,
                                                          gint64                 message_id,
                                                          const char            *name,
                                                          const char            *arguments_json,
                                                          GError               **error);
gboolean             kestrel_store_update_tool_call      (KestrelStore          *self,
                                                          gint64                 tool_call_id,
                                                          KestrelToolCallStatus  status,
                                                          KestrelToolApproval    approval,
                                                          const char            *result,
                                                          GError               **error);

/* Search, export, import */
GPtrArray           *kestrel_store_search                (KestrelStore          *self,
                                                          const char            *query,
                                                          guint                  limit,
                                                          GError               **error);
char                *kestrel_store_export                (KestrelStore          *self,
                                                          gint64                 conversation_id,
                                                          KestrelExportFormat    format,
                                                          GError               **error);
KestrelConversation *kestrel_store_import_json           (KestrelStore          *self,
                                                          const char            *json,
                                                          gssize                 length,
                                                          GError               **error);

/* Async variants: the work runs on the store's database thread, the callback on the
 * thread-default main context of the caller. */
void                 kestrel_store_list_conversations_async  (KestrelStore         *self,
                                                              gboolean              archived,
                                                              KestrelConversation  *after,
                                                              guint                 limit,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
GPtrArray           *kestrel_store_list_conversations_finish (KestrelStore         *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);
void                 kestrel_store_get_conversation_async    (KestrelStore         *self,
                                                              gint64                conversation_id,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
KestrelConversation *kestrel_store_get_conversation_finish   (KestrelStore         *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);
void                 kestrel_store_load_thread_async         (KestrelStore         *self,
                                                              gint64                conversation_id,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
GPtrArray           *kestrel_store_load_thread_finish        (KestrelStore         *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);
void                 kestrel_store_search_async              (KestrelStore         *self,
                                                              const char           *query,
                                                              guint                 limit,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
GPtrArray           *kestrel_store_search_finish             (KestrelStore         *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);
void                 kestrel_store_append_message_async      (KestrelStore         *self,
                                                              gint64                conversation_id,
                                                              gint64                parent_id,
                                                              KestrelMessageRole    role,
                                                              KestrelMessageStatus  status,
                                                              const char           *content,
                                                              GPtrArray            *attachments,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
KestrelMessage      *kestrel_store_append_message_finish     (KestrelStore         *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);
void                 kestrel_store_finish_message_async      (KestrelStore         *self,
                                                              gint64                message_id,
                                                              const char           *content,
                                                              KestrelMessageStatus  status,
                                                              const char           *stats_json,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
gboolean             kestrel_store_finish_message_finish     (KestrelStore         *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);
void                 kestrel_store_export_async              (KestrelStore         *self,
                                                              gint64                conversation_id,
                                                              KestrelExportFormat   format,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
char                *kestrel_store_export_finish             (KestrelStore         *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);
void                 kestrel_store_set_title_async           (KestrelStore         *self,
                                                              gint64                conversation_id,
                                                              const char           *title,
                                                              KestrelTitleSource    source,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
gboolean             kestrel_store_set_title_finish          (KestrelStore         *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);

void                 kestrel_store_set_pinned_async          (KestrelStore         *self,
                                                              gint64                conversation_id,
                                                              gboolean              pinned,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
gboolean             kestrel_store_set_pinned_finish         (KestrelStore         *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);
void                 kestrel_store_delete_all_conversations_async  (KestrelStore        *self,
                                                                    GCancellable        *cancellable,
                                                                    GAsyncReadyCallback  callback,
                                                                    gpointer             user_data);
gboolean             kestrel_store_delete_all_conversations_finish (KestrelStore        *self,
                                                                    GAsyncResult        *result,
                                                                    GError             **error);
void                 kestrel_store_delete_conversation_async (KestrelStore         *self,
                                                              gint64                conversation_id,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
gboolean             kestrel_store_delete_conversation_finish (KestrelStore        *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);

G_END_DECLS
