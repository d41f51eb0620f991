/* ke-tokenizer.c — the tokenizer object: the tables derived after loading, lookups,
 * special ids, and opening a model folder.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <yyjson.h>

#include "ke-tokenizer-internal.h"

/* ---- growable buffer ----------------------------------------------------------------- */

bool
ke_buf_reserve (ke_buf *buf, size_t extra)
{
  size_t need;
  if (!ke_add_size (buf->len, extra, &need) || !ke_add_size (need, 1, &need))
    return false;
  if (need <= buf->cap)
    return true;
  size_t cap = buf->cap ? buf->cap : 64;
  while (cap < need) {
    if (cap > SIZE_MAX / 2)
      return false;
    cap *= 2;
  }
  char *d = realloc (buf->data, cap);
  if (d == NULL)
    return false;
  buf->data = d;
  buf->cap = cap;
  return true;
}

bool
ke_buf_append (ke_buf *buf, const void *data, size_t len)
{
  if (!ke_buf_reserve (buf, len))
    return false;
  if (len)
    memcpy (buf->data + buf->len, data, len);
  buf->len += len;
  buf->data[buf->len] = '\0';
  return true;
}

bool
ke_buf_append_str (ke_buf *buf, const void *data, size_t len, uint32_t *off)
{
  if (buf->len >= UINT32_MAX - len - 1 || !ke_buf_reserve (buf, len + 1))
    return false;
  *off = (uint32_t) buf->len;
  if (len)
    memcpy (buf->data + buf->len, data, len);
  buf->data[buf->len + len] = '\0';
  buf->len += len + 1;
  return true;
}

void
ke_buf_clear (ke_buf *buf)
{
  free (buf->data);
  memset (buf, 0, sizeof *buf);
}

/* ---- trie ---------------------------------------------------------------------------- */

static bool
trie_new_node (ke_trie *trie, uint32_t *node)
{
  if (trie->n_nodes == trie->cap_nodes) {
    uint32_t cap = trie->cap_nodes ? trie->cap_nodes * 2 : 64;
    int32_t *term = ke_realloc_array (trie->term, cap, sizeof *term);
    if (term == NULL)
      return false;
    trie->term = term;
    trie->cap_nodes = cap;
  }
  trie->term[trie->n_nodes] = -1;
  *node = trie->n_nodes++;
  return true;
}

bool
ke_trie_insert (ke_trie *trie, const char *s, size_t len, int32_t value)
{
  uint32_t node = 0;
  if (trie->n_nodes == 0 && !trie_new_node (trie, &node))
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char) s[i];
    uint64_t key = (uint64_t) node << 8 | c;
    uint32_t child;
    if (!ke_u64_map_get (&trie->edges, key, &child)) {
      if (trie->n_nodes >= UINT32_MAX / 2 || !trie_new_node (trie, &child) ||
          !ke_u64_map_put (&trie->edges, key, child))
        return false;
    }
    node = child;
  }
  trie->first[(unsigned char) s[0]] = true;
  if (trie->term[node] < 0) /* the first of identical patterns wins, as in aho-corasick */
    trie->term[node] = value;
  return true;
}

void
ke_trie_clear (ke_trie *trie)
{
  ke_u64_map_clear (&trie->edges);
  free (trie->term);
  memset (trie, 0, sizeof *trie);
}

/* ---- construction -------------------------------------------------------------------- */

ke_tokenizer *
ke_tokenizer_alloc (void)
{
  ke_tokenizer *tok = calloc (1, sizeof *tok);
  if (tok == NULL)
    return NULL;
  tok->unk_id = -1;
  for (int i = 0; i < KE_SPECIAL_COUNT; i++)
    tok->special[i] = -1;
  for (int i = 0; i < 256; i++)
    tok->byte_id[i] = -1;
  return tok;
}

