/* ke-tokenizer-json.c — reads a Hugging Face tokenizer.json (the Gemma form: BPE over the
 * whole text, Replace/Prepend normalizer, no pre-tokenizer, byte fallback, added tokens,
 * decoder Replace + ByteFallback + Fuse).  Anything outside that form is refused with
 * KE_ERROR_UNSUPPORTED rather than tokenized differently from `tokenizers`.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <yyjson.h>

#include "ke-tokenizer-internal.h"

/* A 262k-piece tokenizer.json is ~33 MB; anything past this is not a tokenizer. */
#define KE_TOKENIZER_JSON_MAX_BYTES (1024u * 1024u * 1024u)

static bool
arena_add (ke_tokenizer *tok, const char *s, size_t len, uint32_t *off, ke_error **error)
{
  if (len >= UINT32_MAX || !ke_buf_append_str (&tok->arena, s, len, off))
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading the tokenizer");
  tok->arena_base = tok->arena.data;
  return true;
}

/* A JSON string member, or NULL when absent/null; false with an error when not a string. */
static bool
get_opt_str (yyjson_val *obj, const char *key, yyjson_val **out, const char *where,
             ke_error **error)
{
  yyjson_val *v = yyjson_obj_get (obj, key);
  if (v == NULL || yyjson_is_null (v)) {
    *out = NULL;
    return true;
  }
  if (!yyjson_is_str (v))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"%s\" is not a string", where, key);
  *out = v;
  return true;
}

static bool
get_opt_bool (yyjson_val *obj, const char *key, bool fallback, bool *out, const char *where,
              ke_error **error)
{
  yyjson_val *v = yyjson_obj_get (obj, key);
  if (v == NULL || yyjson_is_null (v)) {
    *out = fallback;
    return true;
  }
  if (!yyjson_is_bool (v))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"%s\" is not a boolean", where, key);
  *out = yyjson_get_bool (v);
  return true;
}

static const char *
type_of (yyjson_val *v)
{
  yyjson_val *t = yyjson_is_obj (v) ? yyjson_obj_get (v, "type") : NULL;
  return t && yyjson_is_str (t) ? yyjson_get_str (t) : NULL;
}

/* {"type": "Replace", "pattern": {"String": p}, "content": c} */
static bool
parse_replace (ke_tokenizer *tok, yyjson_val *v, ke_replace *r, const char *where,
               ke_error **error)
{
  yyjson_val *pattern = yyjson_obj_get (v, "pattern");
  yyjson_val *content = yyjson_obj_get (v, "content");
  if (!yyjson_is_obj (pattern) || !yyjson_is_str (content))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s Replace lacks pattern or content", where);
  yyjson_val *s = yyjson_obj_get (pattern, "String");
  if (s == NULL)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "%s Replace with a regular expression is not supported", where);
  if (!yyjson_is_str (s) || yyjson_get_len (s) == 0)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "%s Replace needs a non-empty string pattern", where);
  return arena_add (tok, yyjson_get_str (s), yyjson_get_len (s), &r->pattern_off, error) &&
         arena_add (tok, yyjson_get_str (content), yyjson_get_len (content), &r->content_off,
                    error) &&
         ((r->pattern_len = (uint32_t) yyjson_get_len (s)),
          (r->content_len = (uint32_t) yyjson_get_len (content)), true);
}

