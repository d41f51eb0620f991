/* kestrel-store-search.c — full-text search over message text (FTS5).
 *
 * The user's words become an FTS5 query of quoted terms (so no input is FTS5 syntax), all
 * required, the last one also as a prefix (search as you type). Hits come newest first: FTS5
 * walks its index in rowid order and stops at the limit, so even a word found in every message
 * answers in about a millisecond, where ranking by bm25 would score every match first.
 *
 * A prefix longer than the prefix indexes (2 to 8 characters) is different: FTS5 merges the
 * posting lists of every matching term in memory before the first row, which for a very
 * common word costs ~100 ms on a million messages. So the last word is first searched as a
 * whole word; only when that gives fewer than @limit hits is it searched as a prefix. Whole-
 * word matches therefore win over partial ones when there are enough of them (see
 * docs/store.md for the measurements).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include <string.h>

#include "kestrel-store-private.h"

#define MATCH_START "\002"
#define MATCH_END   "\003"
#define SNIPPET_TOKENS 16

/* Returns NULL when @query has no words. With @prefix the last word matches as a prefix
 * (unless the query ends in a space: that word is complete). */
static char *
build_match_expression (const char *query,
                        gboolean    prefix)
{
  g_autoptr(GString) expr = g_string_new (NULL);
  g_auto(GStrv) words = g_strsplit_set (query, " \t\r\n", -1);
  gboolean ends_in_space;
  guint n_words = 0;
  gsize query_len = strlen (query);

  ends_in_space = query_len > 0 && g_ascii_isspace (query[query_len - 1]);

  for (guint i = 0; words[i] != NULL; i++)
    {
      gboolean last = TRUE;

      if (words[i][0] == '\0')
        continue;
      for (guint j = i + 1; words[j] != NULL; j++)
        if (words[j][0] != '\0')
          last = FALSE;

      if (expr->len > 0)
        g_string_append_c (expr, ' ');
      g_string_append_c (expr, '"');
      for (const char *p = words[i]; *p; p++)
        {
          if (*p == '"')
            g_string_append_c (expr, '"');
          g_string_append_c (expr, *p);
        }
      g_string_append_c (expr, '"');
      /* Search as you type: the word being typed matches as a prefix. */
      if (last && prefix && !ends_in_space)
        g_string_append_c (expr, '*');
      n_words++;
    }

  if (n_words == 0)
    return NULL;
  return g_string_free (g_steal_pointer (&expr), FALSE);
}

/* FTS5's snippet with control-character markers -> Pango markup with <b> around matches. */
static char *
snippet_to_markup (const char *snippet)
{
  g_autoptr(GString) markup = g_string_new (NULL);
  const char *p = snippet;

  while (*p != '\0')
    {
      const char *next = strpbrk (p, MATCH_START MATCH_END);
      g_autofree char *escaped = NULL;

      if (next == NULL)
        next = p + strlen (p);
      escaped = g_markup_escape_text (p, next - p);
      g_string_append (markup, escaped);
      if (*next == MATCH_START[0])
        g_string_append (markup, "<b>");
      else if (*next == MATCH_END[0])
        g_string_append (markup, "</b>");
      p = *next ? next + 1 : next;
    }

  return g_string_free (g_steal_pointer (&markup), FALSE);
}

static gboolean
run_query (KestrelStore  *self,
           const char    *match,
           guint          limit,
           GPtrArray     *hits,
           GError       **error)
{
  sqlite3_stmt *stmt;
  int rc;

  if (!(stmt = _kestrel_store_prepare (self,
                                       "SELECT f.rowid, m.conversation_id, c.title, m.role, m.created_at,"
                                       "       snippet (messages_fts, 0, ?3, ?4, '…', ?5)"
                                       " FROM messages_fts f"
                                       " CROSS JOIN messages m ON m.id = f.rowid"
                                       " CROSS JOIN conversations c ON c.id = m.conversation_id"
                                       " WHERE messages_fts MATCH ?1"
                                       " ORDER BY f.rowid DESC LIMIT ?2", error)))
    return FALSE;

  sqlite3_bind_text (stmt, 1, match, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, limit);
  sqlite3_bind_text (stmt, 3, MATCH_START, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, MATCH_END, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 5, SNIPPET_TOKENS);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autofree char *markup = snippet_to_markup ((const char *) sqlite3_column_text (stmt, 5));
      KestrelMessageRole role = KESTREL_MESSAGE_ROLE_USER;

      kestrel_message_role_from_string ((const char *) sqlite3_column_text (stmt, 3), &role);
      g_ptr_array_add (hits,
                       g_object_new (KESTREL_TYPE_SEARCH_HIT,
                                     "message-id", (gint64) sqlite3_column_int64 (stmt, 0),
                                     "conversation-id", (gint64) sqlite3_column_int64 (stmt, 1),
                                     "conversation-title", (const char *) sqlite3_column_text (stmt, 2),
                                     "role", role,
                                     "created-at", (gint64) sqlite3_column_int64 (stmt, 4),
                                     "snippet-markup", markup,
                                     NULL));
    }
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    return _kestrel_store_set_error (self, rc, "Searching failed", error);
  return TRUE;
}

/**
 * kestrel_store_search:
 * @query: words as the user typed them
 * @limit: the most hits to return
 *
 * Returns: (transfer container) (element-type KestrelSearchHit): messages containing every
 * word, newest first; the last word matches as a prefix when it is not found @limit times as a
 * whole word. Empty for a query without words.
 */
GPtrArray *
kestrel_store_search (KestrelStore  *self,
                      const char    *query,
                      guint          limit,
                      GError       **error)
{
  g_autoptr(GRecMutexLocker) locker = NULL;
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *whole = NULL;
  g_autofree char *prefix = NULL;

  g_return_val_if_fail (KESTREL_IS_STORE (self), NULL);
  g_return_val_if_fail (query != NULL, NULL);

  if (!g_utf8_validate (query, -1, NULL))
    {
      g_set_error (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_INVALID, "The search text is not valid UTF-8");
      return NULL;
    }

  if ((whole = build_match_expression (query, FALSE)) == NULL || limit == 0)
    return g_steal_pointer (&hits);
  prefix = build_match_expression (query, TRUE);

  locker = g_rec_mutex_locker_new (&self->db_lock);
  if (!run_query (self, whole, limit, hits, error))
    return NULL;

  if (hits->len < limit && !g_str_equal (whole, prefix))
    {
      g_ptr_array_set_size (hits, 0);
      if (!run_query (self, prefix, limit, hits, error))
        return NULL;
    }

  return g_steal_pointer (&hits);
}
