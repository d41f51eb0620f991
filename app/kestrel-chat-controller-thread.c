/* kestrel-chat-controller-thread.c — the chat controller: turns for the engine, and store
 * messages ↔ chat messages (images decoded in a thread).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-chat"

#include "config.h"

#include <glib/gi18n.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <json-glib/json-glib.h>

#include "kestrel-attachment.h"
#include "kestrel-chat-tools.h"
#include "kestrel-message.h"
#include "kestrel-chat-controller-internal.h"

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
GPtrArray *
_kestrel_chat_controller_build_turns (KestrelChatController *self,
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

void
_kestrel_chat_controller_encode_images_thread (GTask        *task,
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
void
_kestrel_chat_controller_thread_to_chat_thread (GTask        *task,
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
      _kestrel_chat_controller_set_message_store_id (message, STORE_ID, kestrel_message_get_id (stored));
      _kestrel_chat_controller_set_message_store_id (message, PARENT_ID, kestrel_message_get_parent_id (stored));
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

