/* kestrel-store-messages.c — writing the message tree: appending (and so branching),
 * selecting, deleting, the end of a streaming reply, tool calls.
 *
 * Messages form a tree through parent_id. Regenerating a reply or editing a question appends a
 * sibling; each message remembers its selected child (the conversation its selected root), so
 * every alternative is kept. Reading the tree is in kestrel-store-thread.c; the coalesced
 * streaming writes in kestrel-store-worker.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include <string.h>

#include "kestrel-store-private.h"

#define AUTO_TITLE_MAX_CHARS 60

static gboolean
set_selected (KestrelStore  *self,
              gint64         conversation_id,
              gint64         parent_id,
              gint64         message_id,
              GError       **error)
{
  sqlite3_stmt *stmt;

  if (parent_id == 0)
    stmt = _kestrel_store_prepare (self, "UPDATE conversations SET selected_root_id = ?2 WHERE id = ?1", error);
  else
    stmt = _kestrel_store_prepare (self, "UPDATE messages SET selected_child_id = ?2 WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, parent_id == 0 ? conversation_id : parent_id);
  sqlite3_bind_int64 (stmt, 2, message_id);
  return _kestrel_store_step_done (self, stmt, "Selecting a message failed", error);
}

/* Shows @message_id instead of its siblings from now on. */
gboolean
kestrel_store_select_message (KestrelStore  *self,
                              gint64         message_id,
                              GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  sqlite3_stmt *stmt;
  gint64 conversation_id, parent_id;
  int rc;

  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!(stmt = _kestrel_store_prepare (self, "SELECT conversation_id, parent_id FROM messages WHERE id = ?", error)))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, message_id);
  rc = sqlite3_step (stmt);
  conversation_id = sqlite3_column_int64 (stmt, 0);
  parent_id = sqlite3_column_int64 (stmt, 1);
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND,
                     "There is no message %" G_GINT64_FORMAT, message_id);
      else
        _kestrel_store_set_error (self, rc, "Reading a message failed", error);
      return FALSE;
    }

  if (!set_selected (self, conversation_id, parent_id, message_id, error))
    return FALSE;

  _kestrel_store_emit_changed (self, conversation_id);
  return TRUE;
}

/* The first line of the first question, cut at a word near AUTO_TITLE_MAX_CHARS. */
static char *
title_from_content (const char *content)
{
  g_autoptr(GString) title = g_string_new (NULL);
  g_auto(GStrv) words = NULL;
  g_autofree char *line = NULL;
  const char *newline;

  while (*content == '\n' || *content == ' ' || *content == '\t' || *content == '\r')
    content++;
  newline = strchr (content, '\n');
  line = newline ? g_strndup (content, newline - content) : g_strdup (content);
  words = g_strsplit_set (line, " \t\r", -1);

  for (guint i = 0; words[i] != NULL; i++)
    {
      if (words[i][0] == '\0')
        continue;
      if (title->len > 0 &&
          g_utf8_strlen (title->str, -1) + 1 + g_utf8_strlen (words[i], -1) > AUTO_TITLE_MAX_CHARS)
        {
          g_string_append (title, "…");
          break;
        }
      if (title->len > 0)
        g_string_append_c (title, ' ');
      if (g_utf8_strlen (words[i], -1) > AUTO_TITLE_MAX_CHARS)
        {
          g_autofree char *cut = g_utf8_substring (words[i], 0, AUTO_TITLE_MAX_CHARS);

          g_string_append (title, cut);
          g_string_append (title, "…");
          break;
        }
      g_string_append (title, words[i]);
    }

  return g_string_free (g_steal_pointer (&title), FALSE);
}

gint64
_kestrel_store_insert_message (KestrelStore          *self,
                               gint64                 conversation_id,
                               gint64                 parent_id,
                               KestrelMessageRole     role,
                               KestrelMessageStatus   status,
                               const char            *content,
                               const char            *stats_json,
                               gint64                 created_at,
                               gint64                 updated_at,
                               GError               **error)
{
  sqlite3_stmt *stmt;

  if (!(stmt = _kestrel_store_prepare (self,
                                       "INSERT INTO messages (conversation_id, parent_id, role, status, content,"
                                       " stats, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", error)))
    return 0;

  sqlite3_bind_int64 (stmt, 1, conversation_id);
  if (parent_id != 0)
    sqlite3_bind_int64 (stmt, 2, parent_id);
  sqlite3_bind_text (stmt, 3, kestrel_message_role_to_string (role), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, kestrel_message_status_to_string (status), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, content ? content : "", -1, SQLITE_TRANSIENT);
  if (stats_json != NULL)
    sqlite3_bind_text (stmt, 6, stats_json, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 7, created_at);
  sqlite3_bind_int64 (stmt, 8, updated_at);

  if (!_kestrel_store_step_done (self, stmt, "Saving a message failed", error))
    return 0;

  return sqlite3_last_insert_rowid (self->db);
}