static bool
add_norm_step (ke_tokenizer *tok, const ke_norm_step *step, ke_error **error)
{
  ke_norm_step *n = ke_realloc_array (tok->norm, tok->n_norm + 1, sizeof *n);
  if (n == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading the tokenizer");
  tok->norm = n;
  tok->norm[tok->n_norm++] = *step;
  return true;
}

static bool
parse_normalizer (ke_tokenizer *tok, yyjson_val *v, int depth, ke_error **error)
{
  if (v == NULL || yyjson_is_null (v))
    return true;
  const char *type = type_of (v);
  if (type == NULL)
    return ke_set_error (error, KE_ERROR_FORMAT, "normalizer has no type");
  if (depth > 8)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "normalizer nests too deeply");
  if (strcmp (type, "Sequence") == 0) {
    yyjson_val *list = yyjson_obj_get (v, "normalizers");
    if (!yyjson_is_arr (list))
      return ke_set_error (error, KE_ERROR_FORMAT, "normalizer Sequence has no list");
    size_t i, n;
    yyjson_val *item;
    yyjson_arr_foreach (list, i, n, item) {
      if (!parse_normalizer (tok, item, depth + 1, error))
        return false;
    }
    return true;
  }
  ke_norm_step step = { 0 };
  if (strcmp (type, "Replace") == 0) {
    step.kind = KE_NORM_REPLACE;
    if (!parse_replace (tok, v, &step.replace, "normalizer", error))
      return false;
  } else if (strcmp (type, "Prepend") == 0) {
    yyjson_val *p = yyjson_obj_get (v, "prepend");
    if (!yyjson_is_str (p))
      return ke_set_error (error, KE_ERROR_FORMAT, "normalizer Prepend has no text");
    step.kind = KE_NORM_PREPEND;
    step.text_len = (uint32_t) yyjson_get_len (p);
    if (!arena_add (tok, yyjson_get_str (p), yyjson_get_len (p), &step.text_off, error))
      return false;
  } else {
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "normalizer %s is not supported", type);
  }
  return add_norm_step (tok, &step, error);
}

/* Accepts Replace* ByteFallback? Fuse* — per-piece replacements, then byte runs, then
 * concatenation — which is every Gemma/Llama-3-less SentencePiece-style decoder. */
static bool
parse_decoder_step (ke_tokenizer *tok, yyjson_val *v, int *stage, ke_error **error)
{
  const char *type = type_of (v);
  if (type == NULL)
    return ke_set_error (error, KE_ERROR_FORMAT, "decoder has no type");
  if (strcmp (type, "Replace") == 0) {
    if (*stage > 0)
      return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                           "decoder Replace after ByteFallback/Fuse is not supported");
    ke_replace r;
    if (!parse_replace (tok, v, &r, "decoder", error))
      return false;
    ke_replace *list = ke_realloc_array (tok->dec_replace, tok->n_dec_replace + 1, sizeof r);
    if (list == NULL)
      return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading the tokenizer");
    tok->dec_replace = list;
    tok->dec_replace[tok->n_dec_replace++] = r;
  } else if (strcmp (type, "ByteFallback") == 0) {
    if (*stage > 0)
      return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                           "decoder ByteFallback after ByteFallback/Fuse is not supported");
    tok->dec_byte_fallback = true;
    *stage = 1;
  } else if (strcmp (type, "Fuse") == 0) {
    *stage = 2; /* decode() joins with "" anyway */
  } else {
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "decoder %s is not supported", type);
  }
  return true;
}

static bool
parse_decoder (ke_tokenizer *tok, yyjson_val *v, ke_error **error)
{
  if (v == NULL || yyjson_is_null (v))
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "a tokenizer without decoder is not supported");
  int stage = 0;
  const char *type = type_of (v);
  if (type != NULL && strcmp (type, "Sequence") == 0) {
    yyjson_val *list = yyjson_obj_get (v, "decoders");
    if (!yyjson_is_arr (list))
      return ke_set_error (error, KE_ERROR_FORMAT, "decoder Sequence has no list");
    size_t i, n;
    yyjson_val *item;
    yyjson_arr_foreach (list, i, n, item) {
      if (!parse_decoder_step (tok, item, &stage, error))
        return false;
    }
    return true;
  }
  return parse_decoder_step (tok, v, &stage, error);
}

