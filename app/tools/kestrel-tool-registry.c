/* kestrel-tool-registry.c — the set of tools, and the limits on running them.
 *
 * The registry is a GListModel of KestrelTool (for a settings page).  It gives the prompt the
 * declarations of the enabled tools, and runs calls with the limits the issue asks for, each
 * reported as a KESTREL_TOOL_ERROR with a message fit to show and to give back to the model:
 *
 *   - time: a call that does not finish within its tool's timeout-seconds (or the registry's
 *     default) is cancelled and reported TIMED_OUT at once, without waiting for the tool;
 *   - size: a result whose JSON text exceeds max-result-bytes is RESULT_TOO_LARGE;
 *   - rounds: check_round() refuses more than max-rounds rounds of calls in one reply.
 *
 * Calls are validated against the tool's schema again here, whatever the parser did, and a
 * call to a tool that requires approval runs only if the call is marked approved.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include "kestrel-external-tool.h"
#include "kestrel-json-schema.h"
#include "kestrel-tool-prompt.h"
#include "kestrel-tool-registry.h"

struct _KestrelToolRegistry
{
  GObject    parent_instance;

  GPtrArray *tools;
  guint      timeout_seconds;
  gsize      max_result_bytes;
  guint      max_rounds;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (KestrelToolRegistry, kestrel_tool_registry, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *model)
{
  return KESTREL_TYPE_TOOL;
}

static guint
get_n_items (GListModel *model)
{
  return KESTREL_TOOL_REGISTRY (model)->tools->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  KestrelToolRegistry *self = KESTREL_TOOL_REGISTRY (model);

  if (position >= self->tools->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->tools, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static void
kestrel_tool_registry_finalize (GObject *object)
{
  KestrelToolRegistry *self = KESTREL_TOOL_REGISTRY (object);

  g_clear_pointer (&self->tools, g_ptr_array_unref);

  G_OBJECT_CLASS (kestrel_tool_registry_parent_class)->finalize (object);
}

static void
kestrel_tool_registry_class_init (KestrelToolRegistryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kestrel_tool_registry_finalize;
}

static void
kestrel_tool_registry_init (KestrelToolRegistry *self)
{
  self->tools = g_ptr_array_new_with_free_func (g_object_unref);
  self->timeout_seconds = KESTREL_TOOL_REGISTRY_DEFAULT_TIMEOUT_SECONDS;
  self->max_result_bytes = KESTREL_TOOL_REGISTRY_DEFAULT_MAX_RESULT_BYTES;
  self->max_rounds = KESTREL_TOOL_REGISTRY_DEFAULT_MAX_ROUNDS;
}

KestrelToolRegistry *
kestrel_tool_registry_new (void)
{
  return g_object_new (KESTREL_TYPE_TOOL_REGISTRY, NULL);
}

static gboolean
is_valid_tool_name (const char *name)
{
  if (name == NULL || !(g_ascii_isalpha (name[0]) || name[0] == '_') || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_')
      return FALSE;
  return TRUE;
}

/**
 * kestrel_tool_registry_add:
 *
 * Adds @tool.  Names must be Python identifiers (the model writes them as function names) and
 * unique.
 */
gboolean
kestrel_tool_registry_add (KestrelToolRegistry  *self,
                           KestrelTool          *tool,
                           GError              **error)
{
  const char *name;

  g_return_val_if_fail (KESTREL_IS_TOOL_REGISTRY (self), FALSE);
  g_return_val_if_fail (KESTREL_IS_TOOL (tool), FALSE);

  name = kestrel_tool_get_name (tool);
  if (!is_valid_tool_name (name))
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "“%s” is not a valid tool name (letters, digits and _ only, at most 64)",
                   name != NULL ? name : "");
      return FALSE;
    }
  if (kestrel_tool_registry_lookup (self, name) != NULL)
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "A tool called “%s” already exists", name);
      return FALSE;
    }
  g_ptr_array_add (self->tools, g_object_ref (tool));
  g_list_model_items_changed (G_LIST_MODEL (self), self->tools->len - 1, 0, 1);
  return TRUE;
}

