/* kestrel-conversation.c — one conversation's metadata, as the store last saw it.
 *
 * Instances are snapshots made by KestrelStore; change a conversation through the store, whose
 * "conversation-changed" signal lets KestrelConversationList refresh the shown object in place
 * (kestrel_conversation_update_from () notifies only what changed).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include "kestrel-conversation.h"

struct _KestrelConversation
{
  GObject parent_instance;

  gint64 id;
  char *title;
  KestrelTitleSource title_source;
  gint64 created_at;
  gint64 updated_at;
  char *system_prompt;
  char *settings;
  guint pinned : 1;
  guint archived : 1;
};

G_DEFINE_FINAL_TYPE (KestrelConversation, kestrel_conversation, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_TITLE,
  PROP_TITLE_SOURCE,
  PROP_CREATED_AT,
  PROP_UPDATED_AT,
  PROP_PINNED,
  PROP_ARCHIVED,
  PROP_SYSTEM_PROMPT,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
kestrel_conversation_finalize (GObject *object)
{
  KestrelConversation *self = (KestrelConversation *)object;

  g_clear_pointer (&self->title, g_free);
  g_clear_pointer (&self->system_prompt, g_free);
  g_clear_pointer (&self->settings, g_free);

  G_OBJECT_CLASS (kestrel_conversation_parent_class)->finalize (object);
}

static void
kestrel_conversation_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  KestrelConversation *self = KESTREL_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_int64 (value, self->id); break;
    case PROP_TITLE: g_value_set_string (value, self->title); break;
    case PROP_TITLE_SOURCE: g_value_set_enum (value, self->title_source); break;
    case PROP_CREATED_AT: g_value_set_int64 (value, self->created_at); break;
    case PROP_UPDATED_AT: g_value_set_int64 (value, self->updated_at); break;
    case PROP_PINNED: g_value_set_boolean (value, self->pinned); break;
    case PROP_ARCHIVED: g_value_set_boolean (value, self->archived); break;
    case PROP_SYSTEM_PROMPT: g_value_set_string (value, self->system_prompt); break;
    case PROP_SETTINGS: g_value_set_string (value, self->settings); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_string (KestrelConversation *self,
            char               **field,
            const char          *value,
            guint                prop)
{
  if (g_set_str (field, value ? value : ""))
    g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_int64 (KestrelConversation *self,
           gint64              *field,
           gint64               value,
           guint                prop)
{
  if (*field != value)
    {
      *field = value;
      g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
    }
}

static void
kestrel_conversation_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  KestrelConversation *self = KESTREL_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_ID: self->id = g_value_get_int64 (value); break;
    case PROP_TITLE: set_string (self, &self->title, g_value_get_string (value), prop_id); break;
    case PROP_SYSTEM_PROMPT: set_string (self, &self->system_prompt, g_value_get_string (value), prop_id); break;
    case PROP_SETTINGS: set_string (self, &self->settings, g_value_get_string (value), prop_id); break;
    case PROP_CREATED_AT: set_int64 (self, &self->created_at, g_value_get_int64 (value), prop_id); break;
    case PROP_UPDATED_AT: set_int64 (self, &self->updated_at, g_value_get_int64 (value), prop_id); break;
    case PROP_TITLE_SOURCE:
      if (self->title_source != (KestrelTitleSource) g_value_get_enum (value))
        {
          self->title_source = g_value_get_enum (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    case PROP_PINNED:
      if (self->pinned != g_value_get_boolean (value))
        {
          self->pinned = g_value_get_boolean (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    case PROP_ARCHIVED:
      if (self->archived != g_value_get_boolean (value))
        {
          self->archived = g_value_get_boolean (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_conversation_class_init (KestrelConversationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = kestrel_conversation_finalize;
  object_class->get_property = kestrel_conversation_get_property;
  object_class->set_property = kestrel_conversation_set_property;

  properties[PROP_ID] =
    g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, "", rw);
  properties[PROP_TITLE_SOURCE] =
    g_param_spec_enum ("title-source", NULL, NULL, KESTREL_TYPE_TITLE_SOURCE,
                       KESTREL_TITLE_SOURCE_NONE, rw);
  properties[PROP_CREATED_AT] = g_param_spec_int64 ("created-at", NULL, NULL, 0, G_MAXINT64, 0, rw);
  properties[PROP_UPDATED_AT] = g_param_spec_int64 ("updated-at", NULL, NULL, 0, G_MAXINT64, 0, rw);
  properties[PROP_PINNED] = g_param_spec_boolean ("pinned", NULL, NULL, FALSE, rw);
  properties[PROP_ARCHIVED] = g_param_spec_boolean ("archived", NULL, NULL, FALSE, rw);
  properties[PROP_SYSTEM_PROMPT] = g_param_spec_string ("system-prompt", NULL, NULL, "", rw);
  properties[PROP_SETTINGS] = g_param_spec_string ("settings", NULL, NULL, "{}", rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_conversation_init (KestrelConversation *self)
{
  self->title = g_strdup ("");
  self->system_prompt = g_strdup ("");
  self->settings = g_strdup ("{}");
}

gint64
kestrel_conversation_get_id (KestrelConversation *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION (self), 0);
  return self->id;
}

const char *
kestrel_conversation_get_title (KestrelConversation *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION (self), NULL);
  return self->title;
}

KestrelTitleSource
kestrel_conversation_get_title_source (KestrelConversation *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION (self), 0);
  return self->title_source;
}

gint64
kestrel_conversation_get_created_at (KestrelConversation *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION (self), 0);
  return self->created_at;
}

gint64
kestrel_conversation_get_updated_at (KestrelConversation *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION (self), 0);
  return self->updated_at;
}

gboolean
kestrel_conversation_get_pinned (KestrelConversation *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION (self), FALSE);
  return self->pinned;
}

gboolean
kestrel_conversation_get_archived (KestrelConversation *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION (self), FALSE);
  return self->archived;
}

const char *
kestrel_conversation_get_system_prompt (KestrelConversation *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION (self), NULL);
  return self->system_prompt;
}

/* Generation settings (temperature, top-p, ...) as a JSON object; the store only checks
 * that it is valid JSON, the engine worker owns the meaning of the keys. */
