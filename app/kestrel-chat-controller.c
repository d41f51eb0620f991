/* kestrel-chat-controller.c — one open conversation: its messages, the store, the engine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The view shows `messages` (KestrelChatMessage), which the controller keeps in step with
 * the store and the engine.  Nothing here blocks a frame: store writes go through the
 * store's _async calls (its own thread), images are encoded and decoded in GTask threads,
 * and the reply streams from the engine thread, coalesced to frame rate.  Each message's
 * store id travels on the KestrelChatMessage as object data ("kestrel-store-id", and
 * "kestrel-parent-id" for the message it answers).
 */
#define G_LOG_DOMAIN "kestrel-chat"

#include "config.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "kestrel-attachment.h"
#include "kestrel-chat-controller.h"
#include "kestrel-chat-controller-private.h"
#include "kestrel-chat-tools.h"
#include "kestrel-message.h"
#include "kestrel-read-file-tool.h"
#include "kestrel-tool-call-parser.h"

#define STORE_ID "kestrel-store-id"
#define PARENT_ID "kestrel-parent-id"

struct _KestrelChatController
{
  GObject                  parent_instance;

  KestrelStore            *store;
  KestrelEngine           *engine;
  GListStore              *messages;
  GCancellable            *cancellable;   /* cancelled on dispose: stale callbacks drop */
  gint64                   conversation_id;
  guint                    open_serial;
  char                    *system_prompt;
  KestrelSamplingSettings  sampling;

  /* The reply being generated, if any. */
  KestrelGeneration       *generation;
  KestrelChatMessage      *reply;

  guint                    n_pending_saves; /* replies whose final write is not done */

  /* Tool calling (NULL registry: off). */
  KestrelToolRegistry     *tools;
  GHashTable              *always_allowed;  /* tool names the user always allows (session) */
  GCancellable            *round_cancellable; /* a tool round is running (busy) */
  gboolean                 stop_requested;    /* Stop came while the reply streamed */

  KestrelChatGenerateFunc  generate_func;   /* tests: a scripted source instead of the engine */
  gpointer                 generate_data;
};

G_DEFINE_FINAL_TYPE (KestrelChatController, kestrel_chat_controller, G_TYPE_OBJECT)

enum { PROP_0, PROP_BUSY, N_PROPS };
enum { ERROR, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static gint64
message_store_id (KestrelChatMessage *message)
{
  return GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (message), STORE_ID));
}

static void
set_message_store_id (KestrelChatMessage *message,
                      const char         *key,
                      gint64              id)
{
  g_object_set_data (G_OBJECT (message), key, GSIZE_TO_POINTER ((gsize) id));
}

static void
report_error (KestrelChatController *self,
              const char            *what,
              const GError          *error)
{
  g_autofree char *message = g_strdup_printf ("%s: %s", what, error->message);

  g_warning ("%s", message);
  g_signal_emit (self, signals[ERROR], 0, message);
}

/* ---- turns for the engine ---------------------------------------------------------- */

static KestrelRole
chat_role (KestrelMessageRole role)
{
  switch (role)
    {
    case KESTREL_MESSAGE_ROLE_MODEL: return KESTREL_ROLE_MODEL;
    case KESTREL_MESSAGE_ROLE_TOOL: return KESTREL_ROLE_TOOL;
    case KESTREL_MESSAGE_ROLE_USER:
    default: return KESTREL_ROLE_USER;
    }
}