static bool
parse_vocab (ke_tokenizer *tok, yyjson_val *vocab, ke_error **error)
{
  if (!yyjson_is_obj (vocab))
    return ke_set_error (error, KE_ERROR_FORMAT, "model.vocab is not an object");
  size_t n = yyjson_obj_size (vocab);
  if (!ke_str_map_init (&tok->vocab, &tok->arena_base, n))
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading the vocabulary");
  size_t bytes = 0;
  size_t i, max;
  yyjson_val *key, *val;
  yyjson_obj_foreach (vocab, i, max, key, val) {
    bytes += yyjson_get_len (key) + 1;
  }
  if (!ke_buf_reserve (&tok->arena, bytes))
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading the vocabulary");
  yyjson_obj_foreach (vocab, i, max, key, val) {
    if (!yyjson_is_uint (val) && !(yyjson_is_sint (val) && yyjson_get_sint (val) >= 0))
      return ke_set_error (error, KE_ERROR_FORMAT, "model.vocab: the id of \"%.40s\" is not a "
                           "non-negative integer", yyjson_get_str (key));
    uint64_t id = yyjson_get_uint (val);
    if (id >= INT32_MAX)
      return ke_set_error (error, KE_ERROR_FORMAT, "model.vocab: id %llu is out of range",
                           (unsigned long long) id);
    uint32_t off;
    if (!arena_add (tok, yyjson_get_str (key), yyjson_get_len (key), &off, error))
      return false;
    if (!ke_str_map_put (&tok->vocab, off, (uint32_t) yyjson_get_len (key), (int32_t) id))
      return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading the vocabulary");
  }
  return true;
}

static bool
parse_merges (ke_tokenizer *tok, yyjson_val *merges, ke_error **error)
{
  if (merges == NULL || yyjson_is_null (merges))
    merges = NULL;
  else if (!yyjson_is_arr (merges))
    return ke_set_error (error, KE_ERROR_FORMAT, "model.merges is not a list");
  size_t n = merges ? yyjson_arr_size (merges) : 0;
  if (n >= INT32_MAX)
    return ke_set_error (error, KE_ERROR_FORMAT, "model.merges is too long");
  tok->rank_new_id = ke_malloc_array (n, sizeof *tok->rank_new_id);
  if (tok->rank_new_id == NULL || !ke_u64_map_init (&tok->merges, n))
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading the merges");
  tok->n_merges = n;
  ke_buf joined = { 0 };
  bool ok = true;
  size_t rank, max;
  yyjson_val *m;
  yyjson_arr_foreach (merges, rank, max, m) {
    const char *a, *b;
    size_t a_len, b_len;
    if (yyjson_is_str (m)) {
      /* legacy "a b": exactly one space */
      const char *s = yyjson_get_str (m);
      size_t len = yyjson_get_len (m);
      const char *sp = memchr (s, ' ', len);
      if (sp == NULL || memchr (sp + 1, ' ', len - (size_t) (sp + 1 - s)) != NULL) {
        ok = ke_set_error (error, KE_ERROR_FORMAT, "model.merges[%zu] is not \"a b\"", rank);
        break;
      }
      a = s;
      a_len = (size_t) (sp - s);
      b = sp + 1;
      b_len = len - a_len - 1;
    } else if (yyjson_is_arr (m) && yyjson_arr_size (m) == 2 &&
               yyjson_is_str (yyjson_arr_get (m, 0)) && yyjson_is_str (yyjson_arr_get (m, 1))) {
      a = yyjson_get_str (yyjson_arr_get (m, 0));
      a_len = yyjson_get_len (yyjson_arr_get (m, 0));
      b = yyjson_get_str (yyjson_arr_get (m, 1));
      b_len = yyjson_get_len (yyjson_arr_get (m, 1));
    } else {
      ok = ke_set_error (error, KE_ERROR_FORMAT, "model.merges[%zu] is not a pair of strings",
                         rank);
      break;
    }
    int32_t a_id = ke_str_map_get (&tok->vocab, a, a_len);
    int32_t b_id = ke_str_map_get (&tok->vocab, b, b_len);
    joined.len = 0;
    if (!ke_buf_append (&joined, a, a_len) || !ke_buf_append (&joined, b, b_len)) {
      ok = ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading the merges");
      break;
    }
    int32_t new_id = ke_str_map_get (&tok->vocab, joined.data, joined.len);
    if (a_id < 0 || b_id < 0 || new_id < 0) {
      ok = ke_set_error (error, KE_ERROR_FORMAT,
                         "model.merges[%zu]: \"%.*s\" is not in the vocabulary", rank,
                         (int) (a_id < 0 ? (a_len > 40 ? 40 : a_len)
                                         : b_id < 0 ? (b_len > 40 ? 40 : b_len)
                                                    : (joined.len > 40 ? 40 : joined.len)),
                         a_id < 0 ? a : b_id < 0 ? b : joined.data);
      break;
    }
    /* a later duplicate pair overrides an earlier one, as in HF's MergeMap */
    tok->rank_new_id[rank] = new_id;
    if (!ke_u64_map_put (&tok->merges, (uint64_t) a_id << 32 | (uint32_t) b_id, (uint32_t) rank)) {
      ok = ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading the merges");
      break;
    }
  }
  ke_buf_clear (&joined);
  return ok;
}

