/* kestrel-store-import.c — a conversation exported as JSON, back in as a new conversation.
 *
 * Every field is checked (type, range, references to earlier messages only, image bytes
 * against their sha256) and everything goes in one transaction: a bad file adds nothing and
 * the error says what is wrong with it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include <json-glib/json-glib.h>

#include "kestrel-store-private.h"

static gboolean G_GNUC_PRINTF (2, 3)
invalid (GError     **error,
         const char  *format,
         ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID, "Not a valid conversation file: %s", message);
  return FALSE;
}

static gboolean
get_string (JsonObject   *object,
            const char   *member,
            gboolean      nullable,
            const char  **value,
            GError      **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      *value = NULL;
      return nullable ? TRUE : invalid (error, "“%s” is missing", member);
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return invalid (error, "“%s” is not a string", member);

  *value = json_node_get_string (node);
  if (!g_utf8_validate (*value, -1, NULL))
    return invalid (error, "“%s” is not valid UTF-8", member);
  return TRUE;
}

static gboolean
get_int (JsonObject  *object,
         const char  *member,
         gboolean     nullable,
         gint64      *value,
         GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      *value = 0;
      return nullable ? TRUE : invalid (error, "“%s” is missing", member);
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return invalid (error, "“%s” is not an integer", member);

  *value = json_node_get_int (node);
  return TRUE;
}

static gboolean
get_bool (JsonObject  *object,
          const char  *member,
          gboolean    *value,
          GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return invalid (error, "“%s” is not true or false", member);

  *value = json_node_get_boolean (node);
  return TRUE;
}

/* A JSON value member (object, for settings/stats/arguments) back to text, or NULL. */
static char *
get_json_text (JsonObject *object,
               const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return json_to_string (node, FALSE);
}

static JsonArray *
get_array (JsonObject  *object,
           const char  *member,
           GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      invalid (error, "“%s” is not a list", member);
      return NULL;
    }
  return json_node_get_array (node);
}

static GBytes *
get_base64 (JsonObject  *object,
            const char  *member,
            gboolean     nullable,
            GError     **error)
{
  const char *text;
  guchar *data;
  gsize len = 0;

  if (!get_string (object, member, nullable, &text, error))
    return NULL;
  if (text == NULL)
    return g_bytes_new (NULL, 0); /* an empty marker for "absent" */

  data = g_base64_decode (text, &len);
  return g_bytes_new_take (data, len);
}

static KestrelAttachment *
attachment_from_json (JsonObject  *object,
                      GError     **error)
{
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GBytes) thumbnail = NULL;
  g_autofree char *sha256 = NULL;
  const char *mime_type, *expected_sha256;
  gint64 byte_size, width, height;

  if (!get_string (object, "mime_type", FALSE, &mime_type, error) ||
      !get_string (object, "sha256", FALSE, &expected_sha256, error) ||
      !get_int (object, "byte_size", FALSE, &byte_size, error) ||
      !get_int (object, "width", FALSE, &width, error) ||
      !get_int (object, "height", FALSE, &height, error) ||
      !(data = get_base64 (object, "data", FALSE, error)) ||
      !(thumbnail = get_base64 (object, "thumbnail", TRUE, error)))
    return NULL;

  sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data);
  if ((gint64) g_bytes_get_size (data) != byte_size || g_ascii_strcasecmp (sha256, expected_sha256) != 0)
    {
      invalid (error, "an image's data does not match its size and sha256");
      return NULL;
    }
  if (g_bytes_get_size (data) == 0 || g_bytes_get_size (data) > KESTREL_ATTACHMENT_MAX_BYTES)
    {
      invalid (error, "an image is empty or too large");
      return NULL;
    }
  if (width <= 0 || height <= 0 || width > G_MAXINT || height > G_MAXINT)
    {
      invalid (error, "an image has impossible dimensions");
      return NULL;
    }

  return g_object_new (KESTREL_TYPE_ATTACHMENT,
                       "mime-type", mime_type,
                       "sha256", sha256,
                       "width", (int) width,
                       "height", (int) height,
                       "data", data,
                       "thumbnail", g_bytes_get_size (thumbnail) > 0 ? thumbnail : NULL,
                       NULL);
}

