/* kestrel-chat-message.h — one message of a conversation as the chat view shows it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Deliberately small: the store's message objects can feed these (or replace them, as
 * long as they keep the same properties).  Text and status change while a reply streams;
 * every change is notified so that the bound row updates itself.
 */
#pragma once

#include <glib-object.h>

#include <gio/gio.h>

#include "kestrel-engine-types.h"
#include "kestrel-tool-call-request.h"

G_BEGIN_DECLS

typedef enum
{
  KESTREL_CHAT_MESSAGE_COMPLETE,
  KESTREL_CHAT_MESSAGE_PENDING,      /* waiting for the engine (prefill) */
  KESTREL_CHAT_MESSAGE_STREAMING,    /* text is arriving */
  KESTREL_CHAT_MESSAGE_FAILED,       /* see the error-message property */
  KESTREL_CHAT_MESSAGE_CANCELLED,    /* stopped by the user */
  KESTREL_CHAT_MESSAGE_INTERRUPTED,  /* the app quit or crashed while it streamed */
} KestrelChatMessageStatus;

#define KESTREL_TYPE_CHAT_MESSAGE_STATUS (kestrel_chat_message_status_get_type ())
GType kestrel_chat_message_status_get_type (void) G_GNUC_CONST;

#define KESTREL_TYPE_CHAT_MESSAGE (kestrel_chat_message_get_type ())

G_DECLARE_FINAL_TYPE (KestrelChatMessage, kestrel_chat_message, KESTREL, CHAT_MESSAGE, GObject)

KestrelChatMessage   *kestrel_chat_message_new                   (KestrelRole           role,
                                                                  const char           *text);
KestrelRole           kestrel_chat_message_get_role              (KestrelChatMessage   *self);
const char           *kestrel_chat_message_get_text              (KestrelChatMessage   *self);
void                  kestrel_chat_message_set_text              (KestrelChatMessage   *self,
                                                                  const char           *text);
void                  kestrel_chat_message_append_text           (KestrelChatMessage   *self,
                                                                  const char           *delta);
/* The images, in order; a GPtrArray of KestrelImage, never NULL. */
GPtrArray            *kestrel_chat_message_get_images            (KestrelChatMessage   *self);
void                  kestrel_chat_message_add_image             (KestrelChatMessage   *self,
                                                                  KestrelImage         *image);
KestrelChatMessageStatus  kestrel_chat_message_get_status            (KestrelChatMessage   *self);
void                  kestrel_chat_message_set_status            (KestrelChatMessage   *self,
                                                                  KestrelChatMessageStatus  status);
const char           *kestrel_chat_message_get_error_message     (KestrelChatMessage   *self);
void                  kestrel_chat_message_set_error_message     (KestrelChatMessage   *self,
                                                                  const char           *message);
guint                 kestrel_chat_message_get_n_tokens          (KestrelChatMessage   *self);
double                kestrel_chat_message_get_tokens_per_second (KestrelChatMessage   *self);
void                  kestrel_chat_message_set_stats             (KestrelChatMessage   *self,
                                                                  guint                 n_tokens,
                                                                  double                tokens_per_second);
guint                 kestrel_chat_message_get_branch_index      (KestrelChatMessage   *self);
guint                 kestrel_chat_message_get_branch_count      (KestrelChatMessage   *self);
void                  kestrel_chat_message_set_branch            (KestrelChatMessage   *self,
                                                                  guint                 index,
                                                                  guint                 count);
/* The tool calls this model message made (KestrelToolCallRequest), in order. */
GListModel           *kestrel_chat_message_get_tool_calls        (KestrelChatMessage   *self);
void                  kestrel_chat_message_add_tool_call         (KestrelChatMessage   *self,
                                                                  KestrelToolCallRequest *request);
const char           *kestrel_chat_message_get_tool_status       (KestrelChatMessage   *self);
void                  kestrel_chat_message_set_tool_status       (KestrelChatMessage   *self,
                                                                  const char           *status);

G_END_DECLS
