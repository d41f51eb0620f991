/* test-store-schema.c — migrations from every earlier schema version, and files the store must
 * not touch (newer schema, failed migration).
 *
 * Each earlier version is built exactly as that release wrote it: the real migrations, stopped
 * at that version, then filled with rows through plain SQL of that version.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "store-test-util.h"

/* Builds a version-@version database at @path holding one conversation with a question, two
 * alternative answers (the first selected), a streaming reply cut off, and a tool call. */
static void
build_old_database (const char *path,
                    int         version)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (path);
  sqlite3 *db;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  db = raw_open (path);
  raw_exec (db, "BEGIN");
  g_assert_true (_kestrel_store_schema_migrate (db, version, &error));
  g_assert_no_error (error);
  raw_exec (db, "COMMIT");
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, version);

  raw_exec (db,
            "INSERT INTO conversations (id, title, title_source, created_at, updated_at, settings, selected_root_id)"
            "  VALUES (1, 'Old times', 3, 1000, 2000, '{\"temperature\":1}', 10);"
            "INSERT INTO messages (id, conversation_id, parent_id, role, status, content, created_at, updated_at, selected_child_id)"
            "  VALUES (10, 1, NULL, 'user', 'complete', 'Describe the gyrfalcon', 1000, 1000, 11);"
            "INSERT INTO messages (id, conversation_id, parent_id, role, status, content, stats, created_at, updated_at)"
            "  VALUES (11, 1, 10, 'model', 'complete', 'The largest falcon', '{\"tokens\":4}', 1100, 1100);"
            "INSERT INTO messages (id, conversation_id, parent_id, role, status, content, created_at, updated_at)"
            "  VALUES (12, 1, 10, 'model', 'complete', 'An arctic bird', 1200, 1200);"
            "INSERT INTO messages (id, conversation_id, parent_id, role, status, content, created_at, updated_at)"
            "  VALUES (13, 1, 11, 'model', 'streaming', 'cut off mid', 1300, 1300);");
  if (version == 1)
    raw_exec (db, "INSERT INTO tool_calls (message_id, position, name, arguments, result, status)"
                  "  VALUES (11, 0, 'encyclopedia', '{\"q\":\"gyrfalcon\"}', 'Falco rusticolus', 'complete');");
  else
    raw_exec (db, "INSERT INTO tool_calls (message_id, position, name, arguments, result, status, approval, decided_at)"
                  "  VALUES (11, 0, 'encyclopedia', '{\"q\":\"gyrfalcon\"}', 'Falco rusticolus', 'complete', 'denied', 1150);");
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
}

static void
check_migrated (StoreFixture *f,
                int           from_version)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) thread = NULL;
  g_autoptr(GPtrArray) hits = NULL;
  g_autoptr(KestrelConversation) c = NULL;
  KestrelStore *store;
  KestrelMessage *answer;
  KestrelStoredToolCall *call;

  store = kestrel_store_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_null (kestrel_store_get_recovery_message (store));
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store), "PRAGMA user_version"), ==, KESTREL_STORE_SCHEMA_VERSION);

  c = kestrel_store_get_conversation (store, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kestrel_conversation_get_title (c), ==, "Old times");
  g_assert_cmpint (kestrel_conversation_get_title_source (c), ==, KESTREL_TITLE_SOURCE_USER);

  thread = kestrel_store_load_thread (store, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thread->len, ==, 3);
  answer = g_ptr_array_index (thread, 1);
  g_assert_cmpstr (kestrel_message_get_content (answer), ==, "The largest falcon");
  g_assert_cmpuint (kestrel_message_get_n_siblings (answer), ==, 2);
  g_assert_cmpstr (kestrel_message_get_stats (answer), ==, "{\"tokens\":4}");
  /* The reply that was streaming when that version last ran is marked interrupted. */
  g_assert_cmpint (kestrel_message_get_status (g_ptr_array_index (thread, 2)), ==, KESTREL_MESSAGE_STATUS_INTERRUPTED);

  g_assert_cmpuint (kestrel_message_get_tool_calls (answer)->len, ==, 1);
  call = g_ptr_array_index (kestrel_message_get_tool_calls (answer), 0);
  /* v2 added approval: calls from before ran without asking. */
  g_assert_cmpint (kestrel_stored_tool_call_get_approval (call), ==,
                   from_version < 2 ? KESTREL_TOOL_APPROVAL_AUTOMATIC : KESTREL_TOOL_APPROVAL_DENIED);

  /* v3 added full-text search, filled from the existing messages. */
  hits = kestrel_store_search (store, "gyrfalcon", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = kestrel_store_search (store, "arctic", 10, &error);
  g_assert_cmpuint (hits->len, ==, 1);
  /* v4 rebuilt the index with prefixes up to 8 characters: partial words still match,
   * through the 6-, 7- and 8-character prefix indexes and beyond them */
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = kestrel_store_search (store, "gyrfalco", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = kestrel_store_search (store, "gyrfal", 10, &error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store),
                            "SELECT count(*) FROM sqlite_schema WHERE name = 'messages_fts'"
                            " AND sql LIKE '%prefix = ''2 3 4 5 6 7 8''%'"), ==, 1);
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store),
                            "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'messages_fts_%'"), ==, 3);

  /* New writes work on the migrated file. */
  {
    g_autoptr(KestrelMessage) m = kestrel_store_append_message (store, 1, 13, KESTREL_MESSAGE_ROLE_USER,
                                                                KESTREL_MESSAGE_STATUS_COMPLETE, "Go on", NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (m);
  }
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store), "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
  g_assert_finalize_object (store);
}