/**
 * kestrel_tool_registry_lookup:
 *
 * Returns: (transfer none) (nullable): the tool called @name.
 */
KestrelTool *
kestrel_tool_registry_lookup (KestrelToolRegistry *self,
                              const char          *name)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_REGISTRY (self), NULL);

  for (guint i = 0; i < self->tools->len; i++)
    if (g_strcmp0 (kestrel_tool_get_name (g_ptr_array_index (self->tools, i)), name) == 0)
      return g_ptr_array_index (self->tools, i);
  return NULL;
}

/**
 * kestrel_tool_registry_dup_declarations:
 *
 * Returns: (transfer full): the declarations of the enabled tools, in the order they were
 *   added: what kestrel_tool_prompt_declarations() and the call parser take.
 */
JsonArray *
kestrel_tool_registry_dup_declarations (KestrelToolRegistry *self)
{
  JsonArray *array = json_array_new ();

  g_return_val_if_fail (KESTREL_IS_TOOL_REGISTRY (self), array);

  for (guint i = 0; i < self->tools->len; i++)
    {
      KestrelTool *tool = g_ptr_array_index (self->tools, i);

      if (kestrel_tool_get_enabled (tool))
        json_array_add_element (array, kestrel_tool_dup_declaration (tool));
    }
  return array;
}

/**
 * kestrel_tool_registry_load_external_tools:
 * @path: a JSON file `{"tools": [{"name", "description", "parameters", "argv",
 *   "timeout_seconds", "enabled"}, …]}`
 *
 * Adds the user-defined command tools described in @path.  They are disabled unless the file
 * says `"enabled": true`, and always need approval.  Nothing is added if any entry is bad.
 */
gboolean
kestrel_tool_registry_load_external_tools (KestrelToolRegistry  *self,
                                           const char           *path,
                                           GError              **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GPtrArray) loaded = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  JsonNode *tools;

  g_return_val_if_fail (KESTREL_IS_TOOL_REGISTRY (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!json_parser_load_from_mapped_file (parser, path, &local_error))
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "Cannot read the tools file %s: %s", path, local_error->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  tools = root != NULL && JSON_NODE_HOLDS_OBJECT (root) ?
          json_object_get_member (json_node_get_object (root), "tools") : NULL;
  if (tools == NULL || !JSON_NODE_HOLDS_ARRAY (tools))
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "The tools file %s has no \"tools\" list", path);
      return FALSE;
    }

  for (guint i = 0; i < json_array_get_length (json_node_get_array (tools)); i++)
    {
      JsonNode *entry = json_array_get_element (json_node_get_array (tools), i);
      KestrelExternalTool *tool;

      if (!JSON_NODE_HOLDS_OBJECT (entry))
        {
          g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                       "%s: tool %u is not an object", path, i + 1);
          return FALSE;
        }
      tool = kestrel_external_tool_new_from_json (json_node_get_object (entry), &local_error);
      if (tool == NULL)
        {
          g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                       "%s: tool %u: %s", path, i + 1, local_error->message);
          return FALSE;
        }
      g_ptr_array_add (loaded, tool);
    }

  for (guint i = 0; i < loaded->len; i++)
    {
      KestrelTool *tool = g_ptr_array_index (loaded, i);
      gboolean duplicate = kestrel_tool_registry_lookup (self, kestrel_tool_get_name (tool)) != NULL;

      if (!is_valid_tool_name (kestrel_tool_get_name (tool)))
        return kestrel_tool_registry_add (self, tool, error);  /* fails, with the reason */

      for (guint j = 0; j < i && !duplicate; j++)
        duplicate = g_str_equal (kestrel_tool_get_name (g_ptr_array_index (loaded, j)),
                                 kestrel_tool_get_name (tool));
      if (duplicate)
        {
          g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                       "%s: a tool called “%s” already exists", path, kestrel_tool_get_name (tool));
          return FALSE;
        }
    }
  for (guint i = 0; i < loaded->len; i++)
    if (!kestrel_tool_registry_add (self, g_ptr_array_index (loaded, i), error))
      return FALSE;
  return TRUE;
}