static bool
parse_model (ke_tokenizer *tok, yyjson_val *model, ke_error **error)
{
  if (!yyjson_is_obj (model))
    return ke_set_error (error, KE_ERROR_FORMAT, "tokenizer.json has no model");
  const char *type = type_of (model);
  if (type != NULL && strcmp (type, "BPE") != 0)
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "model type %s is not supported (BPE only)",
                         type);
  yyjson_val *dropout = yyjson_obj_get (model, "dropout");
  if (dropout != NULL && !yyjson_is_null (dropout) &&
      !(yyjson_is_num (dropout) && yyjson_get_num (dropout) == 0.0))
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "BPE dropout is not supported");
  yyjson_val *prefix, *suffix, *unk;
  if (!get_opt_str (model, "continuing_subword_prefix", &prefix, "model", error) ||
      !get_opt_str (model, "end_of_word_suffix", &suffix, "model", error) ||
      !get_opt_str (model, "unk_token", &unk, "model", error))
    return false;
  if ((prefix && yyjson_get_len (prefix) > 0) || (suffix && yyjson_get_len (suffix) > 0))
    return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                         "BPE subword prefixes/suffixes are not supported");
  if (!get_opt_bool (model, "fuse_unk", false, &tok->fuse_unk, "model", error) ||
      !get_opt_bool (model, "byte_fallback", false, &tok->byte_fallback, "model", error) ||
      !get_opt_bool (model, "ignore_merges", false, &tok->ignore_merges, "model", error))
    return false;
  if (!parse_vocab (tok, yyjson_obj_get (model, "vocab"), error) ||
      !parse_merges (tok, yyjson_obj_get (model, "merges"), error))
    return false;
  tok->has_unk_token = unk != NULL;
  tok->unk_id = unk ? ke_str_map_get (&tok->vocab, yyjson_get_str (unk), yyjson_get_len (unk))
                    : -1;
  return true;
}

/* HF AddedVocabulary::add_tokens: the id is the piece's id when it is already known (an
 * added token or the model vocab), else the next free id after the model vocab. */
