/* kestrel-store-open.c — opening the database file, and what happens when it is bad.
 *
 * The rule: never write to a file we could not read. A damaged or foreign file is moved aside
 * whole (with its -wal and -shm), never modified; a newer schema or a lock held elsewhere is
 * reported without a single write (the version is read before WAL mode is switched on); a
 * read-only folder gets a read-only view of what is there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kestrel-store-private.h"

static const char * const companion_suffixes[] = { "-wal", "-shm" };

gboolean
_kestrel_store_exec_script (sqlite3     *db,
                            const char  *script,
                            GError     **error)
{
  const char *tail = script;

  while (tail != NULL && *tail != '\0')
    {
      sqlite3_stmt *stmt = NULL;
      const char *next = NULL;
      int rc;

      rc = sqlite3_prepare_v2 (db, tail, -1, &stmt, &next);
      if (rc != SQLITE_OK)
        {
          _kestrel_store_set_error_from_db (db, rc, "Preparing a schema statement failed", error);
          return FALSE;
        }
      tail = next;
      if (stmt == NULL) /* only whitespace or comments were left */
        break;

      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        ;
      if (rc != SQLITE_DONE)
        {
          _kestrel_store_set_error_from_db (db, rc, "Running a schema statement failed", error);
          sqlite3_finalize (stmt);
          return FALSE;
        }
      sqlite3_finalize (stmt);
    }

  return TRUE;
}

static guint32
read_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

/* Cheap checks on the 100-byte header, before SQLite sees the file: is it an SQLite file at
 * all, and is it as long as the header says (a truncated copy otherwise opens "fine" and fails
 * later)? Returns a reason when the file is damaged, NULL when it looks sound. */
static char *
check_header (const char *path)
{
  g_autofree char *wal_path = g_strconcat (path, "-wal", NULL);
  guint8 header[100];
  GStatBuf st, wal_st;
  guint32 page_size, change_counter, n_pages, valid_for;
  ssize_t n;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    return NULL; /* not readable: SQLite will say why */

  if (fstat (fd, &st) != 0 || st.st_size == 0)
    {
      close (fd);
      return NULL; /* an empty file is an empty database */
    }

  n = pread (fd, header, sizeof header, 0);
  close (fd);

  if (n < (ssize_t) sizeof header)
    return g_strdup_printf ("the file is only %" G_GINT64_FORMAT " bytes long", (gint64) st.st_size);

  if (memcmp (header, "SQLite format 3", 16) != 0)
    return g_strdup ("the file is not an SQLite database");

  page_size = ((guint32) header[16] << 8) | header[17];
  if (page_size == 1)
    page_size = 65536;
  if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) != 0)
    return g_strdup_printf ("the header gives an impossible page size (%u)", page_size);

  /* With a non-empty WAL, the pages may legitimately live in the WAL. */
  if (g_stat (wal_path, &wal_st) == 0 && wal_st.st_size > 0)
    return NULL;

  change_counter = read_be32 (header + 24);
  n_pages = read_be32 (header + 28);
  valid_for = read_be32 (header + 92);
  if (valid_for == change_counter && n_pages > 0 &&
      (guint64) n_pages * page_size > (guint64) st.st_size)
    return g_strdup_printf ("the file is truncated: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
                            (guint64) st.st_size, (guint64) n_pages * page_size);

  return NULL;
}

static void
close_connection (KestrelStore *self)
{
  g_hash_table_remove_all (self->statements);
  if (self->db != NULL)
    {
      sqlite3_close (self->db);
      self->db = NULL;
    }
}

static gboolean
query_int (sqlite3     *db,
           const char  *sql,
           int         *value,
           GError     **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      _kestrel_store_set_error_from_db (db, rc, "Reading the database failed", error);
      sqlite3_finalize (stmt);
      return FALSE;
    }

  *value = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  return TRUE;
}

/* Reads, without writing, what kind of file this is. Sets @foreign_reason when the file is a
 * readable SQLite database that some other program made. */
static gboolean
probe (KestrelStore  *self,
       int           *version,
       char         **foreign_reason,
       GError       **error)
{
  int n_objects = 0, application_id = 0, n_tables = 0;

  if (!query_int (self->db, "SELECT count(*) FROM sqlite_schema", &n_objects, error) ||
      !query_int (self->db, "PRAGMA application_id", &application_id, error) ||
      !_kestrel_store_schema_get_version (self->db, version, error))
    return FALSE;

  if (application_id == 0 && *version == 0 && n_objects == 0)
    return TRUE; /* new and empty */

  if ((guint32) application_id != KESTREL_STORE_APPLICATION_ID)
    {
      *foreign_reason = g_strdup ("the file is a database of another program");
      return TRUE;
    }

  if (*version > KESTREL_STORE_SCHEMA_VERSION)
    return TRUE; /* reported by the caller, before anything is written */

  if (*version >= 1 &&
      !query_int (self->db,
                  "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                  "('conversations', 'messages', 'attachments', 'tool_calls')",
                  &n_tables, error))
    return FALSE;

  if (*version >= 1 && n_tables != 4)
    *foreign_reason = g_strdup ("tables of the conversation database are missing");

  return TRUE;
}

