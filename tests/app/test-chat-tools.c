/* test-chat-tools.c — tool calling through the chat controller, end to end.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A tiny random model cannot call tools, so replies come from a scripted source: the
 * controller's generate hook returns a KestrelGeneration that a thread feeds through the
 * same kestrel-generation-private.h functions the engine worker uses (status, append per
 * token, cancellation checked between tokens, finish).  The script picks its text from the
 * prompt, which is rendered by the engine's real chat builder (ke_chat_render), so the
 * tests also see exactly what the model would read.  Everything else is real: the parser,
 * the registry and its tools, approval through KestrelToolCallRequest, the SQLite store.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "ke-engine.h"
#include "kestrel-calculator-tool.h"
#include "kestrel-chat-controller.h"
#include "kestrel-chat-controller-private.h"
#include "kestrel-chat-tools.h"
#include "kestrel-generation-private.h"
#include "kestrel-history-tool.h"
#include "kestrel-message.h"
#include "kestrel-read-file-tool.h"
#include "kestrel-store-history-source.h"

static char *tmp_root;

/* ---- the scripted model ------------------------------------------------------------ */

typedef struct
{
  GPtrArray *prompts;  /* every rendered prompt, in order */
} Script;

typedef struct
{
  KestrelGenerationFeed *feed;
  char                  *text;
} FeedJob;

static gpointer
feed_thread (gpointer data)
{
  FeedJob *job = data;
  gsize len = strlen (job->text);
  gboolean cancelled = FALSE;

  _kestrel_generation_feed_set_status (job->feed, KESTREL_GENERATION_STREAMING);
  /* "tokens" of 3 bytes, as a worker would append them, checking for cancellation */
  for (gsize i = 0; i < len; i += 3)
    {
      if (_kestrel_generation_feed_is_cancelled (job->feed))
        {
          cancelled = TRUE;
          break;
        }
      _kestrel_generation_feed_append (job->feed, job->text + i, MIN (3, len - i), 1);
      g_usleep (200);
    }
  _kestrel_generation_feed_finish (job->feed,
                                   cancelled ? KESTREL_GENERATION_CANCELLED : KESTREL_GENERATION_COMPLETE,
                                   NULL, NULL);
  _kestrel_generation_feed_unref (job->feed);
  g_free (job->text);
  g_free (job);
  return NULL;
}

static char *
render_prompt (GPtrArray *turns)
{
  g_autofree ke_chat_message *messages = g_new0 (ke_chat_message, turns->len);
  g_autofree ke_chat_part *parts = g_new0 (ke_chat_part, turns->len);
  ke_error *error = NULL;
  size_t len;
  char *text;

  for (guint i = 0; i < turns->len; i++)
    {
      KestrelChatTurn *turn = g_ptr_array_index (turns, i);

      switch (kestrel_chat_turn_get_role (turn))
        {
        case KESTREL_ROLE_SYSTEM: messages[i].role = KE_ROLE_SYSTEM; break;
        case KESTREL_ROLE_MODEL: messages[i].role = KE_ROLE_MODEL; break;
        case KESTREL_ROLE_TOOL: messages[i].role = KE_ROLE_TOOL; break;
        case KESTREL_ROLE_USER:
        default: messages[i].role = KE_ROLE_USER; break;
        }
      parts[i].kind = KE_PART_TEXT;
      parts[i].text = kestrel_chat_turn_get_text (turn);
      parts[i].text_len = strlen (parts[i].text);
      messages[i].parts = &parts[i];
      messages[i].n_parts = 1;
    }
  text = ke_chat_render (messages, turns->len, NULL, 0, &len, &error);
  if (text == NULL)
    g_error ("the engine refused the prompt: %s", error->message);
  return text;
}

