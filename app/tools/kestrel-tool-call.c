/* kestrel-tool-call.c — one parsed tool call, and the tool error domain.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include "kestrel-tool-call.h"

G_DEFINE_QUARK (kestrel-tool-error-quark, kestrel_tool_error)

G_DEFINE_BOXED_TYPE (KestrelToolCall, kestrel_tool_call, kestrel_tool_call_ref, kestrel_tool_call_unref)

/**
 * kestrel_tool_call_new:
 * @name: the tool's name
 * @arguments: (nullable): the named arguments; %NULL means none
 *
 * Returns: (transfer full): a new call holding a reference to @arguments.
 */
KestrelToolCall *
kestrel_tool_call_new (const char *name,
                       JsonObject *arguments)
{
  KestrelToolCall *call;

  g_return_val_if_fail (name != NULL, NULL);

  call = g_new0 (KestrelToolCall, 1);
  g_atomic_ref_count_init (&call->ref_count);
  call->name = g_strdup (name);
  call->arguments = arguments != NULL ? json_object_ref (arguments) : json_object_new ();

  return call;
}

KestrelToolCall *
kestrel_tool_call_ref (KestrelToolCall *call)
{
  g_return_val_if_fail (call != NULL, NULL);

  g_atomic_ref_count_inc (&call->ref_count);
  return call;
}

void
kestrel_tool_call_unref (KestrelToolCall *call)
{
  g_return_if_fail (call != NULL);

  if (!g_atomic_ref_count_dec (&call->ref_count))
    return;

  g_free (call->name);
  json_object_unref (call->arguments);
  g_clear_object (&call->user_file);
  g_free (call);
}

void
kestrel_tool_call_set_user_file (KestrelToolCall *call,
                                 GFile           *file)
{
  g_return_if_fail (call != NULL);
  g_return_if_fail (file == NULL || G_IS_FILE (file));

  g_set_object (&call->user_file, file);
}

/**
 * kestrel_tool_call_set_approved:
 *
 * Records the user's approval.  The registry refuses to run a call to a tool that
 * requires approval unless this was set.
 */
void
kestrel_tool_call_set_approved (KestrelToolCall *call,
                                gboolean         approved)
{
  g_return_if_fail (call != NULL);

  call->approved = !!approved;
}