gboolean
_kestrel_store_insert_attachment (KestrelStore       *self,
                                  gint64              message_id,
                                  guint               position,
                                  KestrelAttachment  *attachment,
                                  GError            **error)
{
  GBytes *data = kestrel_attachment_get_data (attachment);
  GBytes *thumbnail = kestrel_attachment_get_thumbnail (attachment);
  sqlite3_stmt *stmt;

  if (!(stmt = _kestrel_store_prepare (self,
                                       "INSERT INTO attachments (message_id, position, mime_type, byte_size, sha256,"
                                       " width, height, data, thumbnail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", error)))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, message_id);
  sqlite3_bind_int (stmt, 2, position);
  sqlite3_bind_text (stmt, 3, kestrel_attachment_get_mime_type (attachment), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, g_bytes_get_size (data));
  sqlite3_bind_text (stmt, 5, kestrel_attachment_get_sha256 (attachment), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 6, kestrel_attachment_get_width (attachment));
  sqlite3_bind_int (stmt, 7, kestrel_attachment_get_height (attachment));
  sqlite3_bind_blob64 (stmt, 8, g_bytes_get_data (data, NULL), g_bytes_get_size (data), SQLITE_STATIC);
  if (thumbnail != NULL)
    sqlite3_bind_blob64 (stmt, 9, g_bytes_get_data (thumbnail, NULL), g_bytes_get_size (thumbnail), SQLITE_STATIC);

  return _kestrel_store_step_done (self, stmt, "Saving an attachment failed", error);
}

static gboolean
check_parent (KestrelStore  *self,
              gint64         conversation_id,
              gint64         parent_id,
              GError       **error)
{
  sqlite3_stmt *stmt;
  gint64 owner = 0;
  int rc;

  if (!(stmt = _kestrel_store_prepare (self, "SELECT conversation_id FROM messages WHERE id = ?", error)))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, parent_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    owner = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);

  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return _kestrel_store_set_error (self, rc, "Reading a message failed", error);

  if (owner != conversation_id)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND,
                   "Conversation %" G_GINT64_FORMAT " has no message %" G_GINT64_FORMAT,
                   conversation_id, parent_id);
      return FALSE;
    }
  return TRUE;
}

/**
 * kestrel_store_append_message:
 * @parent_id: the message this one answers or follows, 0 to start the conversation
 * @attachments: (nullable) (element-type KestrelAttachment): images, stored with the message
 *
 * Adds a message (and its attachments, in the same transaction) as the newest child of
 * @parent_id, and selects it: appending beside an existing child is how regenerate and edit
 * make a branch. A conversation's first question also becomes its title, unless one was set.
 * A streaming reply starts with status KESTREL_MESSAGE_STATUS_STREAMING; see
 * kestrel_store_update_message_text () and kestrel_store_finish_message ().
 */
