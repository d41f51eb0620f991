/* kestrel-store-export.c — a conversation as Markdown or JSON, and JSON back in.
 *
 * Markdown is for people: the shown thread, images inline as data: URIs. JSON is for
 * round trips: every branch, the selections, stats, tool calls, and images (original bytes,
 * base64) with their sha256, which import checks. Message ids in the file are local (1..n,
 * parents before children), so exporting an imported conversation gives the same file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include <json-glib/json-glib.h>

#include "kestrel-store-private.h"

#define JSON_FORMAT_NAME "kestrel-conversation"
#define JSON_FORMAT_VERSION 1

/* ---- export ------------------------------------------------------------------------- */

static void
add_json_text (JsonBuilder *builder,
               const char  *member,
               const char  *json)
{
  g_autoptr(JsonNode) node = NULL;

  json_builder_set_member_name (builder, member);
  if (json != NULL && (node = json_from_string (json, NULL)) != NULL)
    json_builder_add_value (builder, g_steal_pointer (&node));
  else
    json_builder_add_null_value (builder);
}

static void
add_bytes (JsonBuilder *builder,
           const char  *member,
           GBytes      *bytes)
{
  json_builder_set_member_name (builder, member);
  if (bytes == NULL)
    {
      json_builder_add_null_value (builder);
    }
  else
    {
      g_autofree char *base64 = g_base64_encode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));

      json_builder_add_string_value (builder, base64);
    }
}

static gboolean
load_selections (KestrelStore  *self,
                 gint64         conversation_id,
                 GHashTable    *selected,
                 gint64        *selected_root,
                 GError       **error)
{
  sqlite3_stmt *stmt;
  int rc;

  if (!(stmt = _kestrel_store_prepare (self, "SELECT selected_root_id FROM conversations WHERE id = ?", error)))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, conversation_id);
  rc = sqlite3_step (stmt);
  *selected_root = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW)
    return _kestrel_store_set_error (self, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "Reading a conversation failed", error);

  if (!(stmt = _kestrel_store_prepare (self,
                                       "SELECT id, selected_child_id FROM messages"
                                       " WHERE conversation_id = ? AND selected_child_id IS NOT NULL", error)))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, conversation_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      gint64 child = sqlite3_column_int64 (stmt, 1);

      g_hash_table_insert (selected, g_memdup2 (&id, sizeof id), g_memdup2 (&child, sizeof child));
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return _kestrel_store_set_error (self, rc, "Reading messages failed", error);
  return TRUE;
}

/* Database id -> file id (1-based position), or 0 when @id is not exported (dangling). */
static gint64
local_id (GHashTable *locals,
          gint64      id)
{
  gint64 *local = g_hash_table_lookup (locals, &id);

  return local ? *local : 0;
}

static void
add_local_ref (JsonBuilder *builder,
               const char  *member,
               gint64       local)
{
  json_builder_set_member_name (builder, member);
  if (local != 0)
    json_builder_add_int_value (builder, local);
  else
    json_builder_add_null_value (builder);
}

