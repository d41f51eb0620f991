/* kestrel-chat-message.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-chat-message"

#include "config.h"

#include "kestrel-chat-message.h"

struct _KestrelChatMessage
{
  GObject               parent_instance;

  KestrelRole           role;
  GString              *text;
  GPtrArray            *images;
  KestrelChatMessageStatus  status;
  char                 *error_message;
  guint                 n_tokens;
  double                tokens_per_second;
  guint                 branch_index;
  guint                 branch_count;
  GListStore           *tool_calls;   /* KestrelToolCallRequest */
  char                 *tool_status;  /* "Calling x…" while a call is being generated */
};

G_DEFINE_FINAL_TYPE (KestrelChatMessage, kestrel_chat_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ROLE,
  PROP_TEXT,
  PROP_STATUS,
  PROP_ERROR_MESSAGE,
  PROP_N_TOKENS,
  PROP_TOKENS_PER_SECOND,
  PROP_BRANCH_INDEX,
  PROP_BRANCH_COUNT,
  PROP_TOOL_STATUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

GType
kestrel_chat_message_status_get_type (void)
{
  static GType type;

  if (g_once_init_enter_pointer (&type))
    {
      static const GEnumValue values[] = {
        { KESTREL_CHAT_MESSAGE_COMPLETE, "KESTREL_CHAT_MESSAGE_COMPLETE", "complete" },
        { KESTREL_CHAT_MESSAGE_PENDING, "KESTREL_CHAT_MESSAGE_PENDING", "pending" },
        { KESTREL_CHAT_MESSAGE_STREAMING, "KESTREL_CHAT_MESSAGE_STREAMING", "streaming" },
        { KESTREL_CHAT_MESSAGE_FAILED, "KESTREL_CHAT_MESSAGE_FAILED", "failed" },
        { KESTREL_CHAT_MESSAGE_CANCELLED, "KESTREL_CHAT_MESSAGE_CANCELLED", "cancelled" },
        { KESTREL_CHAT_MESSAGE_INTERRUPTED, "KESTREL_CHAT_MESSAGE_INTERRUPTED", "interrupted" },
        { 0, NULL, NULL },
      };

      g_once_init_leave_pointer (&type, g_enum_register_static ("KestrelChatMessageStatus", values));
    }

  return type;
}

KestrelChatMessage *
kestrel_chat_message_new (KestrelRole  role,
                          const char  *text)
{
  KestrelChatMessage *self = g_object_new (KESTREL_TYPE_CHAT_MESSAGE, NULL);

  g_return_val_if_fail (role <= KESTREL_ROLE_TOOL, self);

  self->role = role;
  g_string_assign (self->text, text ? text : "");

  return self;
}

KestrelRole
kestrel_chat_message_get_role (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), KESTREL_ROLE_USER);
  return self->role;
}

const char *
kestrel_chat_message_get_text (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), NULL);
  return self->text->str;
}

void
kestrel_chat_message_set_text (KestrelChatMessage *self,
                               const char         *text)
{
  g_return_if_fail (KESTREL_IS_CHAT_MESSAGE (self));

  if (text == NULL)
    text = "";
  if (g_str_equal (text, self->text->str))
    return;

  g_string_assign (self->text, text);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
}

void
kestrel_chat_message_append_text (KestrelChatMessage *self,
                                  const char         *delta)
{
  g_return_if_fail (KESTREL_IS_CHAT_MESSAGE (self));

  if (delta == NULL || delta[0] == '\0')
    return;

  g_string_append (self->text, delta);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
}

GPtrArray *
kestrel_chat_message_get_images (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), NULL);
  return self->images;
}

void
kestrel_chat_message_add_image (KestrelChatMessage *self,
                                KestrelImage       *image)
{
  g_return_if_fail (KESTREL_IS_CHAT_MESSAGE (self));
  g_return_if_fail (image != NULL);

  g_ptr_array_add (self->images, kestrel_image_ref (image));
}

KestrelChatMessageStatus
kestrel_chat_message_get_status (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), KESTREL_CHAT_MESSAGE_COMPLETE);
  return self->status;
}

void
kestrel_chat_message_set_status (KestrelChatMessage   *self,
                                 KestrelChatMessageStatus  status)
{
  g_return_if_fail (KESTREL_IS_CHAT_MESSAGE (self));

  if (self->status == status)
    return;

  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

const char *
kestrel_chat_message_get_error_message (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), NULL);
  return self->error_message;
}

void
kestrel_chat_message_set_error_message (KestrelChatMessage *self,
                                        const char         *message)
{
  g_return_if_fail (KESTREL_IS_CHAT_MESSAGE (self));

  if (g_set_str (&self->error_message, message))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR_MESSAGE]);
}

guint
kestrel_chat_message_get_n_tokens (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), 0);
  return self->n_tokens;
}

double
kestrel_chat_message_get_tokens_per_second (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), 0);
  return self->tokens_per_second;
}

void
kestrel_chat_message_set_stats (KestrelChatMessage *self,
                                guint               n_tokens,
                                double              tokens_per_second)
{
  g_return_if_fail (KESTREL_IS_CHAT_MESSAGE (self));

  g_object_freeze_notify (G_OBJECT (self));
  if (self->n_tokens != n_tokens)
    {
      self->n_tokens = n_tokens;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_TOKENS]);
    }
  if (self->tokens_per_second != tokens_per_second)
    {
      self->tokens_per_second = tokens_per_second;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOKENS_PER_SECOND]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