guint
kestrel_tool_registry_get_timeout_seconds (KestrelToolRegistry *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_REGISTRY (self), 0);
  return self->timeout_seconds;
}

void
kestrel_tool_registry_set_timeout_seconds (KestrelToolRegistry *self,
                                           guint                seconds)
{
  g_return_if_fail (KESTREL_IS_TOOL_REGISTRY (self));
  g_return_if_fail (seconds > 0);
  self->timeout_seconds = seconds;
}

gsize
kestrel_tool_registry_get_max_result_bytes (KestrelToolRegistry *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_REGISTRY (self), 0);
  return self->max_result_bytes;
}

void
kestrel_tool_registry_set_max_result_bytes (KestrelToolRegistry *self,
                                            gsize                max_bytes)
{
  g_return_if_fail (KESTREL_IS_TOOL_REGISTRY (self));
  g_return_if_fail (max_bytes > 0);
  self->max_result_bytes = max_bytes;
}

guint
kestrel_tool_registry_get_max_rounds (KestrelToolRegistry *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_REGISTRY (self), 0);
  return self->max_rounds;
}

void
kestrel_tool_registry_set_max_rounds (KestrelToolRegistry *self,
                                      guint                rounds)
{
  g_return_if_fail (KESTREL_IS_TOOL_REGISTRY (self));
  self->max_rounds = rounds;
}

/**
 * kestrel_tool_registry_check_round:
 * @rounds_done: rounds of tool calls already run for the current reply
 *
 * Returns: %TRUE if another round may run; otherwise a %KESTREL_TOOL_ERROR_TOO_MANY_ROUNDS.
 */
gboolean
kestrel_tool_registry_check_round (KestrelToolRegistry  *self,
                                   guint                 rounds_done,
                                   GError              **error)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_REGISTRY (self), FALSE);

  if (rounds_done >= self->max_rounds)
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_TOO_MANY_ROUNDS,
                   "Stopped calling tools: this reply has already used %u rounds of tool calls "
                   "(the limit is %u)", rounds_done, self->max_rounds);
      return FALSE;
    }
  return TRUE;
}

/* ---- invoking ---------------------------------------------------------------------------- */

typedef struct
{
  KestrelTool  *tool;
  GCancellable *tool_cancellable;  /* cancelled on timeout or when the caller cancels */
  GCancellable *caller_cancellable;
  gulong        caller_handler;
  GSource      *timeout_source;
  guint         timeout_seconds;
  gsize         max_result_bytes;
  gboolean      timed_out;
} InvokeData;

static void
invoke_data_free (InvokeData *data)
{
  if (data->timeout_source != NULL)
    {
      g_source_destroy (data->timeout_source);
      g_source_unref (data->timeout_source);
    }
  if (data->caller_handler != 0)
    g_cancellable_disconnect (data->caller_cancellable, data->caller_handler);
  g_clear_object (&data->caller_cancellable);
  g_clear_object (&data->tool_cancellable);
  g_clear_object (&data->tool);
  g_free (data);
}

static void
caller_cancelled_cb (GCancellable *cancellable,
                     GCancellable *tool_cancellable)
{
  g_cancellable_cancel (tool_cancellable);
}

static gboolean
timeout_cb (gpointer user_data)
{
  GTask *task = user_data;
  InvokeData *data = g_task_get_task_data (task);

  /* The tool has not answered (its callback removes this source): answer for it. */
  data->timed_out = TRUE;
  g_clear_pointer (&data->timeout_source, g_source_unref);
  g_cancellable_cancel (data->tool_cancellable);
  g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_TIMED_OUT,
                           "The tool “%s” did not finish within %u seconds and was stopped",
                           kestrel_tool_get_name (data->tool), data->timeout_seconds);
  return G_SOURCE_REMOVE;
}