static char *
export_json (KestrelStore         *self,
             KestrelConversation  *conversation,
             GError              **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GHashTable) selected = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr(GHashTable) locals = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr(GEnumClass) title_sources = g_type_class_ref (KESTREL_TYPE_TITLE_SOURCE);
  gint64 conversation_id = kestrel_conversation_get_id (conversation);
  gint64 selected_root = 0;

  if (!(messages = _kestrel_store_load_all_messages (self, conversation_id, error)) ||
      !load_selections (self, conversation_id, selected, &selected_root, error))
    return NULL;

  for (guint i = 0; i < messages->len; i++)
    {
      gint64 id = kestrel_message_get_id (g_ptr_array_index (messages, i));
      gint64 local = i + 1;

      g_hash_table_insert (locals, g_memdup2 (&id, sizeof id), g_memdup2 (&local, sizeof local));
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "format");
  json_builder_add_string_value (builder, JSON_FORMAT_NAME);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, JSON_FORMAT_VERSION);
  json_builder_set_member_name (builder, "title");
  json_builder_add_string_value (builder, kestrel_conversation_get_title (conversation));
  json_builder_set_member_name (builder, "title_source");
  json_builder_add_string_value (builder,
                                 g_enum_get_value (title_sources,
                                                   kestrel_conversation_get_title_source (conversation))->value_nick);
  json_builder_set_member_name (builder, "created_at");
  json_builder_add_int_value (builder, kestrel_conversation_get_created_at (conversation));
  json_builder_set_member_name (builder, "updated_at");
  json_builder_add_int_value (builder, kestrel_conversation_get_updated_at (conversation));
  json_builder_set_member_name (builder, "pinned");
  json_builder_add_boolean_value (builder, kestrel_conversation_get_pinned (conversation));
  json_builder_set_member_name (builder, "archived");
  json_builder_add_boolean_value (builder, kestrel_conversation_get_archived (conversation));
  json_builder_set_member_name (builder, "system_prompt");
  json_builder_add_string_value (builder, kestrel_conversation_get_system_prompt (conversation));
  add_json_text (builder, "settings", kestrel_conversation_get_settings (conversation));
  add_local_ref (builder, "selected_root", local_id (locals, selected_root));

  json_builder_set_member_name (builder, "messages");
  json_builder_begin_array (builder);
  for (guint i = 0; i < messages->len; i++)
    {
      KestrelMessage *message = g_ptr_array_index (messages, i);
      GPtrArray *attachments = kestrel_message_get_attachments (message);
      GPtrArray *tool_calls = kestrel_message_get_tool_calls (message);
      gint64 id = kestrel_message_get_id (message);
      gint64 *child = g_hash_table_lookup (selected, &id);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_int_value (builder, i + 1);
      add_local_ref (builder, "parent", local_id (locals, kestrel_message_get_parent_id (message)));
      json_builder_set_member_name (builder, "role");
      json_builder_add_string_value (builder, kestrel_message_role_to_string (kestrel_message_get_role (message)));
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder, kestrel_message_status_to_string (kestrel_message_get_status (message)));
      json_builder_set_member_name (builder, "content");
      json_builder_add_string_value (builder, kestrel_message_get_content (message));
      add_json_text (builder, "stats", kestrel_message_get_stats (message));
      json_builder_set_member_name (builder, "created_at");
      json_builder_add_int_value (builder, kestrel_message_get_created_at (message));
      json_builder_set_member_name (builder, "updated_at");
      json_builder_add_int_value (builder, kestrel_message_get_updated_at (message));
      add_local_ref (builder, "selected_child", child ? local_id (locals, *child) : 0);

      json_builder_set_member_name (builder, "attachments");
      json_builder_begin_array (builder);
      for (guint j = 0; j < attachments->len; j++)
        {
          KestrelAttachment *attachment = g_ptr_array_index (attachments, j);

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "mime_type");
          json_builder_add_string_value (builder, kestrel_attachment_get_mime_type (attachment));
          json_builder_set_member_name (builder, "byte_size");
          json_builder_add_int_value (builder, kestrel_attachment_get_byte_size (attachment));
          json_builder_set_member_name (builder, "sha256");
          json_builder_add_string_value (builder, kestrel_attachment_get_sha256 (attachment));
          json_builder_set_member_name (builder, "width");
          json_builder_add_int_value (builder, kestrel_attachment_get_width (attachment));
          json_builder_set_member_name (builder, "height");
          json_builder_add_int_value (builder, kestrel_attachment_get_height (attachment));
          add_bytes (builder, "data", kestrel_attachment_get_data (attachment));
          add_bytes (builder, "thumbnail", kestrel_attachment_get_thumbnail (attachment));
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);

      json_builder_set_member_name (builder, "tool_calls");
      json_builder_begin_array (builder);
      for (guint j = 0; j < tool_calls->len; j++)
        {
          KestrelToolCall *call = g_ptr_array_index (tool_calls, j);

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "name");
          json_builder_add_string_value (builder, kestrel_tool_call_get_name (call));
          add_json_text (builder, "arguments", kestrel_tool_call_get_arguments (call));
          json_builder_set_member_name (builder, "result");
          if (kestrel_tool_call_get_result (call) != NULL)
            json_builder_add_string_value (builder, kestrel_tool_call_get_result (call));
          else
            json_builder_add_null_value (builder);
          json_builder_set_member_name (builder, "status");
          json_builder_add_string_value (builder, kestrel_tool_call_status_to_string (kestrel_tool_call_get_status (call)));
          json_builder_set_member_name (builder, "approval");
          json_builder_add_string_value (builder, kestrel_tool_approval_to_string (kestrel_tool_call_get_approval (call)));
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, NULL);
}

