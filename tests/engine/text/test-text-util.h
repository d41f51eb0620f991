/* test-text-util.h — shared helpers of the engine/text tests: the shared reference folder
 * and the fixture's cases.ref reader.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ke-engine.h"

static inline char *
tt_shared_path (const char *rel)
{
  const char *dir = getenv ("KESTREL_SHARED_DIR");
  if (dir == NULL)
    return NULL;
  size_t n = strlen (dir) + strlen (rel) + 2;
  char *p = malloc (n);
  if (p)
    snprintf (p, n, "%s/%s", dir, rel);
  return p;
}

static inline ke_tokenizer *
tt_fixture_tokenizer (void)
{
  char *path = tt_shared_path ("tokenizer-fixture/tokenizer.json");
  if (path == NULL)
    return NULL;
  ke_error *error = NULL;
  ke_tokenizer *tok = ke_tokenizer_new_from_file (path, &error);
  if (tok == NULL)
    printf ("# %s\n", error ? error->message : "cannot load the fixture");
  ke_error_free (error);
  free (path);
  return tok;
}

/* Undoes the escapes \n \r \t \\ \xNN in place. */
static inline size_t
tt_unescape (char *s, size_t len)
{
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] != '\\' || i + 1 == len) {
      s[o++] = s[i];
      continue;
    }
    char c = s[++i];
    if (c == 'n')
      s[o++] = '\n';
    else if (c == 'r')
      s[o++] = '\r';
    else if (c == 't')
      s[o++] = '\t';
    else if (c == 'x' && i + 2 < len) {
      char hex[3] = { s[i + 1], s[i + 2], 0 };
      s[o++] = (char) strtol (hex, NULL, 16);
      i += 2;
    } else
      s[o++] = c;
  }
  return o;
}

static inline char *
tt_read_all (const char *path, size_t *len)
{
  FILE *f = path ? fopen (path, "rb") : NULL;
  if (f == NULL)
    return NULL;
  size_t cap = 1 << 20, n = 0;
  char *buf = malloc (cap + 1);
  size_t got;
  while (buf && (got = fread (buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      char *b = realloc (buf, cap * 2 + 1);
      if (b == NULL) {
        free (buf);
        buf = NULL;
        break;
      }
      buf = b;
      cap *= 2;
    }
  }
  fclose (f);
  if (buf) {
    buf[n] = '\0';
    *len = n;
  }
  return buf;
}

typedef struct {
  char *text;
  size_t text_len;
  ke_token *ids;
  size_t n_ids;
  char *decoded;
  size_t decoded_len;
  char *decoded_skip; /* an `S` line after `D`: decode with skip_special_tokens, or NULL */
  size_t decoded_skip_len;
} tt_case;

typedef struct {
  char *data;
  tt_case *items;
  size_t n;
} tt_cases;

/* Reads `T text` / `I ids` / `D decoded` triples. */
static inline bool
tt_cases_load (const char *path, tt_cases *cases)
{
  memset (cases, 0, sizeof *cases);
  size_t len;
  cases->data = tt_read_all (path, &len);
  if (cases->data == NULL)
    return false;
  size_t cap = 0;
  char *p = cases->data, *end = cases->data + len;
  tt_case cur = { 0 };
  while (p < end) {
    char *nl = memchr (p, '\n', (size_t) (end - p));
    if (nl == NULL)
      nl = end;
    *nl = '\0';
    size_t l = (size_t) (nl - p);
    if (l >= 1 && p[0] == 'T') {
      cur.text = l >= 2 ? p + 2 : p + 1;
      cur.text_len = l >= 2 ? tt_unescape (cur.text, l - 2) : 0;
    } else if (l >= 1 && p[0] == 'I') {
      size_t n = 0, c = 16;
      cur.ids = malloc (c * sizeof *cur.ids);
      char *q = p + 1;
      for (;;) {
        char *e;
        long v = strtol (q, &e, 10);
        if (e == q)
          break;
        if (n == c)
          cur.ids = realloc (cur.ids, (c *= 2) * sizeof *cur.ids);
        cur.ids[n++] = (ke_token) v;
        q = e;
      }
      cur.n_ids = n;
    } else if (l >= 1 && p[0] == 'D') {
      cur.decoded = l >= 2 ? p + 2 : p + 1;
      cur.decoded_len = l >= 2 ? tt_unescape (cur.decoded, l - 2) : 0;
      if (cases->n == cap) {
        cap = cap ? cap * 2 : 1024;
        cases->items = realloc (cases->items, cap * sizeof *cases->items);
      }
      cases->items[cases->n++] = cur;
      memset (&cur, 0, sizeof cur);
    } else if (l >= 1 && p[0] == 'S' && cases->n > 0) {
      tt_case *last = &cases->items[cases->n - 1];
      last->decoded_skip = l >= 2 ? p + 2 : p + 1;
      last->decoded_skip_len = l >= 2 ? tt_unescape (last->decoded_skip, l - 2) : 0;
    }
    p = nl + 1;
  }
  return true;
}

static inline void
tt_cases_clear (tt_cases *cases)
{
  for (size_t i = 0; i < cases->n; i++)
    free (cases->items[i].ids);
  free (cases->items);
  free (cases->data);
  memset (cases, 0, sizeof *cases);
}
