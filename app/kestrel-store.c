/* kestrel-store.c — the SQLite conversation store: the object, connection helpers, errors,
 * transactions, change notification.
 *
 * One connection per store, guarded by db_lock. Synchronous calls (tests, the database thread)
 * run on the caller's thread; the UI uses the _async variants (kestrel-store-async.c), which run
 * the same code on the store's own thread (kestrel-store-worker.c). Opening and recovery live
 * in kestrel-store-open.c, the schema in kestrel-store-schema.c, conversations in
 * kestrel-store-conversations.c, the message tree in kestrel-store-thread.c (reading) and
 * kestrel-store-messages.c (writing). docs/store.md has the overview.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include "kestrel-store-private.h"

#define DEFAULT_BUSY_TIMEOUT_MS 2000
#define DEFAULT_FLUSH_INTERVAL_MS 1000

static void kestrel_store_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (KestrelStore, kestrel_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, kestrel_store_initable_iface_init))

G_DEFINE_QUARK (kestrel-store-error-quark, kestrel_store_error)

enum {
  PROP_0,
  PROP_PATH,
  PROP_BUSY_TIMEOUT,
  PROP_FLUSH_INTERVAL,
  PROP_RECOVERY_MESSAGE,
  PROP_MOVED_ASIDE_PATH,
  PROP_READ_ONLY,
  N_PROPS
};

enum {
  CONVERSATION_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

gint64
_kestrel_store_now (void)
{
  return g_get_real_time ();
}

/* $XDG_DATA_HOME/kestrel/kestrel.db; under Flatpak XDG_DATA_HOME is the app's own data dir. */
char *
kestrel_store_dup_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "kestrel", "kestrel.db", NULL);
}

static gboolean
kestrel_store_initable_init (GInitable     *initable,
                             GCancellable  *cancellable,
                             GError       **error)
{
  KestrelStore *self = KESTREL_STORE (initable);
  g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->db_lock);

  if (!_kestrel_store_open (self, error))
    return FALSE;

  _kestrel_store_worker_start (self);
  return TRUE;
}

static void
kestrel_store_initable_iface_init (GInitableIface *iface)
{
  iface->init = kestrel_store_initable_init;
}

static void
kestrel_store_dispose (GObject *object)
{
  KestrelStore *self = (KestrelStore *)object;

  /* Stops the thread after it wrote what was pending. */
  _kestrel_store_worker_stop (self);

  G_OBJECT_CLASS (kestrel_store_parent_class)->dispose (object);
}

static void
kestrel_store_finalize (GObject *object)
{
  KestrelStore *self = (KestrelStore *)object;

  g_clear_pointer (&self->statements, g_hash_table_unref);
  if (self->db != NULL)
    {
      int rc = sqlite3_close (self->db);

      if (rc != SQLITE_OK)
        g_critical ("Closing the conversation database failed: %s", sqlite3_errstr (rc));
      self->db = NULL;
    }

  g_clear_pointer (&self->pending, g_hash_table_unref);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->recovery_message, g_free);
  g_clear_pointer (&self->moved_aside_path, g_free);
  g_clear_pointer (&self->main_context, g_main_context_unref);
  g_rec_mutex_clear (&self->db_lock);
  g_mutex_clear (&self->pending_lock);

  G_OBJECT_CLASS (kestrel_store_parent_class)->finalize (object);
}