/* The conversation up to (not including) position `end` of the list. */
static GPtrArray *
build_turns (KestrelChatController *self,
             guint                  end)
{
  GPtrArray *turns = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_chat_turn_unref);
  g_autoptr(JsonArray) declarations = NULL;
  gboolean first_user_seen = FALSE;

  if (self->tools != NULL)
    {
      declarations = kestrel_tool_registry_dup_declarations (self->tools);
      if (json_array_get_length (declarations) == 0)
        g_clear_pointer (&declarations, json_array_unref);
    }

  if (self->system_prompt != NULL && self->system_prompt[0] != '\0')
    g_ptr_array_add (turns, kestrel_chat_turn_new (KESTREL_ROLE_SYSTEM, self->system_prompt));

  for (guint i = 0; i < end; i++)
    {
      g_autoptr(KestrelChatMessage) message = g_list_model_get_item (G_LIST_MODEL (self->messages), i);
      GListModel *calls = kestrel_chat_message_get_tool_calls (message);
      guint n_calls = g_list_model_get_n_items (calls);
      KestrelRole role = kestrel_chat_message_get_role (message);
      const char *text = kestrel_chat_message_get_text (message);
      g_autofree char *tool_text = NULL;
      KestrelChatTurn *turn;
      GPtrArray *images;

      /* Failed or empty replies are not part of what the model said. */
      if (role == KESTREL_ROLE_MODEL && text[0] == '\0' && n_calls == 0)
        continue;

      /* docs/tool-calling.md §1: the declarations open the first user turn; a model turn
       * that made calls is "[calls]text", followed by one result turn per call. */
      if (role == KESTREL_ROLE_USER && !first_user_seen && declarations != NULL)
        text = tool_text = kestrel_chat_tools_first_user_text (declarations, text);
      else if (role == KESTREL_ROLE_MODEL && n_calls > 0)
        text = tool_text = kestrel_chat_tools_model_text (calls, text, FALSE);
      if (role == KESTREL_ROLE_USER)
        first_user_seen = TRUE;

      turn = kestrel_chat_turn_new (role, text);
      images = kestrel_chat_message_get_images (message);
      for (guint j = 0; images != NULL && j < images->len; j++)
        kestrel_chat_turn_add_image (turn, g_ptr_array_index (images, j));
      g_ptr_array_add (turns, turn);

      for (guint j = 0; role == KESTREL_ROLE_MODEL && j < n_calls; j++)
        {
          g_autoptr(KestrelToolCallRequest) request = g_list_model_get_item (calls, j);

          g_ptr_array_add (turns, kestrel_chat_turn_new (KESTREL_ROLE_TOOL,
                                                         kestrel_chat_tools_result_text (request)));
        }
    }

  return turns;
}

/* ---- images ↔ attachments (threads) ------------------------------------------------ */

static void
encode_images_thread (GTask        *task,
                      gpointer      source,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  GPtrArray *images = task_data;
  g_autoptr(GPtrArray) attachments = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < images->len; i++)
    {
      KestrelImage *image = g_ptr_array_index (images, i);
      g_autoptr(GdkPixbuf) pixbuf = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *png = NULL;
      gsize png_len = 0;
      GBytes *bytes;
      KestrelAttachment *attachment;

      pixbuf = gdk_pixbuf_new_from_bytes (kestrel_image_get_pixels (image), GDK_COLORSPACE_RGB,
                                          kestrel_image_get_channels (image) == 4, 8,
                                          kestrel_image_get_width (image),
                                          kestrel_image_get_height (image),
                                          kestrel_image_get_stride (image));
      if (!gdk_pixbuf_save_to_buffer (pixbuf, &png, &png_len, "png", &error, NULL))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      bytes = g_bytes_new_take (g_steal_pointer (&png), png_len);
      attachment = kestrel_attachment_new_from_bytes (bytes, "image/png", &error);
      g_bytes_unref (bytes);
      if (attachment == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      g_ptr_array_add (attachments, attachment);
    }

  g_task_return_pointer (task, g_steal_pointer (&attachments), (GDestroyNotify) g_ptr_array_unref);
}

static KestrelImage *
image_from_attachment (KestrelAttachment *attachment)
{
  g_autoptr(GdkPixbufLoader) loader = gdk_pixbuf_loader_new ();
  GBytes *data = kestrel_attachment_get_data (attachment);
  GdkPixbuf *pixbuf;
  g_autoptr(GBytes) pixels = NULL;

  if (data == NULL ||
      !gdk_pixbuf_loader_write_bytes (loader, data, NULL) ||
      !gdk_pixbuf_loader_close (loader, NULL) ||
      (pixbuf = gdk_pixbuf_loader_get_pixbuf (loader)) == NULL)
    return NULL;

  pixels = gdk_pixbuf_read_pixel_bytes (pixbuf);
  return kestrel_image_new (pixels, gdk_pixbuf_get_width (pixbuf), gdk_pixbuf_get_height (pixbuf),
                            gdk_pixbuf_get_n_channels (pixbuf), gdk_pixbuf_get_rowstride (pixbuf));
}

