/* kestrel-store-export.c — a conversation as Markdown or JSON (kestrel-store-import.c reads
 * the JSON back).
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
  json_builder_add_string_value (builder, KESTREL_STORE_JSON_FORMAT);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, KESTREL_STORE_JSON_VERSION);
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
          KestrelStoredToolCall *call = g_ptr_array_index (tool_calls, j);

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "name");
          json_builder_add_string_value (builder, kestrel_stored_tool_call_get_name (call));
          add_json_text (builder, "arguments", kestrel_stored_tool_call_get_arguments (call));
          json_builder_set_member_name (builder, "result");
          if (kestrel_stored_tool_call_get_result (call) != NULL)
            json_builder_add_string_value (builder, kestrel_stored_tool_call_get_result (call));
          else
            json_builder_add_null_value (builder);
          json_builder_set_member_name (builder, "status");
          json_builder_add_string_value (builder, kestrel_tool_call_status_to_string (kestrel_stored_tool_call_get_status (call)));
          json_builder_set_member_name (builder, "approval");
          json_builder_add_string_value (builder, kestrel_tool_approval_to_string (kestrel_stored_tool_call_get_approval (call)));
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
          KestrelStoredToolCall *call = g_ptr_array_index (tool_calls, j);

          g_string_append_printf (md, "\n**Tool call** `%s` (%s, %s)\n\n```json\n%s\n```\n",
                                  kestrel_stored_tool_call_get_name (call),
                                  kestrel_tool_call_status_to_string (kestrel_stored_tool_call_get_status (call)),
                                  kestrel_tool_approval_to_string (kestrel_stored_tool_call_get_approval (call)),
                                  kestrel_stored_tool_call_get_arguments (call));
          if (kestrel_stored_tool_call_get_result (call) != NULL)
            g_string_append_printf (md, "\nResult:\n\n```\n%s\n```\n", kestrel_stored_tool_call_get_result (call));
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
