/* kestrel-message-row.h — one message in the chat view's list.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Actions (group "message"): copy, regenerate, edit, delete, previous-branch,
 * next-branch.  Copy is handled here; the others emit the row's signals, which the chat
 * view forwards with the message: "regenerate", "edit" (the new text), "delete",
 * "switch-branch" (-1 or +1).
 */
#pragma once

#include <gtk/gtk.h>

#include "kestrel-chat-message.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_MESSAGE_ROW (kestrel_message_row_get_type ())

G_DECLARE_FINAL_TYPE (KestrelMessageRow, kestrel_message_row, KESTREL, MESSAGE_ROW, GtkWidget)

GtkWidget          *kestrel_message_row_new         (void);
KestrelChatMessage *kestrel_message_row_get_message (KestrelMessageRow  *self);
void                kestrel_message_row_set_message (KestrelMessageRow  *self,
                                                     KestrelChatMessage *message);
/* Opens the inline editor for the message's text (user messages). */
void                kestrel_message_row_begin_edit  (KestrelMessageRow  *self);

G_END_DECLS