static const char *
role_heading (KestrelMessageRole role)
{
  switch (role)
    {
    case KESTREL_MESSAGE_ROLE_USER: return "You";
    case KESTREL_MESSAGE_ROLE_MODEL: return "Kestrel";
    case KESTREL_MESSAGE_ROLE_TOOL: return "Tool";
    default: return "Message";
    }
}

static char *
export_markdown (KestrelStore         *self,
                 KestrelConversation  *conversation,
                 GError              **error)
{
  g_autoptr(GPtrArray) thread = NULL;
  g_autoptr(GString) md = g_string_new (NULL);
  const char *title = kestrel_conversation_get_title (conversation);
  const char *system_prompt = kestrel_conversation_get_system_prompt (conversation);

  if (!(thread = kestrel_store_load_thread (self, kestrel_conversation_get_id (conversation), error)))
    return NULL;

  g_string_append_printf (md, "# %s\n", *title ? title : "Untitled conversation");

  if (*system_prompt != '\0')
    {
      g_auto(GStrv) lines = g_strsplit (system_prompt, "\n", -1);

      g_string_append (md, "\n**System prompt**\n\n");
      for (guint i = 0; lines[i] != NULL; i++)
        g_string_append_printf (md, "> %s\n", lines[i]);
    }

  for (guint i = 0; i < thread->len; i++)
    {
      KestrelMessage *message = g_ptr_array_index (thread, i);
      GPtrArray *attachments = kestrel_message_get_attachments (message);
      GPtrArray *tool_calls = kestrel_message_get_tool_calls (message);
      KestrelMessageStatus status = kestrel_message_get_status (message);

      g_string_append_printf (md, "\n## %s\n\n", role_heading (kestrel_message_get_role (message)));
      g_string_append (md, kestrel_message_get_content (message));
      g_string_append_c (md, '\n');

      if (status != KESTREL_MESSAGE_STATUS_COMPLETE)
        g_string_append_printf (md, "\n*(reply %s)*\n", kestrel_message_status_to_string (status));

      for (guint j = 0; j < attachments->len; j++)
        {
          KestrelAttachment *attachment = g_ptr_array_index (attachments, j);
          GBytes *data = kestrel_attachment_get_data (attachment);
          g_autofree char *base64 = g_base64_encode (g_bytes_get_data (data, NULL), g_bytes_get_size (data));

          g_string_append_printf (md, "\n![Image %u (%d×%d)](data:%s;base64,%s)\n", j + 1,
                                  kestrel_attachment_get_width (attachment),
                                  kestrel_attachment_get_height (attachment),
                                  kestrel_attachment_get_mime_type (attachment), base64);
        }

      for (guint j = 0; j < tool_calls->len; j++)
        {
          KestrelToolCall *call = g_ptr_array_index (tool_calls, j);

          g_string_append_printf (md, "\n**Tool call** `%s` (%s, %s)\n\n```json\n%s\n```\n",
                                  kestrel_tool_call_get_name (call),
                                  kestrel_tool_call_status_to_string (kestrel_tool_call_get_status (call)),
                                  kestrel_tool_approval_to_string (kestrel_tool_call_get_approval (call)),
                                  kestrel_tool_call_get_arguments (call));
          if (kestrel_tool_call_get_result (call) != NULL)
            g_string_append_printf (md, "\nResult:\n\n```\n%s\n```\n", kestrel_tool_call_get_result (call));
        }
    }

  return g_string_free (g_steal_pointer (&md), FALSE);
}

/* Returns: (transfer full): the conversation as UTF-8 text in @format. */
char *
kestrel_store_export (KestrelStore         *self,
                      gint64                conversation_id,
                      KestrelExportFormat   format,
                      GError              **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  g_autoptr(KestrelConversation) conversation = NULL;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!(conversation = kestrel_store_get_conversation (self, conversation_id, error)))
    return NULL;

  switch (format)
    {
    case KESTREL_EXPORT_FORMAT_MARKDOWN:
      return export_markdown (self, conversation, error);
    case KESTREL_EXPORT_FORMAT_JSON:
      return export_json (self, conversation, error);
    default:
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID, "Unknown export format %d", format);
      return NULL;
    }
}

/* ---- import ------------------------------------------------------------------------- */

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
  if (g_strcmp0 (format, JSON_FORMAT_NAME) != 0)
    return invalid (error, "it is not a Kestrel conversation");
  if (version != JSON_FORMAT_VERSION)
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