static KestrelChatMessageStatus
chat_status_from_store (KestrelMessageStatus status)
{
  switch (status)
    {
    case KESTREL_MESSAGE_STATUS_STREAMING: return KESTREL_CHAT_MESSAGE_STREAMING;
    case KESTREL_MESSAGE_STATUS_CANCELLED: return KESTREL_CHAT_MESSAGE_CANCELLED;
    case KESTREL_MESSAGE_STATUS_ERROR: return KESTREL_CHAT_MESSAGE_FAILED;
    case KESTREL_MESSAGE_STATUS_INTERRUPTED: return KESTREL_CHAT_MESSAGE_INTERRUPTED;
    case KESTREL_MESSAGE_STATUS_COMPLETE:
    default: return KESTREL_CHAT_MESSAGE_COMPLETE;
    }
}

/* Thread: store messages → chat messages (decoding their images). */
static void
thread_to_chat_thread (GTask        *task,
                       gpointer      source,
                       gpointer      task_data,
                       GCancellable *cancellable)
{
  GPtrArray *thread = task_data;
  g_autoptr(GPtrArray) chat = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < thread->len; i++)
    {
      KestrelMessage *stored = g_ptr_array_index (thread, i);
      KestrelChatMessage *message;
      GPtrArray *attachments = kestrel_message_get_attachments (stored);
      GPtrArray *tool_calls = kestrel_message_get_tool_calls (stored);
      g_autoptr(JsonParser) parser = json_parser_new ();
      const char *stats = kestrel_message_get_stats (stored);

      message = kestrel_chat_message_new (chat_role (kestrel_message_get_role (stored)),
                                          kestrel_message_get_content (stored));
      kestrel_chat_message_set_status (message, chat_status_from_store (kestrel_message_get_status (stored)));
      kestrel_chat_message_set_branch (message, kestrel_message_get_sibling_index (stored),
                                       MAX (kestrel_message_get_n_siblings (stored), 1));
      set_message_store_id (message, STORE_ID, kestrel_message_get_id (stored));
      set_message_store_id (message, PARENT_ID, kestrel_message_get_parent_id (stored));
      if (stats != NULL && json_parser_load_from_data (parser, stats, -1, NULL) &&
          JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          JsonObject *o = json_node_get_object (json_parser_get_root (parser));

          kestrel_chat_message_set_stats (message,
                                          (guint) json_object_get_int_member_with_default (o, "generated_tokens", 0),
                                          json_object_get_double_member_with_default (o, "tokens_per_second", 0));
        }
      for (guint j = 0; tool_calls != NULL && j < tool_calls->len; j++)
        {
          KestrelStoredToolCall *stored_call = g_ptr_array_index (tool_calls, j);
          g_autoptr(KestrelToolCallRequest) request =
            kestrel_tool_call_request_new (kestrel_stored_tool_call_get_name (stored_call),
                                           kestrel_stored_tool_call_get_arguments (stored_call), FALSE);

          kestrel_tool_call_request_set_store_id (request, kestrel_stored_tool_call_get_id (stored_call));
          kestrel_tool_call_request_restore (request, kestrel_stored_tool_call_get_status (stored_call),
                                             kestrel_stored_tool_call_get_approval (stored_call),
                                             kestrel_stored_tool_call_get_result (stored_call));
          kestrel_chat_message_add_tool_call (message, request);
        }
      for (guint j = 0; attachments != NULL && j < attachments->len; j++)
        {
          g_autoptr(KestrelImage) image = image_from_attachment (g_ptr_array_index (attachments, j));

          if (image != NULL)
            kestrel_chat_message_add_image (message, image);
        }
      g_ptr_array_add (chat, message);
    }

  g_task_return_pointer (task, g_steal_pointer (&chat), (GDestroyNotify) g_ptr_array_unref);
}

/* ---- opening ----------------------------------------------------------------------- */

typedef struct
{
  KestrelChatController *self;   /* strong */
  guint                  serial;
} OpenData;

