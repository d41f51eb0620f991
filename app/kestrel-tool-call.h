/* kestrel-tool-call.h — a tool call made by a model message.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "kestrel-store-types.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_TOOL_CALL (kestrel_tool_call_get_type ())

G_DECLARE_FINAL_TYPE (KestrelToolCall, kestrel_tool_call, KESTREL, TOOL_CALL, GObject)

gint64                 kestrel_tool_call_get_id         (KestrelToolCall *self);
gint64                 kestrel_tool_call_get_message_id (KestrelToolCall *self);
const char            *kestrel_tool_call_get_name       (KestrelToolCall *self);
const char            *kestrel_tool_call_get_arguments  (KestrelToolCall *self);
const char            *kestrel_tool_call_get_result     (KestrelToolCall *self);
KestrelToolCallStatus  kestrel_tool_call_get_status     (KestrelToolCall *self);
KestrelToolApproval    kestrel_tool_call_get_approval   (KestrelToolCall *self);

G_END_DECLS
