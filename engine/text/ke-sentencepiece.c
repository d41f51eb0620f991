/* ke-sentencepiece.c — builds the tokenizer from a SentencePiece tokenizer.model (BPE,
 * identity normalization, no dummy prefix: the Gemma form) the way transformers converts it
 * into a tokenizer.json, so that it tokenizes exactly as that tokenizer.json would.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The conversion (transformers' SentencePieceExtractor + Gemma converter):
 *   - vocab: every piece, id = its index;
 *   - merges: for every piece, every split into two pieces of the vocab (at code-point
 *     boundaries), ordered by the piece's score (highest first), then piece id, then the
 *     ids of the two halves;
 *   - added tokens: the CONTROL and UNKNOWN pieces (special) and USER_DEFINED pieces (not
 *     special), matched on the raw text; tokenizer_config.json's added_tokens_decoder, when
 *     given, sets their flags and adds the rest (Gemma 3: <image_soft_token>);
 *   - normalizer Replace(" " → "▁"); BPE with byte_fallback as trained, fuse_unk; decoder
 *     Replace("▁" → " "), ByteFallback, Fuse.
 * Checked on the fixture: the vocab and all 22,625 merges equal its tokenizer.json's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yyjson.h>

#include "ke-tokenizer-internal.h"

#define KE_SPM_MAX_BYTES (256u * 1024u * 1024u)

enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_USER_DEFINED = 4,
       SPM_UNUSED = 5, SPM_BYTE = 6 };

typedef struct {
  const uint8_t *p, *end;
} pb_reader;

static bool
pb_varint (pb_reader *r, uint64_t *v)
{
  *v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end)
      return false;
    uint8_t c = *r->p++;
    *v |= (uint64_t) (c & 0x7f) << shift;
    if (c < 0x80)
      return true;
  }
  return false;
}

/* Next field: number, wire type, and for wire type 2 the bytes, for 0 the value, for 5
 * the 4 bytes. */
static bool
pb_field (pb_reader *r, uint32_t *field, uint32_t *wire, uint64_t *value, pb_reader *sub)
{
  uint64_t key;
  if (!pb_varint (r, &key) || key >> 3 == 0 || key >> 3 > UINT32_MAX)
    return false;
  *field = (uint32_t) (key >> 3);
  *wire = key & 7;
  switch (*wire) {
  case 0:
    return pb_varint (r, value);
  case 1:
    if (r->end - r->p < 8)
      return false;
    sub->p = r->p;
    sub->end = r->p + 8;
    r->p += 8;
    return true;
  case 2: {
    uint64_t len;
    if (!pb_varint (r, &len) || len > (uint64_t) (r->end - r->p))
      return false;
    sub->p = r->p;
    sub->end = r->p + len;
    r->p += len;
    return true;
  }
  case 5:
    if (r->end - r->p < 4)
      return false;
    sub->p = r->p;
    sub->end = r->p + 4;
    r->p += 4;
    return true;
  default:
    return false;
  }
}

typedef struct {
  uint32_t off, len; /* piece in the arena */
  float score;
  uint32_t type;
} spm_piece;

typedef struct {
  float score;
  uint32_t piece, left, right;
} spm_merge;

static int
merge_order (const void *a, const void *b)
{
  const spm_merge *x = a, *y = b;
  if (x->score != y->score)
    return x->score > y->score ? -1 : 1;
  if (x->piece != y->piece)
    return x->piece < y->piece ? -1 : 1;
  if (x->left != y->left)
    return x->left < y->left ? -1 : 1;
  return x->right < y->right ? -1 : x->right > y->right;
}

static bool
oom (ke_error **error)
{
  return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading tokenizer.model");
}

static bool
add_str (ke_tokenizer *tok, const char *s, size_t len, uint32_t *off, ke_error **error)
{
  if (len >= UINT32_MAX || !ke_buf_append_str (&tok->arena, s, len, off))
    return oom (error);
  tok->arena_base = tok->arena.data;
  return true;
}