/* What the "model" answers, chosen from the prompt it was given. */
static const char *
script_reply (const char *prompt)
{
  const char *last_turn = g_strrstr (prompt, "<start_of_turn>");
  g_assert_nonnull (last_turn);
  /* the prompt ends with the generation prompt; look at the turn before it */
  last_turn = g_strrstr_len (prompt, last_turn - prompt, "<start_of_turn>");

  if (g_str_has_prefix (last_turn, "<start_of_turn>user\n<tool_response>\n{\"error\": \"The user denied"))
    return "Understood, I will not search.";
  if (g_str_has_prefix (last_turn, "<start_of_turn>user\n<tool_response>\n{\"expression\": \"2^10\", \"result\": 1024}"))
    return "2^10 is 1024.";
  if (g_str_has_prefix (last_turn, "<start_of_turn>user\n<tool_response>\n") &&
      strstr (last_turn, "\"conversation\"") != NULL)
    return "You asked about 2^10 before.";
  if (g_str_has_prefix (last_turn, "<start_of_turn>user\n<tool_response>\n") &&
      strstr (last_turn, "hello pelicans") != NULL)
    return "The file greets pelicans.";
  if (g_str_has_prefix (last_turn, "<start_of_turn>user\n<tool_response>\n"))
    return "[calculator(expression=\"1+1\")]";  /* asks again: used for the round limit */
  if (strstr (last_turn, "Read my file") != NULL)
    return "[read_file(purpose=\"summarise it\")]";
  if (strstr (last_turn, "What is 2^10?") != NULL)
    return "Let me compute.\n[calculator(expression=\"2^10\")]\nThis must never be shown.";
  if (strstr (last_turn, "What did I ask?") != NULL)
    return "[search_history(query=\"2^10\")]";
  if (strstr (last_turn, "Broken call") != NULL)
    return "[calculator(expression=)]\nSorry.";
  if (strstr (last_turn, "Loop") != NULL)
    return "[calculator(expression=\"1+1\")]";
  return "I have nothing to say.";
}

static KestrelGeneration *
scripted_generate (const char *conversation_key,
                   GPtrArray  *turns,
                   gpointer    user_data)
{
  Script *script = user_data;
  KestrelGeneration *generation = _kestrel_generation_new (conversation_key, NULL);
  FeedJob *job = g_new0 (FeedJob, 1);
  char *prompt = render_prompt (turns);

  g_ptr_array_add (script->prompts, prompt);
  job->feed = _kestrel_generation_feed_ref (_kestrel_generation_get_feed (generation));
  job->text = g_strdup (script_reply (prompt));
  g_thread_unref (g_thread_new ("scripted-model", feed_thread, job));
  return generation;
}

/* ---- helpers ----------------------------------------------------------------------- */

