/* kestrel-chat-controller-tools.c — the chat controller: tool calls in a reply, and the rounds
 * that run them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-chat"

#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "kestrel-chat-tools.h"
#include "kestrel-read-file-tool.h"
#include "kestrel-chat-controller-internal.h"

static char *
arguments_json (KestrelToolCall *call)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (node, call->arguments);
  return json_to_string (node, FALSE);
}

/* Parser events → the message: text is shown, a call being written is announced, and a
 * complete call list ends the model's turn (the generation is stopped; nothing of a
 * half-written call ever runs, and an invalid one stays text). */
void
_kestrel_chat_controller_handle_events (ReplyRow          *row,
                     GPtrArray         *events,
                     KestrelGeneration *generation)
{
  for (guint i = 0; events != NULL && i < events->len && row->calls == NULL; i++)
    {
      KestrelToolCallEvent *event = g_ptr_array_index (events, i);

      switch (event->kind)
        {
        case KESTREL_TOOL_CALL_EVENT_TEXT:
          kestrel_chat_message_append_text (row->message, event->text);
          break;
        case KESTREL_TOOL_CALL_EVENT_CALL_STARTED:
          {
            g_autofree char *status = g_strdup_printf (_("Calling %s…"), event->name);
            kestrel_chat_message_set_tool_status (row->message, status);
          }
          break;
        case KESTREL_TOOL_CALL_EVENT_CALL_INVALID:
          kestrel_chat_message_set_tool_status (row->message, NULL);
          break;
        case KESTREL_TOOL_CALL_EVENT_CALLS:
          row->calls = g_ptr_array_ref (event->calls);
          kestrel_chat_message_set_tool_status (row->message, NULL);
          for (guint j = 0; j < row->calls->len; j++)
            {
              KestrelToolCall *call = g_ptr_array_index (row->calls, j);
              KestrelTool *tool = kestrel_tool_registry_lookup (row->self->tools, call->name);
              g_autofree char *args = arguments_json (call);
              g_autoptr(KestrelToolCallRequest) request =
                kestrel_tool_call_request_new (call->name, args, KESTREL_IS_READ_FILE_TOOL (tool));

              kestrel_chat_message_add_tool_call (row->message, request);
            }
          if (generation != NULL)
            kestrel_generation_cancel (generation);
          break;
        default:
          break;
        }
    }
}
/* ---- tool rounds ------------------------------------------------------------------- */

typedef struct
{
  KestrelChatController *self;          /* strong */
  KestrelChatMessage    *message;       /* the model message that made the calls */
  gint64                 _kestrel_chat_controller_message_store_id;
  guint                  rounds_done;
} RoundData;

static void
round_data_free (RoundData *rd)
{
  g_object_unref (rd->self);
  g_object_unref (rd->message);
  g_free (rd);
}

void
_kestrel_chat_controller_end_round (KestrelChatController *self)
{
  g_clear_object (&self->round_cancellable);
  _kestrel_chat_controller_notify_busy (self);
}

static GPtrArray *
message_requests (KestrelChatMessage *message)
{
  GListModel *model = kestrel_chat_message_get_tool_calls (message);
  GPtrArray *requests = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    g_ptr_array_add (requests, g_list_model_get_item (model, i));
  return requests;
}

