/* kestrel-chat-controller-private.h — test hooks of KestrelChatController.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-chat-controller.h"

G_BEGIN_DECLS

/* Where replies come from instead of kestrel_engine_generate(): tests return a
 * KestrelGeneration they feed through kestrel-generation-private.h's worker functions. */
typedef KestrelGeneration *(*KestrelChatGenerateFunc) (const char *conversation_key,
                                                       GPtrArray  *turns,
                                                       gpointer    user_data);

void _kestrel_chat_controller_set_generate_func (KestrelChatController   *self,
                                                 KestrelChatGenerateFunc  func,
                                                 gpointer                 user_data);

G_END_DECLS