static void
wait_until (gboolean (*done) (gpointer), gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (!done (data) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (done (data));
}

static gboolean
controller_idle (gpointer controller)
{
  return !kestrel_chat_controller_get_busy (controller) &&
         kestrel_chat_controller_get_n_pending_saves (controller) == 0;
}

static KestrelChatMessage *
nth (GListModel *model, guint i)
{
  KestrelChatMessage *message = g_list_model_get_item (model, i);
  g_object_unref (message);  /* the model keeps it */
  return message;
}

static KestrelToolCallRequest *
nth_call (KestrelChatMessage *message, guint i)
{
  KestrelToolCallRequest *request = g_list_model_get_item (kestrel_chat_message_get_tool_calls (message), i);
  g_object_unref (request);
  return request;
}

static gboolean
request_waiting (gpointer request)
{
  return kestrel_tool_call_request_get_approval (request) == KESTREL_TOOL_APPROVAL_PENDING &&
         kestrel_tool_call_request_get_store_id (request) > 0;
}

typedef struct
{
  KestrelStore          *store;
  KestrelEngine         *engine;
  KestrelToolRegistry   *tools;
  KestrelChatController *controller;
  Script                 script;
} Fixture;

/* Every call asks first, the calculator's too: this answers "Allow once" for each
 * calculator call that waits (as the user would on its card) until the reply is done. */
static void
wait_idle_approving_calculator (Fixture *f)
{
  GListModel *messages = kestrel_chat_controller_get_messages (f->controller);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (!controller_idle (f->controller) && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, TRUE);
      for (guint i = 0; i < g_list_model_get_n_items (messages); i++)
        {
          GListModel *calls = kestrel_chat_message_get_tool_calls (nth (messages, i));

          for (guint j = 0; calls != NULL && j < g_list_model_get_n_items (calls); j++)
            {
              KestrelToolCallRequest *request = nth_call (nth (messages, i), j);

              if (request_waiting (request) &&
                  g_strcmp0 (kestrel_tool_call_request_get_name (request), "calculator") == 0)
                kestrel_tool_call_request_answer (request, KESTREL_TOOL_CALL_ANSWER_ALLOW_ONCE, NULL);
            }
        }
    }
  g_assert_true (controller_idle (f->controller));
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autofree char *name = g_strdup_printf ("tools-%u.db", g_random_int ());
  g_autofree char *path = g_build_filename (tmp_root, name, NULL);
  g_autoptr(KestrelHistorySource) source = NULL;
  g_autoptr(KestrelTool) calculator = kestrel_calculator_tool_new ();
  g_autoptr(KestrelTool) history = NULL;
  g_autoptr(KestrelTool) read_file = kestrel_read_file_tool_new (KESTREL_READ_FILE_TOOL_DEFAULT_MAX_BYTES);
  g_autoptr(GError) error = NULL;

  f->store = kestrel_store_new (path, &error);
  g_assert_no_error (error);
  f->engine = kestrel_engine_new ();  /* never loaded: the script answers */
  f->tools = kestrel_tool_registry_new ();
  source = kestrel_store_history_source_new (f->store);
  history = kestrel_history_tool_new (source);
  g_assert_true (kestrel_tool_registry_add (f->tools, calculator, &error));
  g_assert_true (kestrel_tool_registry_add (f->tools, history, &error));
  g_assert_true (kestrel_tool_registry_add (f->tools, read_file, &error));
  f->controller = kestrel_chat_controller_new (f->store, f->engine);
  kestrel_chat_controller_set_tools (f->controller, f->tools);
  f->script.prompts = g_ptr_array_new_with_free_func (g_free);
  _kestrel_chat_controller_set_generate_func (f->controller, scripted_generate, &f->script);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (kestrel_store_flush (f->store, &error));
  g_clear_object (&f->controller);
  /* let late store callbacks drop their references */
  for (int i = 0; i < 50; i++)
    {
      while (g_main_context_iteration (NULL, FALSE));
      g_usleep (1000);
    }
  g_clear_object (&f->tools);
  g_clear_object (&f->engine);
  g_clear_object (&f->store);
  g_ptr_array_unref (f->script.prompts);
}

/* ---- the prompt is byte-exact with the jinja2 goldens ------------------------------- */