void
ke_tokenizer_free (ke_tokenizer *tok)
{
  if (tok == NULL)
    return;
  ke_buf_clear (&tok->arena);
  free (tok->piece_off);
  free (tok->piece_len);
  free (tok->piece_flags);
  free (tok->dec_off);
  free (tok->dec_len);
  free (tok->dec_byte);
  ke_str_map_clear (&tok->vocab);
  ke_u64_map_clear (&tok->merges);
  free (tok->pmerges);
  free (tok->rank_new_id);
  free (tok->bmp_id);
  ke_u64_map_clear (&tok->astral_id);
  free (tok->first_cp);
  free (tok->last_cp);
  ke_u64_map_clear (&tok->joinable);
  free (tok->norm);
  free (tok->added);
  ke_str_map_clear (&tok->added_map);
  ke_trie_clear (&tok->raw_trie);
  ke_trie_clear (&tok->norm_trie);
  free (tok->dec_replace);
  free (tok);
}

/* Appends s with every occurrence of r's pattern replaced (left to right, no overlap). */
static bool
apply_replace (const ke_tokenizer *tok, const ke_replace *r, const char *s, size_t len,
               ke_buf *out)
{
  const char *pat = tok->arena_base + r->pattern_off;
  const char *rep = tok->arena_base + r->content_off;
  size_t i = 0;
  while (i < len) {
    const char *hit = len - i >= r->pattern_len ? memmem (s + i, len - i, pat, r->pattern_len)
                                                : NULL;
    if (hit == NULL)
      return ke_buf_append (out, s + i, len - i);
    if (!ke_buf_append (out, s + i, (size_t) (hit - (s + i))) ||
        !ke_buf_append (out, rep, r->content_len))
      return false;
    i = (size_t) (hit - s) + r->pattern_len;
  }
  return true;
}

/* Runs a list of replacements over s; the result lands in *out (ping-ponging via tmp). */
static bool
apply_replaces (const ke_tokenizer *tok, const ke_replace *list, size_t n, const char *s,
                size_t len, ke_buf *out, ke_buf *tmp)
{
  out->len = 0;
  if (!ke_buf_append (out, s, len))
    return false;
  for (size_t i = 0; i < n; i++) {
    tmp->len = 0;
    if (!apply_replace (tok, &list[i], out->data, out->len, tmp))
      return false;
    ke_buf swap = *out;
    *out = *tmp;
    *tmp = swap;
  }
  return true;
}

bool
ke_tokenizer_normalize (const ke_tokenizer *tok, const char *text, size_t len, ke_buf *out)
{
  ke_buf cur = { 0 }, tmp = { 0 };
  bool ok = ke_buf_append (&cur, text, len);
  for (size_t i = 0; ok && i < tok->n_norm; i++) {
    const ke_norm_step *st = &tok->norm[i];
    tmp.len = 0;
    if (st->kind == KE_NORM_REPLACE) {
      ok = apply_replace (tok, &st->replace, cur.data, cur.len, &tmp);
    } else { /* Prepend: only to non-empty text */
      ok = cur.len == 0 ||
           (ke_buf_append (&tmp, tok->arena_base + st->text_off, st->text_len) &&
            ke_buf_append (&tmp, cur.data, cur.len));
      if (cur.len == 0)
        continue;
    }
    ke_buf swap = cur;
    cur = tmp;
    tmp = swap;
  }
  ok = ok && ke_buf_append (out, cur.data, cur.len);
  ke_buf_clear (&cur);
  ke_buf_clear (&tmp);
  return ok;
}

