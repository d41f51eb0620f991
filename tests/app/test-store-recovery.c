/* test-store-recovery.c — bad files and bad conditions: corrupt, foreign, locked, disk full,
 * read-only. The app must still start, say what happened, keep the unreadable file, and never
 * write over data it could not read.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include "store-test-util.h"

/* Makes a store with a few messages and closes it (the WAL is checkpointed away on close). */
static void
make_database (const char *path,
               guint       n_messages)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store = kestrel_store_new (path, &error);
  g_autoptr(KestrelConversation) c = NULL;
  gint64 parent = 0;

  g_assert_no_error (error);
  c = kestrel_store_create_conversation (store, NULL, NULL, &error);
  for (guint i = 0; i < n_messages; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u %s", i, i % 2 ? "with some longer text to fill pages" : "");
      g_autoptr(KestrelMessage) m = kestrel_store_append_message (store, kestrel_conversation_get_id (c), parent,
                                                                  i % 2 ? KESTREL_MESSAGE_ROLE_MODEL : KESTREL_MESSAGE_ROLE_USER,
                                                                  KESTREL_MESSAGE_STATUS_COMPLETE, text, NULL, &error);
      g_assert_no_error (error);
      parent = kestrel_message_get_id (m);
    }
  g_assert_finalize_object (store);
}

/* Opens @f's path expecting recovery: checks the message, that the unreadable file was kept
 * byte for byte, and that the fresh database works. */
static void
expect_recovery (StoreFixture *f,
                 const char   *sha_of_bad_file)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *kept_sha = NULL;
  g_autoptr(KestrelConversation) c = NULL;
  g_autoptr(GPtrArray) list = NULL;
  KestrelStore *store;
  const char *aside;

  store = kestrel_store_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);

  g_assert_nonnull (kestrel_store_get_recovery_message (store));
  g_test_message ("%s", kestrel_store_get_recovery_message (store));
  aside = kestrel_store_get_moved_aside_path (store);
  g_assert_nonnull (aside);
  g_assert_true (g_str_has_prefix (aside, f->path));
  g_assert_nonnull (strstr (aside, ".corrupt-"));
  g_assert_nonnull (strstr (kestrel_store_get_recovery_message (store), aside));

  kept_sha = file_sha256 (aside);
  g_assert_cmpstr (kept_sha, ==, sha_of_bad_file);

  list = kestrel_store_list_conversations (store, FALSE, NULL, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  c = kestrel_store_create_conversation (store, NULL, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&c);
  g_assert_finalize_object (store);
}

static void
write_file (const char *path,
            const void *data,
            gsize       len)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, data, len, &error));
  g_assert_no_error (error);
}

static void
test_garbage (StoreFixture  *f,
              gconstpointer  data)
{
  g_autofree char *sha = NULL;
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  guint8 garbage[8192];
  GRand *rand = g_rand_new_with_seed (42);

  for (guint i = 0; i < sizeof garbage; i++)
    garbage[i] = g_rand_int (rand);
  g_rand_free (rand);

  write_file (f->path, garbage, sizeof garbage);
  /* A stale WAL beside it must go with it, never into the fresh database. */
  write_file (wal, "stale wal", 9);
  sha = file_sha256 (f->path);
  expect_recovery (f, sha);
  {
    g_autofree char *dir = g_path_get_dirname (f->path);
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;
    guint n_kept_wal = 0;

    while ((name = g_dir_read_name (d)) != NULL)
      if (strstr (name, ".corrupt-") != NULL && g_str_has_suffix (name, "-wal"))
        {
          g_autofree char *kept = g_build_filename (dir, name, NULL);
          g_autofree char *contents = NULL;

          g_assert_true (g_file_get_contents (kept, &contents, NULL, NULL));
          g_assert_cmpstr (contents, ==, "stale wal");
          n_kept_wal++;
        }
    g_assert_cmpuint (n_kept_wal, ==, 1);
  }

  /* Twice in the same second: the second copy gets its own name. */
  write_file (f->path, garbage, sizeof garbage / 2);
  g_free (sha);
  sha = file_sha256 (f->path);
  expect_recovery (f, sha);

  /* Short files too. */
  write_file (f->path, "SQLite", 6);
  g_free (sha);
  sha = file_sha256 (f->path);
  expect_recovery (f, sha);
}

static void
test_truncated (StoreFixture  *f,
                gconstpointer  data)
{
  g_autofree char *sha = NULL;
  GStatBuf st;

  make_database (f->path, 400);
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_size, >, 8 * 4096);
  g_assert_cmpint (truncate (f->path, st.st_size / 2), ==, 0);

  sha = file_sha256 (f->path);
  expect_recovery (f, sha);
}

