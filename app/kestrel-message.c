/* kestrel-message.c — one message of a conversation tree.
 *
 * A message knows its parent; regenerating or editing adds a sibling instead of replacing,
 * so every alternative is kept. sibling-index / n-siblings describe the message's place
 * among its alternatives (for a "2 / 3" switcher) as of when the store loaded it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include "kestrel-message.h"
#include "kestrel-store-private.h"

struct _KestrelMessage
{
  GObject parent_instance;

  gint64 id;
  gint64 conversation_id;
  gint64 parent_id;
  KestrelMessageRole role;
  KestrelMessageStatus status;
  char *content;
  char *stats;
  gint64 created_at;
  gint64 updated_at;
  guint sibling_index;
  guint n_siblings;
  GPtrArray *attachments;
  GPtrArray *tool_calls;
};

G_DEFINE_FINAL_TYPE (KestrelMessage, kestrel_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_CONVERSATION_ID,
  PROP_PARENT_ID,
  PROP_ROLE,
  PROP_STATUS,
  PROP_CONTENT,
  PROP_STATS,
  PROP_CREATED_AT,
  PROP_UPDATED_AT,
  PROP_SIBLING_INDEX,
  PROP_N_SIBLINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
kestrel_message_finalize (GObject *object)
{
  KestrelMessage *self = (KestrelMessage *)object;

  g_clear_pointer (&self->content, g_free);
  g_clear_pointer (&self->stats, g_free);
  g_clear_pointer (&self->attachments, g_ptr_array_unref);
  g_clear_pointer (&self->tool_calls, g_ptr_array_unref);

  G_OBJECT_CLASS (kestrel_message_parent_class)->finalize (object);
}

static void
kestrel_message_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  KestrelMessage *self = KESTREL_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_int64 (value, self->id); break;
    case PROP_CONVERSATION_ID: g_value_set_int64 (value, self->conversation_id); break;
    case PROP_PARENT_ID: g_value_set_int64 (value, self->parent_id); break;
    case PROP_ROLE: g_value_set_enum (value, self->role); break;
    case PROP_STATUS: g_value_set_enum (value, self->status); break;
    case PROP_CONTENT: g_value_set_string (value, self->content); break;
    case PROP_STATS: g_value_set_string (value, self->stats); break;
    case PROP_CREATED_AT: g_value_set_int64 (value, self->created_at); break;
    case PROP_UPDATED_AT: g_value_set_int64 (value, self->updated_at); break;
    case PROP_SIBLING_INDEX: g_value_set_uint (value, self->sibling_index); break;
    case PROP_N_SIBLINGS: g_value_set_uint (value, self->n_siblings); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_message_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  KestrelMessage *self = KESTREL_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID: self->id = g_value_get_int64 (value); break;
    case PROP_CONVERSATION_ID: self->conversation_id = g_value_get_int64 (value); break;
    case PROP_PARENT_ID: self->parent_id = g_value_get_int64 (value); break;
    case PROP_ROLE: self->role = g_value_get_enum (value); break;
    case PROP_STATUS: kestrel_message_set_status (self, g_value_get_enum (value)); break;
    case PROP_CONTENT: kestrel_message_set_content (self, g_value_get_string (value)); break;
    case PROP_STATS: g_set_str (&self->stats, g_value_get_string (value)); break;
    case PROP_CREATED_AT: self->created_at = g_value_get_int64 (value); break;
    case PROP_UPDATED_AT: self->updated_at = g_value_get_int64 (value); break;
    case PROP_SIBLING_INDEX: self->sibling_index = g_value_get_uint (value); break;
    case PROP_N_SIBLINGS: self->n_siblings = g_value_get_uint (value); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_message_class_init (KestrelMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = kestrel_message_finalize;
  object_class->get_property = kestrel_message_get_property;
  object_class->set_property = kestrel_message_set_property;

  properties[PROP_ID] = g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_CONVERSATION_ID] =
    g_param_spec_int64 ("conversation-id", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_PARENT_ID] =
    g_param_spec_int64 ("parent-id", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL, KESTREL_TYPE_MESSAGE_ROLE, KESTREL_MESSAGE_ROLE_USER, co);
  properties[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL, KESTREL_TYPE_MESSAGE_STATUS,
                       KESTREL_MESSAGE_STATUS_COMPLETE, rw);
  properties[PROP_CONTENT] = g_param_spec_string ("content", NULL, NULL, "", rw);
  properties[PROP_STATS] = g_param_spec_string ("stats", NULL, NULL, NULL, co);
  properties[PROP_CREATED_AT] = g_param_spec_int64 ("created-at", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_UPDATED_AT] = g_param_spec_int64 ("updated-at", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_SIBLING_INDEX] =
    g_param_spec_uint ("sibling-index", NULL, NULL, 0, G_MAXUINT, 0, co);
  properties[PROP_N_SIBLINGS] =
    g_param_spec_uint ("n-siblings", NULL, NULL, 0, G_MAXUINT, 1, co);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_message_init (KestrelMessage *self)
{
  self->content = g_strdup ("");
  self->n_siblings = 1;
  self->attachments = g_ptr_array_new_with_free_func (g_object_unref);
  self->tool_calls = g_ptr_array_new_with_free_func (g_object_unref);
}

gint64
kestrel_message_get_id (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), 0);
  return self->id;
}

gint64
kestrel_message_get_conversation_id (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), 0);
  return self->conversation_id;
}

/* 0 for a message that starts the conversation. */
gint64
kestrel_message_get_parent_id (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), 0);
  return self->parent_id;
}

KestrelMessageRole
kestrel_message_get_role (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), 0);
  return self->role;
}

KestrelMessageStatus
kestrel_message_get_status (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), 0);
  return self->status;
}

void
kestrel_message_set_status (KestrelMessage       *self,
                            KestrelMessageStatus  status)
{
  g_return_if_fail (KESTREL_IS_MESSAGE (self));

  if (self->status != status)
    {
      self->status = status;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
    }
}

const char *
kestrel_message_get_content (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), NULL);
  return self->content;
}

/* The UI grows a streaming reply here and hands the same text to
 * kestrel_store_update_message_text (), which persists it about once a second. */
void
kestrel_message_set_content (KestrelMessage *self,
                             const char     *content)
{
  g_return_if_fail (KESTREL_IS_MESSAGE (self));

  if (g_set_str (&self->content, content ? content : ""))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONTENT]);
}

/* Per-message generation statistics as a JSON object, or NULL. */
const char *
kestrel_message_get_stats (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), NULL);
  return self->stats;
}

gint64
kestrel_message_get_created_at (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), 0);
  return self->created_at;
}

gint64
kestrel_message_get_updated_at (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), 0);
  return self->updated_at;
}

guint
kestrel_message_get_sibling_index (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), 0);
  return self->sibling_index;
}

guint
kestrel_message_get_n_siblings (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), 0);
  return self->n_siblings;
}

/* Returns: (transfer none) (element-type KestrelAttachment): in display order. */
GPtrArray *
kestrel_message_get_attachments (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), NULL);
  return self->attachments;
}

/* Returns: (transfer none) (element-type KestrelStoredToolCall): in call order. */
GPtrArray *
kestrel_message_get_tool_calls (KestrelMessage *self)
{
  g_return_val_if_fail (KESTREL_IS_MESSAGE (self), NULL);
  return self->tool_calls;
}