static bool
build_id_tables (ke_tokenizer *tok, ke_error **error)
{
  uint64_t n_ids = 0;
  for (size_t e = 0; e < tok->vocab.n_entries; e++)
    if ((uint64_t) tok->vocab.entries[e].value + 1 > n_ids)
      n_ids = (uint64_t) tok->vocab.entries[e].value + 1;
  for (size_t a = 0; a < tok->n_added; a++)
    if ((uint64_t) tok->added[a].id + 1 > n_ids)
      n_ids = (uint64_t) tok->added[a].id + 1;
  /* ids index dense tables: refuse files whose ids are far sparser than their pieces */
  if (n_ids > 4 * (tok->vocab.n_entries + tok->n_added) + 65536)
    return ke_set_error (error, KE_ERROR_FORMAT, "token ids are too sparse (largest %llu for "
                         "%zu pieces)", (unsigned long long) n_ids - 1, tok->vocab.n_entries);
  tok->n_ids = (uint32_t) n_ids;
  tok->piece_off = ke_malloc_array (n_ids, sizeof *tok->piece_off);
  tok->piece_len = ke_malloc_array (n_ids, sizeof *tok->piece_len);
  tok->piece_flags = ke_calloc_array (n_ids, 1);
  tok->first_cp = ke_calloc_array (n_ids, sizeof *tok->first_cp);
  tok->last_cp = ke_calloc_array (n_ids, sizeof *tok->last_cp);
  tok->bmp_id = ke_malloc_array (0x10000, sizeof *tok->bmp_id);
  if (!tok->piece_off || !tok->piece_len || !tok->piece_flags || !tok->first_cp ||
      !tok->last_cp || !tok->bmp_id)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the tokenizer");
  memset (tok->piece_len, 0xff, n_ids * sizeof *tok->piece_len);
  memset (tok->bmp_id, 0xff, 0x10000 * sizeof *tok->bmp_id);

  for (size_t e = 0; e < tok->vocab.n_entries; e++) {
    const ke_str_entry *en = &tok->vocab.entries[e];
    if (tok->piece_len[en->value] != UINT32_MAX)
      return ke_set_error (error, KE_ERROR_FORMAT, "the vocabulary gives id %d to two pieces",
                           en->value);
    tok->piece_off[en->value] = en->off;
    tok->piece_len[en->value] = en->len;
    const unsigned char *s = (const unsigned char *) tok->arena_base + en->off;
    if (en->len > 0) {
      uint32_t cp;
      size_t n = ke_utf8_next (s, en->len, &cp);
      tok->first_cp[en->value] = cp;
      if (n == en->len) {
        if (cp < 0x10000)
          tok->bmp_id[cp] = en->value;
        else if (!ke_u64_map_put (&tok->astral_id, cp, (uint32_t) en->value))
          return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the tokenizer");
      }
      /* last code point: step back over continuation bytes */
      size_t k = en->len - 1;
      while (k > 0 && (s[k] & 0xc0) == 0x80)
        k--;
      ke_utf8_next (s + k, en->len - k, &cp);
      tok->last_cp[en->value] = cp;
    }
  }
  for (int b = 0; b < 256; b++) {
    char name[8];
    snprintf (name, sizeof name, "<0x%02X>", b);
    tok->byte_id[b] = ke_str_map_get (&tok->vocab, name, 6);
  }
  /* added-token contents take precedence for id → piece (simple_id_to_token first) */
  for (size_t a = 0; a < tok->n_added; a++) {
    tok->piece_off[tok->added[a].id] = tok->added[a].content_off;
    tok->piece_len[tok->added[a].id] = tok->added[a].content_len;
  }
  /* is_special_token() compares the piece with the special contents */
  ke_str_map specials;
  if (!ke_str_map_init (&specials, &tok->arena_base, 16))
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the tokenizer");
  bool ok = true;
  for (size_t a = 0; ok && a < tok->n_added; a++)
    if (tok->added[a].special)
      ok = ke_str_map_put (&specials, tok->added[a].content_off, tok->added[a].content_len, 1);
  for (uint32_t id = 0; ok && specials.n_entries > 0 && id < tok->n_ids; id++)
    if (tok->piece_len[id] != UINT32_MAX &&
        ke_str_map_get (&specials, tok->arena_base + tok->piece_off[id], tok->piece_len[id]) > 0)
      tok->piece_flags[id] |= KE_PIECE_SPECIAL;
  ke_str_map_clear (&specials);
  return ok || ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the tokenizer");
}