static void
test_prompt_goldens (void)
{
  g_autofree char *cases_path = g_build_filename (g_getenv ("KESTREL_SOURCE_DIR"), "tests", "app", "tools",
                                                  "prompt-cases.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonArray *cases;

  g_assert_true (json_parser_load_from_file (parser, cases_path, &error));
  cases = json_node_get_array (json_parser_get_root (parser));
  for (guint c = 0; c < json_array_get_length (cases); c++)
    {
      JsonObject *kase = json_array_get_object_element (cases, c);
      JsonArray *tools = json_object_get_array_member (kase, "tools");
      JsonArray *messages = json_object_get_array_member (kase, "messages");
      g_autoptr(GPtrArray) turns = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_chat_turn_unref);
      g_autofree char *golden_name = g_strconcat (json_object_get_string_member (kase, "name"), ".txt", NULL);
      g_autofree char *golden_path = g_build_filename (g_getenv ("KESTREL_SOURCE_DIR"), "tests", "app", "tools",
                                                       "prompt-goldens", golden_name, NULL);
      g_autofree char *golden = NULL;
      g_autofree char *rendered = NULL;
      gboolean first_user = TRUE;

      for (guint i = 0; i < json_array_get_length (messages); i++)
        {
          JsonObject *m = json_array_get_object_element (messages, i);
          const char *role = json_object_get_string_member (m, "role");
          const char *content = json_object_get_string_member (m, "content");
          g_autofree char *text = NULL;
          KestrelRole kr;

          if (g_str_equal (role, "system"))
            kr = KESTREL_ROLE_SYSTEM;
          else if (g_str_equal (role, "tool"))
            kr = KESTREL_ROLE_TOOL;
          else if (g_str_equal (role, "assistant"))
            kr = KESTREL_ROLE_MODEL;
          else
            kr = KESTREL_ROLE_USER;

          if (kr == KESTREL_ROLE_USER && first_user)
            {
              text = kestrel_chat_tools_first_user_text (tools, content);
              first_user = FALSE;
            }
          else if (kr == KESTREL_ROLE_MODEL && json_object_has_member (m, "tool_calls"))
            {
              JsonArray *calls = json_object_get_array_member (m, "tool_calls");
              g_autoptr(GListStore) requests = g_list_store_new (KESTREL_TYPE_TOOL_CALL_REQUEST);

              for (guint j = 0; j < json_array_get_length (calls); j++)
                {
                  JsonObject *fn = json_object_get_object_member (json_array_get_object_element (calls, j), "function");
                  g_autofree char *args = json_to_string (json_object_get_member (fn, "arguments"), FALSE);
                  g_autoptr(KestrelToolCallRequest) request =
                    kestrel_tool_call_request_new (json_object_get_string_member (fn, "name"), args, FALSE);

                  g_list_store_append (requests, request);
                }
              /* the goldens keep the reference template's quirk (no ", " between arguments) */
              text = kestrel_chat_tools_model_text (G_LIST_MODEL (requests), content, TRUE);
            }
          g_ptr_array_add (turns, kestrel_chat_turn_new (kr, text != NULL ? text : content));
        }

      rendered = render_prompt (turns);
      g_assert_true (g_file_get_contents (golden_path, &golden, NULL, &error));
      g_test_message ("golden %s", golden_name);
      g_assert_cmpstr (rendered, ==, golden);
    }
}

/* ---- a call that needs no approval: text → call → result → continued reply --------- */

