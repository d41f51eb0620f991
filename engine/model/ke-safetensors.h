/* ke-safetensors.h — one memory-mapped .safetensors file, its header validated.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Format: u64 little-endian header length N, N bytes of UTF-8 JSON
 * {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"k": "v"}}, then the data; offsets are relative to the data start.
 * Validated here: the header fits the file, is UTF-8 JSON of exactly that form, names are
 * unique, every dtype is known, shape × element size == end − begin (overflow-checked),
 * every range lies inside the file, and the ranges neither overlap nor leave holes (as the
 * reference implementation requires).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ke-internal.h"
#include "ke-weights.h"

#define KE_ST_MAX_HEADER (100u << 20) /* the reference implementation's limit */

typedef struct ke_st_tensor {
  char *name;
  const char *dtype_name;  /* as in the file: "BF16", "I64", … (static string) */
  bool dtype_known;        /* one of the ke_dtype types the engine uses */
  ke_dtype dtype;          /* valid when dtype_known */
  uint32_t ndim;
  int64_t shape[KE_MAX_DIMS];
  uint64_t n_elements;
  const uint8_t *data;     /* inside the file's mapping (or buffer) */
  size_t nbytes;
  uint64_t offset;         /* of the data in the file */
} ke_st_tensor;

typedef struct ke_st_file {
  char *path;
  void *map;               /* NULL when parsed from a caller's buffer */
  size_t size;             /* of the file */
  size_t data_start;       /* 8 + header length */
  ke_st_tensor *tensors;   /* sorted by name */
  size_t n_tensors;
  char *format;            /* __metadata__.format ("pt") or NULL */
} ke_st_file;

/* Parses a whole file's bytes (which must outlive the result).  `what` names it in
 * messages.  For the loader and the fuzzer. */
bool ke_st_parse (const uint8_t *bytes, size_t size, const char *what, ke_st_file *file,
                  ke_error **error);
/* Opens and maps `path` read-only, then parses it. */
bool ke_st_open (const char *path, ke_st_file *file, ke_error **error);
void ke_st_close (ke_st_file *file);

/* Binary search by name; NULL when absent. */
const ke_st_tensor *ke_st_find (const ke_st_file *file, const char *name);
