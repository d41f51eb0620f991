/* kestrel-search-hit.c — one message found by a full-text search.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include "kestrel-search-hit.h"

struct _KestrelSearchHit
{
  GObject parent_instance;

  gint64 message_id;
  gint64 conversation_id;
  char *conversation_title;
  KestrelMessageRole role;
  char *snippet_markup;
  gint64 created_at;
};

G_DEFINE_FINAL_TYPE (KestrelSearchHit, kestrel_search_hit, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MESSAGE_ID,
  PROP_CONVERSATION_ID,
  PROP_CONVERSATION_TITLE,
  PROP_ROLE,
  PROP_SNIPPET_MARKUP,
  PROP_CREATED_AT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
kestrel_search_hit_finalize (GObject *object)
{
  KestrelSearchHit *self = (KestrelSearchHit *)object;

  g_clear_pointer (&self->conversation_title, g_free);
  g_clear_pointer (&self->snippet_markup, g_free);

  G_OBJECT_CLASS (kestrel_search_hit_parent_class)->finalize (object);
}

static void
kestrel_search_hit_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  KestrelSearchHit *self = KESTREL_SEARCH_HIT (object);

  switch (prop_id)
    {
    case PROP_MESSAGE_ID: g_value_set_int64 (value, self->message_id); break;
    case PROP_CONVERSATION_ID: g_value_set_int64 (value, self->conversation_id); break;
    case PROP_CONVERSATION_TITLE: g_value_set_string (value, self->conversation_title); break;
    case PROP_ROLE: g_value_set_enum (value, self->role); break;
    case PROP_SNIPPET_MARKUP: g_value_set_string (value, self->snippet_markup); break;
    case PROP_CREATED_AT: g_value_set_int64 (value, self->created_at); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_search_hit_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  KestrelSearchHit *self = KESTREL_SEARCH_HIT (object);

  switch (prop_id)
    {
    case PROP_MESSAGE_ID: self->message_id = g_value_get_int64 (value); break;
    case PROP_CONVERSATION_ID: self->conversation_id = g_value_get_int64 (value); break;
    case PROP_CONVERSATION_TITLE: self->conversation_title = g_value_dup_string (value); break;
    case PROP_ROLE: self->role = g_value_get_enum (value); break;
    case PROP_SNIPPET_MARKUP: self->snippet_markup = g_value_dup_string (value); break;
    case PROP_CREATED_AT: self->created_at = g_value_get_int64 (value); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_search_hit_class_init (KestrelSearchHitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = kestrel_search_hit_finalize;
  object_class->get_property = kestrel_search_hit_get_property;
  object_class->set_property = kestrel_search_hit_set_property;

  properties[PROP_MESSAGE_ID] = g_param_spec_int64 ("message-id", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_CONVERSATION_ID] =
    g_param_spec_int64 ("conversation-id", NULL, NULL, 0, G_MAXINT64, 0, co);
  properties[PROP_CONVERSATION_TITLE] =
    g_param_spec_string ("conversation-title", NULL, NULL, NULL, co);
  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL, KESTREL_TYPE_MESSAGE_ROLE, KESTREL_MESSAGE_ROLE_USER, co);
  properties[PROP_SNIPPET_MARKUP] = g_param_spec_string ("snippet-markup", NULL, NULL, NULL, co);
  properties[PROP_CREATED_AT] = g_param_spec_int64 ("created-at", NULL, NULL, 0, G_MAXINT64, 0, co);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_search_hit_init (KestrelSearchHit *self)
{
}

gint64
kestrel_search_hit_get_message_id (KestrelSearchHit *self)
{
  g_return_val_if_fail (KESTREL_IS_SEARCH_HIT (self), 0);
  return self->message_id;
}

gint64
kestrel_search_hit_get_conversation_id (KestrelSearchHit *self)
{
  g_return_val_if_fail (KESTREL_IS_SEARCH_HIT (self), 0);
  return self->conversation_id;
}

const char *
kestrel_search_hit_get_conversation_title (KestrelSearchHit *self)
{
  g_return_val_if_fail (KESTREL_IS_SEARCH_HIT (self), NULL);
  return self->conversation_title;
}

KestrelMessageRole
kestrel_search_hit_get_role (KestrelSearchHit *self)
{
  g_return_val_if_fail (KESTREL_IS_SEARCH_HIT (self), 0);
  return self->role;
}

/* Pango markup: the message text around the match, escaped, matches in <b>…</b>. */
const char *
kestrel_search_hit_get_snippet_markup (KestrelSearchHit *self)
{
  g_return_val_if_fail (KESTREL_IS_SEARCH_HIT (self), NULL);
  return self->snippet_markup;
}

gint64
kestrel_search_hit_get_created_at (KestrelSearchHit *self)
{
  g_return_val_if_fail (KESTREL_IS_SEARCH_HIT (self), 0);
  return self->created_at;
}