const char *
kestrel_conversation_get_settings (KestrelConversation *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION (self), NULL);
  return self->settings;
}

/* Copies every field of @other (the same conversation, freshly loaded) into @self, notifying
 * only the properties whose value changed. */
void
kestrel_conversation_update_from (KestrelConversation *self,
                                  KestrelConversation *other)
{
  g_return_if_fail (KESTREL_IS_CONVERSATION (self));
  g_return_if_fail (KESTREL_IS_CONVERSATION (other));
  g_return_if_fail (self->id == other->id);

  g_object_freeze_notify (G_OBJECT (self));
  g_object_set (self,
                "title", other->title,
                "title-source", other->title_source,
                "created-at", other->created_at,
                "updated-at", other->updated_at,
                "pinned", (gboolean) other->pinned,
                "archived", (gboolean) other->archived,
                "system-prompt", other->system_prompt,
                "settings", other->settings,
                NULL);
  g_object_thaw_notify (G_OBJECT (self));
}

/* The sidebar order, which the conversations_sidebar index serves: pinned first, then most
 * recently updated, then newest id. */
int
kestrel_conversation_compare_sidebar (KestrelConversation *a,
                                      KestrelConversation *b)
{
  if (a->pinned != b->pinned)
    return a->pinned ? -1 : 1;
  if (a->updated_at != b->updated_at)
    return a->updated_at > b->updated_at ? -1 : 1;
  if (a->id != b->id)
    return a->id > b->id ? -1 : 1;
  return 0;
}
