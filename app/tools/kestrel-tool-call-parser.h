/* kestrel-tool-call-parser.h — recognises tool calls in a reply while it streams.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kestrel-tool-call.h"

G_BEGIN_DECLS

/* Longest candidate span that is buffered before it is given up and shown as text. */
#define KESTREL_TOOL_CALL_PARSER_MAX_SPAN (64 * 1024)

typedef enum
{
  KESTREL_TOOL_CALL_EVENT_TEXT,          /* text: safe to show */
  KESTREL_TOOL_CALL_EVENT_CALL_STARTED,  /* name: a call is being generated ("calling …") */
  KESTREL_TOOL_CALL_EVENT_CALLS,         /* calls: a complete, validated call list */
  KESTREL_TOOL_CALL_EVENT_CALL_INVALID,  /* error: the candidate was not a valid call; its
                                          * text follows as a TEXT event */
} KestrelToolCallEventKind;

typedef struct
{
  KestrelToolCallEventKind kind;
  char      *text;   /* TEXT */
  char      *name;   /* CALL_STARTED */
  GPtrArray *calls;  /* CALLS (element-type KestrelToolCall) */
  GError    *error;  /* CALL_INVALID */
} KestrelToolCallEvent;

void kestrel_tool_call_event_free (KestrelToolCallEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KestrelToolCallEvent, kestrel_tool_call_event_free)

#define KESTREL_TYPE_TOOL_CALL_PARSER (kestrel_tool_call_parser_get_type ())

G_DECLARE_FINAL_TYPE (KestrelToolCallParser, kestrel_tool_call_parser, KESTREL, TOOL_CALL_PARSER, GObject)

KestrelToolCallParser *kestrel_tool_call_parser_new    (JsonArray             *declarations);
GPtrArray             *kestrel_tool_call_parser_feed   (KestrelToolCallParser *self,
                                                        const char            *text,
                                                        gssize                 len);
GPtrArray             *kestrel_tool_call_parser_finish (KestrelToolCallParser *self);
gboolean               kestrel_tool_call_validate      (JsonArray             *declarations,
                                                        KestrelToolCall       *call,
                                                        GError               **error);

G_END_DECLS
