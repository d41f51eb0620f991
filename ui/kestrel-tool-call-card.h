/* kestrel-tool-call-card.h — a tool call in the chat: what is called, approval, result.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "kestrel-tool-call-request.h"

G_BEGIN_DECLS

/* Results longer than this (bytes) or with more lines start collapsed. */
#define KESTREL_TOOL_CALL_CARD_COLLAPSE_BYTES 400
#define KESTREL_TOOL_CALL_CARD_COLLAPSE_LINES 8

#define KESTREL_TYPE_TOOL_CALL_CARD (kestrel_tool_call_card_get_type ())

G_DECLARE_FINAL_TYPE (KestrelToolCallCard, kestrel_tool_call_card, KESTREL, TOOL_CALL_CARD, GtkWidget)

GtkWidget              *kestrel_tool_call_card_new         (KestrelToolCallRequest *request);
KestrelToolCallRequest *kestrel_tool_call_card_get_request (KestrelToolCallCard    *self);

G_END_DECLS
