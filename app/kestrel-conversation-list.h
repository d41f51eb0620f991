/* kestrel-conversation-list.h — the sidebar's list of conversations, backed by the store.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-store.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_CONVERSATION_LIST (kestrel_conversation_list_get_type ())

G_DECLARE_FINAL_TYPE (KestrelConversationList, kestrel_conversation_list, KESTREL, CONVERSATION_LIST, GObject)

KestrelConversationList *kestrel_conversation_list_new         (KestrelStore            *store,
                                                                gboolean                 archived);
KestrelStore            *kestrel_conversation_list_get_store   (KestrelConversationList *self);
gboolean                 kestrel_conversation_list_get_archived (KestrelConversationList *self);
gboolean                 kestrel_conversation_list_get_loading (KestrelConversationList *self);

G_END_DECLS
