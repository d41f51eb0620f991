/* kestrel-store-schema.c — the schema and its forward migrations.
 *
 * The version lives in PRAGMA user_version. Migration N takes a version N-1 database to
 * version N; a fresh file (version 0) runs them all. Migrations only ever add: a released
 * migration is never edited, a change is a new migration, and tests/app/test-store-schema.c
 * builds every earlier version, fills it, and opens it with the current code.
 *
 * Times are microseconds since the Unix epoch (UTC). Enum-like columns hold the nicks of the
 * enums in kestrel-store-types.h, so a file reads the same whatever the C enum order;
 * conversations.title_source is a rank (KestrelTitleSource) because it is compared.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include "kestrel-store-private.h"

/* Version 1: conversations, the message tree, attachments, tool calls. */
static const char migration_1[] =
  "PRAGMA application_id = 1263752274;\n" /* KESTREL_STORE_APPLICATION_ID, "KSTR" */
  "CREATE TABLE conversations (\n"
  "  id               INTEGER PRIMARY KEY,\n"
  "  title            TEXT NOT NULL DEFAULT '',\n"
  "  title_source     INTEGER NOT NULL DEFAULT 0 CHECK (title_source BETWEEN 0 AND 3),\n"
  "  created_at       INTEGER NOT NULL,\n"
  "  updated_at       INTEGER NOT NULL,\n"
  "  pinned           INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),\n"
  "  archived         INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),\n"
  "  system_prompt    TEXT NOT NULL DEFAULT '',\n"
  "  settings         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid (settings)),\n"
  /* The selected alternative among root messages; may dangle after a delete (no FK on
   * purpose: a SET NULL action would scan the table), readers fall back to the newest. */
  "  selected_root_id INTEGER\n"
  ");\n"
  /* The sidebar query: WHERE archived = ? ORDER BY pinned DESC, updated_at DESC, id DESC. */
  "CREATE INDEX conversations_sidebar\n"
  "  ON conversations (archived, pinned DESC, updated_at DESC, id DESC);\n"
  "CREATE TABLE messages (\n"
  "  id                INTEGER PRIMARY KEY,\n"
  "  conversation_id   INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,\n"
  "  parent_id         INTEGER REFERENCES messages (id),\n"
  "  role              TEXT NOT NULL CHECK (role IN ('user', 'model', 'tool')),\n"
  "  status            TEXT NOT NULL DEFAULT 'complete'\n"
  "                    CHECK (status IN ('complete', 'streaming', 'cancelled', 'error', 'interrupted')),\n"
  "  content           TEXT NOT NULL DEFAULT '',\n"
  "  stats             TEXT CHECK (stats IS NULL OR json_valid (stats)),\n"
  "  selected_child_id INTEGER,\n" /* like selected_root_id: may dangle */
  "  created_at        INTEGER NOT NULL,\n"
  "  updated_at        INTEGER NOT NULL\n"
  ");\n"
  "CREATE INDEX messages_by_conversation ON messages (conversation_id, parent_id);\n"
  "CREATE INDEX messages_by_parent ON messages (parent_id);\n"
  /* Startup marks replies cut off by a crash; this keeps that a lookup, not a scan. */
  "CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';\n"
  "CREATE TABLE attachments (\n"
  "  id             INTEGER PRIMARY KEY,\n"
  "  message_id     INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,\n"
  "  position       INTEGER NOT NULL,\n"
  "  mime_type      TEXT NOT NULL,\n"
  "  byte_size      INTEGER NOT NULL CHECK (byte_size = length (data)),\n"
  "  sha256         TEXT NOT NULL CHECK (length (sha256) = 64),\n"
  "  width          INTEGER NOT NULL CHECK (width > 0),\n"
  "  height         INTEGER NOT NULL CHECK (height > 0),\n"
  "  data           BLOB NOT NULL,\n"
  "  thumbnail      BLOB,\n"
  "  UNIQUE (message_id, position)\n"
  ");\n"
  "CREATE TABLE tool_calls (\n"
  "  id         INTEGER PRIMARY KEY,\n"
  "  message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,\n"
  "  position   INTEGER NOT NULL,\n"
  "  name       TEXT NOT NULL,\n"
  "  arguments  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid (arguments)),\n"
  "  result     TEXT,\n"
  "  status     TEXT NOT NULL DEFAULT 'pending'\n"
  "             CHECK (status IN ('pending', 'running', 'complete', 'error')),\n"
  "  UNIQUE (message_id, position)\n"
  ");\n";

