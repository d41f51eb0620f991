/* kestrel-tool.c — base class of everything the model can call.
 *
 * A tool has a name, a description and a JSON schema for its arguments (together: its
 * declaration, as shown to the model), says whether a person must approve each call, can be
 * switched off, and runs asynchronously.  Limits (time, result size, rounds) are applied by
 * KestrelToolRegistry, not here.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include "kestrel-tool.h"

typedef struct
{
  char       *name;
  char       *description;
  JsonObject *parameters;
  guint       timeout_seconds;
  guint       requires_approval : 1;
  guint       enabled : 1;
} KestrelToolPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (KestrelTool, kestrel_tool, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_DESCRIPTION,
  PROP_PARAMETERS,
  PROP_REQUIRES_APPROVAL,
  PROP_ENABLED,
  PROP_TIMEOUT_SECONDS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
kestrel_tool_finalize (GObject *object)
{
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (KESTREL_TOOL (object));

  g_free (priv->name);
  g_free (priv->description);
  g_clear_pointer (&priv->parameters, json_object_unref);

  G_OBJECT_CLASS (kestrel_tool_parent_class)->finalize (object);
}

static void
kestrel_tool_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  KestrelTool *self = KESTREL_TOOL (object);
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_NAME: g_value_set_string (value, priv->name); break;
    case PROP_DESCRIPTION: g_value_set_string (value, priv->description); break;
    case PROP_PARAMETERS: g_value_set_boxed (value, priv->parameters); break;
    case PROP_REQUIRES_APPROVAL: g_value_set_boolean (value, priv->requires_approval); break;
    case PROP_ENABLED: g_value_set_boolean (value, priv->enabled); break;
    case PROP_TIMEOUT_SECONDS: g_value_set_uint (value, priv->timeout_seconds); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_tool_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  KestrelTool *self = KESTREL_TOOL (object);
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_NAME: priv->name = g_value_dup_string (value); break;
    case PROP_DESCRIPTION: priv->description = g_value_dup_string (value); break;
    case PROP_PARAMETERS:
      priv->parameters = g_value_dup_boxed (value);
      break;
    case PROP_REQUIRES_APPROVAL: priv->requires_approval = g_value_get_boolean (value); break;
    case PROP_ENABLED: kestrel_tool_set_enabled (self, g_value_get_boolean (value)); break;
    case PROP_TIMEOUT_SECONDS: priv->timeout_seconds = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_tool_constructed (GObject *object)
{
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (KESTREL_TOOL (object));

  G_OBJECT_CLASS (kestrel_tool_parent_class)->constructed (object);

  if (priv->parameters == NULL)
    {
      priv->parameters = json_object_new ();
      json_object_set_string_member (priv->parameters, "type", "object");
      json_object_set_object_member (priv->parameters, "properties", json_object_new ());
    }
  if (priv->description == NULL)
    priv->description = g_strdup ("");
  g_warn_if_fail (priv->name != NULL);
}

static void
run_thread_cb (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  KestrelTool *self = source_object;
  GError *error = NULL;
  JsonNode *result;

  result = KESTREL_TOOL_GET_CLASS (self)->run (self, task_data, cancellable, &error);
  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, (GDestroyNotify) json_node_unref);
}

static void
kestrel_tool_real_run_async (KestrelTool         *self,
                             KestrelToolCall     *call,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, kestrel_tool_real_run_async);
  g_task_set_task_data (task, kestrel_tool_call_ref (call), (GDestroyNotify) kestrel_tool_call_unref);
  if (KESTREL_TOOL_GET_CLASS (self)->run == NULL)
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                               "The tool “%s” cannot run", kestrel_tool_get_name (self));
      return;
    }
  g_task_run_in_thread (task, run_thread_cb);
}

static JsonNode *
kestrel_tool_real_run_finish (KestrelTool   *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
kestrel_tool_class_init (KestrelToolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = kestrel_tool_finalize;
  object_class->get_property = kestrel_tool_get_property;
  object_class->set_property = kestrel_tool_set_property;
  object_class->constructed = kestrel_tool_constructed;

  klass->run_async = kestrel_tool_real_run_async;
  klass->run_finish = kestrel_tool_real_run_finish;

  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DESCRIPTION] =
    g_param_spec_string ("description", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PARAMETERS] =
    g_param_spec_boxed ("parameters", NULL, NULL, JSON_TYPE_OBJECT,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_REQUIRES_APPROVAL] =
    g_param_spec_boolean ("requires-approval", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ENABLED] =
    g_param_spec_boolean ("enabled", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* 0: the registry's default limit applies. */
  properties[PROP_TIMEOUT_SECONDS] =
    g_param_spec_uint ("timeout-seconds", NULL, NULL, 0, 3600, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_tool_init (KestrelTool *self)
{
}

const char *
kestrel_tool_get_name (KestrelTool *self)
{
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (self);

  g_return_val_if_fail (KESTREL_IS_TOOL (self), NULL);
  return priv->name;
}

const char *
kestrel_tool_get_description (KestrelTool *self)
{
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (self);

  g_return_val_if_fail (KESTREL_IS_TOOL (self), NULL);
  return priv->description;
}

/**
 * kestrel_tool_get_parameters:
 *
 * Returns: (transfer none): the JSON schema of the tool's arguments.
 */
JsonObject *
kestrel_tool_get_parameters (KestrelTool *self)
{
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (self);

  g_return_val_if_fail (KESTREL_IS_TOOL (self), NULL);
  return priv->parameters;
}

gboolean
kestrel_tool_get_requires_approval (KestrelTool *self)
{
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (self);

  g_return_val_if_fail (KESTREL_IS_TOOL (self), TRUE);
  return priv->requires_approval;
}

gboolean
kestrel_tool_get_enabled (KestrelTool *self)
{
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (self);

  g_return_val_if_fail (KESTREL_IS_TOOL (self), FALSE);
  return priv->enabled;
}

void
kestrel_tool_set_enabled (KestrelTool *self,
                          gboolean     enabled)
{
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (self);

  g_return_if_fail (KESTREL_IS_TOOL (self));

  enabled = !!enabled;
  if (priv->enabled == (guint) enabled)
    return;
  priv->enabled = enabled;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENABLED]);
}

