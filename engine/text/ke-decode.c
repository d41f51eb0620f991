/* ke-decode.c — ids → text as Hugging Face `tokenizers` decode(ids, skip_special_tokens),
 * in one call or streamed one id at a time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * decode() maps each id to its piece (ids without one are dropped, and with
 * skip_special_tokens so are special pieces — neither interrupts a byte run), applies the
 * decoder's per-piece Replace steps (precomputed per id), then ByteFallback: a run of
 * consecutive <0xNN> pieces becomes its bytes when they are valid UTF-8, and otherwise
 * one U+FFFD per byte of the run; finally everything is concatenated.
 *
 * Because one bad byte turns its whole run into U+FFFDs, the streaming detokenizer holds
 * a byte run back until the run ends (a non-byte piece, or flush): only then is it known
 * what the run decodes to.  Every delta is therefore whole UTF-8 characters, and the
 * deltas concatenate to exactly decode().
 */
#include <stdlib.h>
#include <string.h>

#include "ke-tokenizer-internal.h"

static const char replacement_char[] = "\xef\xbf\xbd";

static bool
flush_bytes (ke_buf *bytes, ke_buf *out)
{
  if (bytes->len == 0)
    return true;
  bool ok;
  if (ke_utf8_validate (bytes->data, bytes->len, NULL)) {
    ok = ke_buf_append (out, bytes->data, bytes->len);
  } else {
    ok = ke_buf_reserve (out, bytes->len * 3);
    for (size_t i = 0; ok && i < bytes->len; i++)
      ok = ke_buf_append (out, replacement_char, 3);
  }
  bytes->len = 0;
  return ok;
}

/* Appends the decoding of one id; byte pieces accumulate in `bytes`. */
static inline bool
decode_one (const ke_tokenizer *tok, ke_token id, unsigned flags, ke_buf *bytes, ke_buf *out)
{
  if (id < 0 || (uint32_t) id >= tok->n_ids || tok->dec_len[id] == UINT32_MAX)
    return true;
  if ((flags & KE_DECODE_SKIP_SPECIAL) && (tok->piece_flags[id] & KE_PIECE_SPECIAL))
    return true;
  if (tok->dec_byte[id] >= 0) {
    unsigned char b = (unsigned char) tok->dec_byte[id];
    return ke_buf_append (bytes, &b, 1);
  }
  return flush_bytes (bytes, out) &&
         ke_buf_append (out, tok->arena_base + tok->dec_off[id], tok->dec_len[id]);
}

char *
ke_tokenizer_decode (const ke_tokenizer *tok, const ke_token *ids, size_t n_ids,
                     unsigned flags, size_t *len, ke_error **error)
{
  if (tok == NULL || (ids == NULL && n_ids > 0)) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "ke_tokenizer_decode: bad arguments");
    return NULL;
  }
  ke_buf out = { 0 }, bytes = { 0 };
  bool ok = ke_buf_reserve (&out, n_ids * 4);
  for (size_t i = 0; ok && i < n_ids; i++)
    ok = decode_one (tok, ids[i], flags, &bytes, &out);
  ok = ok && flush_bytes (&bytes, &out) && ke_buf_reserve (&out, 0);
  ke_buf_clear (&bytes);
  if (!ok) {
    ke_buf_clear (&out);
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory while decoding");
    return NULL;
  }
  out.data[out.len] = '\0';
  if (len)
    *len = out.len;
  return out.data;
}

struct ke_detokenizer {
  const ke_tokenizer *tok;
  unsigned flags;
  ke_buf bytes; /* the byte run not yet decided */
  ke_buf out;   /* the delta returned by the last call */
};

ke_detokenizer *
ke_detokenizer_new (const ke_tokenizer *tok, unsigned flags)
{
  if (tok == NULL)
    return NULL;
  ke_detokenizer *d = calloc (1, sizeof *d);
  if (d == NULL)
    return NULL;
  d->tok = tok;
  d->flags = flags;
  if (!ke_buf_reserve (&d->out, 64)) {
    free (d);
    return NULL;
  }
  d->out.data[0] = '\0';
  return d;
}

/* On allocation failure the delta is empty and the pending bytes are dropped: the API
 * has no error channel here, and a partial character must never come out. */
const char *
ke_detokenizer_push (ke_detokenizer *d, ke_token id, size_t *len)
{
  if (d == NULL) {
    if (len)
      *len = 0;
    return "";
  }
  d->out.len = 0;
  d->out.data[0] = '\0';
  if (!decode_one (d->tok, id, d->flags, &d->bytes, &d->out)) {
    d->out.len = 0;
    d->out.data[0] = '\0';
    d->bytes.len = 0;
  }
  if (len)
    *len = d->out.len;
  return d->out.data;
}

const char *
ke_detokenizer_flush (ke_detokenizer *d, size_t *len)
{
  if (d == NULL) {
    if (len)
      *len = 0;
    return "";
  }
  d->out.len = 0;
  d->out.data[0] = '\0';
  if (!flush_bytes (&d->bytes, &d->out)) {
    d->out.len = 0;
    d->out.data[0] = '\0';
  }
  if (len)
    *len = d->out.len;
  return d->out.data;
}

void
ke_detokenizer_reset (ke_detokenizer *d)
{
  if (d == NULL)
    return;
  d->bytes.len = 0;
  d->out.len = 0;
  d->out.data[0] = '\0';
}

void
ke_detokenizer_free (ke_detokenizer *d)
{
  if (d == NULL)
    return;
  ke_buf_clear (&d->bytes);
  ke_buf_clear (&d->out);
  free (d);
}
