/* fuzz-tokenizer-json.c — libFuzzer target for the tokenizer.json reader: any input must
 * give a tokenizer or a clear error, never a crash, leak or undefined behaviour; a
 * tokenizer that loads is then used (encode, decode, streaming decode).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Build: CC=clang meson setup BUILD -Dfuzzers=true -Dui=false -Dcuda=disabled
 * Run:   BUILD/tests/fuzz/text/fuzz-tokenizer-json -dict=tests/fuzz/text/tokenizer-json.dict \
 *          CORPUS_DIR tests/fuzz/text/corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ke-engine.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
use_text (const ke_tokenizer *tok, const char *text, size_t len)
{
  ke_token *ids = NULL;
  size_t n = 0;
  ke_error *error = NULL;
  if (!ke_tokenizer_encode (tok, text, len, &ids, &n, &error)) {
    ke_error_free (error);
    return;
  }
  for (unsigned flags = 0; flags <= KE_DECODE_SKIP_SPECIAL; flags++) {
    size_t out_len;
    char *out = ke_tokenizer_decode (tok, ids, n, flags, &out_len, NULL);
    free (out);
  }
  free (ids);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  ke_error *error = NULL;
  ke_tokenizer *tok = ke_tokenizer_new_from_json ((const char *) data, size, &error);
  if (tok == NULL) {
    if (error == NULL || error->message == NULL || error->message[0] == '\0')
      abort (); /* a failure must say why */
    ke_error_free (error);
    return 0;
  }
  static const char *const texts[] = {
    "Hello, world!", "a b  c\n\n\tx", "<bos>x<eos>", "\xe3\x81\x82 \xc3\xa9\xf0\x9f\x98\x80",
    "", " ", "\xe2\x96\x81\xe2\x96\x81 ab", "[L] [R] [W]x",
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    use_text (tok, texts[i], strlen (texts[i]));
  /* the input itself as text (the encoder refuses it when it is not UTF-8) */
  use_text (tok, (const char *) data, size < 512 ? size : 512);

  /* every id (and a few past the end), batch and streamed */
  size_t vocab = ke_tokenizer_vocab_size (tok);
  size_t n = vocab + 4 < 4096 ? vocab + 4 : 4096;
  ke_token *ids = malloc ((n + 1) * sizeof *ids);
  for (size_t i = 0; ids && i < n; i++)
    ids[i] = (ke_token) i - 1;
  for (unsigned flags = 0; ids && flags <= KE_DECODE_SKIP_SPECIAL; flags++) {
    size_t len;
    free (ke_tokenizer_decode (tok, ids, n, flags, &len, NULL));
    ke_detokenizer *d = ke_detokenizer_new (tok, flags);
    for (size_t i = 0; d && i < n; i++)
      ke_detokenizer_push (d, ids[i], &len);
    if (d)
      ke_detokenizer_flush (d, &len);
    ke_detokenizer_free (d);
  }
  free (ids);
  for (int s = 0; s < KE_SPECIAL_COUNT; s++) {
    size_t len;
    ke_tokenizer_id_to_piece (tok, ke_tokenizer_special (tok, (ke_special_token) s), &len);
  }
  ke_tokenizer_free (tok);
  return 0;
}
