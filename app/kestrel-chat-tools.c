/* kestrel-chat-tools.c — tool calling for the chat controller: prompt text and tool rounds.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The prompt pieces are the app's side of docs/tool-calling.md §1: the declarations go into
 * the first user turn's text and a model turn with calls is written "[calls]text"; the
 * engine's chat builder (engine/text/ke-chat.c) adds the turn markers, trims, and wraps
 * KESTREL_ROLE_TOOL turns in <tool_response>, so the rendered prompt is byte for byte what
 * kestrel-tool-prompt.c writes (tests/app/test-chat-tools.c checks it against the goldens).
 */
#define G_LOG_DOMAIN "kestrel-chat"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-chat-tools.h"
#include "kestrel-read-file-tool.h"
#include "kestrel-tool-prompt.h"

char *
kestrel_chat_tools_first_user_text (JsonArray  *declarations,
                                    const char *content)
{
  g_autofree char *block = kestrel_tool_prompt_declarations (declarations);
  g_autofree char *trimmed = kestrel_tool_prompt_strip (content);

  return g_strconcat (block, trimmed, NULL);
}

char *
kestrel_chat_tools_model_text (GListModel *requests,
                               const char *content,
                               gboolean    template_compat)
{
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_tool_call_unref);
  g_autofree char *list = NULL;
  g_autofree char *trimmed = kestrel_tool_prompt_strip (content);
  guint n = g_list_model_get_n_items (requests);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(KestrelToolCallRequest) request = g_list_model_get_item (requests, i);
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonNode *root;
      g_autoptr(JsonObject) arguments = NULL;

      if (json_parser_load_from_data (parser, kestrel_tool_call_request_get_arguments (request), -1, NULL) &&
          (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
        arguments = json_object_ref (json_node_get_object (root));
      else
        arguments = json_object_new ();
      g_ptr_array_add (calls, kestrel_tool_call_new (kestrel_tool_call_request_get_name (request), arguments));
    }
  list = kestrel_tool_prompt_calls (calls, template_compat);
  return g_strconcat (list, trimmed, NULL);
}

const char *
kestrel_chat_tools_result_text (KestrelToolCallRequest *request)
{
  const char *result = kestrel_tool_call_request_get_result (request);

  return result != NULL ? result : "{\"error\": \"The call did not finish\"}";
}

/* ---- a round ----------------------------------------------------------------------- */

typedef struct
{
  KestrelToolRegistry    *registry;
  KestrelStore           *store;
  GPtrArray              *requests;
  GPtrArray              *calls;
  GHashTable             *always_allowed;
  guint                   index;
  KestrelToolCallRequest *waiting;      /* the request whose answer is awaited */
  gulong                  answered_id;
  gulong                  cancelled_id;
} Round;

static void
round_free (Round *round)
{
  g_clear_object (&round->registry);
  g_clear_object (&round->store);
  g_ptr_array_unref (round->requests);
  g_ptr_array_unref (round->calls);
  g_hash_table_unref (round->always_allowed);
  g_free (round);
}

static void
record (Round                  *round,
        KestrelToolCallRequest *request)
{
  g_autoptr(GError) error = NULL;
  gint64 id = kestrel_tool_call_request_get_store_id (request);

  if (round->store == NULL || id <= 0)
    return;
  if (!kestrel_store_update_tool_call (round->store, id, kestrel_tool_call_request_get_status (request),
                                       kestrel_tool_call_request_get_approval (request),
                                       kestrel_tool_call_request_get_result (request), &error))
    g_warning ("A tool call could not be saved: %s", error->message);
}

static void
fail_request (Round                  *round,
              KestrelToolCallRequest *request,
              const GError           *error)
{
  g_autofree char *result = kestrel_tool_result_for_error (error);

  kestrel_tool_call_request_set_error (request, error->message, result);
  record (round, request);
}

static void round_step (GTask *task);

/* Cancelled (the user stopped the reply): what has not run is reported as cancelled. */
static void
round_cancel_rest (GTask *task)
{
  Round *round = g_task_get_task_data (task);
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                 _("The reply was stopped before this call ran"));

  for (guint i = round->index; i < round->requests->len; i++)
    {
      KestrelToolCallRequest *request = g_ptr_array_index (round->requests, i);

      if (kestrel_tool_call_request_get_approval (request) == KESTREL_TOOL_APPROVAL_PENDING)
        kestrel_tool_call_request_set_approval (request, KESTREL_TOOL_APPROVAL_DENIED);
      fail_request (round, request, error);
    }
  round->index = round->requests->len;
  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s", _("The reply was stopped"));
}

static void
round_disconnect (GTask *task)
{
  Round *round = g_task_get_task_data (task);

  if (round->waiting != NULL)
    g_clear_signal_handler (&round->answered_id, round->waiting);
  round->waiting = NULL;
  if (g_task_get_cancellable (task) != NULL)
    g_clear_signal_handler (&round->cancelled_id, g_task_get_cancellable (task));
}