/* Version 2: tool calls ask for approval. Calls made before approval existed ran without
 * asking, so they are recorded as automatic. */
static const char migration_2[] =
  "ALTER TABLE tool_calls ADD COLUMN approval TEXT NOT NULL DEFAULT 'pending'\n"
  "  CHECK (approval IN ('pending', 'approved', 'denied', 'automatic'));\n"
  "ALTER TABLE tool_calls ADD COLUMN decided_at INTEGER;\n"
  "UPDATE tool_calls SET approval = 'automatic';\n";

/* Version 3: full-text search over message text. An external-content FTS5 index (the text is
 * stored once, in messages) kept in step by triggers, filled from existing messages. Prefix
 * indexes for 2 to 5 characters keep search-as-you-type fast while a word is being typed: a
 * prefix without one makes FTS5 merge the posting lists of every matching term first (for a
 * common word on a million messages, 100-300 ms). Each length adds ~30-40% of the plain index
 * (measured: docs/store.md). */
static const char migration_3[] =
  "CREATE VIRTUAL TABLE messages_fts USING fts5 (\n"
  "  content, content = 'messages', content_rowid = 'id',\n"
  "  tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4 5'\n"
  ");\n"
  "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN\n"
  "  INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);\n"
  "END;\n"
  "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN\n"
  "  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);\n"
  "END;\n"
  "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN\n"
  "  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);\n"
  "  INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);\n"
  "END;\n"
  "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');\n";

/* Version 4: prefix indexes up to 8 characters. With 2 to 5 only, a partial word of 6+
 * characters of a very common word cost ~125 ms on a million messages (FTS5 merges every
 * matching term's posting list first); with 6, 7 and 8 it is ~1 ms. The index grows by ~30 %
 * (756 → 981 MiB for the million-message benchmark, ~225 bytes a message; docs/store.md).
 * An FTS5 table's prefix option cannot be changed, so the index is rebuilt from the
 * messages: ~70 s for a million messages on the development machine, well under a second
 * for ten thousand. The triggers name the table, not its options, and stay as they are. */
static const char migration_4[] =
  "DROP TABLE messages_fts;\n"
  "CREATE VIRTUAL TABLE messages_fts USING fts5 (\n"
  "  content, content = 'messages', content_rowid = 'id',\n"
  "  tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4 5 6 7 8'\n"
  ");\n"
  "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');\n";

static const char * const migrations[] = {
  NULL, /* version 0: an empty file */
  migration_1,
  migration_2,
  migration_3,
  migration_4,
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == KESTREL_STORE_SCHEMA_VERSION + 1);

gboolean
_kestrel_store_schema_get_version (sqlite3  *db,
                                   int      *version,
                                   GError  **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      _kestrel_store_set_error_from_db (db, rc, "Reading the database version failed", error);
      sqlite3_finalize (stmt);
      return FALSE;
    }

  *version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  return TRUE;
}

/* Runs the migrations from the file's version up to @target_version. The caller holds a write
 * transaction, so a failed migration leaves the file as it was. Tests use a @target_version
 * below the current one to build the databases that earlier releases wrote. */
gboolean
_kestrel_store_schema_migrate (sqlite3  *db,
                               int       target_version,
                               GError  **error)
{
  int version;

  g_return_val_if_fail (target_version >= 0 && target_version <= KESTREL_STORE_SCHEMA_VERSION, FALSE);

  if (!_kestrel_store_schema_get_version (db, &version, error))
    return FALSE;

  if (version > target_version)
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NEWER_SCHEMA,
                   "The database has schema version %d; this Kestrel knows up to %d",
                   version, target_version);
      return FALSE;
    }

  for (int v = version + 1; v <= target_version; v++)
    {
      /* PRAGMA takes no bound parameters; v is a small integer this code chose. */
      g_autofree char *set_version = g_strdup_printf ("PRAGMA user_version = %d;", v);
      g_autoptr(GError) local_error = NULL;

      if (!_kestrel_store_exec_script (db, migrations[v], &local_error) ||
          !_kestrel_store_exec_script (db, set_version, &local_error))
        {
          g_set_error (error, local_error->domain, local_error->code,
                       "Upgrading the database to version %d failed: %s", v, local_error->message);
          return FALSE;
        }

      g_debug ("Migrated the conversation database to version %d", v);
    }

  return TRUE;
}
