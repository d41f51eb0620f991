/* kestrel-store-conversations.c — creating, listing, changing and deleting conversations.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include "kestrel-store-private.h"

static gboolean
check_json (const char  *json,
            const char  *what,
            GError     **error)
{
  if (json == NULL || *json == '\0')
    return TRUE;

  if (!g_utf8_validate (json, -1, NULL))
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID,
                   "%s is not valid UTF-8", what);
      return FALSE;
    }

  return TRUE;
}

KestrelConversation *
kestrel_store_create_conversation (KestrelStore  *self,
                                   const char    *system_prompt,
                                   const char    *settings_json,
                                   GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  sqlite3_stmt *stmt;
  gint64 now = _kestrel_store_now ();
  gint64 id;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_json (settings_json, "The generation settings", error))
    return NULL;

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!(stmt = _kestrel_store_prepare (self,
                                       "INSERT INTO conversations (created_at, updated_at, system_prompt, settings) "
                                       "VALUES (?1, ?1, ?2, ?3)", error)))
    return NULL;

  sqlite3_bind_int64 (stmt, 1, now);
  sqlite3_bind_text (stmt, 2, system_prompt ? system_prompt : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, settings_json && *settings_json ? settings_json : "{}", -1, SQLITE_TRANSIENT);
  if (!_kestrel_store_step_done (self, stmt, "Creating a conversation failed", error))
    return NULL;

  id = sqlite3_last_insert_rowid (self->db);
  _kestrel_store_emit_changed (self, id);

  return kestrel_store_get_conversation (self, id, error);
}

KestrelConversation *
kestrel_store_get_conversation (KestrelStore  *self,
                                gint64         conversation_id,
                                GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  KestrelConversation *ret;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!(stmt = _kestrel_store_prepare (self,
                                       "SELECT " KESTREL_STORE_CONVERSATION_COLUMNS
                                       " FROM conversations WHERE id = ?", error)))
    return NULL;

  sqlite3_bind_int64 (stmt, 1, conversation_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (stmt);
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND,
                   "There is no conversation %" G_GINT64_FORMAT, conversation_id);
      return NULL;
    }
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (stmt);
      _kestrel_store_set_error (self, rc, "Reading a conversation failed", error);
      return NULL;
    }

  ret = _kestrel_store_conversation_from_row (stmt);
  sqlite3_reset (stmt);
  return ret;
}

/**
 * kestrel_store_list_conversations:
 * @after: (nullable): the last conversation of the previous page, NULL for the first page
 * @limit: the page size
 *
 * One page of the sidebar: pinned first, then most recently updated. Pages continue after a
 * given conversation (keyset paging) rather than at an offset, so a conversation created or
 * deleted while the pages load shifts nothing, and every page is an index seek.
 *
 * Returns: (transfer container) (element-type KestrelConversation):
 */
GPtrArray *
kestrel_store_list_conversations (KestrelStore         *self,
                                  gboolean              archived,
                                  KestrelConversation  *after,
                                  guint                 limit,
                                  GError              **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  g_autoptr(GPtrArray) ret = NULL;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);
  g_return_val_if_fail (after == NULL || KESTREL_IS_CONVERSATION (after), NULL);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  /* Both are served by the conversations_sidebar index, without a sort step. */
  if (after == NULL)
    stmt = _kestrel_store_prepare (self,
                                   "SELECT " KESTREL_STORE_CONVERSATION_COLUMNS
                                   " FROM conversations WHERE archived = ?1"
                                   " ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?2", error);
  else
    stmt = _kestrel_store_prepare (self,
                                   "SELECT " KESTREL_STORE_CONVERSATION_COLUMNS
                                   " FROM conversations WHERE archived = ?1"
                                   " AND (pinned, updated_at, id) < (?3, ?4, ?5)"
                                   " ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?2", error);
  if (stmt == NULL)
    return NULL;

  sqlite3_bind_int (stmt, 1, archived ? 1 : 0);
  sqlite3_bind_int64 (stmt, 2, limit);
  if (after != NULL)
    {
      sqlite3_bind_int (stmt, 3, kestrel_conversation_get_pinned (after) ? 1 : 0);
      sqlite3_bind_int64 (stmt, 4, kestrel_conversation_get_updated_at (after));
      sqlite3_bind_int64 (stmt, 5, kestrel_conversation_get_id (after));
    }

  ret = g_ptr_array_new_with_free_func (g_object_unref);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (ret, _kestrel_store_conversation_from_row (stmt));
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      _kestrel_store_set_error (self, rc, "Listing conversations failed", error);
      return NULL;
    }

  return g_steal_pointer (&ret);
}

static gboolean
update_conversation (KestrelStore  *self,
                     const char    *sql,
                     gint64         conversation_id,
                     const char    *text,
                     gint64         number,
                     GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->db_lock);
  sqlite3_stmt *stmt;

  if (!(stmt = _kestrel_store_prepare (self, sql, error)))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, conversation_id);
  if (text != NULL)
    sqlite3_bind_text (stmt, 2, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_int64 (stmt, 2, number);
  if (sqlite3_bind_parameter_count (stmt) >= 3)
    sqlite3_bind_int64 (stmt, 3, _kestrel_store_now ());

  if (!_kestrel_store_step_done (self, stmt, "Changing a conversation failed", error))
    return FALSE;

  if (sqlite3_changes (self->db) == 0)
    {
      g_autoptr(KestrelConversation) existing = kestrel_store_get_conversation (self, conversation_id, error);

      return existing != NULL;
    }

  _kestrel_store_emit_changed (self, conversation_id);
  return TRUE;
}

