/* kestrel-stored-tool-call.h — a tool call made by a model message.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "kestrel-store-types.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_STORED_TOOL_CALL (kestrel_stored_tool_call_get_type ())

G_DECLARE_FINAL_TYPE (KestrelStoredToolCall, kestrel_stored_tool_call, KESTREL, STORED_TOOL_CALL, GObject)

gint64                 kestrel_stored_tool_call_get_id         (KestrelStoredToolCall *self);
gint64                 kestrel_stored_tool_call_get_message_id (KestrelStoredToolCall *self);
const char            *kestrel_stored_tool_call_get_name       (KestrelStoredToolCall *self);
const char            *kestrel_stored_tool_call_get_arguments  (KestrelStoredToolCall *self);
const char            *kestrel_stored_tool_call_get_result     (KestrelStoredToolCall *self);
KestrelToolCallStatus  kestrel_stored_tool_call_get_status     (KestrelStoredToolCall *self);
KestrelToolApproval    kestrel_stored_tool_call_get_approval   (KestrelStoredToolCall *self);

G_END_DECLS