guint
kestrel_tool_get_timeout_seconds (KestrelTool *self)
{
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (self);

  g_return_val_if_fail (KESTREL_IS_TOOL (self), 0);
  return priv->timeout_seconds;
}

/**
 * kestrel_tool_dup_declaration:
 *
 * Returns: (transfer full): `{"name": …, "description": …, "parameters": {…}}`, the form of
 *   Google's Gemma function-calling guide, for the prompt.
 */
JsonNode *
kestrel_tool_dup_declaration (KestrelTool *self)
{
  KestrelToolPrivate *priv = kestrel_tool_get_instance_private (self);
  JsonObject *object = json_object_new ();
  JsonNode *parameters;

  g_return_val_if_fail (KESTREL_IS_TOOL (self), NULL);

  json_object_set_string_member (object, "name", priv->name);
  json_object_set_string_member (object, "description", priv->description);
  parameters = json_node_init_object (json_node_alloc (), priv->parameters);
  json_object_set_member (object, "parameters", json_node_copy (parameters));
  json_node_unref (parameters);
  {
    JsonNode *node = json_node_alloc ();

    json_node_init (node, JSON_NODE_OBJECT);
    json_node_take_object (node, object);
    return node;
  }
}

void
kestrel_tool_run_async (KestrelTool         *self,
                        KestrelToolCall     *call,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (KESTREL_IS_TOOL (self));
  g_return_if_fail (call != NULL);

  KESTREL_TOOL_GET_CLASS (self)->run_async (self, call, cancellable, callback, user_data);
}

/**
 * kestrel_tool_run_finish:
 *
 * Returns: (transfer full): the result value, or %NULL with @error set.
 */
JsonNode *
kestrel_tool_run_finish (KestrelTool   *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (KESTREL_IS_TOOL (self), NULL);

  return KESTREL_TOOL_GET_CLASS (self)->run_finish (self, result, error);
}

/**
 * kestrel_tool_parse_schema:
 * @json: a schema written by the programmer (built-in tools)
 *
 * Returns: (transfer full): the parsed object; aborts on a programming error in @json.
 */
JsonObject *
kestrel_tool_parse_schema (const char *json)
{
  g_autoptr(JsonNode) node = json_from_string (json, NULL);

  g_assert (node != NULL && JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}