static gboolean
insert_tool_call (KestrelStore  *self,
                  gint64         message_id,
                  guint          position,
                  JsonObject    *object,
                  GError       **error)
{
  g_autofree char *arguments = get_json_text (object, "arguments");
  const char *name, *result, *status_text, *approval_text;
  KestrelToolCallStatus status;
  KestrelToolApproval approval;
  sqlite3_stmt *stmt;

  if (!get_string (object, "name", FALSE, &name, error) ||
      !get_string (object, "result", TRUE, &result, error) ||
      !get_string (object, "status", FALSE, &status_text, error) ||
      !get_string (object, "approval", FALSE, &approval_text, error))
    return FALSE;
  if (!kestrel_tool_call_status_from_string (status_text, &status) ||
      !kestrel_tool_approval_from_string (approval_text, &approval))
    return invalid (error, "a tool call has an unknown status or approval");

  if (!(stmt = _kestrel_store_prepare (self,
                                       "INSERT INTO tool_calls (message_id, position, name, arguments, result,"
                                       " status, approval) VALUES (?, ?, ?, ?, ?, ?, ?)", error)))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, message_id);
  sqlite3_bind_int (stmt, 2, position);
  sqlite3_bind_text (stmt, 3, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, arguments ? arguments : "{}", -1, SQLITE_STATIC);
  if (result != NULL)
    sqlite3_bind_text (stmt, 5, result, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, kestrel_tool_call_status_to_string (status), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 7, kestrel_tool_approval_to_string (approval), -1, SQLITE_STATIC);

  return _kestrel_store_step_done (self, stmt, "Saving a tool call failed", error);
}

static gboolean
set_selection (KestrelStore  *self,
               const char    *sql,
               gint64         id,
               gint64         selected,
               GError       **error)
{
  sqlite3_stmt *stmt;

  if (selected == 0)
    return TRUE;
  if (!(stmt = _kestrel_store_prepare (self, sql, error)))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, selected);
  return _kestrel_store_step_done (self, stmt, "Saving a selection failed", error);
}

/* Inserts the messages of @array; @ids maps file ids to new database ids. */
static gboolean
import_messages (KestrelStore  *self,
                 gint64         conversation_id,
                 JsonArray     *array,
                 GArray        *ids,
                 GArray        *selected_children,
                 GError       **error)
{
  guint n = json_array_get_length (array);

  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *object;
      JsonArray *attachments, *tool_calls;
      g_autofree char *stats = NULL;
      const char *role_text, *status_text, *content;
      KestrelMessageRole role;
      KestrelMessageStatus status;
      gint64 local, parent, created_at, updated_at, selected_child, parent_id = 0, id;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return invalid (error, "message %u is not an object", i + 1);
      object = json_node_get_object (node);

      if (!get_int (object, "id", FALSE, &local, error) ||
          !get_int (object, "parent", TRUE, &parent, error) ||
          !get_string (object, "role", FALSE, &role_text, error) ||
          !get_string (object, "status", FALSE, &status_text, error) ||
          !get_string (object, "content", FALSE, &content, error) ||
          !get_int (object, "created_at", FALSE, &created_at, error) ||
          !get_int (object, "updated_at", FALSE, &updated_at, error) ||
          !get_int (object, "selected_child", TRUE, &selected_child, error) ||
          !(attachments = get_array (object, "attachments", error)) ||
          !(tool_calls = get_array (object, "tool_calls", error)))
        return FALSE;

      if (local != (gint64) i + 1)
        return invalid (error, "message ids must count up from 1");
      if (parent < 0 || parent >= local)
        return invalid (error, "message %" G_GINT64_FORMAT " names a parent that does not precede it", local);
      if (selected_child < 0 || selected_child > n)
        return invalid (error, "message %" G_GINT64_FORMAT " selects a message that does not exist", local);
      if (!kestrel_message_role_from_string (role_text, &role) ||
          !kestrel_message_status_from_string (status_text, &status))
        return invalid (error, "message %" G_GINT64_FORMAT " has an unknown role or status", local);

      /* Nothing is streaming into an imported message. */
      if (status == KESTREL_MESSAGE_STATUS_STREAMING)
        status = KESTREL_MESSAGE_STATUS_INTERRUPTED;
      if (parent != 0)
        parent_id = g_array_index (ids, gint64, parent - 1);

      stats = get_json_text (object, "stats");
      if (!(id = _kestrel_store_insert_message (self, conversation_id, parent_id, role, status, content,
                                                stats, created_at, updated_at, error)))
        return FALSE;
      g_array_append_val (ids, id);
      g_array_append_val (selected_children, selected_child);

      for (guint j = 0; j < json_array_get_length (attachments); j++)
        {
          JsonNode *a = json_array_get_element (attachments, j);
          g_autoptr(KestrelAttachment) attachment = NULL;

          if (!JSON_NODE_HOLDS_OBJECT (a))
            return invalid (error, "an attachment is not an object");
          if (!(attachment = attachment_from_json (json_node_get_object (a), error)) ||
              !_kestrel_store_insert_attachment (self, id, j, attachment, error))
            return FALSE;
        }

      for (guint j = 0; j < json_array_get_length (tool_calls); j++)
        {
          JsonNode *t = json_array_get_element (tool_calls, j);

          if (!JSON_NODE_HOLDS_OBJECT (t))
            return invalid (error, "a tool call is not an object");
          if (!insert_tool_call (self, id, j, json_node_get_object (t), error))
            return FALSE;
        }
    }

  return TRUE;
}

