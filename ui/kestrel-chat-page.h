/* kestrel-chat-page.h — the chat area: messages above, composer below, one drop target.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "kestrel-chat-view.h"
#include "kestrel-composer.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_CHAT_PAGE (kestrel_chat_page_get_type ())

G_DECLARE_FINAL_TYPE (KestrelChatPage, kestrel_chat_page, KESTREL, CHAT_PAGE, GtkWidget)

GtkWidget       *kestrel_chat_page_new             (void);
KestrelChatView *kestrel_chat_page_get_chat_view   (KestrelChatPage *self);
KestrelComposer *kestrel_chat_page_get_composer    (KestrelChatPage *self);
/* The page's drop target (image files and image data), for tests. */
GtkDropTarget   *kestrel_chat_page_get_drop_target (KestrelChatPage *self);

G_END_DECLS
