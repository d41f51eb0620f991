/* kestrel-stored-tool-call.c — a tool call made by a model message: what was asked (name, JSON
 * arguments), whether the user allowed it, and what came back.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include "kestrel-stored-tool-call.h"

struct _KestrelStoredToolCall
{
  GObject parent_instance;

  gint64 id;
  gint64 message_id;
  char *name;
  char *arguments;
  char *result;
  KestrelToolCallStatus status;
  KestrelToolApproval approval;
};

G_DEFINE_FINAL_TYPE (KestrelStoredToolCall, kestrel_stored_tool_call, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_MESSAGE_ID,
  PROP_NAME,
  PROP_ARGUMENTS,
  PROP_RESULT,
  PROP_STATUS,
  PROP_APPROVAL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
kestrel_stored_tool_call_finalize (GObject *object)
{
  KestrelStoredToolCall *self = (KestrelStoredToolCall *)object;

  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->arguments, g_free);
  g_clear_pointer (&self->result, g_free);

  G_OBJECT_CLASS (kestrel_stored_tool_call_parent_class)->finalize (object);
}

static void
kestrel_stored_tool_call_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  KestrelStoredToolCall *self = KESTREL_STORED_TOOL_CALL (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_int64 (value, self->id); break;
    case PROP_MESSAGE_ID: g_value_set_int64 (value, self->message_id); break;
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_ARGUMENTS: g_value_set_string (value, self->arguments); break;
    case PROP_RESULT: g_value_set_string (value, self->result); break;
    case PROP_STATUS: g_value_set_enum (value, self->status); break;
    case PROP_APPROVAL: g_value_set_enum (value, self->approval); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_stored_tool_call_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  KestrelStoredToolCall *self = KESTREL_STORED_TOOL_CALL (object);

  switch (prop_id)
    {
    case PROP_ID: self->id = g_value_get_int64 (value); break;
    case PROP_MESSAGE_ID: self->message_id = g_value_get_int64 (value); break;
    case PROP_NAME: self->name = g_value_dup_string (value); break;
    case PROP_ARGUMENTS: self->arguments = g_value_dup_string (value); break;
    case PROP_RESULT: self->result = g_value_dup_string (value); break;
    case PROP_STATUS: self->status = g_value_get_enum (value); break;
    case PROP_APPROVAL: self->approval = g_value_get_enum (value); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_stored_tool_call_class_init (KestrelStoredToolCallClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = kestrel_stored_tool_call_finalize;
  object_class->get_property = kestrel_stored_tool_call_get_property;
  object_class->set_property = kestrel_stored_tool_call_set_property;

  properties[PROP_ID] = g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_MESSAGE_ID] = g_param_spec_int64 ("message-id", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, co);
  properties[PROP_ARGUMENTS] = g_param_spec_string ("arguments", NULL, NULL, "{}", co);
  properties[PROP_RESULT] = g_param_spec_string ("result", NULL, NULL, NULL, co);
  properties[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL, KESTREL_TYPE_TOOL_CALL_STATUS,
                       KESTREL_TOOL_CALL_STATUS_PENDING, co);
  properties[PROP_APPROVAL] =
    g_param_spec_enum ("approval", NULL, NULL, KESTREL_TYPE_TOOL_APPROVAL,
                       KESTREL_TOOL_APPROVAL_PENDING, co);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_stored_tool_call_init (KestrelStoredToolCall *self)
{
}

gint64
kestrel_stored_tool_call_get_id (KestrelStoredToolCall *self)
{
  g_return_val_if_fail (KESTREL_IS_STORED_TOOL_CALL (self), 0);
  return self->id;
}

gint64
kestrel_stored_tool_call_get_message_id (KestrelStoredToolCall *self)
{
  g_return_val_if_fail (KESTREL_IS_STORED_TOOL_CALL (self), 0);
  return self->message_id;
}

const char *
kestrel_stored_tool_call_get_name (KestrelStoredToolCall *self)
{
  g_return_val_if_fail (KESTREL_IS_STORED_TOOL_CALL (self), NULL);
  return self->name;
}

/* The call's arguments as a JSON object. */
const char *
kestrel_stored_tool_call_get_arguments (KestrelStoredToolCall *self)
{
  g_return_val_if_fail (KESTREL_IS_STORED_TOOL_CALL (self), NULL);
  return self->arguments;
}

/* What the tool returned (or its error text); NULL until it ran. */
const char *
kestrel_stored_tool_call_get_result (KestrelStoredToolCall *self)
{
  g_return_val_if_fail (KESTREL_IS_STORED_TOOL_CALL (self), NULL);
  return self->result;
}

KestrelToolCallStatus
kestrel_stored_tool_call_get_status (KestrelStoredToolCall *self)
{
  g_return_val_if_fail (KESTREL_IS_STORED_TOOL_CALL (self), 0);
  return self->status;
}

KestrelToolApproval
kestrel_stored_tool_call_get_approval (KestrelStoredToolCall *self)
{
  g_return_val_if_fail (KESTREL_IS_STORED_TOOL_CALL (self), 0);
  return self->approval;
}