static gint64
import_conversation (KestrelStore  *self,
                     JsonObject    *root,
                     GError       **error)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) selected_children = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GEnumClass) title_sources = g_type_class_ref (KESTREL_TYPE_TITLE_SOURCE);
  g_autofree char *settings = get_json_text (root, "settings");
  const char *format, *title, *title_source_text, *system_prompt;
  GEnumValue *title_source;
  gint64 version, created_at, updated_at, selected_root, conversation_id;
  gboolean pinned, archived;
  JsonArray *messages;
  sqlite3_stmt *stmt;

  if (!get_string (root, "format", FALSE, &format, error) ||
      !get_int (root, "version", FALSE, &version, error))
    return 0;
  if (g_strcmp0 (format, KESTREL_STORE_JSON_FORMAT) != 0)
    return invalid (error, "it is not a Kestrel conversation");
  if (version != KESTREL_STORE_JSON_VERSION)
    return invalid (error, "format version %" G_GINT64_FORMAT " is not supported", version);

  if (!get_string (root, "title", FALSE, &title, error) ||
      !get_string (root, "title_source", FALSE, &title_source_text, error) ||
      !get_int (root, "created_at", FALSE, &created_at, error) ||
      !get_int (root, "updated_at", FALSE, &updated_at, error) ||
      !get_bool (root, "pinned", &pinned, error) ||
      !get_bool (root, "archived", &archived, error) ||
      !get_string (root, "system_prompt", FALSE, &system_prompt, error) ||
      !get_int (root, "selected_root", TRUE, &selected_root, error) ||
      !(messages = get_array (root, "messages", error)))
    return 0;

  if (!(title_source = g_enum_get_value_by_nick (title_sources, title_source_text)))
    return invalid (error, "unknown title source “%s”", title_source_text);
  if (selected_root < 0 || selected_root > json_array_get_length (messages))
    return invalid (error, "the selected first message does not exist");

  if (!(stmt = _kestrel_store_prepare (self,
                                       "INSERT INTO conversations (title, title_source, created_at, updated_at,"
                                       " pinned, archived, system_prompt, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                       error)))
    return 0;
  sqlite3_bind_text (stmt, 1, title, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 2, title_source->value);
  sqlite3_bind_int64 (stmt, 3, created_at);
  sqlite3_bind_int64 (stmt, 4, updated_at);
  sqlite3_bind_int (stmt, 5, pinned);
  sqlite3_bind_int (stmt, 6, archived);
  sqlite3_bind_text (stmt, 7, system_prompt, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 8, settings ? settings : "{}", -1, SQLITE_STATIC);
  if (!_kestrel_store_step_done (self, stmt, "Saving a conversation failed", error))
    return 0;
  conversation_id = sqlite3_last_insert_rowid (self->db);

  if (!import_messages (self, conversation_id, messages, ids, selected_children, error))
    return 0;

  if (selected_root != 0 &&
      !set_selection (self, "UPDATE conversations SET selected_root_id = ?2 WHERE id = ?1",
                      conversation_id, g_array_index (ids, gint64, selected_root - 1), error))
    return 0;
  for (guint i = 0; i < ids->len; i++)
    {
      gint64 child = g_array_index (selected_children, gint64, i);

      if (child != 0 &&
          !set_selection (self, "UPDATE messages SET selected_child_id = ?2 WHERE id = ?1",
                          g_array_index (ids, gint64, i), g_array_index (ids, gint64, child - 1), error))
        return 0;
    }

  return conversation_id;
}

/**
 * kestrel_store_import_json:
 * @json: a file made by kestrel_store_export () in JSON format
 * @length: its length, or -1 when nul-terminated
 *
 * Adds the conversation as a new one (all branches, images, tool calls), in one transaction:
 * a bad file adds nothing and fails with KESTREL_STORE_ERROR_INVALID saying what is wrong.
 */
KestrelConversation *
kestrel_store_import_json (KestrelStore  *self,
                           const char    *json,
                           gssize         length,
                           GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) parse_error = NULL;
  JsonNode *root;
  gint64 conversation_id;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);
  g_return_val_if_fail (json != NULL, NULL);

  if (!json_parser_load_from_data (parser, json, length, &parse_error))
    {
      invalid (error, "%s", parse_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      invalid (error, "the top level is not an object");
      return NULL;
    }

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!_kestrel_store_begin (self, error))
    return NULL;

  if (!(conversation_id = import_conversation (self, json_node_get_object (root), error)))
    {
      _kestrel_store_rollback (self);
      return NULL;
    }

  if (!_kestrel_store_commit (self, error))
    return NULL;

  _kestrel_store_emit_changed (self, conversation_id);
  return kestrel_store_get_conversation (self, conversation_id, error);
}