static bool
parse_model_proto (ke_tokenizer *tok, const uint8_t *data, size_t size, spm_piece **pieces,
                   size_t *n_pieces, ke_error **error)
{
  pb_reader r = { data, data + size };
  size_t cap = 0;
  uint64_t model_type = 1, add_dummy_prefix = 1, remove_extra_ws = 1, escape_ws = 1;
  uint64_t byte_fallback = 0;
  bool identity = true;
  while (r.p < r.end) {
    uint32_t field, wire;
    uint64_t v;
    pb_reader sub;
    if (!pb_field (&r, &field, &wire, &v, &sub))
      return ke_set_error (error, KE_ERROR_FORMAT, "tokenizer.model is not a SentencePiece model");
    if (field == 1 && wire == 2) { /* SentencePiece */
      spm_piece piece = { .type = SPM_NORMAL };
      bool have_text = false;
      while (sub.p < sub.end) {
        uint32_t f2, w2;
        uint64_t v2;
        pb_reader s2;
        if (!pb_field (&sub, &f2, &w2, &v2, &s2))
          return ke_set_error (error, KE_ERROR_FORMAT, "tokenizer.model: bad piece %zu",
                               *n_pieces);
        if (f2 == 1 && w2 == 2) {
          size_t len = (size_t) (s2.end - s2.p);
          if (!ke_utf8_validate ((const char *) s2.p, len, NULL))
            return ke_set_error (error, KE_ERROR_FORMAT,
                                 "tokenizer.model: piece %zu is not UTF-8", *n_pieces);
          if (!add_str (tok, (const char *) s2.p, len, &piece.off, error))
            return false;
          piece.len = (uint32_t) len;
          have_text = true;
        } else if (f2 == 2 && w2 == 5) {
          memcpy (&piece.score, s2.p, 4);
        } else if (f2 == 3 && w2 == 0) {
          piece.type = (uint32_t) v2;
        }
      }
      if (!have_text || isnan (piece.score))
        return ke_set_error (error, KE_ERROR_FORMAT, "tokenizer.model: bad piece %zu",
                             *n_pieces);
      if (*n_pieces == cap) {
        cap = cap ? cap * 2 : 1024;
        spm_piece *p = ke_realloc_array (*pieces, cap, sizeof *p);
        if (p == NULL)
          return oom (error);
        *pieces = p;
      }
      (*pieces)[(*n_pieces)++] = piece;
      if (*n_pieces >= INT32_MAX / 2)
        return ke_set_error (error, KE_ERROR_FORMAT, "tokenizer.model has too many pieces");
    } else if ((field == 2 || field == 3) && wire == 2) { /* TrainerSpec, NormalizerSpec */
      while (sub.p < sub.end) {
        uint32_t f2, w2;
        uint64_t v2;
        pb_reader s2;
        if (!pb_field (&sub, &f2, &w2, &v2, &s2))
          return ke_set_error (error, KE_ERROR_FORMAT, "tokenizer.model: bad spec");
        if (field == 2 && f2 == 3 && w2 == 0)
          model_type = v2;
        else if (field == 2 && f2 == 35 && w2 == 0)
          byte_fallback = v2;
        else if (field == 3 && f2 == 1 && w2 == 2)
          identity = s2.end - s2.p == 8 && memcmp (s2.p, "identity", 8) == 0;
        else if (field == 3 && f2 == 2 && w2 == 2 && s2.end != s2.p)
          identity = false; /* a precompiled character map */
        else if (field == 3 && f2 == 3 && w2 == 0)
          add_dummy_prefix = v2;
        else if (field == 3 && f2 == 4 && w2 == 0)
          remove_extra_ws = v2;
        else if (field == 3 && f2 == 5 && w2 == 0)
          escape_ws = v2;
      }
    }
  }
  if (*n_pieces == 0)
    return ke_set_error (error, KE_ERROR_FORMAT, "tokenizer.model has no pieces");
  if (model_type != 2)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "tokenizer.model is not a BPE model (only BPE is supported)");
  if (!identity || add_dummy_prefix || remove_extra_ws || !escape_ws)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "tokenizer.model normalizes text (only identity normalization "
                         "without dummy prefix is supported, as Gemma's)");
  tok->byte_fallback = byte_fallback != 0;
  return true;
}