static void
tool_run_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  InvokeData *data = g_task_get_task_data (task);
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  value = kestrel_tool_run_finish (KESTREL_TOOL (object), result, &error);
  if (data->timed_out)
    return;  /* the timeout already answered */
  g_source_destroy (data->timeout_source);
  g_clear_pointer (&data->timeout_source, g_source_unref);

  if (value == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  text = kestrel_tool_prompt_json_dumps (value, FALSE);
  if (strlen (text) > data->max_result_bytes)
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_RESULT_TOO_LARGE,
                               "The result of “%s” is %zu bytes, more than the limit of %zu bytes",
                               kestrel_tool_get_name (data->tool), strlen (text),
                               data->max_result_bytes);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&text), g_free);
}

/**
 * kestrel_tool_registry_invoke_async:
 * @call: a call; kestrel_tool_call_set_approved() where its tool requires approval
 *
 * Runs @call within the limits.  The result is the tool's JSON value as text.
 */
void
kestrel_tool_registry_invoke_async (KestrelToolRegistry *self,
                                    KestrelToolCall     *call,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonNode) args = NULL;
  g_autoptr(GError) error = NULL;
  KestrelTool *tool;
  InvokeData *data;

  g_return_if_fail (KESTREL_IS_TOOL_REGISTRY (self));
  g_return_if_fail (call != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, kestrel_tool_registry_invoke_async);
  g_task_set_check_cancellable (task, FALSE);

  tool = kestrel_tool_registry_lookup (self, call->name);
  if (tool == NULL)
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_UNKNOWN_TOOL,
                               "There is no tool called “%s”", call->name);
      return;
    }
  if (!kestrel_tool_get_enabled (tool))
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_DISABLED,
                               "The tool “%s” is switched off", call->name);
      return;
    }
  if (kestrel_tool_get_requires_approval (tool) && !call->approved)
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_NOT_APPROVED,
                               "The tool “%s” runs only with the user's approval", call->name);
      return;
    }
  args = json_node_init_object (json_node_alloc (), call->arguments);
  if (!kestrel_json_schema_validate (args, kestrel_tool_get_parameters (tool), &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  data = g_new0 (InvokeData, 1);
  data->tool = g_object_ref (tool);
  data->tool_cancellable = g_cancellable_new ();
  data->timeout_seconds = kestrel_tool_get_timeout_seconds (tool);
  if (data->timeout_seconds == 0)
    data->timeout_seconds = self->timeout_seconds;
  data->max_result_bytes = self->max_result_bytes;
  g_task_set_task_data (task, data, (GDestroyNotify) invoke_data_free);

  if (cancellable != NULL)
    {
      data->caller_cancellable = g_object_ref (cancellable);
      data->caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb),
                                                    data->tool_cancellable, NULL);
    }

  data->timeout_source = g_timeout_source_new_seconds (data->timeout_seconds);
  g_source_set_callback (data->timeout_source, timeout_cb, task, NULL);
  g_source_set_static_name (data->timeout_source, "[kestrel] tool timeout");
  g_source_attach (data->timeout_source, g_task_get_context (task));

  kestrel_tool_run_async (tool, call, data->tool_cancellable, tool_run_cb, g_object_ref (task));
}

/**
 * kestrel_tool_registry_invoke_finish:
 *
 * Returns: (transfer full): the result text for the `<tool_response>` turn, or %NULL with
 *   @error set (see kestrel_tool_result_for_error() for what to tell the model then).
 */
char *
kestrel_tool_registry_invoke_finish (KestrelToolRegistry  *self,
                                     GAsyncResult         *result,
                                     GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * kestrel_tool_result_for_error:
 *
 * Returns: (transfer full): `{"error": "<message>"}`, the tool response that tells the model a
 *   call failed and why, so that it can continue.
 */
char *
kestrel_tool_result_for_error (const GError *error)
{
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "error", error != NULL ? error->message : "unknown error");
  node = json_node_init_object (json_node_alloc (), object);
  json_object_unref (object);
  return kestrel_tool_prompt_json_dumps (node, FALSE);
}
