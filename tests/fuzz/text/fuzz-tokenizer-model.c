/* fuzz-tokenizer-model.c — libFuzzer target for the SentencePiece tokenizer.model reader:
 * any input gives a tokenizer or a clear error, never a crash, leak or undefined
 * behaviour; a tokenizer that loads is used.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Run: BUILD/tests/fuzz/text/fuzz-tokenizer-model CORPUS_DIR tests/fuzz/text/corpus-model
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ke-tokenizer-internal.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  ke_error *error = NULL;
  ke_tokenizer *tok = ke_tokenizer_new_from_sentencepiece_data (data, size, NULL, &error);
  if (tok == NULL) {
    if (error == NULL || error->message == NULL || error->message[0] == '\0')
      abort (); /* a failure must say why */
    ke_error_free (error);
    return 0;
  }
  static const char *const texts[] = { "Hello, world!", "a  b\n\tc", "<bos>x\xe3\x81\x82" };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    ke_token *ids = NULL;
    size_t n = 0, len;
    if (ke_tokenizer_encode (tok, texts[i], strlen (texts[i]), &ids, &n, NULL))
      free (ke_tokenizer_decode (tok, ids, n, KE_DECODE_SKIP_SPECIAL, &len, NULL));
    free (ids);
  }
  ke_tokenizer_free (tok);
  return 0;
}
