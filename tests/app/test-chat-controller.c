/* test-chat-controller.c — a conversation end to end on the CPU backend: send (with an
 * image), stream, persist, reopen, regenerate (branch), cancel, delete.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "kestrel-chat-controller.h"
#include "kestrel-message.h"
#include "../kestrel-test-fixture.h"

static char *tmp_root;
static char *tiny_dir;

static void
wait_until (gboolean (*done) (gpointer), gpointer data)
{
  g_assert_true (kestrel_test_iterate_until (done, data, 120));
}

static gboolean
engine_settled (gpointer engine)
{
  KestrelEngineState state = kestrel_engine_get_state (engine);

  return state == KESTREL_ENGINE_READY || state == KESTREL_ENGINE_FAILED;
}

/* The reply ended and its final state reached the store's queue. */
static gboolean
controller_idle (gpointer controller)
{
  return !kestrel_chat_controller_get_busy (controller) &&
         kestrel_chat_controller_get_n_pending_saves (controller) == 0;
}

static gboolean
has_n_messages_cb (gpointer data)
{
  gpointer *args = data;

  return g_list_model_get_n_items (args[0]) == GPOINTER_TO_UINT (args[1]);
}

static void
wait_for_n_messages (GListModel *model, guint n)
{
  gpointer args[2] = { model, GUINT_TO_POINTER (n) };

  wait_until (has_n_messages_cb, args);
}

/* Store jobs and thread tasks drop their references on this main context a little after
 * their results arrive: let them, then insist on finalization. */
static void
assert_finalize_soon (gpointer object)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (G_OBJECT (object)->ref_count > 1 && g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  g_assert_finalize_object (object);
}

static KestrelImage *
make_image (guint width, guint height)
{
  gsize stride = (gsize) width * 3;
  guint8 *pixels = g_malloc (stride * height);

  for (gsize i = 0; i < stride * height; i++)
    pixels[i] = (guint8) (i * 31 + 7);
  return kestrel_image_new (g_bytes_new_take (pixels, stride * height), width, height, 3, stride);
}

static KestrelChatMessage *
nth (GListModel *model, guint i)
{
  KestrelChatMessage *message = g_list_model_get_item (model, i);

  g_object_unref (message); /* the model keeps it alive */
  return message;
}

