/* kestrel-store-thread.c — reading the message tree: rows to objects, one message, the shown
 * thread, a message's alternatives.
 *
 * The shown thread starts at the conversation's selected root and follows each message's
 * selected child; a selection that no longer exists (its message was deleted) falls back to
 * the newest alternative, so the stored selections need no foreign keys.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include <string.h>

#include "kestrel-store-private.h"

#define MESSAGE_COLUMNS \
  "id, conversation_id, parent_id, role, status, content, stats, created_at, updated_at, selected_child_id"

typedef struct
{
  gint64 id;
  gint64 parent_id;
  gint64 selected_child_id;
} TreeNode;

KestrelConversation *
_kestrel_store_conversation_from_row (sqlite3_stmt *stmt)
{
  return g_object_new (KESTREL_TYPE_CONVERSATION,
                       "id", (gint64) sqlite3_column_int64 (stmt, 0),
                       "title", (const char *) sqlite3_column_text (stmt, 1),
                       "title-source", CLAMP (sqlite3_column_int (stmt, 2), 0, KESTREL_TITLE_SOURCE_USER),
                       "created-at", (gint64) sqlite3_column_int64 (stmt, 3),
                       "updated-at", (gint64) sqlite3_column_int64 (stmt, 4),
                       "pinned", sqlite3_column_int (stmt, 5) != 0,
                       "archived", sqlite3_column_int (stmt, 6) != 0,
                       "system-prompt", (const char *) sqlite3_column_text (stmt, 7),
                       "settings", (const char *) sqlite3_column_text (stmt, 8),
                       NULL);
}

static gboolean
load_attachments (KestrelStore    *self,
                  KestrelMessage  *message,
                  GError         **error)
{
  GPtrArray *attachments = kestrel_message_get_attachments (message);
  sqlite3_stmt *stmt;
  int rc;

  if (!(stmt = _kestrel_store_prepare (self,
                                       "SELECT id, mime_type, sha256, width, height, data, thumbnail"
                                       " FROM attachments WHERE message_id = ? ORDER BY position", error)))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, kestrel_message_get_id (message));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr(GBytes) data = g_bytes_new (sqlite3_column_blob (stmt, 5), sqlite3_column_bytes (stmt, 5));
      g_autoptr(GBytes) thumbnail = NULL;

      if (sqlite3_column_type (stmt, 6) != SQLITE_NULL)
        thumbnail = g_bytes_new (sqlite3_column_blob (stmt, 6), sqlite3_column_bytes (stmt, 6));

      g_ptr_array_add (attachments,
                       g_object_new (KESTREL_TYPE_ATTACHMENT,
                                     "id", (gint64) sqlite3_column_int64 (stmt, 0),
                                     "message-id", kestrel_message_get_id (message),
                                     "mime-type", (const char *) sqlite3_column_text (stmt, 1),
                                     "sha256", (const char *) sqlite3_column_text (stmt, 2),
                                     "width", sqlite3_column_int (stmt, 3),
                                     "height", sqlite3_column_int (stmt, 4),
                                     "data", data,
                                     "thumbnail", thumbnail,
                                     NULL));
    }
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    return _kestrel_store_set_error (self, rc, "Reading attachments failed", error);
  return TRUE;
}

KestrelStoredToolCall *
_kestrel_store_tool_call_from_row (sqlite3_stmt *stmt)
{
  KestrelToolCallStatus status = KESTREL_TOOL_CALL_STATUS_ERROR;
  KestrelToolApproval approval = KESTREL_TOOL_APPROVAL_PENDING;

  kestrel_tool_call_status_from_string ((const char *) sqlite3_column_text (stmt, 5), &status);
  kestrel_tool_approval_from_string ((const char *) sqlite3_column_text (stmt, 6), &approval);

  return g_object_new (KESTREL_TYPE_STORED_TOOL_CALL,
                       "id", (gint64) sqlite3_column_int64 (stmt, 0),
                       "message-id", (gint64) sqlite3_column_int64 (stmt, 1),
                       "name", (const char *) sqlite3_column_text (stmt, 2),
                       "arguments", (const char *) sqlite3_column_text (stmt, 3),
                       "result", (const char *) sqlite3_column_text (stmt, 4),
                       "status", status,
                       "approval", approval,
                       NULL);
}

static gboolean
load_tool_calls (KestrelStore    *self,
                 KestrelMessage  *message,
                 GError         **error)
{
  sqlite3_stmt *stmt;
  int rc;

  if (!(stmt = _kestrel_store_prepare (self,
                                       "SELECT id, message_id, name, arguments, result, status, approval"
                                       " FROM tool_calls WHERE message_id = ? ORDER BY position", error)))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, kestrel_message_get_id (message));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (kestrel_message_get_tool_calls (message), _kestrel_store_tool_call_from_row (stmt));
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    return _kestrel_store_set_error (self, rc, "Reading tool calls failed", error);
  return TRUE;
}

static KestrelMessage *
message_from_row (sqlite3_stmt *stmt,
                  guint         sibling_index,
                  guint         n_siblings)
{
  KestrelMessageRole role = KESTREL_MESSAGE_ROLE_USER;
  KestrelMessageStatus status = KESTREL_MESSAGE_STATUS_ERROR;

  /* The CHECK constraints make the fallbacks unreachable for files this code wrote. */
  kestrel_message_role_from_string ((const char *) sqlite3_column_text (stmt, 3), &role);
  kestrel_message_status_from_string ((const char *) sqlite3_column_text (stmt, 4), &status);

  return g_object_new (KESTREL_TYPE_MESSAGE,
                       "id", (gint64) sqlite3_column_int64 (stmt, 0),
                       "conversation-id", (gint64) sqlite3_column_int64 (stmt, 1),
                       "parent-id", (gint64) sqlite3_column_int64 (stmt, 2),
                       "role", role,
                       "status", status,
                       "content", (const char *) sqlite3_column_text (stmt, 5),
                       "stats", (const char *) sqlite3_column_text (stmt, 6),
                       "created-at", (gint64) sqlite3_column_int64 (stmt, 7),
                       "updated-at", (gint64) sqlite3_column_int64 (stmt, 8),
                       "sibling-index", sibling_index,
                       "n-siblings", n_siblings,
                       NULL);
}