/* Sets the title unless the current one came from a higher-ranked source (a model title never
 * replaces one the user typed). Not finding the conversation is an error; being outranked is
 * not. */
gboolean
kestrel_store_set_title (KestrelStore        *self,
                         gint64               conversation_id,
                         const char          *title,
                         KestrelTitleSource   source,
                         GError             **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  sqlite3_stmt *stmt;

  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);
  g_return_val_if_fail (title != NULL, FALSE);

  if (!g_utf8_validate (title, -1, NULL))
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID, "The title is not valid UTF-8");
      return FALSE;
    }

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!(stmt = _kestrel_store_prepare (self,
                                       "UPDATE conversations SET title = ?2, title_source = ?3"
                                       " WHERE id = ?1 AND title_source <= ?3", error)))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, conversation_id);
  sqlite3_bind_text (stmt, 2, title, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 3, source);
  if (!_kestrel_store_step_done (self, stmt, "Changing a title failed", error))
    return FALSE;

  if (sqlite3_changes (self->db) == 0)
    {
      g_autoptr(KestrelConversation) existing = kestrel_store_get_conversation (self, conversation_id, error);

      return existing != NULL;
    }

  _kestrel_store_emit_changed (self, conversation_id);
  return TRUE;
}

gboolean
kestrel_store_set_pinned (KestrelStore  *self,
                          gint64         conversation_id,
                          gboolean       pinned,
                          GError       **error)
{
  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);

  return update_conversation (self, "UPDATE conversations SET pinned = ?2 WHERE id = ?1",
                              conversation_id, NULL, pinned ? 1 : 0, error);
}

gboolean
kestrel_store_set_archived (KestrelStore  *self,
                            gint64         conversation_id,
                            gboolean       archived,
                            GError       **error)
{
  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);

  return update_conversation (self, "UPDATE conversations SET archived = ?2 WHERE id = ?1",
                              conversation_id, NULL, archived ? 1 : 0, error);
}

gboolean
kestrel_store_set_system_prompt (KestrelStore  *self,
                                 gint64         conversation_id,
                                 const char    *system_prompt,
                                 GError       **error)
{
  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);
  g_return_val_if_fail (system_prompt != NULL, FALSE);

  return update_conversation (self,
                              "UPDATE conversations SET system_prompt = ?2, updated_at = ?3 WHERE id = ?1",
                              conversation_id, system_prompt, 0, error);
}

gboolean
kestrel_store_set_settings (KestrelStore  *self,
                            gint64         conversation_id,
                            const char    *settings_json,
                            GError       **error)
{
  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);
  g_return_val_if_fail (settings_json != NULL, FALSE);

  if (!check_json (settings_json, "The generation settings", error))
    return FALSE;

  /* The CHECK (json_valid (settings)) constraint rejects anything that is not JSON. */
  return update_conversation (self,
                              "UPDATE conversations SET settings = ?2, updated_at = ?3 WHERE id = ?1",
                              conversation_id, settings_json, 0, error);
}

gboolean
kestrel_store_delete_conversation (KestrelStore  *self,
                                   gint64         conversation_id,
                                   GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  sqlite3_stmt *stmt;

  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  /* Messages, attachments and tool calls go with it (ON DELETE CASCADE). */
  if (!(stmt = _kestrel_store_prepare (self, "DELETE FROM conversations WHERE id = ?", error)))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, conversation_id);
  if (!_kestrel_store_step_done (self, stmt, "Deleting a conversation failed", error))
    return FALSE;

  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND,
                   "There is no conversation %" G_GINT64_FORMAT, conversation_id);
      return FALSE;
    }

  _kestrel_store_emit_changed (self, conversation_id);
  return TRUE;
}

/* Deletes every conversation (Preferences → Clear History, or quitting with history off). */
gboolean
kestrel_store_delete_all_conversations (KestrelStore  *self,
                                        GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!(stmt = _kestrel_store_prepare (self, "SELECT id FROM conversations", error)))
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (ids, id);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_FAILED,
                   "Listing the conversations failed: %s", sqlite3_errmsg (self->db));
      return FALSE;
    }

  /* Messages, attachments and tool calls go with them (ON DELETE CASCADE). */
  if (!(stmt = _kestrel_store_prepare (self, "DELETE FROM conversations", error)) ||
      !_kestrel_store_step_done (self, stmt, "Deleting the conversations failed", error))
    return FALSE;

  for (guint i = 0; i < ids->len; i++)
    _kestrel_store_emit_changed (self, g_array_index (ids, gint64, i));
  return TRUE;
}

/* Marks a conversation as just used (new message, finished reply): it moves to the top. */
gboolean
_kestrel_store_touch_conversation (KestrelStore  *self,
                                   gint64         conversation_id,
                                   gint64         now,
                                   GError       **error)
{
  sqlite3_stmt *stmt;

  if (!(stmt = _kestrel_store_prepare (self,
                                       "UPDATE conversations SET updated_at = max (updated_at, ?2) WHERE id = ?1",
                                       error)))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, conversation_id);
  sqlite3_bind_int64 (stmt, 2, now);
  return _kestrel_store_step_done (self, stmt, "Updating a conversation failed", error);
}
