/* kestrel-chat-tools.h — tool calling for the chat controller: prompt text and tool rounds.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "kestrel-store.h"
#include "kestrel-tool-call-request.h"
#include "kestrel-tool-registry.h"

G_BEGIN_DECLS

/* The first user turn's text: the declarations block, then the message (trimmed).  The
 * engine's chat builder puts the system prompt and "\n\n" before it and trims it, which
 * gives exactly kestrel_tool_prompt_first_user_turn(). */
char      *kestrel_chat_tools_first_user_text (JsonArray   *declarations,
                                               const char  *content);
/* A model turn that made calls: "[calls]" then its text (trimmed), which the engine
 * renders as kestrel_tool_prompt_model_call_turn(). */
char      *kestrel_chat_tools_model_text      (GListModel  *requests,
                                               const char  *content,
                                               gboolean     template_compat);
/* What the model is told for a request: its result, or the error JSON. */
const char *kestrel_chat_tools_result_text    (KestrelToolCallRequest *request);

/* Runs the calls of one round in order: waits for the user's answer where the tool needs
 * approval (unless its name is in `always_allowed`, which an "Always allow" answer adds
 * to), runs approved calls through the registry, records everything in the store (each
 * request's store id; store may be NULL) and on the requests.  Denied calls get a
 * NOT_APPROVED error result.  `calls` are the parsed KestrelToolCalls, one per request. */
void       kestrel_chat_tools_run_round_async (KestrelToolRegistry  *registry,
                                               KestrelStore         *store,
                                               GPtrArray            *requests,
                                               GPtrArray            *calls,
                                               GHashTable           *always_allowed,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean   kestrel_chat_tools_run_round_finish (GAsyncResult        *result,
                                                GError             **error);

G_END_DECLS