static void
invoked_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Round *round = g_task_get_task_data (task);
  KestrelToolCallRequest *request = g_ptr_array_index (round->requests, round->index);
  g_autoptr(GError) error = NULL;
  g_autofree char *value = kestrel_tool_registry_invoke_finish (KESTREL_TOOL_REGISTRY (source), result, &error);

  if (value == NULL)
    fail_request (round, request, error);
  else
    {
      kestrel_tool_call_request_set_result (request, value);
      record (round, request);
    }
  round->index++;
  round_step (g_steal_pointer (&task));
}

static void
round_run_current (GTask *task)
{
  Round *round = g_task_get_task_data (task);
  KestrelToolCallRequest *request = g_ptr_array_index (round->requests, round->index);
  KestrelToolCall *call = g_ptr_array_index (round->calls, round->index);

  kestrel_tool_call_set_approved (call, TRUE);
  if (kestrel_tool_call_request_get_file (request) != NULL)
    kestrel_tool_call_set_user_file (call, kestrel_tool_call_request_get_file (request));
  kestrel_tool_call_request_set_running (request);
  record (round, request);
  kestrel_tool_registry_invoke_async (round->registry, call, g_task_get_cancellable (task),
                                      invoked_cb, task);
}

static void
answered_cb (KestrelToolCallRequest *request,
             int                     answer,
             GTask                  *task)
{
  Round *round = g_task_get_task_data (task);

  round_disconnect (task);
  if (answer == KESTREL_TOOL_CALL_ANSWER_DENY)
    {
      g_autoptr(GError) error = g_error_new_literal (KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_NOT_APPROVED,
                                                     _("The user denied this call"));

      kestrel_tool_call_request_set_approval (request, KESTREL_TOOL_APPROVAL_DENIED);
      fail_request (round, request, error);
      round->index++;
      round_step (task);
      return;
    }
  if (answer == KESTREL_TOOL_CALL_ANSWER_ALLOW_ALWAYS)
    g_hash_table_add (round->always_allowed, g_strdup (kestrel_tool_call_request_get_name (request)));
  kestrel_tool_call_request_set_approval (request, KESTREL_TOOL_APPROVAL_APPROVED);
  round_run_current (task);
}

static void
round_cancelled_cb (GCancellable *cancellable,
                    GTask        *task)
{
  /* only connected while waiting for an answer: a running call ends through invoked_cb */
  round_disconnect (task);
  round_cancel_rest (task);
  g_object_unref (task);
}

/* Takes the task's reference. */
static void
round_step (GTask *task)
{
  Round *round = g_task_get_task_data (task);
  KestrelToolCallRequest *request;
  KestrelTool *tool;
  const char *name;

  if (g_task_get_cancellable (task) != NULL && g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    {
      round_cancel_rest (task);
      g_object_unref (task);
      return;
    }
  if (round->index >= round->requests->len)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }

  request = g_ptr_array_index (round->requests, round->index);
  name = kestrel_tool_call_request_get_name (request);
  tool = kestrel_tool_registry_lookup (round->registry, name);
  if (tool != NULL && kestrel_tool_get_requires_approval (tool))
    {
      if (g_hash_table_contains (round->always_allowed, name) &&
          !kestrel_tool_call_request_get_needs_file (request))
        kestrel_tool_call_request_set_approval (request, KESTREL_TOOL_APPROVAL_APPROVED);
      else
        {
          KestrelToolCallAnswer early;

          record (round, request);
          /* answered before the round got here: take that answer */
          if (kestrel_tool_call_request_get_answer (request, &early))
            {
              answered_cb (request, early, task);
              return;
            }
          /* wait for the card's answer; the task reference stays with the handlers */
          round->waiting = request;
          round->answered_id = g_signal_connect (request, "answered", G_CALLBACK (answered_cb), task);
          if (g_task_get_cancellable (task) != NULL)
            round->cancelled_id = g_signal_connect (g_task_get_cancellable (task), "cancelled",
                                                    G_CALLBACK (round_cancelled_cb), task);
          return;
        }
    }
  else
    kestrel_tool_call_request_set_approval (request, KESTREL_TOOL_APPROVAL_AUTOMATIC);
  round_run_current (task);
}

void
kestrel_chat_tools_run_round_async (KestrelToolRegistry *registry,
                                    KestrelStore        *store,
                                    GPtrArray           *requests,
                                    GPtrArray           *calls,
                                    GHashTable          *always_allowed,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Round *round = g_new0 (Round, 1);

  g_return_if_fail (requests->len == calls->len);

  round->registry = g_object_ref (registry);
  round->store = store != NULL ? g_object_ref (store) : NULL;
  round->requests = g_ptr_array_ref (requests);
  round->calls = g_ptr_array_ref (calls);
  round->always_allowed = g_hash_table_ref (always_allowed);
  g_task_set_source_tag (task, kestrel_chat_tools_run_round_async);
  g_task_set_task_data (task, round, (GDestroyNotify) round_free);
  round_step (task);
}

gboolean
kestrel_chat_tools_run_round_finish (GAsyncResult  *result,
                                     GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
