/* fuzz-safetensors.c — libFuzzer target: a whole .safetensors file's bytes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Parses the header as the loader does (length, UTF-8 JSON, dtypes, shapes, offsets,
 * overlap and coverage), then touches every accepted tensor's first and last byte so
 * that an accepted range outside the input is caught by ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ke-safetensors.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* A private copy so that ASan sees the exact bounds of the "file". */
  uint8_t *copy = malloc (size ? size : 1);
  if (copy == NULL)
    return 0;
  memcpy (copy, data, size);
  ke_st_file file;
  memset (&file, 0, sizeof file);
  ke_error *error = NULL;
  volatile uint8_t sink = 0;
  if (ke_st_parse (copy, size, "fuzz.safetensors", &file, &error)) {
    for (size_t i = 0; i < file.n_tensors; i++) {
      const ke_st_tensor *t = &file.tensors[i];
      if (t->nbytes) {
        sink ^= t->data[0];
        sink ^= t->data[t->nbytes - 1];
      }
      if (ke_st_find (&file, t->name) != t)
        abort ();
    }
  } else if (error == NULL || error->message == NULL) {
    abort (); /* every failure must explain itself */
  }
  (void) sink;
  ke_error_free (error);
  ke_st_close (&file);
  free (copy);
  return 0;
}