guint
kestrel_chat_message_get_branch_index (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), 0);
  return self->branch_index;
}

guint
kestrel_chat_message_get_branch_count (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), 1);
  return self->branch_count;
}

void
kestrel_chat_message_set_branch (KestrelChatMessage *self,
                                 guint               index,
                                 guint               count)
{
  g_return_if_fail (KESTREL_IS_CHAT_MESSAGE (self));
  g_return_if_fail (count >= 1 && index < count);

  g_object_freeze_notify (G_OBJECT (self));
  if (self->branch_index != index)
    {
      self->branch_index = index;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BRANCH_INDEX]);
    }
  if (self->branch_count != count)
    {
      self->branch_count = count;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BRANCH_COUNT]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

GListModel *
kestrel_chat_message_get_tool_calls (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), NULL);
  return G_LIST_MODEL (self->tool_calls);
}

void
kestrel_chat_message_add_tool_call (KestrelChatMessage     *self,
                                    KestrelToolCallRequest *request)
{
  g_return_if_fail (KESTREL_IS_CHAT_MESSAGE (self));
  g_return_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (request));
  g_list_store_append (self->tool_calls, request);
}

const char *
kestrel_chat_message_get_tool_status (KestrelChatMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_MESSAGE (self), NULL);
  return self->tool_status;
}

void
kestrel_chat_message_set_tool_status (KestrelChatMessage *self,
                                      const char         *status)
{
  g_return_if_fail (KESTREL_IS_CHAT_MESSAGE (self));

  if (g_strcmp0 (status, self->tool_status) == 0)
    return;
  g_free (self->tool_status);
  self->tool_status = g_strdup (status);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOL_STATUS]);
}

static void
kestrel_chat_message_finalize (GObject *object)
{
  KestrelChatMessage *self = KESTREL_CHAT_MESSAGE (object);

  g_clear_object (&self->tool_calls);
  g_clear_pointer (&self->tool_status, g_free);

  g_string_free (self->text, TRUE);
  g_clear_pointer (&self->images, g_ptr_array_unref);
  g_clear_pointer (&self->error_message, g_free);

  G_OBJECT_CLASS (kestrel_chat_message_parent_class)->finalize (object);
}

static void
kestrel_chat_message_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  KestrelChatMessage *self = KESTREL_CHAT_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ROLE: g_value_set_int (value, self->role); break;
    case PROP_TEXT: g_value_set_string (value, self->text->str); break;
    case PROP_STATUS: g_value_set_enum (value, self->status); break;
    case PROP_ERROR_MESSAGE: g_value_set_string (value, self->error_message); break;
    case PROP_N_TOKENS: g_value_set_uint (value, self->n_tokens); break;
    case PROP_TOKENS_PER_SECOND: g_value_set_double (value, self->tokens_per_second); break;
    case PROP_BRANCH_INDEX: g_value_set_uint (value, self->branch_index); break;
    case PROP_BRANCH_COUNT: g_value_set_uint (value, self->branch_count); break;
    case PROP_TOOL_STATUS: g_value_set_string (value, self->tool_status); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_chat_message_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  KestrelChatMessage *self = KESTREL_CHAT_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_TEXT: kestrel_chat_message_set_text (self, g_value_get_string (value)); break;
    case PROP_STATUS: kestrel_chat_message_set_status (self, g_value_get_enum (value)); break;
    case PROP_ERROR_MESSAGE:
      kestrel_chat_message_set_error_message (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_chat_message_class_init (KestrelChatMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = kestrel_chat_message_finalize;
  object_class->get_property = kestrel_chat_message_get_property;
  object_class->set_property = kestrel_chat_message_set_property;

  /* a KestrelRole */
  properties[PROP_ROLE] = g_param_spec_int ("role", NULL, NULL,
                                            KESTREL_ROLE_SYSTEM, KESTREL_ROLE_TOOL,
                                            KESTREL_ROLE_USER, ro);
  properties[PROP_TEXT] = g_param_spec_string ("text", NULL, NULL, "", rw);
  properties[PROP_STATUS] = g_param_spec_enum ("status", NULL, NULL, KESTREL_TYPE_CHAT_MESSAGE_STATUS,
                                               KESTREL_CHAT_MESSAGE_COMPLETE, rw);
  properties[PROP_ERROR_MESSAGE] = g_param_spec_string ("error-message", NULL, NULL, NULL, rw);
  properties[PROP_N_TOKENS] = g_param_spec_uint ("n-tokens", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_TOKENS_PER_SECOND] = g_param_spec_double ("tokens-per-second", NULL, NULL,
                                                            0, G_MAXDOUBLE, 0, ro);
  properties[PROP_BRANCH_INDEX] = g_param_spec_uint ("branch-index", NULL, NULL,
                                                     0, G_MAXUINT, 0, ro);
  properties[PROP_BRANCH_COUNT] = g_param_spec_uint ("branch-count", NULL, NULL,
                                                     1, G_MAXUINT, 1, ro);
  /* "Calling calculator…" while the model writes a tool call, else NULL */
  properties[PROP_TOOL_STATUS] = g_param_spec_string ("tool-status", NULL, NULL, NULL, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_chat_message_init (KestrelChatMessage *self)
{
  self->role = KESTREL_ROLE_USER;
  self->text = g_string_new (NULL);
  self->images = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_image_unref);
  self->branch_count = 1;
  self->tool_calls = g_list_store_new (KESTREL_TYPE_TOOL_CALL_REQUEST);
}