static void
open_converted_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  OpenData *od = user_data;
  KestrelChatController *self = od->self;
  g_autoptr(GPtrArray) chat = g_task_propagate_pointer (G_TASK (result), NULL);

  if (od->serial == self->open_serial && chat != NULL)
    g_list_store_splice (self->messages, 0, g_list_model_get_n_items (G_LIST_MODEL (self->messages)),
                         chat->pdata, chat->len);
  g_object_unref (od->self);
  g_free (od);
}

static void
open_loaded_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  OpenData *od = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) thread = kestrel_store_load_thread_finish (KESTREL_STORE (source), result, &error);
  GTask *task;

  if (thread == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        report_error (od->self, _("The conversation could not be opened"), error);
      g_object_unref (od->self);
      g_free (od);
      return;
    }

  task = g_task_new (NULL, od->self->cancellable, open_converted_cb, od);
  g_task_set_task_data (task, g_ptr_array_ref (thread), (GDestroyNotify) g_ptr_array_unref);
  g_task_run_in_thread (task, thread_to_chat_thread);
  g_object_unref (task);
}

void
kestrel_chat_controller_open (KestrelChatController *self,
                              gint64                 conversation_id)
{
  OpenData *od;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  kestrel_chat_controller_cancel (self);
  self->conversation_id = conversation_id;
  self->open_serial++;
  g_list_store_remove_all (self->messages);

  od = g_new0 (OpenData, 1);
  od->self = g_object_ref (self);
  od->serial = self->open_serial;
  kestrel_store_load_thread_async (self->store, conversation_id, self->cancellable, open_loaded_cb, od);
}

void
kestrel_chat_controller_new_conversation (KestrelChatController *self)
{
  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  kestrel_chat_controller_cancel (self);
  self->open_serial++;
  self->conversation_id = 0;
  g_list_store_remove_all (self->messages);
}

/* ---- the reply --------------------------------------------------------------------- */

/* Ties one reply's chat message to its store row; outlives the controller's interest
 * safely (it holds its own references). */
typedef struct
{
  KestrelChatController *self;
  KestrelChatMessage    *message;
  gint64                 store_id;       /* 0 until the row exists, -1 if it never will */
  gboolean               finished;       /* the generation ended */
  KestrelMessageStatus   final_status;
  char                  *stats_json;

  /* Tool calling (parser NULL: off).  Once `calls` is set the model's turn is over: the
   * generation is stopped and whatever else arrives is dropped. */
  KestrelToolCallParser *parser;
  GPtrArray             *calls;          /* KestrelToolCall, one per request on the message */
  guint                  rounds_done;    /* tool rounds this reply already used */
  gboolean               round_started;
} ReplyRow;

static void
reply_row_free (ReplyRow *row)
{
  row->self->n_pending_saves--;
  g_object_unref (row->self);
  g_object_unref (row->message);
  g_free (row->stats_json);
  g_clear_object (&row->parser);
  g_clear_pointer (&row->calls, g_ptr_array_unref);
  g_free (row);
}

static void maybe_start_round (ReplyRow *row);

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
static void
reply_handle_events (ReplyRow          *row,
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

static void
finish_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  ReplyRow *row = user_data;
  g_autoptr(GError) error = NULL;

  if (!kestrel_store_finish_message_finish (KESTREL_STORE (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    report_error (row->self, _("The reply could not be saved"), error);
  reply_row_free (row);
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
      reply_handle_events (row, events, generation);
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
      reply_handle_events (row, events, NULL);
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
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
    }
  else
    g_clear_pointer (&row->calls, g_ptr_array_unref);  /* a reply nobody waits for */
  maybe_start_round (row);
  /* The row is freed once both the reply ended and its store row is settled: here when it
   * could never be saved, in finish_done_cb after the final write, or by
   * reply_row_created_cb when the row appears later. */
  if (row->store_id < 0)
    reply_row_free (row);
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
        report_error (row->self, _("The reply could not be saved"), error);
      row->store_id = -1; /* never saved; finishing frees the row */
      if (row->finished)
        {
          maybe_start_round (row);
          reply_row_free (row);
        }
      return;
    }

  row->store_id = kestrel_message_get_id (stored);
  maybe_start_round (row);
  set_message_store_id (row->message, STORE_ID, row->store_id);
  kestrel_chat_message_set_branch (row->message, kestrel_message_get_sibling_index (stored),
                                   MAX (kestrel_message_get_n_siblings (stored), 1));
  if (kestrel_chat_message_get_text (row->message)[0] != '\0')
    kestrel_store_update_message_text (row->self->store, row->store_id,
                                       kestrel_chat_message_get_text (row->message));
  reply_row_try_finish (row);
}

/* Starts generating `reply` (already in the list at `position`) and saves it as a child
 * of parent_id once that id is known (0: saved later by send's chain). */
static ReplyRow *
start_reply (KestrelChatController *self,
             KestrelChatMessage    *reply,
             guint                  position)
{
  g_autoptr(GPtrArray) turns = build_turns (self, position);
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
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);

  return row;
}

