/* test-tool-e2e.c — tool calling through the real engine worker: a scripted model turn
 * (KE_BACKEND_REPLAY, replayed token by token through sessions, sampler, the worker thread
 * and the streaming to the main loop) calls the history search; the call waits for approval,
 * runs, its result goes back to the model as a tool turn, and the model continues.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "kestrel-app-tools.h"
#include "kestrel-chat-controller.h"
#include "kestrel-message.h"
#include "kestrel-stored-tool-call.h"
#include "kestrel-tool-call-request.h"
#include "../kestrel-test-fixture.h"

static char *tmp_root;
static char *tiny_dir;

/* Like kestrel_test_iterate_until (failing after 30 s), showing the messages on failure. */
static void
iterate_until_or_dump (gboolean (*done) (gpointer), gpointer data, GListModel *messages)
{
  if (!kestrel_test_iterate_until (done, data, 30))
    for (guint i = 0; i < g_list_model_get_n_items (messages); i++)
      {
        g_autoptr(KestrelChatMessage) m = g_list_model_get_item (messages, i);
        g_test_message ("message %u role %d status %d text «%s»", i, kestrel_chat_message_get_role (m),
                        kestrel_chat_message_get_status (m), kestrel_chat_message_get_text (m));
      }
  g_assert_true (done (data));
}

static gboolean
engine_settled (gpointer engine)
{
  return kestrel_engine_get_state (engine) == KESTREL_ENGINE_READY ||
         kestrel_engine_get_state (engine) == KESTREL_ENGINE_FAILED;
}

/* The first call of the reply at `index` (transfer full), once it is there. */
static KestrelToolCallRequest *
request_at (GListModel *messages,
            guint       index)
{
  g_autoptr(KestrelChatMessage) message = NULL;
  GListModel *calls;

  if (g_list_model_get_n_items (messages) <= index)
    return NULL;
  message = g_list_model_get_item (messages, index);
  calls = kestrel_chat_message_get_tool_calls (message);
  if (calls == NULL || g_list_model_get_n_items (calls) == 0)
    return NULL;
  return g_list_model_get_item (calls, 0);
}

static gboolean
call_waits_for_approval (gpointer messages)
{
  g_autoptr(KestrelToolCallRequest) request = request_at (messages, 1);

  return request != NULL && kestrel_tool_call_request_get_approval (request) == KESTREL_TOOL_APPROVAL_PENDING;
}

static gboolean
continued_reply_complete (gpointer controller)
{
  GListModel *messages = kestrel_chat_controller_get_messages (controller);
  g_autoptr(KestrelChatMessage) last = NULL;
  guint n = g_list_model_get_n_items (messages);

  if (n < 3 || kestrel_chat_controller_get_busy (controller) ||
      kestrel_chat_controller_get_n_pending_saves (controller) > 0)
    return FALSE;
  last = g_list_model_get_item (messages, n - 1);
  return kestrel_chat_message_get_status (last) == KESTREL_CHAT_MESSAGE_COMPLETE;
}