static void
kestrel_store_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  KestrelStore *self = KESTREL_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH: g_value_set_string (value, self->path); break;
    case PROP_BUSY_TIMEOUT: g_value_set_uint (value, self->busy_timeout_ms); break;
    case PROP_FLUSH_INTERVAL: g_value_set_uint (value, kestrel_store_get_flush_interval (self)); break;
    case PROP_RECOVERY_MESSAGE: g_value_set_string (value, self->recovery_message); break;
    case PROP_MOVED_ASIDE_PATH: g_value_set_string (value, self->moved_aside_path); break;
    case PROP_READ_ONLY: g_value_set_boolean (value, self->read_only); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_store_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  KestrelStore *self = KESTREL_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH: self->path = g_value_dup_string (value); break;
    case PROP_BUSY_TIMEOUT: self->busy_timeout_ms = g_value_get_uint (value); break;
    case PROP_FLUSH_INTERVAL: kestrel_store_set_flush_interval (self, g_value_get_uint (value)); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_store_class_init (KestrelStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = kestrel_store_dispose;
  object_class->finalize = kestrel_store_finalize;
  object_class->get_property = kestrel_store_get_property;
  object_class->set_property = kestrel_store_set_property;

  /* NULL: an in-memory database. */
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* How long a statement waits for another process's lock before failing with LOCKED. */
  properties[PROP_BUSY_TIMEOUT] =
    g_param_spec_uint ("busy-timeout", NULL, NULL, 0, 60000, DEFAULT_BUSY_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* Streaming text is written at most once per this many milliseconds. */
  properties[PROP_FLUSH_INTERVAL] =
    g_param_spec_uint ("flush-interval", NULL, NULL, 1, 60000, DEFAULT_FLUSH_INTERVAL_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_RECOVERY_MESSAGE] =
    g_param_spec_string ("recovery-message", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_MOVED_ASIDE_PATH] =
    g_param_spec_string ("moved-aside-path", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_READ_ONLY] =
    g_param_spec_boolean ("read-only", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * KestrelStore::conversation-changed:
   * @conversation_id: the conversation that was created, changed or deleted
   *
   * Emitted on the main context of the thread that made the store, after the change was
   * committed, whichever thread made it.
   */
  signals[CONVERSATION_CHANGED] =
    g_signal_new ("conversation-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);
}

static void
finalize_statement (gpointer data)
{
  sqlite3_finalize (data);
}

static void
kestrel_store_init (KestrelStore *self)
{
  g_rec_mutex_init (&self->db_lock);
  g_mutex_init (&self->pending_lock);
  self->busy_timeout_ms = DEFAULT_BUSY_TIMEOUT_MS;
  self->flush_interval_ms = DEFAULT_FLUSH_INTERVAL_MS;
  self->statements = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, finalize_statement);
  self->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) g_string_free);
  self->main_context = g_main_context_ref_thread_default ();
  self->owner_thread = g_thread_self ();
}

/**
 * kestrel_store_new:
 * @path: the database file; its folder is created if missing
 *
 * Opens (creating or migrating as needed) the database at @path. A damaged or foreign file is
 * moved aside and a fresh database is made: the store then opens, and
 * kestrel_store_get_recovery_message () says what happened. A read-only folder opens the
 * existing file read-only, also with a message. A newer schema, a lock held by another process
 * or a full disk fail with a KESTREL_STORE_ERROR and leave the file untouched; the app can fall
 * back to kestrel_store_new_in_memory () and show the error.
 */
KestrelStore *
kestrel_store_new (const char  *path,
                   GError     **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  return g_initable_new (KESTREL_TYPE_STORE, NULL, error, "path", path, NULL);
}

KestrelStore *
_kestrel_store_new_full (const char  *path,
                         guint        busy_timeout_ms,
                         GError     **error)
{
  return g_initable_new (KESTREL_TYPE_STORE, NULL, error,
                         "path", path,
                         "busy-timeout", busy_timeout_ms,
                         NULL);
}

/* A store that keeps nothing: what the app runs on when the real one cannot be opened. */
KestrelStore *
kestrel_store_new_in_memory (GError **error)
{
  return g_initable_new (KESTREL_TYPE_STORE, NULL, error, NULL);
}

const char *
kestrel_store_get_path (KestrelStore *self)
{
  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);
  return self->path;
}

/* A sentence for the user when opening needed recovery (file moved aside, read-only). */
const char *
kestrel_store_get_recovery_message (KestrelStore *self)
{
  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);
  return self->recovery_message;
}

const char *
kestrel_store_get_moved_aside_path (KestrelStore *self)
{
  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);
  return self->moved_aside_path;
}

gboolean
kestrel_store_get_read_only (KestrelStore *self)
{
  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);
  return self->read_only;
}

guint
kestrel_store_get_flush_interval (KestrelStore *self)
{
  guint ret;

  g_return_val_if_fail (KESTREL_IS_STORE (self), 0);

  g_mutex_lock (&self->pending_lock);
  ret = self->flush_interval_ms;
  g_mutex_unlock (&self->pending_lock);

  return ret;
}

void
kestrel_store_set_flush_interval (KestrelStore *self,
                                  guint         flush_interval_ms)
{
  gboolean changed;

  g_return_if_fail (KESTREL_IS_STORE (self));
  g_return_if_fail (flush_interval_ms > 0);

  g_mutex_lock (&self->pending_lock);
  changed = self->flush_interval_ms != flush_interval_ms;
  self->flush_interval_ms = flush_interval_ms;
  g_mutex_unlock (&self->pending_lock);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLUSH_INTERVAL]);
}

sqlite3 *
_kestrel_store_get_db (KestrelStore *self)
{
  return self->db;
}

/* ---- connection helpers -------------------------------------------------------------- */

