/* kestrel-chat-view.h — the messages of one conversation in a recycling list.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The model is a GListModel of KestrelChatMessage.  The view follows the end of the
 * conversation (new messages, streamed text) until the user scrolls up; then a
 * jump-to-bottom button appears.  Message actions come out as signals with the message:
 *   "regenerate" (KestrelChatMessage *), "edit" (KestrelChatMessage *, const char *text),
 *   "delete" (KestrelChatMessage *), "switch-branch" (KestrelChatMessage *, int delta).
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define KESTREL_TYPE_CHAT_VIEW (kestrel_chat_view_get_type ())

G_DECLARE_FINAL_TYPE (KestrelChatView, kestrel_chat_view, KESTREL, CHAT_VIEW, GtkWidget)

GtkWidget  *kestrel_chat_view_new              (void);
GListModel *kestrel_chat_view_get_model        (KestrelChatView *self);
void        kestrel_chat_view_set_model        (KestrelChatView *self,
                                                GListModel      *model);
/* Whether the view sticks to the end of the conversation. */
gboolean    kestrel_chat_view_get_following    (KestrelChatView *self);
void        kestrel_chat_view_scroll_to_bottom (KestrelChatView *self);
/* How many rows are bound to messages right now (the list recycles its rows). */
guint       kestrel_chat_view_get_n_bound_rows (KestrelChatView *self);
GtkAdjustment *kestrel_chat_view_get_vadjustment (KestrelChatView *self);

G_END_DECLS