static bool
parse_added_tokens (ke_tokenizer *tok, yyjson_val *list, ke_error **error)
{
  if (list == NULL || yyjson_is_null (list))
    return true;
  if (!yyjson_is_arr (list))
    return ke_set_error (error, KE_ERROR_FORMAT, "added_tokens is not a list");
  size_t n = yyjson_arr_size (list);
  tok->added = ke_calloc_array (n, sizeof *tok->added);
  if (tok->added == NULL || !ke_str_map_init (&tok->added_map, &tok->arena_base, n))
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading added tokens");
  uint64_t model_size = tok->vocab.n_entries;
  int64_t max_added = -1;
  size_t i, max;
  yyjson_val *t;
  yyjson_arr_foreach (list, i, max, t) {
    yyjson_val *content;
    if (!yyjson_is_obj (t) || !get_opt_str (t, "content", &content, "added_tokens", error))
      return ke_set_error (error, KE_ERROR_FORMAT, "added_tokens[%zu] is not a token", i);
    if (content == NULL)
      return ke_set_error (error, KE_ERROR_FORMAT, "added_tokens[%zu] has no content", i);
    const char *s = yyjson_get_str (content);
    size_t len = yyjson_get_len (content);
    ke_added_token a = { 0 };
    if (!get_opt_bool (t, "special", false, &a.special, "added_tokens", error) ||
        !get_opt_bool (t, "normalized", !a.special, &a.normalized, "added_tokens", error) ||
        !get_opt_bool (t, "lstrip", false, &a.lstrip, "added_tokens", error) ||
        !get_opt_bool (t, "rstrip", false, &a.rstrip, "added_tokens", error) ||
        !get_opt_bool (t, "single_word", false, &a.single_word, "added_tokens", error))
      return false;
    if (len == 0 || ke_str_map_get (&tok->added_map, s, len) >= 0)
      continue; /* HF skips empty and already-added contents */
    int64_t id = ke_str_map_get (&tok->vocab, s, len);
    if (id < 0) {
      if (max_added < 0)
        id = (int64_t) model_size;
      else if ((uint64_t) max_added >= model_size || model_size == 0)
        id = max_added + 1;
      else
        id = (int64_t) model_size;
    }
    if (id >= INT32_MAX)
      return ke_set_error (error, KE_ERROR_FORMAT, "added_tokens[%zu]: id out of range", i);
    if (id > max_added)
      max_added = id;
    a.id = (ke_token) id;
    a.content_len = (uint32_t) len;
    if (!arena_add (tok, s, len, &a.content_off, error))
      return false;
    if (!ke_str_map_put (&tok->added_map, a.content_off, a.content_len, a.id))
      return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading added tokens");
    tok->added[tok->n_added++] = a;
  }
  return true;
}

ke_tokenizer *
ke_tokenizer_new_from_json (const char *json, size_t len, ke_error **error)
{
  if (json == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No tokenizer JSON given"), NULL;
  yyjson_read_err err;
  yyjson_doc *doc = yyjson_read_opts ((char *) json, len, 0, NULL, &err);
  if (doc == NULL) {
    ke_set_error (error, KE_ERROR_FORMAT, "tokenizer.json is not valid JSON: %s at byte %zu",
                  err.msg, err.pos);
    return NULL;
  }
  ke_tokenizer *tok = ke_tokenizer_alloc ();
  if (tok == NULL) {
    yyjson_doc_free (doc);
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading the tokenizer");
    return NULL;
  }
  yyjson_val *root = yyjson_doc_get_root (doc);
  bool ok = yyjson_is_obj (root) ||
            ke_set_error (error, KE_ERROR_FORMAT, "tokenizer.json is not a JSON object");
  yyjson_val *pre = ok ? yyjson_obj_get (root, "pre_tokenizer") : NULL;
  if (ok && pre != NULL && !yyjson_is_null (pre))
    ok = ke_set_error (error, KE_ERROR_UNSUPPORTED, "pre-tokenizer %s is not supported",
                       type_of (pre) ? type_of (pre) : "(unknown)");
  ok = ok && parse_model (tok, yyjson_obj_get (root, "model"), error) &&
       parse_added_tokens (tok, yyjson_obj_get (root, "added_tokens"), error) &&
       parse_normalizer (tok, yyjson_obj_get (root, "normalizer"), 0, error) &&
       parse_decoder (tok, yyjson_obj_get (root, "decoder"), error);
  yyjson_doc_free (doc);
  if (ok)
    ok = ke_tokenizer_finish (tok, error);
  if (!ok) {
    ke_tokenizer_free (tok);
    return NULL;
  }
  return tok;
}

ke_tokenizer *
ke_tokenizer_new_from_file (const char *path, ke_error **error)
{
  if (path == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No tokenizer path given"), NULL;
  char *data = NULL;
  size_t len = 0;
  if (!ke_read_file (path, KE_TOKENIZER_JSON_MAX_BYTES, &data, &len, error))
    return NULL;
  ke_tokenizer *tok = ke_tokenizer_new_from_json (data, len, error);
  free (data);
  if (tok == NULL)
    ke_error_prefix (error, "%s", path);
  return tok;
}