void
_kestrel_store_set_error_from_db (sqlite3     *db,
                                  int          rc,
                                  const char  *what,
                                  GError     **error)
{
  KestrelStoreError code;
  const char *detail = db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc);

  switch (rc & 0xff)
    {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = KESTREL_STORE_ERROR_CORRUPT;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = KESTREL_STORE_ERROR_LOCKED;
      break;
    case SQLITE_FULL:
      code = KESTREL_STORE_ERROR_FULL;
      break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = KESTREL_STORE_ERROR_READ_ONLY;
      break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      code = KESTREL_STORE_ERROR_INVALID;
      break;
    default:
      code = KESTREL_STORE_ERROR_FAILED;
      break;
    }

  g_set_error (error, KESTREL_STORE_ERROR, code, "%s: %s", what, detail);
}

/* Always returns FALSE, for `return _kestrel_store_set_error (...)`. */
gboolean
_kestrel_store_set_error (KestrelStore  *self,
                          int            rc,
                          const char    *what,
                          GError       **error)
{
  _kestrel_store_set_error_from_db (self->db, rc, what, error);
  return FALSE;
}

/* Returns the cached prepared statement for @sql, reset and with bindings cleared. The
 * caller holds db_lock until it is done with the statement. */
sqlite3_stmt *
_kestrel_store_prepare (KestrelStore  *self,
                        const char    *sql,
                        GError       **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->statements, sql);
  int rc;

  if (stmt != NULL)
    {
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      return stmt;
    }

  rc = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      _kestrel_store_set_error (self, rc, "Preparing a query failed", error);
      return NULL;
    }

  /* The SQL texts are string literals, so the key needs no copy. */
  g_hash_table_insert (self->statements, (gpointer) sql, stmt);
  return stmt;
}

/* Steps a statement that returns no rows, and resets it. */
gboolean
_kestrel_store_step_done (KestrelStore  *self,
                          sqlite3_stmt  *stmt,
                          const char    *what,
                          GError       **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    {
      _kestrel_store_set_error (self, rc, what, error);
      sqlite3_reset (stmt);
      return FALSE;
    }

  sqlite3_reset (stmt);
  return TRUE;
}

gboolean
_kestrel_store_begin (KestrelStore  *self,
                      GError       **error)
{
  sqlite3_stmt *stmt = _kestrel_store_prepare (self, "BEGIN IMMEDIATE", error);

  return stmt != NULL && _kestrel_store_step_done (self, stmt, "Starting a transaction failed", error);
}

gboolean
_kestrel_store_commit (KestrelStore  *self,
                       GError       **error)
{
  sqlite3_stmt *stmt = _kestrel_store_prepare (self, "COMMIT", error);

  if (stmt != NULL && _kestrel_store_step_done (self, stmt, "Saving failed", error))
    return TRUE;

  _kestrel_store_rollback (self);
  return FALSE;
}

void
_kestrel_store_rollback (KestrelStore *self)
{
  /* After some errors (SQLITE_FULL among them) SQLite has already rolled back. */
  if (!sqlite3_get_autocommit (self->db))
    {
      sqlite3_stmt *stmt = _kestrel_store_prepare (self, "ROLLBACK", NULL);

      if (stmt != NULL)
        _kestrel_store_step_done (self, stmt, "Rollback", NULL);
    }
}

typedef struct
{
  KestrelStore *self;
  gint64 conversation_id;
} ChangedData;

static gboolean
emit_changed_cb (gpointer user_data)
{
  ChangedData *data = user_data;

  g_signal_emit (data->self, signals[CONVERSATION_CHANGED], 0, data->conversation_id);
  return G_SOURCE_REMOVE;
}

static void
changed_data_free (gpointer user_data)
{
  ChangedData *data = user_data;

  g_object_unref (data->self);
  g_free (data);
}

void
_kestrel_store_emit_changed (KestrelStore *self,
                             gint64        conversation_id)
{
  g_autoptr(GSource) source = NULL;
  ChangedData *data;

  if (g_thread_self () == self->owner_thread)
    {
      g_signal_emit (self, signals[CONVERSATION_CHANGED], 0, conversation_id);
      return;
    }

  /* From the database thread: the source holds a reference, dropped on the main context. */
  data = g_new0 (ChangedData, 1);
  data->self = g_object_ref (self);
  data->conversation_id = conversation_id;

  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, emit_changed_cb, data, changed_data_free);
  g_source_set_static_name (source, "[kestrel-store] conversation-changed");
  g_source_attach (source, self->main_context);
}
