/* kestrel-tool-call-request.h — one tool call of a reply, as the UI shows and answers it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-store-types.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_TOOL_CALL_REQUEST (kestrel_tool_call_request_get_type ())

G_DECLARE_FINAL_TYPE (KestrelToolCallRequest, kestrel_tool_call_request, KESTREL, TOOL_CALL_REQUEST, GObject)

typedef enum
{
  KESTREL_TOOL_CALL_ANSWER_ALLOW_ONCE,
  KESTREL_TOOL_CALL_ANSWER_ALLOW_ALWAYS,  /* and do not ask again for this tool */
  KESTREL_TOOL_CALL_ANSWER_DENY,
} KestrelToolCallAnswer;

KestrelToolCallRequest *kestrel_tool_call_request_new           (const char             *name,
                                                                 const char             *arguments_json,
                                                                 gboolean                needs_file);
const char             *kestrel_tool_call_request_get_name      (KestrelToolCallRequest *self);
/* The arguments as compact JSON. */
const char             *kestrel_tool_call_request_get_arguments (KestrelToolCallRequest *self);
/* The arguments indented for reading (the card shows these). */
char                   *kestrel_tool_call_request_dup_arguments_pretty (KestrelToolCallRequest *self);
/* JSON text indented for reading; text that is not JSON comes back as it is. */
char                   *kestrel_tool_call_request_pretty_json   (const char             *json);
/* The read_file tool: the file is picked by the user at approval time. */
gboolean                kestrel_tool_call_request_get_needs_file (KestrelToolCallRequest *self);
GFile                  *kestrel_tool_call_request_get_file      (KestrelToolCallRequest *self);
KestrelToolCallStatus   kestrel_tool_call_request_get_status    (KestrelToolCallRequest *self);
KestrelToolApproval     kestrel_tool_call_request_get_approval  (KestrelToolCallRequest *self);
/* The result (JSON text) once COMPLETE, NULL before. */
const char             *kestrel_tool_call_request_get_result    (KestrelToolCallRequest *self);
/* Why the call failed (status ERROR), for the user; NULL otherwise. */
const char             *kestrel_tool_call_request_get_error_message (KestrelToolCallRequest *self);
gint64                  kestrel_tool_call_request_get_store_id  (KestrelToolCallRequest *self);
void                    kestrel_tool_call_request_set_store_id  (KestrelToolCallRequest *self,
                                                                 gint64                  id);

/* The UI's answer to a call waiting for approval (approval PENDING); `file` is the picked
 * file for a call that needs one (ignored otherwise).  Emits "answered". */
void                    kestrel_tool_call_request_answer        (KestrelToolCallRequest *self,
                                                                 KestrelToolCallAnswer   answer,
                                                                 GFile                  *file);

/* Whether the UI answered already (and how): the controller may start waiting after the
 * click. */
gboolean                kestrel_tool_call_request_get_answer    (KestrelToolCallRequest *self,
                                                                 KestrelToolCallAnswer  *answer);

/* The controller's side. */
void                    kestrel_tool_call_request_set_approval  (KestrelToolCallRequest *self,
                                                                 KestrelToolApproval     approval);
void                    kestrel_tool_call_request_set_running   (KestrelToolCallRequest *self);
void                    kestrel_tool_call_request_set_result    (KestrelToolCallRequest *self,
                                                                 const char             *result);
/* status ERROR; `result` is what the model is told ({"error": …}). */
void                    kestrel_tool_call_request_set_error     (KestrelToolCallRequest *self,
                                                                 const char             *message,
                                                                 const char             *result);
/* A call read back from the store (a reopened conversation): its final state. */
void                    kestrel_tool_call_request_restore       (KestrelToolCallRequest *self,
                                                                 KestrelToolCallStatus   status,
                                                                 KestrelToolApproval     approval,
                                                                 const char             *result);

G_END_DECLS