static void
save_reply_row (KestrelChatController *self,
                ReplyRow              *row,
                gint64                 parent_id)
{
  set_message_store_id (row->message, PARENT_ID, parent_id);
  kestrel_store_append_message_async (self->store, self->conversation_id, parent_id,
                                      KESTREL_MESSAGE_ROLE_MODEL, KESTREL_MESSAGE_STATUS_STREAMING,
                                      "", NULL, self->cancellable, reply_row_created_cb, row);
}

/* ---- tool rounds ------------------------------------------------------------------- */

typedef struct
{
  KestrelChatController *self;          /* strong */
  KestrelChatMessage    *message;       /* the model message that made the calls */
  gint64                 message_store_id;
  guint                  rounds_done;
} RoundData;

static void
round_data_free (RoundData *rd)
{
  g_object_unref (rd->self);
  g_object_unref (rd->message);
  g_free (rd);
}

static void
end_round (KestrelChatController *self)
{
  g_clear_object (&self->round_cancellable);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
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
        end_round (self);
      round_data_free (rd);
      return;
    }

  /* The model continues in the same session: the engine finds the conversation's cached
   * prefix and reads only the call turn and the results. */
  g_clear_object (&self->round_cancellable);
  reply = kestrel_chat_message_new (KESTREL_ROLE_MODEL, "");
  kestrel_chat_message_set_status (reply, KESTREL_CHAT_MESSAGE_PENDING);
  g_list_store_append (self->messages, reply);
  row = start_reply (self, reply, position + 1);
  row->rounds_done = rd->rounds_done + 1;
  if (rd->message_store_id > 0)
    save_reply_row (self, row, rd->message_store_id);
  else
    row->store_id = -1;
  round_data_free (rd);
}

/* Runs the calls of a finished reply once its store row is settled (the calls are stored
 * under it). */
static void
maybe_start_round (ReplyRow *row)
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
          report_error (self, _("The tool call could not be saved"), error);
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
        end_round (self);
      return;
    }

  rd = g_new0 (RoundData, 1);
  rd->self = g_object_ref (self);
  rd->message = g_object_ref (row->message);
  rd->message_store_id = row->store_id;
  rd->rounds_done = row->rounds_done;
  kestrel_chat_tools_run_round_async (self->tools, self->store, requests, row->calls,
                                      self->always_allowed, self->round_cancellable,
                                      round_done_cb, rd);
}

/* ---- send -------------------------------------------------------------------------- */

typedef struct
{
  KestrelChatController *self;
  KestrelChatMessage    *user;
  ReplyRow              *row;
  gint64                 parent_id;
} SendData;

static void
send_data_free (SendData *sd)
{
  g_object_unref (sd->self);
  g_object_unref (sd->user);
  g_free (sd);
}

static void
user_saved_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  SendData *sd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelMessage) stored = kestrel_store_append_message_finish (KESTREL_STORE (source), result, &error);

  if (stored == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        report_error (sd->self, _("The message could not be saved"), error);
      sd->row->store_id = -1;
      if (sd->row->finished)
        reply_row_free (sd->row);
      send_data_free (sd);
      return;
    }

  set_message_store_id (sd->user, STORE_ID, kestrel_message_get_id (stored));
  save_reply_row (sd->self, sd->row, kestrel_message_get_id (stored));
  send_data_free (sd);
}