static void
test_from_v0 (StoreFixture  *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (f->path);
  KestrelStore *store;

  /* Version 0: an empty file (what SQLite makes, and what a crash before the first commit leaves). */
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (f->path, "", 0, &error));

  store = kestrel_store_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_null (kestrel_store_get_recovery_message (store));
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store), "PRAGMA user_version"), ==, KESTREL_STORE_SCHEMA_VERSION);
  g_assert_finalize_object (store);

  /* And version 0 as no file at all. */
  g_assert_cmpint (g_unlink (f->path), ==, 0);
  store = kestrel_store_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_finalize_object (store);
}

static void
test_from_v1 (StoreFixture  *f,
              gconstpointer  data)
{
  build_old_database (f->path, 1);
  check_migrated (f, 1);
}

static void
test_from_v2 (StoreFixture  *f,
              gconstpointer  data)
{
  build_old_database (f->path, 2);
  check_migrated (f, 2);
}

static void
test_from_v3 (StoreFixture  *f,
              gconstpointer  data)
{
  build_old_database (f->path, 3);
  check_migrated (f, 3);
}

/* Current version, reopened: no migration runs, data intact. */
static void
test_reopen_current (StoreFixture  *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) thread = NULL;
  KestrelStore *store;

  build_old_database (f->path, KESTREL_STORE_SCHEMA_VERSION);
  check_migrated (f, KESTREL_STORE_SCHEMA_VERSION);

  store = kestrel_store_new (f->path, &error);
  g_assert_no_error (error);
  thread = kestrel_store_load_thread (store, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thread->len, ==, 4);
  g_assert_cmpstr (kestrel_message_get_content (g_ptr_array_index (thread, 3)), ==, "Go on");
  g_clear_pointer (&thread, g_ptr_array_unref);
  g_assert_finalize_object (store);
}

static void
test_newer_schema (StoreFixture  *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sha_before = NULL;
  g_autofree char *sha_after = NULL;
  KestrelStore *store;
  sqlite3 *db;

  store = kestrel_store_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_finalize_object (store);

  db = raw_open (f->path);
  raw_exec (db, "PRAGMA user_version = 99; PRAGMA journal_mode = DELETE;");
  sqlite3_close (db);
  sha_before = file_sha256 (f->path);

  store = kestrel_store_new (f->path, &error);
  g_assert_null (store);
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NEWER_SCHEMA);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "newer version"));

  /* Not a byte changed, not even the journal mode; nothing moved aside. */
  sha_after = file_sha256 (f->path);
  g_assert_cmpstr (sha_before, ==, sha_after);
  db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, 99);
  sqlite3_close (db);
  {
    g_autofree char *dir = g_path_get_dirname (f->path);
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name (d)) != NULL)
      g_assert_null (strstr (name, "corrupt"));
  }
}

/* A migration that fails leaves the file at its old version, data intact. */
static void
test_failed_migration (StoreFixture  *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store;
  sqlite3 *db;

  build_old_database (f->path, 2);
  /* Something already occupies the name version 3 creates. */
  db = raw_open (f->path);
  raw_exec (db, "CREATE TABLE messages_fts (x)");
  sqlite3_close (db);

  store = kestrel_store_new (f->path, &error);
  g_assert_null (store);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "version 3"));

  db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, 2);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM messages"), ==, 4);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM messages WHERE status = 'streaming'"), ==, 1);
  sqlite3_close (db);
}

int
main (int   argc,
      char *argv[])
{
  store_test_init (&argc, &argv);

#define ADD(name, func) g_test_add (name, StoreFixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/store/schema/from-v0", test_from_v0);
  ADD ("/store/schema/from-v1", test_from_v1);
  ADD ("/store/schema/from-v2", test_from_v2);
  ADD ("/store/schema/from-v3", test_from_v3);
  ADD ("/store/schema/reopen-current", test_reopen_current);
  ADD ("/store/schema/newer", test_newer_schema);
  ADD ("/store/schema/failed-migration", test_failed_migration);
#undef ADD

  return store_test_run ();
}
