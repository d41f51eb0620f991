/* kestrel-chat-controller-internal.h — what the chat controller's files share.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * kestrel-chat-controller.c: the object, sending, branches; -thread.c: turns for the
 * engine and the store ↔ view conversion; -reply.c: one streamed reply and its store row;
 * -tools.c: tool calls in a reply and the rounds that run them.
 */
#pragma once

#include "kestrel-chat-controller.h"
#include "kestrel-chat-controller-private.h"
#include "kestrel-tool-call-parser.h"

G_BEGIN_DECLS

#define STORE_ID "kestrel-store-id"
#define PARENT_ID "kestrel-parent-id"

struct _KestrelChatController
{
  GObject                  parent_instance;

  KestrelStore            *store;
  KestrelEngine           *engine;
  GListStore              *messages;
  GCancellable            *cancellable;   /* cancelled on dispose: stale callbacks drop */
  gint64                   conversation_id;
  guint                    open_serial;
  char                    *system_prompt;
  KestrelSamplingSettings  sampling;

  /* The reply being generated, if any. */
  KestrelGeneration       *generation;
  KestrelChatMessage      *reply;

  guint                    n_pending_saves; /* replies whose final write is not done */

  /* Tool calling (NULL registry: off). */
  KestrelToolRegistry     *tools;
  GHashTable              *always_allowed;  /* tool names the user always allows (session) */
  GCancellable            *round_cancellable; /* a tool round is running (busy) */
  gboolean                 stop_requested;    /* Stop came while the reply streamed */

  KestrelChatGenerateFunc  generate_func;   /* tests: a scripted source instead of the engine */
  gpointer                 generate_data;
};

/* Ties one reply's chat message to its store row; outlives the controller's interest
 * safely (it holds its own references). */
typedef struct
{
  KestrelChatController *self;
  KestrelChatMessage    *message;
  gint64                 store_id;       /* 0 until the row exists, -1 if it never will */
  gboolean               finished;       /* the generation ended */
  KestrelMessageStatus   final_status;
  char                  *stats_json;

  /* Tool calling (parser NULL: off).  Once `calls` is set the model's turn is over: the
   * generation is stopped and whatever else arrives is dropped. */
  KestrelToolCallParser *parser;
  GPtrArray             *calls;          /* KestrelToolCall, one per request on the message */
  guint                  rounds_done;    /* tool rounds this reply already used */
  gboolean               round_started;
} ReplyRow;

/* kestrel-chat-controller.c */
gint64     _kestrel_chat_controller_message_store_id     (KestrelChatMessage    *message);
void       _kestrel_chat_controller_set_message_store_id (KestrelChatMessage    *message,
                                                          const char            *key,
                                                          gint64                 id);
void       _kestrel_chat_controller_report_error         (KestrelChatController *self,
                                                          const char            *what,
                                                          const GError          *error);
void       _kestrel_chat_controller_notify_busy          (KestrelChatController *self);

/* kestrel-chat-controller-thread.c */
GPtrArray *_kestrel_chat_controller_build_turns          (KestrelChatController *self,
                                                          guint                  end);
void       _kestrel_chat_controller_encode_images_thread (GTask                 *task,
                                                          gpointer               source,
                                                          gpointer               task_data,
                                                          GCancellable          *cancellable);
void       _kestrel_chat_controller_thread_to_chat_thread (GTask                *task,
                                                           gpointer              source,
                                                           gpointer              task_data,
                                                           GCancellable         *cancellable);

/* kestrel-chat-controller-reply.c */
ReplyRow  *_kestrel_chat_controller_start_reply          (KestrelChatController *self,
                                                          KestrelChatMessage    *reply,
                                                          guint                  position);
void       _kestrel_chat_controller_save_reply_row       (KestrelChatController *self,
                                                          ReplyRow              *row,
                                                          gint64                 parent_id);
void       _kestrel_chat_controller_reply_row_free       (ReplyRow              *row);

/* kestrel-chat-controller-tools.c */
void       _kestrel_chat_controller_handle_events        (ReplyRow              *row,
                                                          GPtrArray             *events,
                                                          KestrelGeneration     *generation);
void       _kestrel_chat_controller_maybe_start_round    (ReplyRow              *row);
void       _kestrel_chat_controller_end_round            (KestrelChatController *self);

G_END_DECLS