/* Merge locality: boundary pairs (last code point of the left part, first of the right)
 * of every merge.  A merge that ever spans a symbol boundary a|b has such a pair. */
static bool
build_joinable (ke_tokenizer *tok, ke_error **error)
{
  if (!ke_u64_map_init (&tok->joinable, tok->n_merges / 4 + 16))
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the tokenizer");
  for (size_t i = 0; i <= tok->merges.mask; i++) {
    uint64_t key = tok->merges.slots[i].key;
    if (key == KE_U64_MAP_EMPTY)
      continue;
    uint32_t a = (uint32_t) (key >> 32), b = (uint32_t) key;
    uint64_t pair = (uint64_t) tok->last_cp[a] << 32 | tok->first_cp[b];
    if (!ke_u64_map_put (&tok->joinable, pair, 1))
      return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the tokenizer");
  }
  return true;
}

static bool
build_packed_merges (ke_tokenizer *tok, ke_error **error)
{
  if (tok->n_ids > (1u << 22) || tok->n_merges >= (1u << 20) - 1 || tok->n_merges == 0)
    return true; /* the general map serves */
  size_t cap = 16;
  while (cap < tok->merges.count * 2 + 2)
    cap *= 2;
  tok->pmerges = ke_malloc_array (cap, sizeof *tok->pmerges);
  if (tok->pmerges == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the tokenizer");
  memset (tok->pmerges, 0xff, cap * sizeof *tok->pmerges);
  tok->pmerges_mask = cap - 1;
  for (size_t i = 0; i <= tok->merges.mask; i++) {
    const ke_u64_slot *sl = &tok->merges.slots[i];
    if (sl->key == KE_U64_MAP_EMPTY)
      continue;
    uint64_t key = (sl->key >> 32) << 22 | (uint32_t) sl->key;
    size_t j = (size_t) ke_hash_u64 (key) & tok->pmerges_mask;
    while (tok->pmerges[j] != UINT64_MAX)
      j = (j + 1) & tok->pmerges_mask;
    tok->pmerges[j] = sl->value << 44 | key;
  }
  return true;
}

static bool
build_tries (ke_tokenizer *tok, ke_error **error)
{
  ke_buf normalized = { 0 };
  bool ok = true;
  /* HF builds its tries from special tokens first, then the others */
  for (int pass = 0; ok && pass < 2; pass++) {
    for (size_t a = 0; ok && a < tok->n_added; a++) {
      const ke_added_token *t = &tok->added[a];
      if (t->special != (pass == 0))
        continue;
      const char *content = tok->arena_base + t->content_off;
      if (!t->normalized) {
        ok = ke_trie_insert (&tok->raw_trie, content, t->content_len, (int32_t) a);
        continue;
      }
      normalized.len = 0;
      ok = ke_tokenizer_normalize (tok, content, t->content_len, &normalized) &&
           (normalized.len == 0 ||
            ke_trie_insert (&tok->norm_trie, normalized.data, normalized.len, (int32_t) a));
    }
  }
  ke_buf_clear (&normalized);
  return ok || ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the tokenizer");
}

/* HF ByteFallback: a piece of exactly 6 bytes "<0x" HH ">" (u8::from_str_radix, which
 * also takes a leading '+'). */
static int
byte_piece_value (const char *s, size_t len)
{
  if (len != 6 || memcmp (s, "<0x", 3) != 0 || s[5] != '>')
    return -1;
  int v = 0;
  for (int i = 3; i < 5; i++) {
    char c = s[i];
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else if (c == '+' && i == 3)
      continue;
    else
      return -1;
    v = v * 16 + d;
  }
  return v;
}

static bool
build_decoder_tables (ke_tokenizer *tok, ke_error **error)
{
  tok->dec_off = ke_malloc_array (tok->n_ids, sizeof *tok->dec_off);
  tok->dec_len = ke_malloc_array (tok->n_ids, sizeof *tok->dec_len);
  tok->dec_byte = ke_malloc_array (tok->n_ids, sizeof *tok->dec_byte);
  if (!tok->dec_off || !tok->dec_len || !tok->dec_byte)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the tokenizer");
  ke_buf out = { 0 }, tmp = { 0 };
  bool ok = true;
  for (uint32_t id = 0; ok && id < tok->n_ids; id++) {
    tok->dec_byte[id] = -1;
    if (tok->piece_len[id] == UINT32_MAX) {
      tok->dec_len[id] = UINT32_MAX;
      continue;
    }
    if (tok->n_dec_replace == 0) {
      tok->dec_off[id] = tok->piece_off[id];
      tok->dec_len[id] = tok->piece_len[id];
    } else {
      /* the piece may move when the arena grows: copy it out first */
      ke_buf piece = { 0 };
      ok = ke_buf_append (&piece, tok->arena_base + tok->piece_off[id], tok->piece_len[id]) &&
           apply_replaces (tok, tok->dec_replace, tok->n_dec_replace, piece.data, piece.len,
                           &out, &tmp);
      ke_buf_clear (&piece);
      if (!ok)
        break;
      if (out.len == tok->piece_len[id] &&
          (out.len == 0 || memcmp (out.data, tok->arena_base + tok->piece_off[id], out.len) == 0)) {
        tok->dec_off[id] = tok->piece_off[id];
      } else {
        ok = ke_buf_append_str (&tok->arena, out.data, out.len, &tok->dec_off[id]);
        tok->arena_base = tok->arena.data;
      }
      tok->dec_len[id] = (uint32_t) out.len;
    }
    if (tok->dec_byte_fallback)
      tok->dec_byte[id] = (int16_t) byte_piece_value (tok->arena_base + tok->dec_off[id],
                                                      tok->dec_len[id]);
  }
  ke_buf_clear (&out);
  ke_buf_clear (&tmp);
  return ok || ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the tokenizer");
}

static void
find_specials (ke_tokenizer *tok)
{
  static const char *const names[KE_SPECIAL_COUNT] = {
    [KE_SPECIAL_PAD] = "<pad>",
    [KE_SPECIAL_EOS] = "<eos>",
    [KE_SPECIAL_BOS] = "<bos>",
    [KE_SPECIAL_UNK] = "<unk>",
    [KE_SPECIAL_START_OF_TURN] = "<start_of_turn>",
    [KE_SPECIAL_END_OF_TURN] = "<end_of_turn>",
    [KE_SPECIAL_START_OF_IMAGE] = "<start_of_image>",
    [KE_SPECIAL_END_OF_IMAGE] = "<end_of_image>",
    [KE_SPECIAL_IMAGE_SOFT_TOKEN] = "<image_soft_token>",
  };
  for (int i = 0; i < KE_SPECIAL_COUNT; i++)
    tok->special[i] = ke_tokenizer_piece_to_id (tok, names[i]);
  if (tok->unk_id >= 0)
    tok->special[KE_SPECIAL_UNK] = tok->unk_id;
}

bool
ke_tokenizer_finish (ke_tokenizer *tok, ke_error **error)
{
  tok->arena_base = tok->arena.data;
  if (!build_id_tables (tok, error) || !build_joinable (tok, error) ||
      !build_packed_merges (tok, error) ||
      !build_tries (tok, error) || !build_decoder_tables (tok, error))
    return false;
  tok->arena_base = tok->arena.data;
  find_specials (tok);
  return true;
}

/* ---- lookups ------------------------------------------------------------------------- */

size_t
ke_tokenizer_vocab_size (const ke_tokenizer *tok)
{
  return tok ? tok->n_ids : 0;
}

ke_token
ke_tokenizer_special (const ke_tokenizer *tok, ke_special_token which)
{
  if (tok == NULL || (unsigned) which >= KE_SPECIAL_COUNT)
    return -1;
  return tok->special[which];
}

ke_token
ke_tokenizer_piece_to_id (const ke_tokenizer *tok, const char *piece)
{
  if (tok == NULL || piece == NULL)
    return -1;
  size_t len = strlen (piece);
  int32_t id = ke_str_map_get (&tok->added_map, piece, len);
  return id >= 0 ? id : ke_str_map_get (&tok->vocab, piece, len);
}

const char *
ke_tokenizer_id_to_piece (const ke_tokenizer *tok, ke_token id, size_t *len)
{
  if (tok == NULL || id < 0 || (uint32_t) id >= tok->n_ids || tok->piece_len[id] == UINT32_MAX)
    return NULL;
  if (len)
    *len = tok->piece_len[id];
  return tok->arena_base + tok->piece_off[id];
}

bool
ke_tokenizer_is_special (const ke_tokenizer *tok, ke_token id)
{
  return tok && id >= 0 && (uint32_t) id < tok->n_ids &&
         (tok->piece_flags[id] & KE_PIECE_SPECIAL) != 0;
}

/* ---- model folders ------------------------------------------------------------------- */

/* special_tokens_map.json / tokenizer_config.json name the special tokens: "bos_token":
 * "<bos>" or {"content": "<bos>"}.  Those that name a known piece override the defaults. */
static void
read_special_names (ke_tokenizer *tok, const char *dir, const char *file)
{
  static const struct {
    const char *key;
    ke_special_token which;
  } keys[] = {
    { "pad_token", KE_SPECIAL_PAD },          { "eos_token", KE_SPECIAL_EOS },
    { "bos_token", KE_SPECIAL_BOS },          { "unk_token", KE_SPECIAL_UNK },
    { "boi_token", KE_SPECIAL_START_OF_IMAGE }, { "eoi_token", KE_SPECIAL_END_OF_IMAGE },
    { "image_token", KE_SPECIAL_IMAGE_SOFT_TOKEN },
  };
  char *path = ke_path_join (dir, file);
  char *data = NULL;
  size_t len = 0;
  if (path == NULL || !ke_file_exists (path) ||
      !ke_read_file (path, 64u * 1024u * 1024u, &data, &len, NULL)) {
    free (path);
    return;
  }
  free (path);
  yyjson_doc *doc = yyjson_read (data, len, 0);
  free (data);
  yyjson_val *root = doc ? yyjson_doc_get_root (doc) : NULL;
  for (size_t i = 0; yyjson_is_obj (root) && i < sizeof keys / sizeof keys[0]; i++) {
    yyjson_val *v = yyjson_obj_get (root, keys[i].key);
    if (yyjson_is_obj (v))
      v = yyjson_obj_get (v, "content");
    if (!yyjson_is_str (v))
      continue;
    ke_token id = ke_tokenizer_piece_to_id (tok, yyjson_get_str (v));
    if (id >= 0)
      tok->special[keys[i].which] = id;
  }
  yyjson_doc_free (doc);
}

ke_tokenizer *
ke_tokenizer_new_from_dir (const char *model_dir, ke_error **error)
{
  if (model_dir == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No model folder given"), NULL;
  char *json = ke_path_join (model_dir, "tokenizer.json");
  char *model = ke_path_join (model_dir, "tokenizer.model");
  ke_tokenizer *tok = NULL;
  if (json == NULL || model == NULL)
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  else if (ke_file_exists (json))
    tok = ke_tokenizer_new_from_file (json, error);
  else if (ke_file_exists (model)) {
    char *config = ke_path_join (model_dir, "tokenizer_config.json");
    if (config == NULL)
      ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    else
      tok = ke_tokenizer_new_from_sentencepiece (model, config, error);
    free (config);
  }
  else
    ke_set_error (error, KE_ERROR_IO, "%s has neither tokenizer.json nor tokenizer.model",
                  model_dir);
  free (json);
  free (model);
  if (tok != NULL) {
    read_special_names (tok, model_dir, "tokenizer_config.json");
    read_special_names (tok, model_dir, "special_tokens_map.json");
  }
  return tok;
}