static void
test_chat_controller_conversation (void)
{
  g_autofree char *db_path = g_build_filename (tmp_root, "kestrel.db", NULL);
  g_autoptr(GError) error = NULL;
  KestrelStore *store = kestrel_store_new (db_path, &error);
  KestrelEngine *engine = kestrel_engine_new ();
  KestrelChatController *controller;
  KestrelSamplingSettings settings;
  g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_image_unref);
  g_autoptr(GPtrArray) thread = NULL;
  GListModel *messages;
  KestrelChatMessage *reply, *user;
  gint64 conversation_id;
  char *first_reply;

  g_assert_no_error (error);
  kestrel_engine_load_async (engine, tiny_dir, KESTREL_BACKEND_CPU, 0, 0, NULL, NULL, NULL);
  wait_until (engine_settled, engine);
  g_assert_cmpint (kestrel_engine_get_state (engine), ==, KESTREL_ENGINE_READY);

  controller = kestrel_chat_controller_new (store, engine);
  kestrel_sampling_settings_init (&settings);
  settings.temperature = 0;
  settings.max_tokens = 12;
  kestrel_chat_controller_set_sampling (controller, &settings);
  messages = kestrel_chat_controller_get_messages (controller);

  /* send with an image: user + reply appear at once, the reply streams and completes */
  g_ptr_array_add (images, make_image (40, 30));
  kestrel_chat_controller_send (controller, "What is in this picture?", images);
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 2);
  g_assert_true (kestrel_chat_controller_get_busy (controller));
  wait_until (controller_idle, controller);

  user = nth (messages, 0);
  reply = nth (messages, 1);
  g_assert_cmpint (kestrel_chat_message_get_role (user), ==, KESTREL_ROLE_USER);
  g_assert_cmpuint (kestrel_chat_message_get_images (user)->len, ==, 1);
  g_assert_cmpint (kestrel_chat_message_get_status (reply), ==, KESTREL_CHAT_MESSAGE_COMPLETE);
  g_assert_cmpuint (kestrel_chat_message_get_n_tokens (reply), >=, 1);
  first_reply = g_strdup (kestrel_chat_message_get_text (reply));
  conversation_id = kestrel_chat_controller_get_conversation_id (controller);
  g_assert_cmpint (conversation_id, >, 0);

  /* everything is in the store, the image as an attachment */
  g_assert_true (kestrel_store_flush (store, &error));
  g_assert_no_error (error);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  thread = kestrel_store_load_thread (store, conversation_id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thread->len, ==, 2);
  g_assert_cmpstr (kestrel_message_get_content (g_ptr_array_index (thread, 0)), ==, "What is in this picture?");
  g_assert_cmpuint (kestrel_message_get_attachments (g_ptr_array_index (thread, 0))->len, ==, 1);
  g_assert_cmpstr (kestrel_message_get_content (g_ptr_array_index (thread, 1)), ==, first_reply);
  g_assert_cmpint (kestrel_message_get_status (g_ptr_array_index (thread, 1)), ==,
                   KESTREL_MESSAGE_STATUS_COMPLETE);
  g_clear_pointer (&thread, g_ptr_array_unref);

  /* reopen: the same two messages, the image decoded again */
  kestrel_chat_controller_new_conversation (controller);
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 0);
  kestrel_chat_controller_open (controller, conversation_id);
  wait_for_n_messages (messages, 2);
  g_assert_cmpstr (kestrel_chat_message_get_text (nth (messages, 1)), ==, first_reply);
  g_assert_cmpuint (kestrel_chat_message_get_images (nth (messages, 0))->len, ==, 1);
  g_assert_cmpuint (kestrel_image_get_width (g_ptr_array_index (kestrel_chat_message_get_images (nth (messages, 0)), 0)), ==, 40);

  /* regenerate: a second alternative of the reply (greedy: the same text again) */
  kestrel_chat_controller_regenerate (controller, nth (messages, 1));
  wait_until (controller_idle, controller);
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 2);
  reply = nth (messages, 1);
  g_assert_cmpint (kestrel_chat_message_get_status (reply), ==, KESTREL_CHAT_MESSAGE_COMPLETE);
  g_assert_cmpstr (kestrel_chat_message_get_text (reply), ==, first_reply);
  /* the branch counters arrive with the saved row */
  while (kestrel_chat_message_get_branch_count (reply) < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (kestrel_chat_message_get_branch_count (reply), ==, 2);
  g_assert_cmpuint (kestrel_chat_message_get_branch_index (reply), ==, 1);

  /* back to the first alternative: the store's selection moves and the thread reloads */
  kestrel_chat_controller_switch_branch (controller, reply, -1);
  while (g_list_model_get_n_items (messages) < 2 ||
         kestrel_chat_message_get_branch_count (nth (messages, 1)) < 2 ||
         kestrel_chat_message_get_branch_index (nth (messages, 1)) != 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (kestrel_chat_message_get_branch_index (nth (messages, 1)), ==, 0);
  g_assert_cmpstr (kestrel_chat_message_get_text (nth (messages, 1)), ==, first_reply);

  /* a follow-up, cancelled at once: the reply ends as CANCELLED */
  settings.max_tokens = 2000;
  settings.temperature = 1;
  kestrel_chat_controller_set_sampling (controller, &settings);
  kestrel_chat_controller_send (controller, "Tell me a long story.", NULL);
  kestrel_chat_controller_cancel (controller);
  wait_until (controller_idle, controller);
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 4);
  g_assert_cmpint (kestrel_chat_message_get_status (nth (messages, 3)), ==, KESTREL_CHAT_MESSAGE_CANCELLED);

  /* delete the follow-up question: it and its reply go, in the view and in the store */
  kestrel_chat_controller_delete (controller, nth (messages, 2));
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 2);
  g_assert_true (kestrel_store_flush (store, &error));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  thread = kestrel_store_load_thread (store, conversation_id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thread->len, ==, 2);

  /* Clear History: every conversation goes */
  g_clear_pointer (&thread, g_ptr_array_unref);
  g_assert_true (kestrel_store_delete_all_conversations (store, &error));
  g_assert_no_error (error);
  thread = kestrel_store_list_conversations (store, FALSE, NULL, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thread->len, ==, 0);

  g_free (first_reply);
  assert_finalize_soon (controller);
  assert_finalize_soon (engine);
  assert_finalize_soon (store);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tiny_dir = kestrel_test_make_tiny_checkpoint ("kestrel-chat-XXXXXX", 5, &tmp_root);

  g_test_add_func ("/kestrel/chat-controller/conversation", test_chat_controller_conversation);
  ret = g_test_run ();

  kestrel_test_remove_tree (tmp_root);
  g_free (tiny_dir);
  g_free (tmp_root);
  return ret;
}
