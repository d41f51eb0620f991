/* kestrel-conversation.h — one conversation's metadata, as the store last saw it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "kestrel-store-types.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_CONVERSATION (kestrel_conversation_get_type ())

G_DECLARE_FINAL_TYPE (KestrelConversation, kestrel_conversation, KESTREL, CONVERSATION, GObject)

gint64              kestrel_conversation_get_id            (KestrelConversation *self);
const char         *kestrel_conversation_get_title         (KestrelConversation *self);
KestrelTitleSource  kestrel_conversation_get_title_source  (KestrelConversation *self);
gint64              kestrel_conversation_get_created_at    (KestrelConversation *self);
gint64              kestrel_conversation_get_updated_at    (KestrelConversation *self);
gboolean            kestrel_conversation_get_pinned        (KestrelConversation *self);
gboolean            kestrel_conversation_get_archived      (KestrelConversation *self);
const char         *kestrel_conversation_get_system_prompt (KestrelConversation *self);
const char         *kestrel_conversation_get_settings      (KestrelConversation *self);
void                kestrel_conversation_update_from       (KestrelConversation *self,
                                                            KestrelConversation *other);
int                 kestrel_conversation_compare_sidebar   (KestrelConversation *a,
                                                            KestrelConversation *b);

G_END_DECLS