static gboolean
newer_schema_error (KestrelStore  *self,
                    int            version,
                    GError       **error)
{
  g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NEWER_SCHEMA,
               "The conversation database %s was written by a newer version of Kestrel "
               "(schema %d; this version knows up to %d). It was left untouched.",
               self->path, version, KESTREL_STORE_SCHEMA_VERSION);
  return FALSE;
}

/* Opens read-write, migrates, and marks replies cut off by a crash. On failure the connection
 * is closed; @unreadable_reason is set when the file must be moved aside. */
static gboolean
open_read_write (KestrelStore  *self,
                 const char    *filename,
                 char         **unreadable_reason,
                 GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *interrupted_sql = NULL;
  int version = 0;
  int rc;

  rc = sqlite3_open_v2 (filename, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                        SQLITE_OPEN_EXRESCODE, NULL);
  if (rc != SQLITE_OK)
    {
      _kestrel_store_set_error_from_db (self->db, rc, "Opening the conversation database failed", error);
      close_connection (self);
      return FALSE;
    }

  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, self->busy_timeout_ms);

  if (!probe (self, &version, unreadable_reason, &local_error))
    {
      if (g_error_matches (local_error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_CORRUPT))
        *unreadable_reason = g_strdup (local_error->message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      close_connection (self);
      return FALSE;
    }

  if (*unreadable_reason != NULL)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_CORRUPT, "%s", *unreadable_reason);
      close_connection (self);
      return FALSE;
    }

  if (version > KESTREL_STORE_SCHEMA_VERSION)
    {
      close_connection (self);
      return newer_schema_error (self, version, error);
    }

  if (!_kestrel_store_exec_script (self->db,
                                   "PRAGMA journal_mode = WAL;"
                                   "PRAGMA synchronous = NORMAL;"
                                   "PRAGMA foreign_keys = ON;", &local_error) ||
      !_kestrel_store_exec_script (self->db, "BEGIN IMMEDIATE", &local_error))
    goto failed;

  if (!_kestrel_store_schema_migrate (self->db, KESTREL_STORE_SCHEMA_VERSION, &local_error))
    goto failed_in_transaction;

  /* A reply still 'streaming' now was cut off when the last process died. The time is an
   * integer this code computed, not outside input. */
  interrupted_sql = g_strdup_printf ("UPDATE messages SET status = 'interrupted', updated_at = %" G_GINT64_FORMAT
                                     " WHERE status = 'streaming'", _kestrel_store_now ());
  if (!_kestrel_store_exec_script (self->db, interrupted_sql, &local_error))
    goto failed_in_transaction;

  if (sqlite3_changes (self->db) > 0)
    g_message ("Marked %d reply(s) cut off by a crash as interrupted", sqlite3_changes (self->db));

  if (!_kestrel_store_exec_script (self->db, "COMMIT", &local_error))
    goto failed_in_transaction;

  return TRUE;

failed_in_transaction:
  if (!sqlite3_get_autocommit (self->db))
    _kestrel_store_exec_script (self->db, "ROLLBACK", NULL);
failed:
  if (g_error_matches (local_error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_CORRUPT))
    *unreadable_reason = g_strdup (local_error->message);
  g_propagate_error (error, g_steal_pointer (&local_error));
  close_connection (self);
  return FALSE;
}

/* For a folder we cannot write to: a read-only view. immutable=1 because SQLite could not
 * create the -shm file there; it means changes still sitting in a -wal file are not seen. */
static gboolean
open_read_only (KestrelStore  *self,
                gboolean       folder_writable,
                const char    *why,
                GError       **error)
{
  g_autofree char *uri = NULL;
  g_autofree char *foreign_reason = NULL;
  g_autofree char *base_uri = NULL;
  int version = 0;
  int rc;

  if (!(base_uri = g_filename_to_uri (self->path, NULL, error)))
    return FALSE;
  uri = g_strconcat (base_uri, folder_writable ? "?mode=ro" : "?mode=ro&immutable=1", NULL);

  rc = sqlite3_open_v2 (uri, &self->db,
                        SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX |
                        SQLITE_OPEN_EXRESCODE, NULL);
  if (rc != SQLITE_OK)
    {
      _kestrel_store_set_error_from_db (self->db, rc, "Opening the conversation database read-only failed", error);
      close_connection (self);
      return FALSE;
    }
  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, self->busy_timeout_ms);

  if (!probe (self, &version, &foreign_reason, error))
    {
      close_connection (self);
      return FALSE;
    }

  if (foreign_reason != NULL || version != KESTREL_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_READ_ONLY,
                   "The conversation database %s cannot be opened: %s, and it cannot be %s",
                   self->path, why, foreign_reason ? "moved aside" : "upgraded");
      close_connection (self);
      return FALSE;
    }

  self->read_only = TRUE;
  self->recovery_message =
    g_strdup_printf ("The conversation database %s is read-only (%s). Conversations are shown, "
                     "but nothing new can be saved.", self->path, why);
  g_message ("%s", self->recovery_message);
  return TRUE;
}