static void
test_call_and_continue (Fixture *f, gconstpointer data)
{
  GListModel *messages = kestrel_chat_controller_get_messages (f->controller);
  g_autoptr(KestrelChatController) reopened = NULL;
  KestrelChatMessage *call_message, *answer;
  KestrelToolCallRequest *request;
  const char *prompt;
  gint64 id;

  kestrel_chat_controller_send (f->controller, "What is 2^10?", NULL);
  wait_idle_approving_calculator (f);

  for (guint i = 0; i < f->script.prompts->len; i++)
    g_test_message ("prompt %u:\n%s", i, (char *) g_ptr_array_index (f->script.prompts, i));
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 3);
  call_message = nth (messages, 1);
  answer = nth (messages, 2);
  /* only the text before the call is shown; what followed the call list was dropped */
  g_assert_cmpstr (kestrel_chat_message_get_text (call_message), ==, "Let me compute.\n");
  g_assert_cmpint (kestrel_chat_message_get_status (call_message), ==, KESTREL_CHAT_MESSAGE_COMPLETE);
  g_assert_null (kestrel_chat_message_get_tool_status (call_message));
  g_assert_cmpuint (g_list_model_get_n_items (kestrel_chat_message_get_tool_calls (call_message)), ==, 1);
  request = nth_call (call_message, 0);
  g_assert_cmpstr (kestrel_tool_call_request_get_name (request), ==, "calculator");
  g_assert_cmpstr (kestrel_tool_call_request_get_arguments (request), ==, "{\"expression\":\"2^10\"}");
  g_assert_cmpint (kestrel_tool_call_request_get_approval (request), ==, KESTREL_TOOL_APPROVAL_APPROVED);
  g_assert_cmpint (kestrel_tool_call_request_get_status (request), ==, KESTREL_TOOL_CALL_STATUS_COMPLETE);
  g_assert_cmpstr (kestrel_tool_call_request_get_result (request), ==, "{\"expression\": \"2^10\", \"result\": 1024}");
  g_assert_cmpstr (kestrel_chat_message_get_text (answer), ==, "2^10 is 1024.");

  /* what the model read: declarations in the first user turn; then its call turn and the
   * result, then the generation prompt */
  g_assert_cmpuint (f->script.prompts->len, ==, 2);
  prompt = g_ptr_array_index (f->script.prompts, 0);
  g_assert_true (g_str_has_prefix (prompt, "<bos><start_of_turn>user\nTools (functions) are available."));
  g_assert_nonnull (strstr (prompt, "\"name\": \"calculator\""));
  g_assert_true (g_str_has_suffix (prompt, "\n\nWhat is 2^10?<end_of_turn>\n<start_of_turn>model\n"));
  prompt = g_ptr_array_index (f->script.prompts, 1);
  g_assert_true (g_str_has_suffix (prompt,
                                   "What is 2^10?<end_of_turn>\n"
                                   "<start_of_turn>model\n[calculator(expression=\"2^10\")]Let me compute.<end_of_turn>\n"
                                   "<start_of_turn>user\n<tool_response>\n{\"expression\": \"2^10\", \"result\": 1024}</tool_response><end_of_turn>\n"
                                   "<start_of_turn>model\n"));
  /* the first prompt is a prefix of the second up to the model's turn: the engine's session
   * cache for the conversation covers it (KV reuse) */
  g_assert_true (g_str_has_prefix (prompt, ((char *) g_ptr_array_index (f->script.prompts, 0))));

  /* stored, and shown again when the conversation is reopened */
  id = kestrel_chat_controller_get_conversation_id (f->controller);
  reopened = kestrel_chat_controller_new (f->store, f->engine);
  kestrel_chat_controller_open (reopened, id);
  {
    GListModel *again = kestrel_chat_controller_get_messages (reopened);
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    while (g_list_model_get_n_items (again) < 3 && g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, TRUE);
    g_assert_cmpuint (g_list_model_get_n_items (again), ==, 3);
    request = nth_call (nth (again, 1), 0);
    g_assert_cmpstr (kestrel_tool_call_request_get_name (request), ==, "calculator");
    g_assert_cmpint (kestrel_tool_call_request_get_status (request), ==, KESTREL_TOOL_CALL_STATUS_COMPLETE);
    g_assert_cmpint (kestrel_tool_call_request_get_approval (request), ==, KESTREL_TOOL_APPROVAL_APPROVED);
    g_assert_cmpstr (kestrel_tool_call_request_get_result (request), ==, "{\"expression\": \"2^10\", \"result\": 1024}");
    g_assert_cmpstr (kestrel_chat_message_get_text (nth (again, 2)), ==, "2^10 is 1024.");
  }
}

/* ---- approval: deny, then allow always ----------------------------------------------- */

