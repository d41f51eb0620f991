/* kestrel-read-file-tool.c — built-in tool: read a text file the user picks.
 *
 * The model never names a path: it only says why it wants a file ("purpose", shown in the
 * approval card).  The user picks the file in a file chooser when approving, and the UI puts
 * it into the call (kestrel_tool_call_set_user_file()).  Without a picked file the call fails.
 * The file must be UTF-8 text (no NUL bytes) and at most max_bytes long.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include <string.h>

#include "kestrel-read-file-tool.h"

struct _KestrelReadFileTool
{
  KestrelTool parent_instance;

  gsize       max_bytes;
};

G_DEFINE_FINAL_TYPE (KestrelReadFileTool, kestrel_read_file_tool, KESTREL_TYPE_TOOL)

static const char schema[] =
  "{\"type\": \"object\","
  " \"properties\": {\"purpose\": {\"type\": \"string\", \"description\":"
  "   \"Why you need a file; the user is asked to pick one\"}},"
  " \"required\": [\"purpose\"], \"additionalProperties\": false}";

static JsonNode *
kestrel_read_file_tool_run (KestrelTool      *tool,
                            KestrelToolCall  *call,
                            GCancellable     *cancellable,
                            GError          **error)
{
  KestrelReadFileTool *self = KESTREL_READ_FILE_TOOL (tool);
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *buffer = NULL;
  g_autofree char *name = NULL;
  gsize n_read = 0;
  JsonObject *object;

  if (call->user_file == NULL)
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_NO_FILE,
                           "No file was chosen: the user has to pick a file when approving this call");
      return NULL;
    }

  info = g_file_query_info (call->user_file, G_FILE_ATTRIBUTE_STANDARD_DISPLAY_NAME ","
                            G_FILE_ATTRIBUTE_STANDARD_TYPE, G_FILE_QUERY_INFO_NONE,
                            cancellable, &local_error);
  if (info == NULL)
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "The chosen file cannot be read: %s", local_error->message);
      return NULL;
    }
  name = g_strdup (g_file_info_get_display_name (info));
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "“%s” is not a regular file", name);
      return NULL;
    }

  stream = g_file_read (call->user_file, cancellable, &local_error);
  if (stream == NULL)
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "“%s” cannot be read: %s", name, local_error->message);
      return NULL;
    }
  /* Read one byte more than allowed to learn whether the file is too large. */
  buffer = g_malloc (self->max_bytes + 2);
  if (!g_input_stream_read_all (G_INPUT_STREAM (stream), buffer, self->max_bytes + 1, &n_read,
                                cancellable, &local_error))
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "“%s” cannot be read: %s", name, local_error->message);
      return NULL;
    }
  if (n_read > self->max_bytes)
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_RESULT_TOO_LARGE,
                   "“%s” is larger than the limit of %zu bytes", name, self->max_bytes);
      return NULL;
    }
  buffer[n_read] = '\0';
  if (memchr (buffer, '\0', n_read) != NULL || !g_utf8_validate_len (buffer, n_read, NULL))
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "“%s” is not a UTF-8 text file", name);
      return NULL;
    }

  object = json_object_new ();
  json_object_set_string_member (object, "file", name);
  json_object_set_int_member (object, "bytes", (gint64) n_read);
  json_object_set_string_member (object, "content", buffer);
  {
    JsonNode *node = json_node_alloc ();

    json_node_init (node, JSON_NODE_OBJECT);
    json_node_take_object (node, object);
    return node;
  }
}

static void
kestrel_read_file_tool_class_init (KestrelReadFileToolClass *klass)
{
  KESTREL_TOOL_CLASS (klass)->run = kestrel_read_file_tool_run;
}

static void
kestrel_read_file_tool_init (KestrelReadFileTool *self)
{
}

/**
 * kestrel_read_file_tool_new:
 * @max_bytes: the largest file accepted; 0 for the default
 */
KestrelTool *
kestrel_read_file_tool_new (gsize max_bytes)
{
  g_autoptr(JsonObject) parameters = kestrel_tool_parse_schema (schema);
  KestrelReadFileTool *self;

  self = g_object_new (KESTREL_TYPE_READ_FILE_TOOL,
                       "name", "read_file",
                       "description", "Asks the user to pick a text file and returns its content.",
                       "parameters", parameters,
                       "requires-approval", TRUE,
                       NULL);
  self->max_bytes = max_bytes > 0 ? max_bytes : KESTREL_READ_FILE_TOOL_DEFAULT_MAX_BYTES;
  return KESTREL_TOOL (self);
}