KestrelMessage *
kestrel_store_append_message (KestrelStore          *self,
                              gint64                 conversation_id,
                              gint64                 parent_id,
                              KestrelMessageRole     role,
                              KestrelMessageStatus   status,
                              const char            *content,
                              GPtrArray             *attachments,
                              GError               **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  g_autoptr(KestrelConversation) conversation = NULL;
  gint64 now = _kestrel_store_now ();
  gint64 id;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (content == NULL)
    content = "";
  if (!g_utf8_validate (content, -1, NULL))
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID, "The message is not valid UTF-8");
      return NULL;
    }
  if (kestrel_message_role_to_string (role) == NULL || kestrel_message_status_to_string (status) == NULL)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID, "Unknown message role or status");
      return NULL;
    }

  locker = g_rec_mutex_locker_new (&self->db_lock);

  if (!(conversation = kestrel_store_get_conversation (self, conversation_id, error)))
    return NULL;
  if (parent_id != 0 && !check_parent (self, conversation_id, parent_id, error))
    return NULL;

  if (!_kestrel_store_begin (self, error))
    return NULL;

  if (!(id = _kestrel_store_insert_message (self, conversation_id, parent_id, role, status, content,
                                            NULL, now, now, error)))
    goto failed;

  for (guint i = 0; attachments != NULL && i < attachments->len; i++)
    if (!_kestrel_store_insert_attachment (self, id, i, g_ptr_array_index (attachments, i), error))
      goto failed;

  if (!set_selected (self, conversation_id, parent_id, id, error) ||
      !_kestrel_store_touch_conversation (self, conversation_id, now, error))
    goto failed;

  if (role == KESTREL_MESSAGE_ROLE_USER &&
      kestrel_conversation_get_title_source (conversation) == KESTREL_TITLE_SOURCE_NONE)
    {
      g_autofree char *title = title_from_content (content);

      if (*title != '\0' &&
          !kestrel_store_set_title (self, conversation_id, title, KESTREL_TITLE_SOURCE_FIRST_MESSAGE, error))
        goto failed;
    }

  if (!_kestrel_store_commit (self, error))
    return NULL;

  _kestrel_store_emit_changed (self, conversation_id);
  return _kestrel_store_load_message (self, id, error);

failed:
  _kestrel_store_rollback (self);
  return NULL;
}

/* Deletes @message_id with everything below it (its replies, their alternatives, ...). */
gboolean
kestrel_store_delete_message (KestrelStore  *self,
                              gint64         message_id,
                              GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  sqlite3_stmt *stmt;
  gint64 conversation_id = 0;
  int rc;

  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!(stmt = _kestrel_store_prepare (self, "SELECT conversation_id FROM messages WHERE id = ?", error)))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, message_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    conversation_id = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND,
                     "There is no message %" G_GINT64_FORMAT, message_id);
      else
        _kestrel_store_set_error (self, rc, "Reading a message failed", error);
      return FALSE;
    }

  /* One statement, so the parent_id foreign key is checked once the whole subtree is gone. */
  if (!(stmt = _kestrel_store_prepare (self,
                                       "WITH RECURSIVE subtree (id) AS ("
                                       "  SELECT ?1 UNION ALL"
                                       "  SELECT m.id FROM messages m JOIN subtree s ON m.parent_id = s.id)"
                                       " DELETE FROM messages WHERE id IN (SELECT id FROM subtree)", error)))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, message_id);
  if (!_kestrel_store_step_done (self, stmt, "Deleting a message failed", error))
    return FALSE;

  _kestrel_store_emit_changed (self, conversation_id);
  return TRUE;
}

/**
 * kestrel_store_finish_message:
 * @content: (nullable): the final text; NULL keeps the latest text handed to
 *   kestrel_store_update_message_text () (or what is stored)
 * @status: how the reply ended: complete, cancelled or error
 * @stats_json: (nullable): generation statistics as a JSON object
 *
 * The final write of a streaming reply, made at once (not coalesced).
 */
gboolean
kestrel_store_finish_message (KestrelStore          *self,
                              gint64                 message_id,
                              const char            *content,
                              KestrelMessageStatus   status,
                              const char            *stats_json,
                              GError               **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  g_autofree char *pending_text = NULL;
  sqlite3_stmt *stmt;
  gint64 conversation_id = 0;
  gint64 now = _kestrel_store_now ();
  int rc;

  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);

  if (content != NULL && !g_utf8_validate (content, -1, NULL))
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID, "The message is not valid UTF-8");
      return FALSE;
    }
  if (kestrel_message_status_to_string (status) == NULL)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID, "Unknown message status");
      return FALSE;
    }

  locker = g_rec_mutex_locker_new (&self->db_lock);

  /* Taken out of the pending set under db_lock, so a concurrent flush (which also holds
   * db_lock while writing) cannot write it after this. */
  g_mutex_lock (&self->pending_lock);
  {
    GString *text = g_hash_table_lookup (self->pending, &message_id);

    if (text != NULL)
      {
        pending_text = g_strndup (text->str, text->len);
        g_hash_table_remove (self->pending, &message_id);
      }
  }
  g_mutex_unlock (&self->pending_lock);

  if (content == NULL)
    content = pending_text;

  if (!_kestrel_store_begin (self, error))
    return FALSE;

  if (!(stmt = _kestrel_store_prepare (self,
                                       "UPDATE messages SET content = coalesce (?2, content), status = ?3,"
                                       " stats = ?4, updated_at = ?5 WHERE id = ?1 RETURNING conversation_id", error)))
    goto failed;

  sqlite3_bind_int64 (stmt, 1, message_id);
  if (content != NULL)
    sqlite3_bind_text (stmt, 2, content, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, kestrel_message_status_to_string (status), -1, SQLITE_STATIC);
  if (stats_json != NULL)
    sqlite3_bind_text (stmt, 4, stats_json, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, now);

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    conversation_id = sqlite3_column_int64 (stmt, 0);
  /* RETURNING rows must be stepped to the end before the change is final. */
  while (rc == SQLITE_ROW)
    rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      _kestrel_store_set_error (self, rc, "Saving a reply failed", error);
      goto failed;
    }
  if (conversation_id == 0)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND,
                   "There is no message %" G_GINT64_FORMAT, message_id);
      goto failed;
    }

  if (!_kestrel_store_touch_conversation (self, conversation_id, now, error))
    goto failed;

  if (!_kestrel_store_commit (self, error))
    goto restore_pending;

  _kestrel_store_emit_changed (self, conversation_id);
  return TRUE;