static void
images_encoded_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  SendData *sd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) attachments = g_task_propagate_pointer (G_TASK (result), &error);

  if (attachments == NULL)
    {
      report_error (sd->self, _("The images could not be saved"), error);
      attachments = g_ptr_array_new ();
    }

  kestrel_store_append_message_async (sd->self->store, sd->self->conversation_id, sd->parent_id,
                                      KESTREL_MESSAGE_ROLE_USER, KESTREL_MESSAGE_STATUS_COMPLETE,
                                      kestrel_chat_message_get_text (sd->user), attachments,
                                      sd->self->cancellable, user_saved_cb, sd);
}

static void send_user_message (KestrelChatController *self,
                               KestrelChatMessage    *user,
                               gint64                 parent_id);

void
kestrel_chat_controller_send (KestrelChatController *self,
                              const char            *text,
                              GPtrArray             *images)
{
  g_autoptr(KestrelChatMessage) user = NULL;
  g_autoptr(GError) error = NULL;
  gint64 parent_id;
  guint n;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));
  g_return_if_fail (text != NULL);

  if (kestrel_chat_controller_get_busy (self))
    return;

  if (self->conversation_id == 0)
    {
      g_autoptr(KestrelConversation) conversation =
        kestrel_store_create_conversation (self->store, self->system_prompt, NULL, &error);

      if (conversation == NULL)
        {
          report_error (self, _("The conversation could not be saved"), error);
          return;
        }
      self->conversation_id = kestrel_conversation_get_id (conversation);
    }

  n = g_list_model_get_n_items (G_LIST_MODEL (self->messages));
  user = kestrel_chat_message_new (KESTREL_ROLE_USER, text);
  for (guint i = 0; images != NULL && i < images->len; i++)
    kestrel_chat_message_add_image (user, g_ptr_array_index (images, i));

  parent_id = 0;
  if (n > 0)
    {
      g_autoptr(KestrelChatMessage) last = g_list_model_get_item (G_LIST_MODEL (self->messages), n - 1);
      parent_id = message_store_id (last);
    }
  send_user_message (self, user, parent_id);
}

/* Appends `user` to the view, starts the reply, and saves both (user under parent_id). */
static void
send_user_message (KestrelChatController *self,
                   KestrelChatMessage    *user,
                   gint64                 parent_id)
{
  g_autoptr(KestrelChatMessage) reply = kestrel_chat_message_new (KESTREL_ROLE_MODEL, "");
  GPtrArray *user_images = kestrel_chat_message_get_images (user);
  GPtrArray *image_copy = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_image_unref);
  SendData *sd;
  GTask *task;

  for (guint i = 0; user_images != NULL && i < user_images->len; i++)
    g_ptr_array_add (image_copy, kestrel_image_ref (g_ptr_array_index (user_images, i)));
  kestrel_chat_message_set_status (reply, KESTREL_CHAT_MESSAGE_PENDING);
  set_message_store_id (user, PARENT_ID, parent_id);

  sd = g_new0 (SendData, 1);
  sd->self = g_object_ref (self);
  sd->user = g_object_ref (user);
  sd->parent_id = parent_id;

  g_list_store_append (self->messages, user);
  g_list_store_append (self->messages, reply);
  sd->row = start_reply (self, reply, g_list_model_get_n_items (G_LIST_MODEL (self->messages)) - 1);

  task = g_task_new (NULL, NULL, images_encoded_cb, sd);
  g_task_set_task_data (task, image_copy, (GDestroyNotify) g_ptr_array_unref);
  g_task_run_in_thread (task, encode_images_thread);
  g_object_unref (task);
}

void
kestrel_chat_controller_cancel (KestrelChatController *self)
{
  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  if (self->generation != NULL)
    {
      self->stop_requested = TRUE;
      kestrel_generation_cancel (self->generation);
    }
  if (self->round_cancellable != NULL)
    g_cancellable_cancel (self->round_cancellable);
}

/* ---- regenerate / delete ----------------------------------------------------------- */

