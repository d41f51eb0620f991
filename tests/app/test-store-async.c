/* test-store-async.c — the database thread: async calls with a GMainLoop, streaming writes
 * coalesced to about one per flush-interval, and the sidebar list model.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "kestrel-conversation-list.h"
#include "store-test-util.h"

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static void
store_result_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
drain_main_context (void)
{
  /* Lets released tasks and change notifications run. */
  for (guint i = 0; i < 100; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (1000);
    }
}

typedef struct
{
  GThread *thread;
  guint n_changed;
  gboolean wrong_thread;
} ChangedLog;

static void
changed_cb (KestrelStore *store,
            gint64        conversation_id,
            ChangedLog   *log)
{
  log->n_changed++;
  if (g_thread_self () != log->thread)
    log->wrong_thread = TRUE;
}

static void
test_async_calls (StoreFixture  *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelConversation) c = NULL;
  g_autoptr(KestrelMessage) q = NULL;
  g_autoptr(KestrelMessage) a = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GPtrArray) thread = NULL;
  g_autoptr(GPtrArray) hits = NULL;
  g_autofree char *markdown = NULL;
  GAsyncResult *result = NULL;
  KestrelStore *store;
  ChangedLog log = { g_thread_self (), 0, FALSE };

  store = kestrel_store_new (f->path, &error);
  g_assert_no_error (error);
  g_signal_connect (store, "conversation-changed", G_CALLBACK (changed_cb), &log);

  c = kestrel_store_create_conversation (store, NULL, NULL, &error);

  kestrel_store_append_message_async (store, kestrel_conversation_get_id (c), 0, KESTREL_MESSAGE_ROLE_USER,
                                      KESTREL_MESSAGE_STATUS_COMPLETE, "Async hello", NULL, NULL, store_result_cb, &result);
  q = kestrel_store_append_message_finish (store, wait_result (&result), &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpstr (kestrel_message_get_content (q), ==, "Async hello");

  kestrel_store_append_message_async (store, kestrel_conversation_get_id (c), kestrel_message_get_id (q),
                                      KESTREL_MESSAGE_ROLE_MODEL, KESTREL_MESSAGE_STATUS_STREAMING, "", NULL, NULL,
                                      store_result_cb, &result);
  a = kestrel_store_append_message_finish (store, wait_result (&result), &error);
  g_assert_no_error (error);
  g_clear_object (&result);

  kestrel_store_update_message_text (store, kestrel_message_get_id (a), "Async answer, partial");
  kestrel_store_finish_message_async (store, kestrel_message_get_id (a), "Async answer, done",
                                      KESTREL_MESSAGE_STATUS_COMPLETE, "{\"tokens\":4}", NULL, store_result_cb, &result);
  g_assert_true (kestrel_store_finish_message_finish (store, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  kestrel_store_list_conversations_async (store, FALSE, NULL, 50, NULL, store_result_cb, &result);
  list = kestrel_store_list_conversations_finish (store, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_clear_object (&result);

  kestrel_store_load_thread_async (store, kestrel_conversation_get_id (c), NULL, store_result_cb, &result);
  thread = kestrel_store_load_thread_finish (store, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thread->len, ==, 2);
  g_assert_cmpstr (kestrel_message_get_content (g_ptr_array_index (thread, 1)), ==, "Async answer, done");
  g_clear_object (&result);

  kestrel_store_search_async (store, "answer", 10, NULL, store_result_cb, &result);
  hits = kestrel_store_search_finish (store, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_clear_object (&result);

  kestrel_store_export_async (store, kestrel_conversation_get_id (c), KESTREL_EXPORT_FORMAT_MARKDOWN, NULL,
                              store_result_cb, &result);
  markdown = kestrel_store_export_finish (store, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (markdown, "Async answer, done"));
  g_clear_object (&result);

  /* A model-generated title arrives later; it does not replace one the user typed. */
  kestrel_store_set_title_async (store, kestrel_conversation_get_id (c), "Greetings", KESTREL_TITLE_SOURCE_MODEL,
                                 NULL, store_result_cb, &result);
  g_assert_true (kestrel_store_set_title_finish (store, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  {
    g_autoptr(KestrelConversation) titled = kestrel_store_get_conversation (store, kestrel_conversation_get_id (c), &error);

    g_assert_cmpstr (kestrel_conversation_get_title (titled), ==, "Greetings");
    g_assert_cmpint (kestrel_conversation_get_title_source (titled), ==, KESTREL_TITLE_SOURCE_MODEL);
  }
  g_assert_true (kestrel_store_set_title (store, kestrel_conversation_get_id (c), "Mine", KESTREL_TITLE_SOURCE_USER, &error));
  kestrel_store_set_title_async (store, kestrel_conversation_get_id (c), "Late model title", KESTREL_TITLE_SOURCE_MODEL,
                                 NULL, store_result_cb, &result);
  g_assert_true (kestrel_store_set_title_finish (store, wait_result (&result), &error));
  g_clear_object (&result);
  {
    g_autoptr(KestrelConversation) titled = kestrel_store_get_conversation (store, kestrel_conversation_get_id (c), &error);

    g_assert_cmpstr (kestrel_conversation_get_title (titled), ==, "Mine");
  }

  /* Errors come back through the callback too. */
  kestrel_store_get_conversation_async (store, 4242, NULL, store_result_cb, &result);
  g_assert_null (kestrel_store_get_conversation_finish (store, wait_result (&result), &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&result);

  /* A cancelled call reports G_IO_ERROR_CANCELLED. */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();

    g_cancellable_cancel (cancellable);
    kestrel_store_load_thread_async (store, kestrel_conversation_get_id (c), cancellable, store_result_cb, &result);
    g_assert_null (kestrel_store_load_thread_finish (store, wait_result (&result), &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
    g_clear_object (&result);
  }

  /* conversation-changed arrived, always on this thread, for changes made on the database
   * thread too (create, two appends, finish). */
  drain_main_context ();
  g_assert_cmpuint (log.n_changed, >=, 4);
  g_assert_false (log.wrong_thread);
  g_signal_handlers_disconnect_by_data (store, &log);
  g_assert_finalize_object (store);
}

/* Streaming at a token every ~2 ms for 1.6 s with a 250 ms interval: about 7 writes, not 800;
 * what is on disk is never more than an interval (plus scheduling slack) behind; and the final
 * write is complete. Also measures what one update_message_text () call costs. */
static void
test_streaming_coalesced (StoreFixture  *f,
                          gconstpointer  data)
{
  const guint interval_ms = 250;
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelConversation) c = NULL;
  g_autoptr(KestrelMessage) q = NULL;
  g_autoptr(KestrelMessage) a = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GArray) emitted_at = g_array_new (FALSE, FALSE, sizeof (gint64)); /* per token: time */
  g_autoptr(GArray) length_at = g_array_new (FALSE, FALSE, sizeof (gsize));   /* per token: text length */
  KestrelStore *store;
  sqlite3 *reader;
  sqlite3_stmt *stmt;
  gint64 start, max_lag = 0;
  guint n_flushes, n_tokens = 0;

  store = kestrel_store_new (f->path, &error);
  g_assert_no_error (error);
  kestrel_store_set_flush_interval (store, interval_ms);
  c = kestrel_store_create_conversation (store, NULL, NULL, &error);
  q = kestrel_store_append_message (store, kestrel_conversation_get_id (c), 0, KESTREL_MESSAGE_ROLE_USER,
                                    KESTREL_MESSAGE_STATUS_COMPLETE, "Stream", NULL, &error);
  a = kestrel_store_append_message (store, kestrel_conversation_get_id (c), kestrel_message_get_id (q),
                                    KESTREL_MESSAGE_ROLE_MODEL, KESTREL_MESSAGE_STATUS_STREAMING, "", NULL, &error);
  g_assert_no_error (error);

  /* A second connection sees only what was committed. */
  reader = raw_open (f->path);
  g_assert_cmpint (sqlite3_prepare_v2 (reader, "SELECT length (CAST (content AS BLOB)) FROM messages WHERE id = ?", -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, kestrel_message_get_id (a));

  start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < 1600 * 1000)
    {
      gint64 now = g_get_monotonic_time ();
      gsize persisted;

      g_string_append_printf (text, "token%u ", n_tokens++);
      kestrel_store_update_message_text (store, kestrel_message_get_id (a), text->str);
      g_array_append_val (emitted_at, now);
      g_array_append_val (length_at, text->len);

      if (n_tokens % 25 == 0)
        {
          g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
          persisted = sqlite3_column_int64 (stmt, 0);
          sqlite3_reset (stmt);
          /* The oldest token not yet on disk: how long ago was it handed in? */
          for (guint i = 0; i < length_at->len; i++)
            if (g_array_index (length_at, gsize, i) > persisted)
              {
                max_lag = MAX (max_lag, now - g_array_index (emitted_at, gint64, i));
                break;
              }
        }
      g_usleep (2000);
    }
  n_flushes = _kestrel_store_get_n_flushes (store);
  g_test_message ("%u tokens in 1.6 s -> %u coalesced writes; max lag of disk behind the stream %.0f ms",
                  n_tokens, n_flushes, max_lag / 1000.0);
  g_assert_cmpuint (n_tokens, >, 100);
  g_assert_cmpuint (n_flushes, >=, 3);
  g_assert_cmpuint (n_flushes, <=, 1600 / interval_ms + 2);
  g_assert_cmpint (max_lag, <, (interval_ms + 1000) * 1000);

  g_assert_true (kestrel_store_finish_message (store, kestrel_message_get_id (a), NULL,
                                               KESTREL_MESSAGE_STATUS_COMPLETE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int64 (stmt, 0), ==, text->len);
  sqlite3_reset (stmt);

  /* The per-token cost: a copy under a mutex, no I/O. */
  {
    g_autoptr(KestrelMessage) b = kestrel_store_append_message (store, kestrel_conversation_get_id (c), kestrel_message_get_id (q),
                                                                KESTREL_MESSAGE_ROLE_MODEL, KESTREL_MESSAGE_STATUS_STREAMING,
                                                                "", NULL, &error);
    g_autofree char *reply = g_strnfill (4000, 'x');
    const guint n = 100000;
    gint64 t0 = g_get_monotonic_time ();

    for (guint i = 0; i < n; i++)
      kestrel_store_update_message_text (store, kestrel_message_get_id (b), reply);
    g_test_message ("update_message_text with a 4000-byte reply: %.0f ns per call",
                    (g_get_monotonic_time () - t0) * 1000.0 / n);
    g_assert_true (kestrel_store_finish_message (store, kestrel_message_get_id (b), NULL,
                                                 KESTREL_MESSAGE_STATUS_CANCELLED, NULL, &error));
  }

  sqlite3_finalize (stmt);
  sqlite3_close (reader);
  g_assert_finalize_object (store);
}

static void
wait_loaded (KestrelConversationList *list)
{
  while (kestrel_conversation_list_get_loading (list))
    g_main_context_iteration (NULL, TRUE);
}

static gint64
item_id (GListModel *model,
         guint       position)
{
  g_autoptr(KestrelConversation) c = g_list_model_get_item (model, position);

  return c ? kestrel_conversation_get_id (c) : -1;
}

static void
assert_sorted (GListModel *model)
{
  for (guint i = 1; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(KestrelConversation) a = g_list_model_get_item (model, i - 1);
      g_autoptr(KestrelConversation) b = g_list_model_get_item (model, i);

      g_assert_cmpint (kestrel_conversation_compare_sidebar (a, b), <, 0);
    }
}

/* Runs the main loop until @position holds @id (or @id is gone when -1). */
static void
wait_for (GListModel *model,
          guint       position,
          gint64      id)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (item_id (model, position) != id)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (500);
    }
}

static void
test_conversation_list (StoreFixture  *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  KestrelConversationList *list, *archive;
  GListModel *model;
  KestrelStore *store;
  gint64 new_id;

  store = kestrel_store_new (f->path, &error);
  g_assert_no_error (error);

  /* More than two pages. */
  for (guint i = 0; i < 450; i++)
    {
      g_autoptr(KestrelConversation) c = kestrel_store_create_conversation (store, NULL, NULL, &error);
      gint64 id = kestrel_conversation_get_id (c);

      g_assert_no_error (error);
      g_array_append_val (ids, id);
    }

  list = kestrel_conversation_list_new (store, FALSE);
  archive = kestrel_conversation_list_new (store, TRUE);
  model = G_LIST_MODEL (list);
  g_assert_true (g_list_model_get_item_type (model) == KESTREL_TYPE_CONVERSATION);
  wait_loaded (list);
  wait_loaded (archive);

  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 450);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (archive)), ==, 0);
  assert_sorted (model);
  /* Newest first. */
  g_assert_cmpint (item_id (model, 0), ==, g_array_index (ids, gint64, 449));
  g_assert_cmpint (item_id (model, 449), ==, g_array_index (ids, gint64, 0));
  g_assert_null (g_list_model_get_item (model, 450));

  /* Pinning the oldest moves the same object to the top, and it notifies. */
  {
    g_autoptr(KestrelConversation) oldest = g_list_model_get_item (model, 449);

    g_assert_true (kestrel_store_set_pinned (store, g_array_index (ids, gint64, 0), TRUE, &error));
    wait_for (model, 0, g_array_index (ids, gint64, 0));
    g_assert_true (kestrel_conversation_get_pinned (oldest));
    g_assert_true (g_list_model_get_item (model, 0) == (gpointer) oldest);
    g_object_unref (oldest);
  }

  /* A new conversation comes right under the pinned one. */
  {
    g_autoptr(KestrelConversation) c = kestrel_store_create_conversation (store, NULL, NULL, &error);

    new_id = kestrel_conversation_get_id (c);
    wait_for (model, 1, new_id);
    g_assert_cmpuint (g_list_model_get_n_items (model), ==, 451);
  }

  /* A title change updates in place. */
  g_assert_true (kestrel_store_set_title (store, new_id, "Renamed", KESTREL_TITLE_SOURCE_USER, &error));
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    g_autoptr(KestrelConversation) c = g_list_model_get_item (model, 1);

    while (!g_str_equal (kestrel_conversation_get_title (c), "Renamed"))
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_main_context_iteration (NULL, FALSE);
        g_usleep (500);
      }
  }

  /* Deleting and archiving remove it; the archive list gains the archived one. */
  g_assert_true (kestrel_store_delete_conversation (store, new_id, &error));
  g_assert_true (kestrel_store_set_archived (store, g_array_index (ids, gint64, 449), TRUE, &error));
  g_assert_no_error (error);
  wait_for (model, 1, g_array_index (ids, gint64, 448));
  wait_for (G_LIST_MODEL (archive), 0, g_array_index (ids, gint64, 449));
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 449);
  assert_sorted (model);

  /* A new message moves its conversation up. */
  {
    g_autoptr(KestrelMessage) m = kestrel_store_append_message (store, g_array_index (ids, gint64, 10), 0,
                                                                KESTREL_MESSAGE_ROLE_USER, KESTREL_MESSAGE_STATUS_COMPLETE,
                                                                "Bring me up", NULL, &error);
    g_assert_no_error (error);
    wait_for (model, 1, g_array_index (ids, gint64, 10));
  }
  assert_sorted (model);

  drain_main_context ();
  g_assert_finalize_object (list);
  g_assert_finalize_object (archive);
  drain_main_context ();
  g_assert_finalize_object (store);
}

int
main (int   argc,
      char *argv[])
{
  store_test_init (&argc, &argv);
  g_test_add ("/store/async/calls", StoreFixture, NULL, fixture_setup, test_async_calls, fixture_teardown);
  g_test_add ("/store/async/streaming-coalesced", StoreFixture, NULL, fixture_setup, test_streaming_coalesced, fixture_teardown);
  g_test_add ("/store/async/conversation-list", StoreFixture, NULL, fixture_setup, test_conversation_list, fixture_teardown);
  return store_test_run ();
}