/* Page 1 (the schema) overwritten after the header: the header checks pass, SQLite finds it. */
static void
test_damaged_schema_page (StoreFixture  *f,
                          gconstpointer  data)
{
  g_autofree char *sha = NULL;
  guint8 junk[3000];
  int fd;

  make_database (f->path, 20);
  memset (junk, 0xab, sizeof junk);
  fd = open (f->path, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, junk, sizeof junk, 100), ==, sizeof junk);
  close (fd);

  sha = file_sha256 (f->path);
  expect_recovery (f, sha);
}

static void
test_foreign (StoreFixture  *f,
              gconstpointer  data)
{
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autofree char *sha = NULL;
  sqlite3 *db;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  db = raw_open (f->path);
  raw_exec (db, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('someone else''s data');");
  sqlite3_close (db);

  sha = file_sha256 (f->path);
  expect_recovery (f, sha);
}

/* Another process holds the database: LOCKED, quickly, nothing written, and it opens later. */
static void
test_locked_at_open (StoreFixture  *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store;
  sqlite3 *holder;
  gint64 start;

  make_database (f->path, 4);

  /* A reader/writer in exclusive locking mode keeps everyone out, even WAL readers. */
  holder = raw_open (f->path);
  raw_exec (holder, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO conversations (created_at, updated_at) VALUES (1, 1);");

  start = g_get_monotonic_time ();
  store = _kestrel_store_new_full (f->path, 100, &error);
  g_assert_null (store);
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_LOCKED);
  g_test_message ("%s (after %" G_GINT64_FORMAT " ms)", error->message, (g_get_monotonic_time () - start) / 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_clear_error (&error);

  /* A plain write lock (BEGIN IMMEDIATE): readers get in, the startup write does not. */
  raw_exec (holder, "COMMIT; PRAGMA locking_mode = NORMAL;");
  sqlite3_close (holder);
  holder = raw_open (f->path);
  raw_exec (holder, "BEGIN IMMEDIATE; INSERT INTO conversations (created_at, updated_at) VALUES (2, 2);");
  store = _kestrel_store_new_full (f->path, 100, &error);
  g_assert_null (store);
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_LOCKED);
  g_clear_error (&error);

  raw_exec (holder, "COMMIT");
  sqlite3_close (holder);

  /* Nothing was moved aside or lost: both holders' rows are there. */
  store = _kestrel_store_new_full (f->path, 100, &error);
  g_assert_no_error (error);
  g_assert_null (kestrel_store_get_recovery_message (store));
  g_assert_cmpint (raw_int (_kestrel_store_get_db (store), "SELECT count(*) FROM conversations"), ==, 3);
  g_assert_finalize_object (store);
}

static void
test_locked_while_running (StoreFixture  *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelConversation) c = NULL;
  g_autoptr(KestrelMessage) m = NULL;
  g_autoptr(GPtrArray) list = NULL;
  KestrelStore *store;
  sqlite3 *holder;

  store = _kestrel_store_new_full (f->path, 100, &error);
  g_assert_no_error (error);
  c = kestrel_store_create_conversation (store, NULL, NULL, &error);

  holder = raw_open (f->path);
  raw_exec (holder, "BEGIN IMMEDIATE; INSERT INTO conversations (created_at, updated_at) VALUES (5, 5);");

  m = kestrel_store_append_message (store, kestrel_conversation_get_id (c), 0, KESTREL_MESSAGE_ROLE_USER,
                                    KESTREL_MESSAGE_STATUS_COMPLETE, "hello", NULL, &error);
  g_assert_null (m);
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_LOCKED);
  g_clear_error (&error);

  /* Reading still works (WAL). */
  list = kestrel_store_list_conversations (store, FALSE, NULL, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);

  raw_exec (holder, "ROLLBACK");
  sqlite3_close (holder);

  m = kestrel_store_append_message (store, kestrel_conversation_get_id (c), 0, KESTREL_MESSAGE_ROLE_USER,
                                    KESTREL_MESSAGE_STATUS_COMPLETE, "hello", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  g_clear_object (&m);
  g_assert_finalize_object (store);
}

/* Disk full, simulated with PRAGMA max_page_count: the write fails with FULL, earlier data is
 * intact, streaming text is kept for later, and all works again once there is room. */