static guint
position_of (KestrelChatController *self,
             KestrelChatMessage    *message,
             gboolean              *found)
{
  guint position = 0;

  *found = g_list_store_find (self->messages, message, &position);
  return position;
}

void
kestrel_chat_controller_regenerate (KestrelChatController *self,
                                    KestrelChatMessage    *message)
{
  g_autoptr(KestrelChatMessage) reply = NULL;
  gboolean found;
  guint position;
  gint64 parent_id;
  ReplyRow *row;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  if (kestrel_chat_controller_get_busy (self) || kestrel_chat_message_get_role (message) != KESTREL_ROLE_MODEL)
    return;
  position = position_of (self, message, &found);
  parent_id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (message), PARENT_ID));
  if (!found || parent_id == 0)
    return;

  /* The new reply is a sibling of the old one; what followed the old one is not shown. */
  g_list_store_splice (self->messages, position,
                       g_list_model_get_n_items (G_LIST_MODEL (self->messages)) - position, NULL, 0);
  reply = kestrel_chat_message_new (KESTREL_ROLE_MODEL, "");
  kestrel_chat_message_set_status (reply, KESTREL_CHAT_MESSAGE_PENDING);
  g_list_store_append (self->messages, reply);
  row = start_reply (self, reply, position);
  save_reply_row (self, row, parent_id);
}

void
kestrel_chat_controller_delete (KestrelChatController *self,
                                KestrelChatMessage    *message)
{
  g_autoptr(GError) error = NULL;
  gboolean found;
  guint position;
  gint64 id;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  position = position_of (self, message, &found);
  if (!found)
    return;
  if (self->reply != NULL)
    kestrel_chat_controller_cancel (self);

  id = message_store_id (message);
  /* The store deletes the message with everything that follows it (its subtree). */
  if (id > 0 && !kestrel_store_delete_message (self->store, id, &error))
    {
      report_error (self, _("The message could not be deleted"), error);
      return;
    }
  g_list_store_splice (self->messages, position,
                       g_list_model_get_n_items (G_LIST_MODEL (self->messages)) - position, NULL, 0);
}

void
kestrel_chat_controller_edit (KestrelChatController *self,
                              KestrelChatMessage    *message,
                              const char            *text)
{
  g_autoptr(KestrelChatMessage) edited = NULL;
  GPtrArray *images;
  gboolean found;
  guint position;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  if (kestrel_chat_controller_get_busy (self) || kestrel_chat_message_get_role (message) != KESTREL_ROLE_USER)
    return;
  position = position_of (self, message, &found);
  if (!found)
    return;

  /* The edited text is a new alternative of the message (a sibling in the store); the
   * old message and its replies stay there as the other branch. */
  edited = kestrel_chat_message_new (KESTREL_ROLE_USER, text);
  images = kestrel_chat_message_get_images (message);
  for (guint i = 0; images != NULL && i < images->len; i++)
    kestrel_chat_message_add_image (edited, g_ptr_array_index (images, i));
  g_list_store_splice (self->messages, position,
                       g_list_model_get_n_items (G_LIST_MODEL (self->messages)) - position, NULL, 0);
  send_user_message (self, edited,
                     GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (message), PARENT_ID)));
}

void
kestrel_chat_controller_switch_branch (KestrelChatController *self,
                                       KestrelChatMessage    *message,
                                       int                    delta)
{
  g_autoptr(GPtrArray) siblings = NULL;
  g_autoptr(GError) error = NULL;
  gint64 id = message_store_id (message);
  int index = -1, target;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  if (kestrel_chat_controller_get_busy (self) || id <= 0)
    return;
  siblings = kestrel_store_list_siblings (self->store, id, &error);
  if (siblings == NULL)
    {
      report_error (self, _("The alternatives could not be read"), error);
      return;
    }
  for (guint i = 0; i < siblings->len; i++)
    if (kestrel_message_get_id (g_ptr_array_index (siblings, i)) == id)
      index = (int) i;
  target = index + delta;
  if (index < 0 || target < 0 || target >= (int) siblings->len)
    return;
  if (!kestrel_store_select_message (self->store,
                                     kestrel_message_get_id (g_ptr_array_index (siblings, target)),
                                     &error))
    {
      report_error (self, _("The alternative could not be shown"), error);
      return;
    }
  /* the shown thread follows the selection */
  kestrel_chat_controller_open (self, self->conversation_id);
}