static bool
build_merges (ke_tokenizer *tok, const spm_piece *pieces, size_t n, ke_error **error)
{
  size_t cap = 0, count = 0;
  spm_merge *list = NULL;
  for (size_t id = 0; id < n; id++) {
    const char *s = tok->arena_base + pieces[id].off;
    uint32_t len = pieces[id].len;
    for (uint32_t k = 1; k < len; k++) {
      if (((unsigned char) s[k] & 0xc0) == 0x80)
        continue; /* split at code points, as Python slicing does */
      int32_t l = ke_str_map_get (&tok->vocab, s, k);
      int32_t r = l >= 0 ? ke_str_map_get (&tok->vocab, s + k, len - k) : -1;
      if (r < 0)
        continue;
      if (count == cap) {
        cap = cap ? cap * 2 : 4096;
        spm_merge *m = ke_realloc_array (list, cap, sizeof *m);
        if (m == NULL) {
          free (list);
          return oom (error);
        }
        list = m;
      }
      list[count++] = (spm_merge) { pieces[id].score, (uint32_t) id, (uint32_t) l, (uint32_t) r };
    }
  }
  if (count > 0)
    qsort (list, count, sizeof *list, merge_order);
  tok->n_merges = count;
  tok->rank_new_id = ke_malloc_array (count, sizeof *tok->rank_new_id);
  bool ok = tok->rank_new_id != NULL && ke_u64_map_init (&tok->merges, count);
  for (size_t i = 0; ok && i < count; i++) {
    tok->rank_new_id[i] = (ke_token) list[i].piece;
    ok = ke_u64_map_put (&tok->merges, (uint64_t) list[i].left << 32 | list[i].right,
                         (uint32_t) i);
  }
  free (list);
  return ok || oom (error);
}

/* tokenizer_config.json's added_tokens_decoder: {"262144": {"content": …, "special": …}} */
static bool
apply_token_config (ke_tokenizer *tok, const char *config_path, ke_error **error)
{
  char *data = NULL;
  size_t len = 0;
  if (config_path == NULL || !ke_file_exists (config_path))
    return true;
  if (!ke_read_file (config_path, 64u * 1024u * 1024u, &data, &len, error))
    return false;
  yyjson_doc *doc = yyjson_read (data, len, 0);
  free (data);
  if (doc == NULL)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s is not valid JSON", config_path);
  yyjson_val *root = yyjson_doc_get_root (doc);
  yyjson_val *dec = yyjson_is_obj (root) ? yyjson_obj_get (root, "added_tokens_decoder") : NULL;
  bool ok = true;
  size_t i, max;
  yyjson_val *key, *val;
  yyjson_obj_foreach (dec, i, max, key, val) {
    yyjson_val *content = yyjson_obj_get (val, "content");
    if (!yyjson_is_str (content) || yyjson_get_len (content) == 0)
      continue;
    const char *s = yyjson_get_str (content);
    size_t n = yyjson_get_len (content);
    char *end;
    unsigned long id = strtoul (yyjson_get_str (key), &end, 10);
    if (*end != '\0' || id >= INT32_MAX) {
      ok = ke_set_error (error, KE_ERROR_FORMAT, "%s: bad added token id \"%s\"", config_path,
                         yyjson_get_str (key));
      break;
    }
    ke_added_token *t = NULL;
    for (size_t a = 0; a < tok->n_added; a++)
      if (tok->added[a].content_len == n &&
          memcmp (tok->arena_base + tok->added[a].content_off, s, n) == 0)
        t = &tok->added[a];
    if (t == NULL) {
      ke_added_token *list = ke_realloc_array (tok->added, tok->n_added + 1, sizeof *list);
      if (list == NULL) {
        ok = oom (error);
        break;
      }
      tok->added = list;
      t = &tok->added[tok->n_added++];
      memset (t, 0, sizeof *t);
      int32_t vid = ke_str_map_get (&tok->vocab, s, n);
      t->id = vid >= 0 ? vid : (ke_token) id;
      t->content_len = (uint32_t) n;
      if (!add_str (tok, s, n, &t->content_off, error) ||
          !ke_str_map_put (&tok->added_map, t->content_off, t->content_len, t->id)) {
        ok = false;
        ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading %s", config_path);
        break;
      }
    }
    yyjson_val *f;
    if (yyjson_is_bool (f = yyjson_obj_get (val, "special")))
      t->special = yyjson_get_bool (f);
    if (yyjson_is_bool (f = yyjson_obj_get (val, "normalized")))
      t->normalized = yyjson_get_bool (f);
    if (yyjson_is_bool (f = yyjson_obj_get (val, "lstrip")))
      t->lstrip = yyjson_get_bool (f);
    if (yyjson_is_bool (f = yyjson_obj_get (val, "rstrip")))
      t->rstrip = yyjson_get_bool (f);
    if (yyjson_is_bool (f = yyjson_obj_get (val, "single_word")))
      t->single_word = yyjson_get_bool (f);
  }
  yyjson_doc_free (doc);
  return ok;
}