static void
test_disk_full (StoreFixture  *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelConversation) c = NULL;
  g_autoptr(KestrelMessage) q = NULL;
  g_autoptr(KestrelMessage) reply = NULL;
  g_autoptr(KestrelMessage) loaded = NULL;
  g_autoptr(GString) big = g_string_new (NULL);
  KestrelStore *store;
  sqlite3 *db;
  gint64 pages;

  store = kestrel_store_new (f->path, &error);
  g_assert_no_error (error);
  kestrel_store_set_flush_interval (store, 60000); /* flushes only when asked */
  c = kestrel_store_create_conversation (store, NULL, NULL, &error);
  q = kestrel_store_append_message (store, kestrel_conversation_get_id (c), 0, KESTREL_MESSAGE_ROLE_USER,
                                    KESTREL_MESSAGE_STATUS_COMPLETE, "before the disk filled", NULL, &error);
  reply = kestrel_store_append_message (store, kestrel_conversation_get_id (c), kestrel_message_get_id (q),
                                        KESTREL_MESSAGE_ROLE_MODEL, KESTREL_MESSAGE_STATUS_STREAMING, "", NULL, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < 40000; i++)
    g_string_append (big, "filler words that need pages ");

  db = _kestrel_store_get_db (store);
  pages = raw_int (db, "PRAGMA page_count");
  {
    g_autofree char *sql = g_strdup_printf ("PRAGMA max_page_count = %" G_GINT64_FORMAT, pages);
    raw_exec (db, sql);
  }

  {
    g_autoptr(KestrelMessage) m = kestrel_store_append_message (store, kestrel_conversation_get_id (c), kestrel_message_get_id (q),
                                                                KESTREL_MESSAGE_ROLE_USER, KESTREL_MESSAGE_STATUS_COMPLETE,
                                                                big->str, NULL, &error);
    g_assert_null (m);
    g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_FULL);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
  }

  /* Streaming text: the flush fails, the text stays pending... */
  kestrel_store_update_message_text (store, kestrel_message_get_id (reply), big->str);
  g_assert_false (kestrel_store_flush (store, &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_FULL);
  g_clear_error (&error);
  /* ...and so does a failed final write. */
  g_assert_false (kestrel_store_finish_message (store, kestrel_message_get_id (reply), NULL,
                                                KESTREL_MESSAGE_STATUS_COMPLETE, NULL, &error));
  g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_FULL);
  g_clear_error (&error);

  /* Everything committed before is intact, and the database is sound. */
  loaded = kestrel_store_get_message (store, kestrel_message_get_id (q), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kestrel_message_get_content (loaded), ==, "before the disk filled");
  g_clear_object (&loaded);
  {
    g_autofree char *check = raw_text (db, "PRAGMA integrity_check");
    g_assert_cmpstr (check, ==, "ok");
  }

  /* Room again: the pending text lands. */
  raw_exec (db, "PRAGMA max_page_count = 1073741823");
  g_assert_true (kestrel_store_finish_message (store, kestrel_message_get_id (reply), NULL,
                                               KESTREL_MESSAGE_STATUS_COMPLETE, NULL, &error));
  g_assert_no_error (error);
  loaded = kestrel_store_get_message (store, kestrel_message_get_id (reply), &error);
  g_assert_cmpstr (kestrel_message_get_content (loaded), ==, big->str);
  g_assert_cmpint (kestrel_message_get_status (loaded), ==, KESTREL_MESSAGE_STATUS_COMPLETE);
  g_clear_object (&loaded);
  g_assert_finalize_object (store);
}

/* ---- read-only ------------------------------------------------------------------------
 *
 * Root ignores permission bits, and these tests run as root in CI. The checks therefore run
 * in a subprocess that drops to nobody (65534) first; as an ordinary user they run directly.
 */

#define RO_DIR_ENV "KESTREL_TEST_RO_DIR"
#define RO_CASE_ENV "KESTREL_TEST_RO_CASE"

static gboolean
drop_privileges (void)
{
  if (getuid () != 0)
    return TRUE;
  return setgroups (0, NULL) == 0 && setresgid (65534, 65534, 65534) == 0 && setresuid (65534, 65534, 65534) == 0;
}