/* ---- object ------------------------------------------------------------------------ */

KestrelChatController *
kestrel_chat_controller_new (KestrelStore  *store,
                             KestrelEngine *engine)
{
  KestrelChatController *self;

  g_return_val_if_fail (KESTREL_IS_STORE (store), NULL);
  g_return_val_if_fail (KESTREL_IS_ENGINE (engine), NULL);

  self = g_object_new (KESTREL_TYPE_CHAT_CONTROLLER, NULL);
  self->store = g_object_ref (store);
  self->engine = g_object_ref (engine);
  return self;
}

GListModel *
kestrel_chat_controller_get_messages (KestrelChatController *self)
{
  return G_LIST_MODEL (self->messages);
}

gint64
kestrel_chat_controller_get_conversation_id (KestrelChatController *self)
{
  return self->conversation_id;
}

gboolean
kestrel_chat_controller_get_busy (KestrelChatController *self)
{
  return self->generation != NULL || self->round_cancellable != NULL;
}

guint
kestrel_chat_controller_get_n_pending_saves (KestrelChatController *self)
{
  return self->n_pending_saves;
}

void
kestrel_chat_controller_set_system_prompt (KestrelChatController *self,
                                           const char            *system_prompt)
{
  g_free (self->system_prompt);
  self->system_prompt = g_strdup (system_prompt);
}

void
kestrel_chat_controller_set_tools (KestrelChatController *self,
                                   KestrelToolRegistry   *tools)
{
  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));
  g_return_if_fail (tools == NULL || KESTREL_IS_TOOL_REGISTRY (tools));

  g_set_object (&self->tools, tools);
}

KestrelToolRegistry *
kestrel_chat_controller_get_tools (KestrelChatController *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_CONTROLLER (self), NULL);
  return self->tools;
}

void
_kestrel_chat_controller_set_generate_func (KestrelChatController   *self,
                                            KestrelChatGenerateFunc  func,
                                            gpointer                 user_data)
{
  self->generate_func = func;
  self->generate_data = user_data;
}

void
kestrel_chat_controller_set_sampling (KestrelChatController         *self,
                                      const KestrelSamplingSettings *settings)
{
  self->sampling = *settings;
}

static void
kestrel_chat_controller_dispose (GObject *object)
{
  KestrelChatController *self = (KestrelChatController *) object;

  g_cancellable_cancel (self->cancellable);
  if (self->generation != NULL)
    kestrel_generation_cancel (self->generation);
  if (self->round_cancellable != NULL)
    g_cancellable_cancel (self->round_cancellable);

  G_OBJECT_CLASS (kestrel_chat_controller_parent_class)->dispose (object);
}

static void
kestrel_chat_controller_finalize (GObject *object)
{
  KestrelChatController *self = (KestrelChatController *) object;

  g_clear_object (&self->generation);
  g_clear_object (&self->reply);
  g_clear_object (&self->messages);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->store);
  g_clear_object (&self->engine);
  g_clear_object (&self->tools);
  g_clear_object (&self->round_cancellable);
  g_clear_pointer (&self->always_allowed, g_hash_table_unref);
  g_free (self->system_prompt);

  G_OBJECT_CLASS (kestrel_chat_controller_parent_class)->finalize (object);
}

static void
kestrel_chat_controller_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  KestrelChatController *self = KESTREL_CHAT_CONTROLLER (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, kestrel_chat_controller_get_busy (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_chat_controller_class_init (KestrelChatControllerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = kestrel_chat_controller_dispose;
  object_class->finalize = kestrel_chat_controller_finalize;
  object_class->get_property = kestrel_chat_controller_get_property;

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* A sentence for a toast when saving or loading failed. */
  signals[ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
kestrel_chat_controller_init (KestrelChatController *self)
{
  self->messages = g_list_store_new (KESTREL_TYPE_CHAT_MESSAGE);
  self->cancellable = g_cancellable_new ();
  self->always_allowed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  kestrel_sampling_settings_init (&self->sampling);
}
