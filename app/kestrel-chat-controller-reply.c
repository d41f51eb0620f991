/* kestrel-chat-controller-reply.c — the chat controller: one streamed reply and its store row.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-chat"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-chat-controller-internal.h"

/* ---- the reply --------------------------------------------------------------------- */



void
_kestrel_chat_controller_reply_row_free (ReplyRow *row)
{
  row->self->n_pending_saves--;
  g_object_unref (row->self);
  g_object_unref (row->message);
  g_free (row->stats_json);
  g_clear_object (&row->parser);
  g_clear_pointer (&row->calls, g_ptr_array_unref);
  g_free (row);
}


static void
finish_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  ReplyRow *row = user_data;
  g_autoptr(GError) error = NULL;

  if (!kestrel_store_finish_message_finish (KESTREL_STORE (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    _kestrel_chat_controller_report_error (row->self, _("The reply could not be saved"), error);
  _kestrel_chat_controller_reply_row_free (row);
}

/* Writes the final text and status once both the row exists and the reply ended. */
static gboolean
reply_row_try_finish (ReplyRow *row)
{
  if (!row->finished || row->store_id == 0)
    return FALSE;

  kestrel_store_finish_message_async (row->self->store, row->store_id,
                                      kestrel_chat_message_get_text (row->message),
                                      row->final_status, row->stats_json, NULL,
                                      finish_done_cb, row);
  return TRUE;
}

static void
reply_delta_cb (KestrelGeneration *generation,
                const char        *delta,
                ReplyRow          *row)
{
  if (row->parser == NULL)
    kestrel_chat_message_append_text (row->message, delta);
  else if (row->calls == NULL)
    {
      g_autoptr(GPtrArray) events = kestrel_tool_call_parser_feed (row->parser, delta, -1);
      _kestrel_chat_controller_handle_events (row, events, generation);
    }
  /* cheap: the store copies the text and writes it at most once a second */
  if (row->store_id != 0)
    kestrel_store_update_message_text (row->self->store, row->store_id,
                                       kestrel_chat_message_get_text (row->message));
}

static void
reply_status_cb (KestrelGeneration *generation,
                 GParamSpec        *pspec,
                 ReplyRow          *row)
{
  if (kestrel_generation_get_status (generation) == KESTREL_GENERATION_STREAMING)
    kestrel_chat_message_set_status (row->message, KESTREL_CHAT_MESSAGE_STREAMING);
}

static void
reply_finished_cb (KestrelGeneration *generation,
                   ReplyRow          *row)
{
  KestrelChatController *self = row->self;
  KestrelGenerationStats stats;
  const GError *error = kestrel_generation_get_error (generation);

  if (row->parser != NULL && row->calls == NULL)
    {
      /* held-back text, or a ```tool_code block the end of the reply completed */
      g_autoptr(GPtrArray) events = kestrel_tool_call_parser_finish (row->parser);
      _kestrel_chat_controller_handle_events (row, events, NULL);
    }
  kestrel_chat_message_set_tool_status (row->message, NULL);

  kestrel_generation_get_stats (generation, &stats);
  kestrel_chat_message_set_stats (row->message, stats.generated_tokens, stats.tokens_per_second);
  row->stats_json = g_strdup_printf ("{\"prompt_tokens\": %u, \"cached_tokens\": %u, "
                                     "\"generated_tokens\": %u, \"time_to_first_token\": %.4f, "
                                     "\"tokens_per_second\": %.2f}",
                                     stats.prompt_tokens, stats.cached_tokens,
                                     stats.generated_tokens, stats.time_to_first_token,
                                     stats.tokens_per_second);

  switch (kestrel_generation_get_status (generation))
    {
    case KESTREL_GENERATION_CANCELLED:
      if (row->calls == NULL)
        {
          kestrel_chat_message_set_status (row->message, KESTREL_CHAT_MESSAGE_CANCELLED);
          row->final_status = KESTREL_MESSAGE_STATUS_CANCELLED;
          break;
        }
      /* stopped by us after a complete call list: the model's turn ended there */
      G_GNUC_FALLTHROUGH;
    case KESTREL_GENERATION_COMPLETE:
      kestrel_chat_message_set_status (row->message, KESTREL_CHAT_MESSAGE_COMPLETE);
      row->final_status = KESTREL_MESSAGE_STATUS_COMPLETE;
      break;
    case KESTREL_GENERATION_FAILED:
    default:
      g_clear_pointer (&row->calls, g_ptr_array_unref);
      kestrel_chat_message_set_error_message (row->message, error ? error->message : _("The reply failed"));
      kestrel_chat_message_set_status (row->message, KESTREL_CHAT_MESSAGE_FAILED);
      row->final_status = KESTREL_MESSAGE_STATUS_ERROR;
      break;
    }
  row->finished = TRUE;

  if (self->generation == generation)
    {
      g_signal_handlers_disconnect_by_data (generation, row);
      g_clear_object (&self->generation);
      g_clear_object (&self->reply);
      /* a tool round follows: still busy until it and the continuation are done */
      if (row->calls != NULL)
        {
          self->round_cancellable = g_cancellable_new ();
          /* Stop pressed after the list was complete: its calls do not run */
          if (self->stop_requested)
            g_cancellable_cancel (self->round_cancellable);
        }
      else
        _kestrel_chat_controller_notify_busy (self);
    }
  else
    g_clear_pointer (&row->calls, g_ptr_array_unref);  /* a reply nobody waits for */
  _kestrel_chat_controller_maybe_start_round (row);
  /* The row is freed once both the reply ended and its store row is settled: here when it
   * could never be saved, in finish_done_cb after the final write, or by
   * reply_row_created_cb when the row appears later. */
  if (row->store_id < 0)
    _kestrel_chat_controller_reply_row_free (row);
  else
    reply_row_try_finish (row);
}

static void
reply_row_created_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  ReplyRow *row = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelMessage) stored = kestrel_store_append_message_finish (KESTREL_STORE (source), result, &error);

  if (stored == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _kestrel_chat_controller_report_error (row->self, _("The reply could not be saved"), error);
      row->store_id = -1; /* never saved; finishing frees the row */
      if (row->finished)
        {
          _kestrel_chat_controller_maybe_start_round (row);
          _kestrel_chat_controller_reply_row_free (row);
        }
      return;
    }

  row->store_id = kestrel_message_get_id (stored);
  _kestrel_chat_controller_maybe_start_round (row);
  _kestrel_chat_controller_set_message_store_id (row->message, STORE_ID, row->store_id);
  kestrel_chat_message_set_branch (row->message, kestrel_message_get_sibling_index (stored),
                                   MAX (kestrel_message_get_n_siblings (stored), 1));
  if (kestrel_chat_message_get_text (row->message)[0] != '\0')
    kestrel_store_update_message_text (row->self->store, row->store_id,
                                       kestrel_chat_message_get_text (row->message));
  reply_row_try_finish (row);
}