static void
round_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  RoundData *rd = user_data;
  KestrelChatController *self = rd->self;
  g_autoptr(KestrelChatMessage) reply = NULL;
  g_autoptr(GError) error = NULL;
  gboolean found = FALSE;
  guint position = 0;
  ReplyRow *row;

  if (!kestrel_chat_tools_run_round_finish (result, &error) ||
      self->round_cancellable == NULL || g_cancellable_is_cancelled (self->round_cancellable) ||
      !(found = g_list_store_find (self->messages, rd->message, &position)) ||
      position + 1 != g_list_model_get_n_items (G_LIST_MODEL (self->messages)))
    {
      if (self->round_cancellable != NULL)
        _kestrel_chat_controller_end_round (self);
      round_data_free (rd);
      return;
    }

  /* The model continues in the same session: the engine finds the conversation's cached
   * prefix and reads only the call turn and the results. */
  g_clear_object (&self->round_cancellable);
  reply = kestrel_chat_message_new (KESTREL_ROLE_MODEL, "");
  kestrel_chat_message_set_status (reply, KESTREL_CHAT_MESSAGE_PENDING);
  g_list_store_append (self->messages, reply);
  row = _kestrel_chat_controller_start_reply (self, reply, position + 1);
  row->rounds_done = rd->rounds_done + 1;
  if (rd->_kestrel_chat_controller_message_store_id > 0)
    _kestrel_chat_controller_save_reply_row (self, row, rd->_kestrel_chat_controller_message_store_id);
  else
    row->store_id = -1;
  round_data_free (rd);
}

/* Runs the calls of a finished reply once its store row is settled (the calls are stored
 * under it). */
void
_kestrel_chat_controller_maybe_start_round (ReplyRow *row)
{
  KestrelChatController *self = row->self;
  g_autoptr(GPtrArray) requests = NULL;
  g_autoptr(GError) error = NULL;
  RoundData *rd;

  if (row->calls == NULL || row->round_started || !row->finished || row->store_id == 0)
    return;
  row->round_started = TRUE;
  requests = message_requests (row->message);

  for (guint i = 0; row->store_id > 0 && i < requests->len; i++)
    {
      KestrelToolCallRequest *request = g_ptr_array_index (requests, i);
      g_autoptr(KestrelStoredToolCall) stored = NULL;

      stored = kestrel_store_add_tool_call (self->store, row->store_id,
                                            kestrel_tool_call_request_get_name (request),
                                            kestrel_tool_call_request_get_arguments (request), &error);
      if (stored == NULL)
        {
          _kestrel_chat_controller_report_error (self, _("The tool call could not be saved"), error);
          g_clear_error (&error);
          continue;
        }
      kestrel_tool_call_request_set_store_id (request, kestrel_stored_tool_call_get_id (stored));
    }

  if (self->round_cancellable == NULL || g_cancellable_is_cancelled (self->round_cancellable))
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The reply was stopped before this call ran"));
  else
    kestrel_tool_registry_check_round (self->tools, row->rounds_done, &error);
  if (error != NULL)
    {
      g_autofree char *model_result = kestrel_tool_result_for_error (error);

      for (guint i = 0; i < requests->len; i++)
        {
          KestrelToolCallRequest *request = g_ptr_array_index (requests, i);
          g_autoptr(GError) save_error = NULL;

          if (kestrel_tool_call_request_get_approval (request) == KESTREL_TOOL_APPROVAL_PENDING)
            kestrel_tool_call_request_set_approval (request, KESTREL_TOOL_APPROVAL_DENIED);
          kestrel_tool_call_request_set_error (request, error->message, model_result);
          if (kestrel_tool_call_request_get_store_id (request) > 0 &&
              !kestrel_store_update_tool_call (self->store, kestrel_tool_call_request_get_store_id (request),
                                               KESTREL_TOOL_CALL_STATUS_ERROR,
                                               kestrel_tool_call_request_get_approval (request),
                                               model_result, &save_error))
            g_warning ("A tool call could not be saved: %s", save_error->message);
        }
      if (self->round_cancellable != NULL)
        _kestrel_chat_controller_end_round (self);
      return;
    }

  rd = g_new0 (RoundData, 1);
  rd->self = g_object_ref (self);
  rd->message = g_object_ref (row->message);
  rd->_kestrel_chat_controller_message_store_id = row->store_id;
  rd->rounds_done = row->rounds_done;
  kestrel_chat_tools_run_round_async (self->tools, self->store, requests, row->calls,
                                      self->always_allowed, self->round_cancellable,
                                      round_done_cb, rd);
}