static gboolean
rename_no_replace (const char  *from,
                   const char  *to,
                   GError     **error)
{
  /* renameat2 (RENAME_NOREPLACE) fails instead of overwriting; link + unlink is the fallback
   * for file systems without it, with the same guarantee. */
  if (renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
    return TRUE;

  if (errno == EINVAL || errno == ENOSYS)
    {
      if (link (from, to) == 0)
        {
          if (unlink (from) == 0)
            return TRUE;
        }
    }

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
               "Moving %s to %s failed: %s", from, to, g_strerror (errno));
  return FALSE;
}

/* Moves the file and its -wal/-shm to @path.corrupt-YYYYmmdd-HHMMSS[-N]. The companions go
 * first: a fresh database must never pick up the old file's WAL. */
static char *
move_aside (const char  *path,
            GError     **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *target = NULL;

  for (guint i = 0; i < 1000; i++)
    {
      gboolean taken = FALSE;

      g_free (target);
      target = i == 0 ? g_strdup_printf ("%s.corrupt-%s", path, stamp)
                      : g_strdup_printf ("%s.corrupt-%s-%u", path, stamp, i);

      taken = g_file_test (target, G_FILE_TEST_EXISTS);
      for (guint j = 0; j < G_N_ELEMENTS (companion_suffixes) && !taken; j++)
        {
          g_autofree char *companion = g_strconcat (target, companion_suffixes[j], NULL);

          taken = g_file_test (companion, G_FILE_TEST_EXISTS);
        }
      if (!taken)
        break;
    }

  for (guint j = 0; j < G_N_ELEMENTS (companion_suffixes); j++)
    {
      g_autofree char *from = g_strconcat (path, companion_suffixes[j], NULL);
      g_autofree char *to = g_strconcat (target, companion_suffixes[j], NULL);

      if (g_file_test (from, G_FILE_TEST_EXISTS) && !rename_no_replace (from, to, error))
        return NULL;
    }

  if (!rename_no_replace (path, target, error))
    return NULL;

  return g_steal_pointer (&target);
}

static gboolean
recover (KestrelStore  *self,
         const char    *reason,
         GError       **error)
{
  g_autoptr(GError) move_error = NULL;
  g_autofree char *aside = NULL;
  g_autofree char *second_reason = NULL;

  g_message ("The conversation database %s cannot be read: %s", self->path, reason);

  if (!(aside = move_aside (self->path, &move_error)))
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_CORRUPT,
                   "The conversation database %s cannot be read (%s) and could not be moved aside "
                   "(%s). It was left untouched.", self->path, reason, move_error->message);
      return FALSE;
    }

  if (!open_read_write (self, self->path, &second_reason, error))
    return FALSE;

  self->moved_aside_path = g_steal_pointer (&aside);
  self->recovery_message =
    g_strdup_printf ("The conversation database could not be read (%s). It was kept as %s, "
                     "and a new, empty database was started.", reason, self->moved_aside_path);
  g_message ("%s", self->recovery_message);
  return TRUE;
}

gboolean
_kestrel_store_open (KestrelStore  *self,
                     GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *reason = NULL;
  gboolean exists, folder_writable;

  if (self->path == NULL)
    return open_read_write (self, ":memory:", &reason, error);

  dir = g_path_get_dirname (self->path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, KESTREL_STORE_ERROR,
                   saved_errno == EACCES || saved_errno == EROFS || saved_errno == EPERM
                     ? KESTREL_STORE_ERROR_READ_ONLY : KESTREL_STORE_ERROR_FAILED,
                   "The folder %s cannot be created: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }

  exists = g_file_test (self->path, G_FILE_TEST_EXISTS);
  folder_writable = access (dir, W_OK) == 0;

  if (exists && (reason = check_header (self->path)) != NULL)
    {
      if (!folder_writable)
        {
          g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_CORRUPT,
                       "The conversation database %s cannot be read (%s), and its folder is "
                       "read-only. It was left untouched.", self->path, reason);
          return FALSE;
        }
      return recover (self, reason, error);
    }

  if (!folder_writable)
    {
      g_autofree char *why = g_strdup_printf ("the folder %s cannot be written to", dir);

      if (!exists)
        {
          g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_READ_ONLY,
                       "No conversation database can be created: %s", why);
          return FALSE;
        }
      return open_read_only (self, FALSE, why, error);
    }

  if (open_read_write (self, self->path, &reason, &local_error))
    return TRUE;

  if (reason != NULL)
    return recover (self, reason, error);

  if (exists && g_error_matches (local_error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_READ_ONLY))
    return open_read_only (self, TRUE, "the file cannot be written to", error);

  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}
