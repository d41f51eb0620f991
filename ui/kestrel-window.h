/* kestrel-window.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "kestrel-application.h"
#include "kestrel-chat-page.h"
#include "kestrel-engine-indicator.h"
#include "kestrel-model-status-page.h"
#include "kestrel-chat-controller.h"
#include "kestrel-sidebar.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_WINDOW (kestrel_window_get_type ())

G_DECLARE_FINAL_TYPE (KestrelWindow, kestrel_window, KESTREL, WINDOW, AdwApplicationWindow)

KestrelWindow          *kestrel_window_new                  (KestrelApplication *application);
KestrelChatPage        *kestrel_window_get_chat_page        (KestrelWindow      *self);
KestrelModelStatusPage *kestrel_window_get_model_status_page (KestrelWindow     *self);
/* In the chat's header bar; shows nothing until it is given the engine. */
KestrelEngineIndicator *kestrel_window_get_engine_indicator (KestrelWindow      *self);
/* The conversations list with search; given the store by attach_session. */
KestrelSidebar         *kestrel_window_get_sidebar          (KestrelWindow      *self);
/* Shows the chat (TRUE) or the model status page (FALSE) in the content pane. */
void                    kestrel_window_show_chat            (KestrelWindow      *self,
                                                             gboolean            show_chat);

/* Connects the window to the engine, the store and the settings (kestrel-window-session.c):
 * model loading, the sidebar's conversations, the open conversation. */
void                    kestrel_window_attach_session       (KestrelWindow      *self,
                                                             KestrelEngine      *engine,
                                                             KestrelStore       *store,
                                                             GSettings          *settings);
/* NULL before attach_session. */
KestrelChatController  *kestrel_window_get_chat_controller  (KestrelWindow      *self);

G_END_DECLS