/* Starts generating `reply` (already in the list at `position`) and saves it as a child
 * of parent_id once that id is known (0: saved later by send's chain). */
ReplyRow *
_kestrel_chat_controller_start_reply (KestrelChatController *self,
             KestrelChatMessage    *reply,
             guint                  position)
{
  g_autoptr(GPtrArray) turns = _kestrel_chat_controller_build_turns (self, position);
  g_autofree char *conversation_key = g_strdup_printf ("%" G_GINT64_FORMAT, self->conversation_id);
  ReplyRow *row = g_new0 (ReplyRow, 1);

  row->self = g_object_ref (self);
  row->message = g_object_ref (reply);
  self->n_pending_saves++;
  if (self->tools != NULL)
    {
      g_autoptr(JsonArray) declarations = kestrel_tool_registry_dup_declarations (self->tools);

      if (json_array_get_length (declarations) > 0)
        row->parser = kestrel_tool_call_parser_new (declarations);
    }

  self->reply = g_object_ref (reply);
  self->stop_requested = FALSE;
  if (self->generate_func != NULL)
    self->generation = self->generate_func (conversation_key, turns, self->generate_data);
  else
    self->generation = kestrel_engine_generate (self->engine, conversation_key, turns, &self->sampling);
  g_signal_connect (self->generation, "delta", G_CALLBACK (reply_delta_cb), row);
  g_signal_connect (self->generation, "notify::status", G_CALLBACK (reply_status_cb), row);
  g_signal_connect (self->generation, "finished", G_CALLBACK (reply_finished_cb), row);
  _kestrel_chat_controller_notify_busy (self);

  return row;
}

void
_kestrel_chat_controller_save_reply_row (KestrelChatController *self,
                ReplyRow              *row,
                gint64                 parent_id)
{
  _kestrel_chat_controller_set_message_store_id (row->message, PARENT_ID, parent_id);
  kestrel_store_append_message_async (self->store, self->conversation_id, parent_id,
                                      KESTREL_MESSAGE_ROLE_MODEL, KESTREL_MESSAGE_STATUS_STREAMING,
                                      "", NULL, self->cancellable, reply_row_created_cb, row);
}