static void
test_tool_call_end_to_end (void)
{
  g_autofree char *script = g_build_filename (tmp_root, "script.json", NULL);
  g_autofree char *db_path = g_build_filename (tmp_root, "kestrel.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelStore) store = NULL;
  g_autoptr(KestrelEngine) engine = NULL;
  g_autoptr(KestrelChatController) controller = NULL;
  g_autoptr(KestrelToolRegistry) tools = NULL;
  g_autoptr(KestrelToolCallRequest) request = NULL;
  g_autoptr(KestrelChatMessage) calling = NULL;
  g_autoptr(KestrelChatMessage) answer = NULL;
  g_autoptr(GPtrArray) thread = NULL;
  KestrelSamplingSettings sampling;
  GListModel *messages;
  gboolean found_call = FALSE;

  /* Turn 1 calls the history search; turn 2 (after the tool result) answers in prose. */
  g_assert_true (g_file_set_contents (script,
                                      "{\"replies\": [\"[search_history(query=\\\"pelicans\\\")]\", "
                                      "\"We talked about pelicans.\"]}", -1, &error));
  g_assert_no_error (error);

  store = kestrel_store_new (db_path, &error);
  g_assert_no_error (error);
  engine = kestrel_engine_new ();
  kestrel_engine_set_replay_script (engine, script);
  kestrel_engine_load_async (engine, tiny_dir, KESTREL_BACKEND_REPLAY, 0, 0, NULL, NULL, NULL);
  g_assert_true (kestrel_test_iterate_until (engine_settled, engine, 60));
  g_assert_null (kestrel_engine_get_error (engine));
  g_assert_cmpstr (kestrel_engine_get_backend_name (engine), ==, "replay");

  tools = kestrel_app_tools_new (store, NULL, &error);
  g_assert_no_error (error);
  controller = kestrel_chat_controller_new (store, engine);
  kestrel_chat_controller_set_tools (controller, tools);
  kestrel_sampling_settings_init (&sampling);
  sampling.max_tokens = 64;
  kestrel_chat_controller_set_sampling (controller, &sampling);
  messages = kestrel_chat_controller_get_messages (controller);

  kestrel_chat_controller_send (controller, "What did we say about pelicans?", NULL);

  /* the call is recognised while streaming and waits: nothing has run */
  iterate_until_or_dump (call_waits_for_approval, messages, messages);
  request = request_at (messages, 1);
  g_assert_cmpstr (kestrel_tool_call_request_get_name (request), ==, "search_history");
  g_assert_nonnull (strstr (kestrel_tool_call_request_get_arguments (request), "pelicans"));
  g_assert_null (kestrel_tool_call_request_get_result (request));
  calling = g_list_model_get_item (messages, 1);
  /* the call list is not shown as text */
  g_assert_null (strstr (kestrel_chat_message_get_text (calling), "search_history("));

  /* approve — often before the controller has started waiting (the card shows as soon as
   * the call is parsed): the early answer must not be lost.  The tool runs, its result goes
   * to the model, the model goes on. */
  kestrel_tool_call_request_answer (request, KESTREL_TOOL_CALL_ANSWER_ALLOW_ONCE, NULL);
  iterate_until_or_dump ((gboolean (*) (gpointer)) continued_reply_complete, controller, messages);

  g_assert_cmpint (kestrel_tool_call_request_get_status (request), ==, KESTREL_TOOL_CALL_STATUS_COMPLETE);
  /* the history search found this very conversation's question */
  g_assert_nonnull (strstr (kestrel_tool_call_request_get_result (request), "pelicans"));
  answer = g_list_model_get_item (messages, g_list_model_get_n_items (messages) - 1);
  g_assert_cmpstr (kestrel_chat_message_get_text (answer), ==, "We talked about pelicans.");

  /* the store has the call with its approval and result */
  g_assert_true (kestrel_store_flush (store, &error));
  thread = kestrel_store_load_thread (store, kestrel_chat_controller_get_conversation_id (controller), &error);
  g_assert_no_error (error);
  for (guint i = 0; i < thread->len; i++)
    {
      GPtrArray *calls = kestrel_message_get_tool_calls (g_ptr_array_index (thread, i));

      for (guint j = 0; calls != NULL && j < calls->len; j++)
        {
          KestrelStoredToolCall *call = g_ptr_array_index (calls, j);

          g_assert_cmpstr (kestrel_stored_tool_call_get_name (call), ==, "search_history");
          g_assert_nonnull (strstr (kestrel_stored_tool_call_get_result (call), "pelicans"));
          found_call = TRUE;
        }
    }
  g_assert_true (found_call);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tiny_dir = kestrel_test_make_tiny_checkpoint ("kestrel-tool-e2e-XXXXXX", 9, &tmp_root);

  g_test_add_func ("/kestrel/tools/end-to-end-through-the-engine", test_tool_call_end_to_end);
  ret = g_test_run ();

  kestrel_test_remove_tree (tmp_root);
  g_free (tiny_dir);
  g_free (tmp_root);
  return ret;
}
