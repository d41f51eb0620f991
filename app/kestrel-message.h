/* kestrel-message.h — one message of a conversation tree.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-store-types.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_MESSAGE (kestrel_message_get_type ())

G_DECLARE_FINAL_TYPE (KestrelMessage, kestrel_message, KESTREL, MESSAGE, GObject)

gint64                kestrel_message_get_id              (KestrelMessage       *self);
gint64                kestrel_message_get_conversation_id (KestrelMessage       *self);
gint64                kestrel_message_get_parent_id       (KestrelMessage       *self);
KestrelMessageRole    kestrel_message_get_role            (KestrelMessage       *self);
KestrelMessageStatus  kestrel_message_get_status          (KestrelMessage       *self);
void                  kestrel_message_set_status          (KestrelMessage       *self,
                                                           KestrelMessageStatus  status);
const char           *kestrel_message_get_content         (KestrelMessage       *self);
void                  kestrel_message_set_content         (KestrelMessage       *self,
                                                           const char           *content);
const char           *kestrel_message_get_stats           (KestrelMessage       *self);
gint64                kestrel_message_get_created_at      (KestrelMessage       *self);
gint64                kestrel_message_get_updated_at      (KestrelMessage       *self);
guint                 kestrel_message_get_sibling_index   (KestrelMessage       *self);
guint                 kestrel_message_get_n_siblings      (KestrelMessage       *self);
GPtrArray            *kestrel_message_get_attachments     (KestrelMessage       *self);
GPtrArray            *kestrel_message_get_tool_calls      (KestrelMessage       *self);

G_END_DECLS
