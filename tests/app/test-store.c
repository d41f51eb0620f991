/* test-store.c — conversations, the message tree, tool calls, attachments, search (export and
 * the JSON/Markdown export (test-store-export.c), on real files in a temporary directory.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "store-test-util.h"

static KestrelStore *
open_store (StoreFixture *f)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store = kestrel_store_new (f->path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  g_assert_null (kestrel_store_get_recovery_message (store));
  return store;
}

static KestrelMessage *
append (KestrelStore       *store,
        gint64              conversation_id,
        gint64              parent_id,
        KestrelMessageRole  role,
        const char         *content)
{
  g_autoptr(GError) error = NULL;
  KestrelMessage *message = kestrel_store_append_message (store, conversation_id, parent_id, role,
                                                          KESTREL_MESSAGE_STATUS_COMPLETE, content, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (message);
  return message;
}

static void
test_default_path (StoreFixture  *f,
                   gconstpointer  data)
{
  g_autofree char *path = kestrel_store_dup_default_path ();

  g_autofree char *expected = g_build_filename (g_getenv ("XDG_DATA_HOME"), "kestrel", "kestrel.db", NULL);

  g_assert_cmpstr (path, ==, expected);
}

static void
test_conversation_crud (StoreFixture  *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store = open_store (f);
  g_autoptr(KestrelConversation) c1 = NULL;
  g_autoptr(KestrelConversation) c2 = NULL;
  g_autoptr(KestrelConversation) again = NULL;
  g_autoptr(GPtrArray) page = NULL;
  sqlite3 *db;

  g_assert_true (g_file_test (f->path, G_FILE_TEST_EXISTS));

  c1 = kestrel_store_create_conversation (store, "Be brief.", "{\"temperature\": 0.7}", &error);
  g_assert_no_error (error);
  g_usleep (2000);
  c2 = kestrel_store_create_conversation (store, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kestrel_conversation_get_id (c1), >, 0);
  g_assert_cmpstr (kestrel_conversation_get_system_prompt (c1), ==, "Be brief.");
  g_assert_cmpstr (kestrel_conversation_get_settings (c2), ==, "{}");

  /* Sidebar order: most recently updated first, pinned above all. */
  page = kestrel_store_list_conversations (store, FALSE, NULL, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 2);
  g_assert_cmpint (kestrel_conversation_get_id (g_ptr_array_index (page, 0)), ==, kestrel_conversation_get_id (c2));
  g_clear_pointer (&page, g_ptr_array_unref);

  g_assert_true (kestrel_store_set_pinned (store, kestrel_conversation_get_id (c1), TRUE, &error));
  g_assert_no_error (error);
  page = kestrel_store_list_conversations (store, FALSE, NULL, 10, &error);
  g_assert_cmpint (kestrel_conversation_get_id (g_ptr_array_index (page, 0)), ==, kestrel_conversation_get_id (c1));
  g_assert_true (kestrel_conversation_get_pinned (g_ptr_array_index (page, 0)));
  /* Keyset paging: the page after the first item holds the second. */
  {
    g_autoptr(GPtrArray) next = kestrel_store_list_conversations (store, FALSE, g_ptr_array_index (page, 0), 10, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (next->len, ==, 1);
    g_assert_cmpint (kestrel_conversation_get_id (g_ptr_array_index (next, 0)), ==, kestrel_conversation_get_id (c2));
  }
  g_clear_pointer (&page, g_ptr_array_unref);

  /* Archived conversations leave the sidebar. */
  g_assert_true (kestrel_store_set_archived (store, kestrel_conversation_get_id (c2), TRUE, &error));
  page = kestrel_store_list_conversations (store, FALSE, NULL, 10, &error);
  g_assert_cmpuint (page->len, ==, 1);
  g_clear_pointer (&page, g_ptr_array_unref);
  page = kestrel_store_list_conversations (store, TRUE, NULL, 10, &error);
  g_assert_cmpuint (page->len, ==, 1);
  g_clear_pointer (&page, g_ptr_array_unref);

  /* Settings must be JSON: the CHECK constraint says so. */
  g_assert_false (kestrel_store_set_settings (store, kestrel_conversation_get_id (c1), "{not json", &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (kestrel_store_set_settings (store, kestrel_conversation_get_id (c1), "{\"top_p\": 0.9}", &error));
  g_assert_true (kestrel_store_set_system_prompt (store, kestrel_conversation_get_id (c1), "Be kind.", &error));
  g_assert_no_error (error);

  /* Titles: a model title does not replace a user title. */
  g_assert_true (kestrel_store_set_title (store, kestrel_conversation_get_id (c1), "Mine", KESTREL_TITLE_SOURCE_USER, &error));
  g_assert_true (kestrel_store_set_title (store, kestrel_conversation_get_id (c1), "Model's", KESTREL_TITLE_SOURCE_MODEL, &error));
  g_assert_no_error (error);
  again = kestrel_store_get_conversation (store, kestrel_conversation_get_id (c1), &error);
  g_assert_cmpstr (kestrel_conversation_get_title (again), ==, "Mine");
  g_assert_cmpint (kestrel_conversation_get_title_source (again), ==, KESTREL_TITLE_SOURCE_USER);
  g_assert_cmpstr (kestrel_conversation_get_settings (again), ==, "{\"top_p\": 0.9}");
  g_assert_cmpstr (kestrel_conversation_get_system_prompt (again), ==, "Be kind.");
  g_clear_object (&again);

  /* Missing things are NOT_FOUND. */
  g_assert_false (kestrel_store_set_pinned (store, 9999, TRUE, &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (kestrel_store_get_conversation (store, 9999, &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (kestrel_store_delete_conversation (store, kestrel_conversation_get_id (c2), &error));
  g_assert_no_error (error);
  g_assert_false (kestrel_store_delete_conversation (store, kestrel_conversation_get_id (c2), &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  assert_store_finalizes (store);

  /* What is on disk: WAL, foreign keys declared, the version, one conversation. */
  db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, KESTREL_STORE_SCHEMA_VERSION);
  g_assert_cmpint (raw_int (db, "PRAGMA application_id"), ==, KESTREL_STORE_APPLICATION_ID);
  {
    g_autofree char *mode = raw_text (db, "PRAGMA journal_mode");
    g_assert_cmpstr (mode, ==, "wal");
  }
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM conversations"), ==, 1);
  sqlite3_close (db);

  /* And it reopens with the same data. */
  store = open_store (f);
  again = kestrel_store_get_conversation (store, kestrel_conversation_get_id (c1), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kestrel_conversation_get_title (again), ==, "Mine");
  assert_store_finalizes (store);
}

static void
test_branching (StoreFixture  *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store = open_store (f);
  g_autoptr(KestrelConversation) c = kestrel_store_create_conversation (store, NULL, NULL, &error);
  gint64 cid = kestrel_conversation_get_id (c);
  g_autoptr(KestrelMessage) q1 = append (store, cid, 0, KESTREL_MESSAGE_ROLE_USER, "What is a kestrel?\nA bird?");
  g_autoptr(KestrelMessage) a1 = append (store, cid, kestrel_message_get_id (q1), KESTREL_MESSAGE_ROLE_MODEL, "A small falcon.");
  g_autoptr(KestrelMessage) a2 = NULL;
  g_autoptr(KestrelMessage) q2 = NULL;
  g_autoptr(KestrelMessage) q1b = NULL;
  g_autoptr(GPtrArray) thread = NULL;
  g_autoptr(GPtrArray) siblings = NULL;
  g_autoptr(KestrelConversation) titled = NULL;

  /* The first question names the conversation (first line). */
  titled = kestrel_store_get_conversation (store, cid, &error);
  g_assert_cmpstr (kestrel_conversation_get_title (titled), ==, "What is a kestrel?");
  g_assert_cmpint (kestrel_conversation_get_title_source (titled), ==, KESTREL_TITLE_SOURCE_FIRST_MESSAGE);

  /* Regenerate: a sibling of a1, selected. */
  a2 = append (store, cid, kestrel_message_get_id (q1), KESTREL_MESSAGE_ROLE_MODEL, "A falcon that hovers.");
  q2 = append (store, cid, kestrel_message_get_id (a2), KESTREL_MESSAGE_ROLE_USER, "Where do they live?");
  g_assert_cmpuint (kestrel_message_get_n_siblings (a2), ==, 2);
  g_assert_cmpuint (kestrel_message_get_sibling_index (a2), ==, 1);

  thread = kestrel_store_load_thread (store, cid, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thread->len, ==, 3);
  g_assert_cmpstr (kestrel_message_get_content (g_ptr_array_index (thread, 1)), ==, "A falcon that hovers.");
  g_assert_cmpuint (kestrel_message_get_n_siblings (g_ptr_array_index (thread, 1)), ==, 2);
  g_assert_cmpint (kestrel_message_get_parent_id (g_ptr_array_index (thread, 2)), ==, kestrel_message_get_id (a2));
  g_clear_pointer (&thread, g_ptr_array_unref);

  /* Going back to the first answer shows its (empty) branch, and the choice is remembered. */
  g_assert_true (kestrel_store_select_message (store, kestrel_message_get_id (a1), &error));
  g_assert_no_error (error);
  thread = kestrel_store_load_thread (store, cid, &error);
  g_assert_cmpuint (thread->len, ==, 2);
  g_assert_cmpstr (kestrel_message_get_content (g_ptr_array_index (thread, 1)), ==, "A small falcon.");
  g_assert_cmpuint (kestrel_message_get_sibling_index (g_ptr_array_index (thread, 1)), ==, 0);
  g_clear_pointer (&thread, g_ptr_array_unref);

  siblings = kestrel_store_list_siblings (store, kestrel_message_get_id (a1), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (siblings->len, ==, 2);
  g_assert_cmpint (kestrel_message_get_id (g_ptr_array_index (siblings, 1)), ==, kestrel_message_get_id (a2));

  /* Editing the first question: a second root. */
  q1b = append (store, cid, 0, KESTREL_MESSAGE_ROLE_USER, "What is a merlin?");
  thread = kestrel_store_load_thread (store, cid, &error);
  g_assert_cmpuint (thread->len, ==, 1);
  g_assert_cmpuint (kestrel_message_get_n_siblings (g_ptr_array_index (thread, 0)), ==, 2);
  g_clear_pointer (&thread, g_ptr_array_unref);
  /* The title stays the first one. */
  g_clear_object (&titled);
  titled = kestrel_store_get_conversation (store, cid, &error);
  g_assert_cmpstr (kestrel_conversation_get_title (titled), ==, "What is a kestrel?");

  /* After reopening, the selections are still there. */
  g_assert_true (kestrel_store_select_message (store, kestrel_message_get_id (q1), &error));
  g_assert_true (kestrel_store_select_message (store, kestrel_message_get_id (a2), &error));
  assert_store_finalizes (store);
  store = open_store (f);
  thread = kestrel_store_load_thread (store, cid, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thread->len, ==, 3);
  g_assert_cmpint (kestrel_message_get_id (g_ptr_array_index (thread, 2)), ==, kestrel_message_get_id (q2));
  g_clear_pointer (&thread, g_ptr_array_unref);

  /* Deleting a2 takes q2 with it; the thread falls back to the remaining answer. */
  g_assert_true (kestrel_store_delete_message (store, kestrel_message_get_id (a2), &error));
  g_assert_no_error (error);
  g_assert_null (kestrel_store_get_message (store, kestrel_message_get_id (q2), &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  thread = kestrel_store_load_thread (store, cid, &error);
  g_assert_cmpuint (thread->len, ==, 2);
  g_assert_cmpint (kestrel_message_get_id (g_ptr_array_index (thread, 1)), ==, kestrel_message_get_id (a1));
  g_clear_pointer (&thread, g_ptr_array_unref);

  /* A parent from another conversation is refused. */
  {
    g_autoptr(KestrelConversation) other = kestrel_store_create_conversation (store, NULL, NULL, &error);
    g_autoptr(KestrelMessage) bad = kestrel_store_append_message (store, kestrel_conversation_get_id (other),
                                                                  kestrel_message_get_id (q1),
                                                                  KESTREL_MESSAGE_ROLE_USER,
                                                                  KESTREL_MESSAGE_STATUS_COMPLETE, "x", NULL, &error);
    g_assert_null (bad);
    g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }

  (void) q1b;
  assert_store_finalizes (store);
}

/* A conversation deeper than SQLite's trigger depth (1000) still deletes: no recursive
 * cascades on parent_id. */
static void
test_delete_long_chain (StoreFixture  *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store = open_store (f);
  g_autoptr(KestrelConversation) c = kestrel_store_create_conversation (store, NULL, NULL, &error);
  gint64 cid = kestrel_conversation_get_id (c);
  gint64 parent = 0;
  sqlite3 *db;

  for (guint i = 0; i < 1200; i++)
    {
      g_autoptr(KestrelMessage) m = append (store, cid, parent, i % 2 ? KESTREL_MESSAGE_ROLE_MODEL : KESTREL_MESSAGE_ROLE_USER, "turn");
      parent = kestrel_message_get_id (m);
    }

  {
    g_autoptr(GPtrArray) thread = kestrel_store_load_thread (store, cid, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (thread->len, ==, 1200);
  }

  g_assert_true (kestrel_store_delete_conversation (store, cid, &error));
  g_assert_no_error (error);
  db = _kestrel_store_get_db (store);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM messages"), ==, 0);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
  assert_store_finalizes (store);
}

static void
test_tool_calls_and_attachments (StoreFixture  *f,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store = open_store (f);
  g_autoptr(KestrelConversation) c = kestrel_store_create_conversation (store, NULL, NULL, &error);
  gint64 cid = kestrel_conversation_get_id (c);
  g_autoptr(GBytes) png = make_png (640, 320);
  g_autoptr(KestrelAttachment) image = kestrel_attachment_new_from_bytes (png, "image/png", &error);
  g_autoptr(GPtrArray) attachments = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(KestrelMessage) q = NULL;
  g_autoptr(KestrelMessage) a = NULL;
  g_autoptr(KestrelMessage) loaded = NULL;
  g_autoptr(KestrelStoredToolCall) call = NULL;
  g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, png);
  KestrelAttachment *stored;
  KestrelStoredToolCall *stored_call;

  g_assert_no_error (error);
  g_assert_cmpint (kestrel_attachment_get_width (image), ==, 640);
  g_assert_cmpint (kestrel_attachment_get_height (image), ==, 320);

  /* Not an image: a clear error. */
  {
    g_autoptr(GBytes) junk = g_bytes_new_static ("not a png", 9);
    g_autoptr(KestrelAttachment) bad = kestrel_attachment_new_from_bytes (junk, "image/png", &error);

    g_assert_null (bad);
    g_assert_nonnull (error);
    g_clear_error (&error);
  }

  g_ptr_array_add (attachments, g_object_ref (image));
  q = kestrel_store_append_message (store, cid, 0, KESTREL_MESSAGE_ROLE_USER, KESTREL_MESSAGE_STATUS_COMPLETE,
                                    "What bird is this?", attachments, &error);
  g_assert_no_error (error);
  a = append (store, cid, kestrel_message_get_id (q), KESTREL_MESSAGE_ROLE_MODEL, "");

  call = kestrel_store_add_tool_call (store, kestrel_message_get_id (a), "web_search", "{\"q\": \"kestrel\"}", &error);
  g_assert_no_error (error);
  g_assert_cmpint (kestrel_stored_tool_call_get_approval (call), ==, KESTREL_TOOL_APPROVAL_PENDING);
  g_assert_true (kestrel_store_update_tool_call (store, kestrel_stored_tool_call_get_id (call), KESTREL_TOOL_CALL_STATUS_COMPLETE,
                                                 KESTREL_TOOL_APPROVAL_APPROVED, "3 results", &error));
  g_assert_no_error (error);

  /* Bad tool calls: not JSON, no such message. */
  g_assert_null (kestrel_store_add_tool_call (store, kestrel_message_get_id (a), "x", "{", &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (kestrel_store_add_tool_call (store, 424242, "x", "{}", &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  assert_store_finalizes (store);
  store = open_store (f);

  loaded = kestrel_store_get_message (store, kestrel_message_get_id (q), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (kestrel_message_get_attachments (loaded)->len, ==, 1);
  stored = g_ptr_array_index (kestrel_message_get_attachments (loaded), 0);
  g_assert_true (g_bytes_equal (kestrel_attachment_get_data (stored), png));
  g_assert_cmpstr (kestrel_attachment_get_sha256 (stored), ==, sha);
  g_assert_cmpstr (kestrel_attachment_get_mime_type (stored), ==, "image/png");
  g_assert_cmpuint (kestrel_attachment_get_byte_size (stored), ==, g_bytes_get_size (png));
  g_assert_cmpint (kestrel_attachment_get_width (stored), ==, 640);
  {
    g_autoptr(GdkPixbufLoader) loader = gdk_pixbuf_loader_new ();
    GdkPixbuf *thumb;

    g_assert_true (gdk_pixbuf_loader_write_bytes (loader, kestrel_attachment_get_thumbnail (stored), &error));
    g_assert_true (gdk_pixbuf_loader_close (loader, &error));
    thumb = gdk_pixbuf_loader_get_pixbuf (loader);
    g_assert_cmpint (gdk_pixbuf_get_width (thumb), ==, KESTREL_ATTACHMENT_THUMBNAIL_SIZE);
    g_assert_cmpint (gdk_pixbuf_get_height (thumb), ==, KESTREL_ATTACHMENT_THUMBNAIL_SIZE / 2);
  }
  g_clear_object (&loaded);

  loaded = kestrel_store_get_message (store, kestrel_message_get_id (a), &error);
  g_assert_cmpuint (kestrel_message_get_tool_calls (loaded)->len, ==, 1);
  stored_call = g_ptr_array_index (kestrel_message_get_tool_calls (loaded), 0);
  g_assert_cmpstr (kestrel_stored_tool_call_get_name (stored_call), ==, "web_search");
  g_assert_cmpstr (kestrel_stored_tool_call_get_arguments (stored_call), ==, "{\"q\": \"kestrel\"}");
  g_assert_cmpstr (kestrel_stored_tool_call_get_result (stored_call), ==, "3 results");
  g_assert_cmpint (kestrel_stored_tool_call_get_status (stored_call), ==, KESTREL_TOOL_CALL_STATUS_COMPLETE);
  g_assert_cmpint (kestrel_stored_tool_call_get_approval (stored_call), ==, KESTREL_TOOL_APPROVAL_APPROVED);
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store), "SELECT count(*) FROM tool_calls WHERE decided_at IS NOT NULL"), ==, 1);

  /* Deleting the question removes its image and the answer's tool call. */
  g_assert_true (kestrel_store_delete_message (store, kestrel_message_get_id (q), &error));
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store), "SELECT count(*) FROM attachments"), ==, 0);
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store), "SELECT count(*) FROM tool_calls"), ==, 0);

  assert_store_finalizes (store);
}

static void
test_streaming_sync (StoreFixture  *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store = open_store (f);
  g_autoptr(KestrelConversation) c = kestrel_store_create_conversation (store, NULL, NULL, &error);
  gint64 cid = kestrel_conversation_get_id (c);
  g_autoptr(KestrelMessage) q = append (store, cid, 0, KESTREL_MESSAGE_ROLE_USER, "Count");
  g_autoptr(KestrelMessage) a = NULL;
  g_autoptr(KestrelMessage) loaded = NULL;
  gint64 aid;

  /* A long interval: nothing is written until flush or finish. */
  kestrel_store_set_flush_interval (store, 60000);
  a = kestrel_store_append_message (store, cid, kestrel_message_get_id (q), KESTREL_MESSAGE_ROLE_MODEL,
                                    KESTREL_MESSAGE_STATUS_STREAMING, "", NULL, &error);
  g_assert_no_error (error);
  aid = kestrel_message_get_id (a);

  kestrel_store_update_message_text (store, aid, "one");
  kestrel_store_update_message_text (store, aid, "one two");
  g_assert_true (kestrel_store_flush (store, &error));
  g_assert_no_error (error);
  loaded = kestrel_store_get_message (store, aid, &error);
  g_assert_cmpstr (kestrel_message_get_content (loaded), ==, "one two");
  g_assert_cmpint (kestrel_message_get_status (loaded), ==, KESTREL_MESSAGE_STATUS_STREAMING);
  g_clear_object (&loaded);

  /* Finishing without text takes the latest pending text. */
  kestrel_store_update_message_text (store, aid, "one two three");
  g_assert_true (kestrel_store_finish_message (store, aid, NULL, KESTREL_MESSAGE_STATUS_COMPLETE,
                                               "{\"tokens\": 3, \"tokens_per_second\": 42.5}", &error));
  g_assert_no_error (error);
  loaded = kestrel_store_get_message (store, aid, &error);
  g_assert_cmpstr (kestrel_message_get_content (loaded), ==, "one two three");
  g_assert_cmpint (kestrel_message_get_status (loaded), ==, KESTREL_MESSAGE_STATUS_COMPLETE);
  g_assert_cmpstr (kestrel_message_get_stats (loaded), ==, "{\"tokens\": 3, \"tokens_per_second\": 42.5}");
  g_clear_object (&loaded);

  /* A late update after finishing never overwrites the final text. */
  kestrel_store_update_message_text (store, aid, "stale");
  g_assert_true (kestrel_store_flush (store, &error));
  loaded = kestrel_store_get_message (store, aid, &error);
  g_assert_cmpstr (kestrel_message_get_content (loaded), ==, "one two three");
  g_clear_object (&loaded);

  /* A reply left streaming is interrupted at the next start; pending text is written at close. */
  {
    g_autoptr(KestrelMessage) b = kestrel_store_append_message (store, cid, kestrel_message_get_id (q),
                                                                KESTREL_MESSAGE_ROLE_MODEL,
                                                                KESTREL_MESSAGE_STATUS_STREAMING, "", NULL, &error);

    kestrel_store_update_message_text (store, kestrel_message_get_id (b), "half a repl");
    aid = kestrel_message_get_id (b);
  }
  assert_store_finalizes (store);
  store = open_store (f);
  loaded = kestrel_store_get_message (store, aid, &error);
  g_assert_cmpstr (kestrel_message_get_content (loaded), ==, "half a repl");
  g_assert_cmpint (kestrel_message_get_status (loaded), ==, KESTREL_MESSAGE_STATUS_INTERRUPTED);

  g_assert_false (kestrel_store_finish_message (store, 777777, "x", KESTREL_MESSAGE_STATUS_COMPLETE, NULL, &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND);
  assert_store_finalizes (store);
}

static void
test_search (StoreFixture  *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store = open_store (f);
  g_autoptr(KestrelConversation) c = kestrel_store_create_conversation (store, NULL, NULL, &error);
  gint64 cid = kestrel_conversation_get_id (c);
  g_autoptr(KestrelMessage) q = append (store, cid, 0, KESTREL_MESSAGE_ROLE_USER, "Tell me about the Common Kestrel & <its> prey");
  g_autoptr(KestrelMessage) a = append (store, cid, kestrel_message_get_id (q), KESTREL_MESSAGE_ROLE_MODEL,
                                        "Kestrels hover while hunting voles. Café owners like them.");
  g_autoptr(GPtrArray) hits = NULL;
  KestrelSearchHit *hit;

  hits = kestrel_store_search (store, "voles", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  hit = g_ptr_array_index (hits, 0);
  g_assert_cmpint (kestrel_search_hit_get_message_id (hit), ==, kestrel_message_get_id (a));
  g_assert_cmpint (kestrel_search_hit_get_conversation_id (hit), ==, cid);
  g_assert_cmpint (kestrel_search_hit_get_role (hit), ==, KESTREL_MESSAGE_ROLE_MODEL);
  g_assert_cmpstr (kestrel_search_hit_get_conversation_title (hit), ==, "Tell me about the Common Kestrel & <its> prey");
  g_assert_nonnull (strstr (kestrel_search_hit_get_snippet_markup (hit), "<b>voles</b>"));
  g_clear_pointer (&hits, g_ptr_array_unref);

  /* Prefix of the last word, all words required, markup escaped, diacritics folded. */
  hits = kestrel_store_search (store, "kest", 10, &error);
  g_assert_cmpuint (hits->len, ==, 2);
  /* Newest first. */
  g_assert_cmpint (kestrel_search_hit_get_message_id (g_ptr_array_index (hits, 0)), ==, kestrel_message_get_id (a));
  g_clear_pointer (&hits, g_ptr_array_unref);
  /* A whole word found often enough wins over newer partial matches ("Kestrels"). */
  hits = kestrel_store_search (store, "kestrel", 1, &error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_assert_cmpint (kestrel_search_hit_get_message_id (g_ptr_array_index (hits, 0)), ==, kestrel_message_get_id (q));
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = kestrel_store_search (store, "kestrel", 10, &error);
  g_assert_cmpuint (hits->len, ==, 2);
  g_clear_pointer (&hits, g_ptr_array_unref);
  /* A finished word (trailing space) is never a prefix. */
  hits = kestrel_store_search (store, "kestrel ", 10, &error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = kestrel_store_search (store, "kestrel prey", 10, &error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_assert_nonnull (strstr (kestrel_search_hit_get_snippet_markup (g_ptr_array_index (hits, 0)), "&amp; &lt;its&gt;"));
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = kestrel_store_search (store, "cafe", 10, &error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_clear_pointer (&hits, g_ptr_array_unref);

  /* FTS5 syntax in the input is just text: no error, no injection. */
  hits = kestrel_store_search (store, "\"voles OR NEAR( *", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 0);
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = kestrel_store_search (store, "   ", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 0);
  g_clear_pointer (&hits, g_ptr_array_unref);

  /* The index follows edits (streaming updates) and deletes. */
  {
    g_autoptr(KestrelMessage) s = kestrel_store_append_message (store, cid, kestrel_message_get_id (a),
                                                                KESTREL_MESSAGE_ROLE_MODEL,
                                                                KESTREL_MESSAGE_STATUS_STREAMING, "", NULL, &error);

    kestrel_store_update_message_text (store, kestrel_message_get_id (s), "peregrine");
    g_assert_true (kestrel_store_flush (store, &error));
    hits = kestrel_store_search (store, "peregrine", 10, &error);
    g_assert_cmpuint (hits->len, ==, 1);
    g_clear_pointer (&hits, g_ptr_array_unref);
    g_assert_true (kestrel_store_finish_message (store, kestrel_message_get_id (s), "merlin", KESTREL_MESSAGE_STATUS_COMPLETE, NULL, &error));
    hits = kestrel_store_search (store, "peregrine", 10, &error);
    g_assert_cmpuint (hits->len, ==, 0);
    g_clear_pointer (&hits, g_ptr_array_unref);
  }
  g_assert_true (kestrel_store_delete_conversation (store, cid, &error));
  hits = kestrel_store_search (store, "voles", 10, &error);
  g_assert_cmpuint (hits->len, ==, 0);
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store), "SELECT count(*) FROM messages_fts"), ==, 0);

  assert_store_finalizes (store);
}

int
main (int   argc,
      char *argv[])
{
  store_test_init (&argc, &argv);

#define ADD(name, func) g_test_add (name, StoreFixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/store/default-path", test_default_path);
  ADD ("/store/conversation-crud", test_conversation_crud);
  ADD ("/store/branching", test_branching);
  ADD ("/store/delete-long-chain", test_delete_long_chain);
  ADD ("/store/tool-calls-and-attachments", test_tool_calls_and_attachments);
  ADD ("/store/streaming-sync", test_streaming_sync);
  ADD ("/store/search", test_search);
#undef ADD

  return store_test_run ();
}