static void
test_approval (Fixture *f, gconstpointer data)
{
  GListModel *messages = kestrel_chat_controller_get_messages (f->controller);
  KestrelToolCallRequest *request;
  const char *prompt;

  /* something for the history search to find */
  kestrel_chat_controller_send (f->controller, "What is 2^10?", NULL);
  wait_idle_approving_calculator (f);

  /* search_history needs approval: the round waits for the answer */
  kestrel_chat_controller_send (f->controller, "What did I ask?", NULL);
  while (g_list_model_get_n_items (messages) < 5 ||
         g_list_model_get_n_items (kestrel_chat_message_get_tool_calls (nth (messages, 4))) < 1)
    g_main_context_iteration (NULL, TRUE);
  request = nth_call (nth (messages, 4), 0);
  wait_until (request_waiting, request);
  g_assert_true (kestrel_chat_controller_get_busy (f->controller));
  g_assert_cmpint (kestrel_tool_call_request_get_status (request), ==, KESTREL_TOOL_CALL_STATUS_PENDING);
  kestrel_tool_call_request_answer (request, KESTREL_TOOL_CALL_ANSWER_DENY, NULL);
  wait_until (controller_idle, f->controller);
  g_assert_cmpint (kestrel_tool_call_request_get_approval (request), ==, KESTREL_TOOL_APPROVAL_DENIED);
  g_assert_cmpint (kestrel_tool_call_request_get_status (request), ==, KESTREL_TOOL_CALL_STATUS_ERROR);
  g_assert_cmpstr (kestrel_tool_call_request_get_error_message (request), ==, "The user denied this call");
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 6);
  g_assert_cmpstr (kestrel_chat_message_get_text (nth (messages, 5)), ==, "Understood, I will not search.");
  prompt = g_ptr_array_index (f->script.prompts, f->script.prompts->len - 1);
  g_assert_nonnull (strstr (prompt, "<tool_response>\n{\"error\": \"The user denied this call\"}</tool_response>"));

  /* allowed always: it runs (the store's full-text search), and the next call does not ask */
  kestrel_chat_controller_send (f->controller, "What did I ask?", NULL);
  while (g_list_model_get_n_items (messages) < 8 ||
         g_list_model_get_n_items (kestrel_chat_message_get_tool_calls (nth (messages, 7))) < 1)
    g_main_context_iteration (NULL, TRUE);
  request = nth_call (nth (messages, 7), 0);
  wait_until (request_waiting, request);
  kestrel_tool_call_request_answer (request, KESTREL_TOOL_CALL_ANSWER_ALLOW_ALWAYS, NULL);
  wait_until (controller_idle, f->controller);
  g_assert_cmpint (kestrel_tool_call_request_get_approval (request), ==, KESTREL_TOOL_APPROVAL_APPROVED);
  g_assert_cmpint (kestrel_tool_call_request_get_status (request), ==, KESTREL_TOOL_CALL_STATUS_COMPLETE);
  g_assert_nonnull (strstr (kestrel_tool_call_request_get_result (request), "2^10"));
  g_assert_cmpstr (kestrel_chat_message_get_text (nth (messages, 8)), ==, "You asked about 2^10 before.");

  kestrel_chat_controller_send (f->controller, "What did I ask?", NULL);
  wait_until (controller_idle, f->controller);
  request = nth_call (nth (messages, 10), 0);
  g_assert_cmpint (kestrel_tool_call_request_get_approval (request), ==, KESTREL_TOOL_APPROVAL_APPROVED);
  g_assert_cmpint (kestrel_tool_call_request_get_status (request), ==, KESTREL_TOOL_CALL_STATUS_COMPLETE);
}

/* ---- stopping while a call waits for approval ---------------------------------------- */

static void
test_cancel_while_waiting (Fixture *f, gconstpointer data)
{
  GListModel *messages = kestrel_chat_controller_get_messages (f->controller);
  KestrelToolCallRequest *request;

  kestrel_chat_controller_send (f->controller, "What did I ask?", NULL);
  while (g_list_model_get_n_items (messages) < 2 ||
         g_list_model_get_n_items (kestrel_chat_message_get_tool_calls (nth (messages, 1))) < 1)
    g_main_context_iteration (NULL, TRUE);
  request = nth_call (nth (messages, 1), 0);
  wait_until (request_waiting, request);
  kestrel_chat_controller_cancel (f->controller);
  wait_until (controller_idle, f->controller);
  g_assert_cmpint (kestrel_tool_call_request_get_status (request), ==, KESTREL_TOOL_CALL_STATUS_ERROR);
  g_assert_cmpint (kestrel_tool_call_request_get_approval (request), ==, KESTREL_TOOL_APPROVAL_DENIED);
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 2);  /* no continuation */
  g_assert_cmpuint (f->script.prompts->len, ==, 1);
}

/* ---- malformed calls stay text; the round limit ends a loop -------------------------- */

