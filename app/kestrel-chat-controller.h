/* kestrel-chat-controller.h — one open conversation: its messages, the store, the engine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-chat-message.h"
#include "kestrel-engine.h"
#include "kestrel-store.h"
#include "kestrel-tool-registry.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_CHAT_CONTROLLER (kestrel_chat_controller_get_type ())

G_DECLARE_FINAL_TYPE (KestrelChatController, kestrel_chat_controller, KESTREL, CHAT_CONTROLLER, GObject)

KestrelChatController *kestrel_chat_controller_new               (KestrelStore          *store,
                                                                  KestrelEngine         *engine);
/* The shown thread, a GListModel of KestrelChatMessage (stable for the controller's life). */
GListModel            *kestrel_chat_controller_get_messages      (KestrelChatController *self);
/* The store id of the open conversation, 0 for a new one that has no message yet. */
gint64                 kestrel_chat_controller_get_conversation_id (KestrelChatController *self);
gboolean               kestrel_chat_controller_get_busy          (KestrelChatController *self);
/* Replies whose final state is still on its way to the store. */
guint                  kestrel_chat_controller_get_n_pending_saves (KestrelChatController *self);

/* Empties the view for a new conversation (created in the store at the first message). */
void                   kestrel_chat_controller_new_conversation  (KestrelChatController *self);
/* Loads a stored conversation (asynchronously; "error" on failure). */
void                   kestrel_chat_controller_open              (KestrelChatController *self,
                                                                  gint64                 conversation_id);
/* Sends a user message (text + KestrelImages) and streams the reply. */
void                   kestrel_chat_controller_send              (KestrelChatController *self,
                                                                  const char            *text,
                                                                  GPtrArray             *images);
void                   kestrel_chat_controller_cancel            (KestrelChatController *self);
/* A new alternative reply to the user message before `message` (a branch). */
void                   kestrel_chat_controller_regenerate        (KestrelChatController *self,
                                                                  KestrelChatMessage    *message);
void                   kestrel_chat_controller_delete            (KestrelChatController *self,
                                                                  KestrelChatMessage    *message);
/* Edit-and-resend of a user message: a new alternative of it (a branch) and a new reply. */
void                   kestrel_chat_controller_edit              (KestrelChatController *self,
                                                                  KestrelChatMessage    *message,
                                                                  const char            *text);
/* Shows the previous (-1) or next (+1) alternative of `message` and what follows it. */
void                   kestrel_chat_controller_switch_branch     (KestrelChatController *self,
                                                                  KestrelChatMessage    *message,
                                                                  int                    delta);

void                   kestrel_chat_controller_set_system_prompt (KestrelChatController *self,
                                                                  const char            *system_prompt);
void                   kestrel_chat_controller_set_sampling      (KestrelChatController *self,
                                                                  const KestrelSamplingSettings *settings);
/* Tool calling: the tools offered to the model, or NULL for none (docs/tool-calling.md).
 * Calls show up as KestrelToolCallRequests on the reply's message ("tool-calls"); those
 * that need approval wait for kestrel_tool_call_request_answer(). */
void                   kestrel_chat_controller_set_tools         (KestrelChatController *self,
                                                                  KestrelToolRegistry   *tools);
KestrelToolRegistry   *kestrel_chat_controller_get_tools         (KestrelChatController *self);

G_END_DECLS
