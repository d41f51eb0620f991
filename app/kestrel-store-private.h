/* kestrel-store-private.h — what the store's files (and its tests) share.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <sqlite3.h>

#include "kestrel-store.h"

G_BEGIN_DECLS

/* The JSON export format (kestrel-store-export.c, kestrel-store-import.c). */
#define KESTREL_STORE_JSON_FORMAT "kestrel-conversation"
#define KESTREL_STORE_JSON_VERSION 1

/* PRAGMA application_id of a Kestrel database: "KSTR". */
#define KESTREL_STORE_APPLICATION_ID 0x4B535452

struct _KestrelStore
{
  GObject parent_instance;

  char *path;                /* NULL for an in-memory store */
  char *recovery_message;    /* what the UI should tell the user about opening, or NULL */
  char *moved_aside_path;    /* where an unreadable file was moved, or NULL */
  GMainContext *main_context; /* where conversation-changed is emitted */
  GThread *owner_thread;      /* the thread that made the store, which owns main_context */

  /* The connection. Every use holds db_lock: the database thread and synchronous callers
   * share it, and a transaction spans several statements. */
  GRecMutex db_lock;
  sqlite3 *db;
  GHashTable *statements;    /* SQL text -> sqlite3_stmt*, prepared once */
  guint busy_timeout_ms;
  guint read_only : 1;

  /* The database thread: runs queued GTasks in order, and writes coalesced streaming text
   * when flush_deadline passes. */
  GThread *worker;
  GAsyncQueue *jobs;

  /* Streaming text not yet written, under pending_lock (taken without db_lock, so the UI can
   * hand in a token while the database thread is busy). */
  GMutex pending_lock;
  GHashTable *pending;       /* gint64* message id -> GString* full text */
  gint64 flush_deadline;     /* monotonic µs; 0 when nothing is pending */
  gint64 last_flush;         /* monotonic µs of the last coalesced write */
  guint flush_interval_ms;
  guint n_flushes;           /* coalesced writes so far, for tests */
};

/* kestrel-store.c */
sqlite3_stmt        *_kestrel_store_prepare             (KestrelStore    *self,
                                                         const char      *sql,
                                                         GError         **error);
gboolean             _kestrel_store_step_done           (KestrelStore    *self,
                                                         sqlite3_stmt    *stmt,
                                                         const char      *what,
                                                         GError         **error);
gboolean             _kestrel_store_set_error           (KestrelStore    *self,
                                                         int              rc,
                                                         const char      *what,
                                                         GError         **error);
void                 _kestrel_store_set_error_from_db   (sqlite3         *db,
                                                         int              rc,
                                                         const char      *what,
                                                         GError         **error);
gboolean             _kestrel_store_begin               (KestrelStore    *self,
                                                         GError         **error);
gboolean             _kestrel_store_commit              (KestrelStore    *self,
                                                         GError         **error);
void                 _kestrel_store_rollback            (KestrelStore    *self);
void                 _kestrel_store_emit_changed        (KestrelStore    *self,
                                                         gint64           conversation_id);
gint64               _kestrel_store_now                 (void);

/* kestrel-store-conversations.c */
gboolean             _kestrel_store_touch_conversation  (KestrelStore    *self,
                                                         gint64           conversation_id,
                                                         gint64           now,
                                                         GError         **error);

/* kestrel-store-open.c */
gboolean             _kestrel_store_open                (KestrelStore    *self,
                                                         GError         **error);
gboolean             _kestrel_store_exec_script         (sqlite3         *db,
                                                         const char      *script,
                                                         GError         **error);

/* kestrel-store-schema.c */
gboolean             _kestrel_store_schema_get_version  (sqlite3         *db,
                                                         int             *version,
                                                         GError         **error);
gboolean             _kestrel_store_schema_migrate      (sqlite3         *db,
                                                         int              target_version,
                                                         GError         **error);

/* kestrel-store-thread.c */
KestrelConversation *_kestrel_store_conversation_from_row (sqlite3_stmt  *stmt);
KestrelStoredToolCall     *_kestrel_store_tool_call_from_row    (sqlite3_stmt  *stmt);
KestrelMessage      *_kestrel_store_load_message          (KestrelStore  *self,
                                                           gint64         message_id,
                                                           GError       **error);
GPtrArray           *_kestrel_store_load_all_messages     (KestrelStore  *self,
                                                           gint64         conversation_id,
                                                           GError       **error);

/* kestrel-store-messages.c */
gboolean             _kestrel_store_insert_attachment     (KestrelStore      *self,
                                                           gint64             message_id,
                                                           guint              position,
                                                           KestrelAttachment *attachment,
                                                           GError           **error);
gint64               _kestrel_store_insert_message        (KestrelStore         *self,
                                                           gint64                conversation_id,
                                                           gint64                parent_id,
                                                           KestrelMessageRole    role,
                                                           KestrelMessageStatus  status,
                                                           const char           *content,
                                                           const char           *stats_json,
                                                           gint64                created_at,
                                                           gint64                updated_at,
                                                           GError              **error);
#define KESTREL_STORE_CONVERSATION_COLUMNS \
  "id, title, title_source, created_at, updated_at, pinned, archived, system_prompt, settings"

/* kestrel-store-worker.c */
typedef gpointer (*KestrelStoreJobFunc) (KestrelStore  *self,
                                         gpointer       job_data,
                                         GError       **error);

void                 _kestrel_store_queue_job           (KestrelStore        *self,
                                                         gpointer             source_tag,
                                                         KestrelStoreJobFunc  func,
                                                         gpointer             data,
                                                         GDestroyNotify       data_free,
                                                         GDestroyNotify       result_free,
                                                         GCancellable        *cancellable,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);
void                 _kestrel_store_worker_start        (KestrelStore    *self);
void                 _kestrel_store_worker_stop         (KestrelStore    *self);
void                 _kestrel_store_wake_worker         (KestrelStore    *self);
gboolean             _kestrel_store_flush_pending       (KestrelStore    *self,
                                                         gboolean         only_if_due,
                                                         GError         **error);

/* For tests */
sqlite3             *_kestrel_store_get_db              (KestrelStore    *self);
guint                _kestrel_store_get_n_flushes       (KestrelStore    *self);
KestrelStore        *_kestrel_store_new_full            (const char      *path,
                                                         guint            busy_timeout_ms,
                                                         GError         **error);

G_END_DECLS