failed:
  _kestrel_store_rollback (self);
restore_pending:
  /* Keep the text for a later attempt rather than lose it. */
  if (pending_text != NULL)
    kestrel_store_update_message_text (self, message_id, pending_text);
  return FALSE;
}

KestrelStoredToolCall *
kestrel_store_add_tool_call (KestrelStore  *self,
                             gint64         message_id,
                             const char    *name,
                             const char    *arguments_json,
                             GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  sqlite3_stmt *stmt;
  KestrelStoredToolCall *ret = NULL;
  int rc;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  /* json_valid is also enforced by a CHECK constraint; the foreign key rejects a bad message. */
  if (!(stmt = _kestrel_store_prepare (self,
                                       "INSERT INTO tool_calls (message_id, position, name, arguments)"
                                       " SELECT ?1, coalesce (max (position) + 1, 0), ?2, ?3"
                                       " FROM tool_calls WHERE message_id = ?1"
                                       " RETURNING id, message_id, name, arguments, result, status, approval",
                                       error)))
    return NULL;

  sqlite3_bind_int64 (stmt, 1, message_id);
  sqlite3_bind_text (stmt, 2, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, arguments_json ? arguments_json : "{}", -1, SQLITE_TRANSIENT);

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      ret = _kestrel_store_tool_call_from_row (stmt);
      rc = sqlite3_step (stmt);
    }
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      g_clear_object (&ret);
      if ((rc & 0xff) == SQLITE_CONSTRAINT && rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND,
                     "There is no message %" G_GINT64_FORMAT, message_id);
      else
        _kestrel_store_set_error (self, rc, "Saving a tool call failed", error);
      return NULL;
    }

  return ret;
}

gboolean
kestrel_store_update_tool_call (KestrelStore           *self,
                                gint64                  tool_call_id,
                                KestrelToolCallStatus   status,
                                KestrelToolApproval     approval,
                                const char             *result,
                                GError                **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  sqlite3_stmt *stmt;

  g_return_val_if_fail (KESTREL_IS_STORE (self), FALSE);

  if (kestrel_tool_call_status_to_string (status) == NULL || kestrel_tool_approval_to_string (approval) == NULL)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID, "Unknown tool call status or approval");
      return FALSE;
    }

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!(stmt = _kestrel_store_prepare (self,
                                       "UPDATE tool_calls SET status = ?2, approval = ?3, result = ?4,"
                                       " decided_at = CASE WHEN ?3 = 'pending' THEN NULL"
                                       "                   ELSE coalesce (decided_at, ?5) END"
                                       " WHERE id = ?1", error)))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, tool_call_id);
  sqlite3_bind_text (stmt, 2, kestrel_tool_call_status_to_string (status), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, kestrel_tool_approval_to_string (approval), -1, SQLITE_STATIC);
  if (result != NULL)
    sqlite3_bind_text (stmt, 4, result, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, _kestrel_store_now ());

  if (!_kestrel_store_step_done (self, stmt, "Saving a tool call failed", error))
    return FALSE;

  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND,
                   "There is no tool call %" G_GINT64_FORMAT, tool_call_id);
      return FALSE;
    }
  return TRUE;
}