static void
test_malformed_and_round_limit (Fixture *f, gconstpointer data)
{
  GListModel *messages = kestrel_chat_controller_get_messages (f->controller);
  KestrelToolCallRequest *request;

  kestrel_chat_controller_send (f->controller, "Broken call", NULL);
  wait_until (controller_idle, f->controller);
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 2);
  g_assert_cmpstr (kestrel_chat_message_get_text (nth (messages, 1)), ==, "[calculator(expression=)]\nSorry.");
  g_assert_cmpuint (g_list_model_get_n_items (kestrel_chat_message_get_tool_calls (nth (messages, 1))), ==, 0);

  /* the model calls again after every result: with 2 rounds allowed, the third is refused */
  kestrel_tool_registry_set_max_rounds (f->tools, 2);
  kestrel_chat_controller_send (f->controller, "Loop", NULL);
  wait_idle_approving_calculator (f);
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 6);
  for (guint i = 3; i < 5; i++)
    g_assert_cmpint (kestrel_tool_call_request_get_status (nth_call (nth (messages, i), 0)), ==,
                     KESTREL_TOOL_CALL_STATUS_COMPLETE);
  request = nth_call (nth (messages, 5), 0);
  g_assert_cmpint (kestrel_tool_call_request_get_status (request), ==, KESTREL_TOOL_CALL_STATUS_ERROR);
  g_assert_nonnull (strstr (kestrel_tool_call_request_get_error_message (request), "rounds of tool calls"));
}

/* ---- read_file: the user picks the file at approval; "always" still asks each time --- */

static void
test_read_file (Fixture *f, gconstpointer data)
{
  GListModel *messages = kestrel_chat_controller_get_messages (f->controller);
  g_autofree char *path = g_build_filename (tmp_root, "notes.txt", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  KestrelToolCallRequest *request;

  g_assert_true (g_file_set_contents (path, "hello pelicans\n", -1, NULL));
  for (guint round = 0; round < 2; round++)
    {
      guint base = round * 3;

      kestrel_chat_controller_send (f->controller, "Read my file", NULL);
      while (g_list_model_get_n_items (messages) < base + 2 ||
             g_list_model_get_n_items (kestrel_chat_message_get_tool_calls (nth (messages, base + 1))) < 1)
        g_main_context_iteration (NULL, TRUE);
      request = nth_call (nth (messages, base + 1), 0);
      g_assert_true (kestrel_tool_call_request_get_needs_file (request));
      /* the second time too, although the first answer was "always" */
      wait_until (request_waiting, request);
      kestrel_tool_call_request_answer (request, KESTREL_TOOL_CALL_ANSWER_ALLOW_ALWAYS, file);
      wait_until (controller_idle, f->controller);
      g_assert_cmpint (kestrel_tool_call_request_get_status (request), ==, KESTREL_TOOL_CALL_STATUS_COMPLETE);
      g_assert_nonnull (strstr (kestrel_tool_call_request_get_result (request), "hello pelicans"));
      g_assert_cmpstr (kestrel_chat_message_get_text (nth (messages, base + 2)), ==, "The file greets pelicans.");
    }
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmp_root = g_dir_make_tmp ("kestrel-chat-tools-XXXXXX", NULL);

  g_test_add_func ("/kestrel/chat-tools/prompt-goldens", test_prompt_goldens);
  g_test_add ("/kestrel/chat-tools/call-and-continue", Fixture, NULL,
              fixture_set_up, test_call_and_continue, fixture_tear_down);
  g_test_add ("/kestrel/chat-tools/approval", Fixture, NULL,
              fixture_set_up, test_approval, fixture_tear_down);
  g_test_add ("/kestrel/chat-tools/cancel-while-waiting", Fixture, NULL,
              fixture_set_up, test_cancel_while_waiting, fixture_tear_down);
  g_test_add ("/kestrel/chat-tools/malformed-and-round-limit", Fixture, NULL,
              fixture_set_up, test_malformed_and_round_limit, fixture_tear_down);
  g_test_add ("/kestrel/chat-tools/read-file", Fixture, NULL,
              fixture_set_up, test_read_file, fixture_tear_down);
  ret = g_test_run ();

  remove_tree (tmp_root);
  g_free (tmp_root);
  return ret;
}
