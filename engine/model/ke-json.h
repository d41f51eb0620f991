/* ke-json.h — yyjson with the checks every checkpoint file needs (engine/model only).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Parsing goes through ke_json_parse() so that every JSON file of a checkpoint gets the
 * same treatment: strict UTF-8 (the offset of a bad byte is reported), a nesting limit
 * (yyjson itself does not recurse, but nothing we read is deeper than a few levels, so a
 * deep document is corrupt or hostile), and an error message naming the file and the
 * position of a syntax error.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yyjson.h>

#include "ke-internal.h"

#define KE_JSON_MAX_DEPTH 32

/* Parses `len` bytes of `text` (need not be NUL-terminated).  `what` names the file in
 * messages.  Returns NULL with *error set on any problem. */
yyjson_doc *ke_json_parse (const char *text, size_t len, const char *what, ke_error **error);
/* Reads and parses a file of at most max_bytes. */
yyjson_doc *ke_json_read_file (const char *path, size_t max_bytes, ke_error **error);

/* Typed getters of an object member.  Each returns true when the member is absent or JSON
 * null (leaving *out unchanged: the caller's default stays), true with *out set when it
 * has the right type and range, and false with an error naming `what` and `key`
 * otherwise. */
bool ke_json_get_u32 (yyjson_val *obj, const char *key, const char *what, uint32_t *out,
                      ke_error **error);
bool ke_json_get_i32 (yyjson_val *obj, const char *key, const char *what, int32_t *out,
                      ke_error **error);
bool ke_json_get_float (yyjson_val *obj, const char *key, const char *what, float *out,
                        ke_error **error);
bool ke_json_get_bool (yyjson_val *obj, const char *key, const char *what, bool *out,
                       ke_error **error);
/* *out borrows the document's string (NULL stays when absent). */
bool ke_json_get_str (yyjson_val *obj, const char *key, const char *what, const char **out,
                      ke_error **error);
/* Member that must be an object when present; *out NULL when absent or null. */
bool ke_json_get_obj (yyjson_val *obj, const char *key, const char *what, yyjson_val **out,
                      ke_error **error);