static gboolean
load_message_details (KestrelStore    *self,
                      KestrelMessage  *message,
                      GError         **error)
{
  return load_attachments (self, message, error) && load_tool_calls (self, message, error);
}

/* Where @message_id stands among its siblings (same parent, ordered by id). */
static gboolean
sibling_position (KestrelStore  *self,
                  gint64         conversation_id,
                  gint64         parent_id,
                  gint64         message_id,
                  guint         *index,
                  guint         *n,
                  GError       **error)
{
  sqlite3_stmt *stmt;
  int rc;

  if (!(stmt = _kestrel_store_prepare (self,
                                       "SELECT count(*), count(*) FILTER (WHERE id < ?3) FROM messages"
                                       " WHERE conversation_id = ?1 AND parent_id IS ?2", error)))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, conversation_id);
  if (parent_id != 0)
    sqlite3_bind_int64 (stmt, 2, parent_id);
  sqlite3_bind_int64 (stmt, 3, message_id);

  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (stmt);
      return _kestrel_store_set_error (self, rc, "Reading a message failed", error);
    }

  *n = sqlite3_column_int (stmt, 0);
  *index = sqlite3_column_int (stmt, 1);
  sqlite3_reset (stmt);
  return TRUE;
}

KestrelMessage *
_kestrel_store_load_message (KestrelStore  *self,
                             gint64         message_id,
                             GError       **error)
{
  g_autoptr(KestrelMessage) message = NULL;
  sqlite3_stmt *stmt;
  gint64 conversation_id, parent_id;
  guint index = 0, n = 1;
  int rc;

  if (!(stmt = _kestrel_store_prepare (self, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?", error)))
    return NULL;

  sqlite3_bind_int64 (stmt, 1, message_id);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (stmt);
      if (rc == SQLITE_DONE)
        g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND,
                     "There is no message %" G_GINT64_FORMAT, message_id);
      else
        _kestrel_store_set_error (self, rc, "Reading a message failed", error);
      return NULL;
    }

  conversation_id = sqlite3_column_int64 (stmt, 1);
  parent_id = sqlite3_column_int64 (stmt, 2);
  message = message_from_row (stmt, 0, 1);
  sqlite3_reset (stmt);

  if (!sibling_position (self, conversation_id, parent_id, message_id, &index, &n, error))
    return NULL;
  g_clear_object (&message);

  /* Read again with the position known (the properties are construct-only). */
  if (!(stmt = _kestrel_store_prepare (self, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?", error)))
    return NULL;
  sqlite3_bind_int64 (stmt, 1, message_id);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (stmt);
      _kestrel_store_set_error (self, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "Reading a message failed", error);
      return NULL;
    }
  message = message_from_row (stmt, index, n);
  sqlite3_reset (stmt);

  if (!load_message_details (self, message, error))
    return NULL;

  return g_steal_pointer (&message);
}

KestrelMessage *
kestrel_store_get_message (KestrelStore  *self,
                           gint64         message_id,
                           GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  return _kestrel_store_load_message (self, message_id, error);
}

/* Every message of a conversation, all branches, in id order (parents before children). */
GPtrArray *
_kestrel_store_load_all_messages (KestrelStore  *self,
                                  gint64         conversation_id,
                                  GError       **error)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  sqlite3_stmt *stmt;
  int rc;

  if (!(stmt = _kestrel_store_prepare (self,
                                       "SELECT " MESSAGE_COLUMNS " FROM messages"
                                       " WHERE conversation_id = ? ORDER BY id", error)))
    return NULL;

  sqlite3_bind_int64 (stmt, 1, conversation_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (messages, message_from_row (stmt, 0, 1));
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      _kestrel_store_set_error (self, rc, "Reading messages failed", error);
      return NULL;
    }

  for (guint i = 0; i < messages->len; i++)
    if (!load_message_details (self, g_ptr_array_index (messages, i), error))
      return NULL;

  return g_steal_pointer (&messages);
}

/* Picks the selected node among @children (all with one parent, in id order): the remembered
 * one if it still exists, else the newest. */
static guint
pick_selected (GArray *children,
               gint64  selected_id)
{
  for (guint i = 0; i < children->len; i++)
    if (g_array_index (children, TreeNode, i).id == selected_id)
      return i;
  return children->len - 1;
}

/* Returns: (transfer container) (element-type KestrelMessage): the shown thread, root first. */
GPtrArray *
kestrel_store_load_thread (KestrelStore  *self,
                           gint64         conversation_id,
                           GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  g_autoptr(GPtrArray) thread = NULL;
  g_autoptr(GHashTable) children = NULL; /* parent id (0 = root) -> GArray of TreeNode */
  sqlite3_stmt *stmt;
  gint64 selected_root = 0;
  gint64 parent = 0;
  guint n_messages = 0;
  int rc;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);

  locker = g_rec_mutex_locker_new (&self->db_lock);

  if (!(stmt = _kestrel_store_prepare (self, "SELECT selected_root_id FROM conversations WHERE id = ?", error)))
    return NULL;
  sqlite3_bind_int64 (stmt, 1, conversation_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    selected_root = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND,
                   "There is no conversation %" G_GINT64_FORMAT, conversation_id);
      return NULL;
    }
  if (rc != SQLITE_ROW)
    {
      _kestrel_store_set_error (self, rc, "Reading a conversation failed", error);
      return NULL;
    }

  /* The tree's shape only (ids), then full rows for the chosen path. */
  if (!(stmt = _kestrel_store_prepare (self,
                                       "SELECT id, parent_id, selected_child_id FROM messages"
                                       " WHERE conversation_id = ? ORDER BY id", error)))
    return NULL;

  children = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) g_array_unref);
  sqlite3_bind_int64 (stmt, 1, conversation_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      TreeNode node = {
        .id = sqlite3_column_int64 (stmt, 0),
        .parent_id = sqlite3_column_int64 (stmt, 1),
        .selected_child_id = sqlite3_column_int64 (stmt, 2),
      };
      GArray *siblings = g_hash_table_lookup (children, &node.parent_id);

      if (siblings == NULL)
        {
          siblings = g_array_new (FALSE, FALSE, sizeof (TreeNode));
          g_hash_table_insert (children, g_memdup2 (&node.parent_id, sizeof node.parent_id), siblings);
        }
      g_array_append_val (siblings, node);
      n_messages++;
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      _kestrel_store_set_error (self, rc, "Reading messages failed", error);
      return NULL;
    }

  thread = g_ptr_array_new_with_free_func (g_object_unref);
  for (gint64 selected = selected_root;;)
    {
      GArray *siblings = g_hash_table_lookup (children, &parent);
      g_autoptr(KestrelMessage) message = NULL;
      TreeNode *node;
      guint index;

      if (siblings == NULL || siblings->len == 0)
        break;

      index = pick_selected (siblings, selected);
      node = &g_array_index (siblings, TreeNode, index);

      if (!(stmt = _kestrel_store_prepare (self, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?", error)))
        return NULL;
      sqlite3_bind_int64 (stmt, 1, node->id);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        message = message_from_row (stmt, index, siblings->len);
      sqlite3_reset (stmt);
      if (message == NULL)
        {
          _kestrel_store_set_error (self, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "Reading a message failed", error);
          return NULL;
        }
      if (!load_message_details (self, message, error))
        return NULL;

      g_ptr_array_add (thread, g_steal_pointer (&message));
      parent = node->id;
      selected = node->selected_child_id;

      /* A cycle cannot be written through this API; guard against a hand-edited file. */
      if (thread->len > n_messages)
        {
          g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_CORRUPT,
                       "The messages of conversation %" G_GINT64_FORMAT " form a cycle", conversation_id);
          return NULL;
        }
    }

  return g_steal_pointer (&thread);
}

/* Returns: (transfer container) (element-type KestrelMessage): @message_id and its
 * alternatives (same parent), oldest first. */
GPtrArray *
kestrel_store_list_siblings (KestrelStore  *self,
                             gint64         message_id,
                             GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  g_autoptr(KestrelMessage) message = NULL;
  g_autoptr(GPtrArray) ret = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!(message = _kestrel_store_load_message (self, message_id, error)))
    return NULL;

  if (!(stmt = _kestrel_store_prepare (self,
                                       "SELECT id FROM messages WHERE conversation_id = ?1 AND parent_id IS ?2"
                                       " ORDER BY id", error)))
    return NULL;
  sqlite3_bind_int64 (stmt, 1, kestrel_message_get_conversation_id (message));
  if (kestrel_message_get_parent_id (message) != 0)
    sqlite3_bind_int64 (stmt, 2, kestrel_message_get_parent_id (message));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (ids, id);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      _kestrel_store_set_error (self, rc, "Reading messages failed", error);
      return NULL;
    }

  ret = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < ids->len; i++)
    {
      KestrelMessage *sibling = _kestrel_store_load_message (self, g_array_index (ids, gint64, i), error);

      if (sibling == NULL)
        return NULL;
      g_ptr_array_add (ret, sibling);
    }

  return g_steal_pointer (&ret);
}