static bool
add_replace (ke_tokenizer *tok, const char *from, const char *to, ke_replace *r,
             ke_error **error)
{
  r->pattern_len = (uint32_t) strlen (from);
  r->content_len = (uint32_t) strlen (to);
  return add_str (tok, from, r->pattern_len, &r->pattern_off, error) &&
         add_str (tok, to, r->content_len, &r->content_off, error);
}

ke_tokenizer *
ke_tokenizer_new_from_sentencepiece_data (const void *data, size_t size,
                                          const char *config_path, ke_error **error)
{
  ke_tokenizer *tok = ke_tokenizer_alloc ();
  if (tok == NULL) {
    oom (error);
    return NULL;
  }
  spm_piece *pieces = NULL;
  size_t n = 0;
  bool ok = parse_model_proto (tok, (const uint8_t *) data, size, &pieces, &n, error);
  if (ok && (!ke_str_map_init (&tok->vocab, &tok->arena_base, n) ||
             !ke_str_map_init (&tok->added_map, &tok->arena_base, 64)))
    ok = oom (error);
  for (size_t id = 0; ok && id < n; id++) {
    const char *s = tok->arena_base + pieces[id].off;
    if (ke_str_map_get (&tok->vocab, s, pieces[id].len) >= 0)
      ok = ke_set_error (error, KE_ERROR_FORMAT, "tokenizer.model has piece \"%.40s\" twice", s);
    else if (!ke_str_map_put (&tok->vocab, pieces[id].off, pieces[id].len, (int32_t) id))
      ok = oom (error);
  }
  ok = ok && build_merges (tok, pieces, n, error);
  /* control, unknown and user-defined pieces are added tokens, in id order */
  size_t n_special = 0;
  for (size_t id = 0; ok && id < n; id++)
    n_special += pieces[id].type == SPM_CONTROL || pieces[id].type == SPM_UNKNOWN ||
                 pieces[id].type == SPM_USER_DEFINED;
  if (ok && (tok->added = ke_calloc_array (n_special, sizeof *tok->added)) == NULL)
    ok = oom (error);
  for (size_t id = 0; ok && id < n; id++) {
    uint32_t type = pieces[id].type;
    if (type != SPM_CONTROL && type != SPM_UNKNOWN && type != SPM_USER_DEFINED)
      continue;
    if (type == SPM_UNKNOWN) {
      tok->has_unk_token = true;
      tok->unk_id = (ke_token) id;
    }
    if (pieces[id].len == 0)
      continue;
    ke_added_token *t = &tok->added[tok->n_added++];
    *t = (ke_added_token) { .content_off = pieces[id].off, .content_len = pieces[id].len,
                            .id = (ke_token) id, .special = type != SPM_USER_DEFINED };
    if (!ke_str_map_put (&tok->added_map, t->content_off, t->content_len, t->id))
      ok = oom (error);
  }
  free (pieces);
  pieces = NULL;
  tok->fuse_unk = true;
  ok = ok && apply_token_config (tok, config_path, error);
  if (ok) {
    ke_norm_step *step = calloc (1, sizeof *step);
    tok->dec_replace = calloc (1, sizeof *tok->dec_replace);
    if (step == NULL || tok->dec_replace == NULL) {
      free (step);
      ok = oom (error);
    } else {
      tok->norm = step;
      tok->n_norm = 1;
      step->kind = KE_NORM_REPLACE;
      tok->n_dec_replace = 1;
      tok->dec_byte_fallback = true;
      ok = add_replace (tok, " ", "\xe2\x96\x81", &step->replace, error) &&
           add_replace (tok, "\xe2\x96\x81", " ", &tok->dec_replace[0], error);
    }
  }
  ok = ok && ke_tokenizer_finish (tok, error);
  if (!ok) {
    free (pieces);
    ke_tokenizer_free (tok);
    return NULL;
  }
  return tok;
}

ke_tokenizer *
ke_tokenizer_new_from_sentencepiece (const char *model_path, const char *config_path,
                                     ke_error **error)
{
  char *data = NULL;
  size_t size = 0;
  if (!ke_read_file (model_path, KE_SPM_MAX_BYTES, &data, &size, error))
    return NULL;
  ke_tokenizer *tok = ke_tokenizer_new_from_sentencepiece_data (data, size, config_path, error);
  free (data);
  if (tok == NULL)
    ke_error_prefix (error, "%s", model_path);
  return tok;
}