static void
read_only_child (const char *path,
                 const char *which)
{
  g_autoptr(GError) error = NULL;
  KestrelStore *store;

  if (!drop_privileges ())
    {
      g_print ("cannot-drop-privileges\n");
      return;
    }
  g_print ("running-as-uid-%u\n", (guint) getuid ());

  store = kestrel_store_new (path, &error);

  if (g_str_equal (which, "folder") || g_str_equal (which, "file"))
    {
      /* The history is shown read-only, with a message; writes fail with READ_ONLY. */
      g_autoptr(GPtrArray) list = NULL;
      g_autoptr(GPtrArray) thread = NULL;
      g_autoptr(KestrelConversation) c = NULL;

      g_assert_no_error (error);
      g_assert_true (kestrel_store_get_read_only (store));
      g_assert_nonnull (kestrel_store_get_recovery_message (store));
      g_test_message ("%s", kestrel_store_get_recovery_message (store));
      list = kestrel_store_list_conversations (store, FALSE, NULL, 10, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (list->len, ==, 1);
      thread = kestrel_store_load_thread (store, kestrel_conversation_get_id (g_ptr_array_index (list, 0)), &error);
      g_assert_no_error (error);
      g_assert_cmpuint (thread->len, ==, 6);
      c = kestrel_store_create_conversation (store, NULL, NULL, &error);
      g_assert_null (c);
      g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_READ_ONLY);
      g_clear_error (&error);
      g_assert_finalize_object (store);
    }
  else if (g_str_equal (which, "no-file"))
    {
      g_assert_null (store);
      g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_READ_ONLY);
      g_test_message ("%s", error->message);
    }
  else if (g_str_equal (which, "corrupt"))
    {
      /* Cannot be moved aside: an error, and the file stays exactly as it was. */
      g_assert_null (store);
      g_assert_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_CORRUPT);
      g_test_message ("%s", error->message);
    }
  else
    g_assert_not_reached ();
}

static void
run_read_only_case (StoreFixture *f,
                    const char   *which)
{
  g_autofree char *data_dir = g_build_filename (f->dir, "data", NULL);
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autofree char *sha = NULL;
  g_auto(GStrv) envp = g_get_environ ();

  if (g_str_equal (which, "corrupt"))
    {
      static const char junk[] = "not a database, not at all, but long enough to be a file ............"
                                 "....................................................................";

      write_file (f->path, junk, sizeof junk - 1);
    }
  else if (!g_str_equal (which, "no-file"))
    make_database (f->path, 6);
  else
    g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  sha = file_sha256 (f->path);

  /* Let nobody reach the file, but not write where it lies (or, for "file", write only the folder). */
  g_assert_cmpint (g_chmod (f->dir, 0755), ==, 0);
  g_assert_cmpint (g_chmod (data_dir, 0755), ==, 0);
  if (g_str_equal (which, "file"))
    {
      g_assert_cmpint (g_chmod (dir, 0777), ==, 0);
      g_assert_cmpint (g_chmod (f->path, 0444), ==, 0);
    }
  else
    {
      g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
      if (sha != NULL)
        g_assert_cmpint (g_chmod (f->path, 0644), ==, 0);
    }

  envp = g_environ_setenv (envp, RO_DIR_ENV, f->path, TRUE);
  envp = g_environ_setenv (envp, RO_CASE_ENV, which, TRUE);
  g_test_trap_subprocess_with_envp (NULL, (const char * const *) envp, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout_unmatched ("*cannot-drop-privileges*");
  g_test_trap_assert_stdout ("*running-as-uid-*");

  g_chmod (dir, 0700);
  /* Whatever happened, the file is unchanged (reading a WAL database may add -shm; that is not the file). */
  if (sha != NULL)
    {
      g_autofree char *after = file_sha256 (f->path);
      g_assert_cmpstr (after, ==, sha);
    }
}

static void
test_read_only (StoreFixture  *f,
                gconstpointer  data)
{
  const char *which = data;

  if (g_test_subprocess ())
    {
      read_only_child (g_getenv (RO_DIR_ENV), g_getenv (RO_CASE_ENV));
      return;
    }
  run_read_only_case (f, which);
}

int
main (int   argc,
      char *argv[])
{
  store_test_init (&argc, &argv);

#define ADD(name, func) g_test_add (name, StoreFixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/store/recovery/garbage", test_garbage);
  ADD ("/store/recovery/truncated", test_truncated);
  ADD ("/store/recovery/damaged-schema-page", test_damaged_schema_page);
  ADD ("/store/recovery/foreign", test_foreign);
  ADD ("/store/recovery/locked-at-open", test_locked_at_open);
  ADD ("/store/recovery/locked-while-running", test_locked_while_running);
  ADD ("/store/recovery/disk-full", test_disk_full);
#undef ADD
  g_test_add ("/store/recovery/read-only-folder", StoreFixture, "folder", fixture_setup, test_read_only, fixture_teardown);
  g_test_add ("/store/recovery/read-only-file", StoreFixture, "file", fixture_setup, test_read_only, fixture_teardown);
  g_test_add ("/store/recovery/read-only-no-file", StoreFixture, "no-file", fixture_setup, test_read_only, fixture_teardown);
  g_test_add ("/store/recovery/read-only-corrupt", StoreFixture, "corrupt", fixture_setup, test_read_only, fixture_teardown);

  return store_test_run ();
}
