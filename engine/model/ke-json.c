/* ke-json.c — yyjson parsing with UTF-8, depth and type checks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include "ke-json.h"

/* Deepest nesting of [ and { outside strings.  Runs before yyjson so that a hostile
 * document is refused before anything is allocated for it. */
static bool
json_depth_ok (const char *text, size_t len, size_t *where)
{
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > KE_JSON_MAX_DEPTH) {
        *where = i;
        return false;
      }
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return true;
}

yyjson_doc *
ke_json_parse (const char *text, size_t len, const char *what, ke_error **error)
{
  size_t bad = 0;
  if (!ke_utf8_validate (text, len, &bad)) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: invalid UTF-8 at byte %zu", what, bad);
    return NULL;
  }
  if (!json_depth_ok (text, len, &bad)) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: JSON nested deeper than %d levels at byte %zu",
                  what, KE_JSON_MAX_DEPTH, bad);
    return NULL;
  }
  yyjson_read_err err;
  memset (&err, 0, sizeof err);
  /* yyjson does not modify the input without YYJSON_READ_INSITU. */
  yyjson_doc *doc = yyjson_read_opts ((char *) text, len, YYJSON_READ_NOFLAG, NULL, &err);
  if (doc == NULL) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: invalid JSON at byte %zu: %s", what, err.pos,
                  err.msg ? err.msg : "parse error");
    return NULL;
  }
  return doc;
}

yyjson_doc *
ke_json_read_file (const char *path, size_t max_bytes, ke_error **error)
{
  char *text = NULL;
  size_t len = 0;
  if (!ke_read_file (path, max_bytes, &text, &len, error))
    return NULL;
  yyjson_doc *doc = ke_json_parse (text, len, path, error);
  free (text);
  return doc;
}

static yyjson_val *
member (yyjson_val *obj, const char *key)
{
  yyjson_val *v = yyjson_obj_get (obj, key);
  return (v == NULL || yyjson_is_null (v)) ? NULL : v;
}

bool
ke_json_get_u32 (yyjson_val *obj, const char *key, const char *what, uint32_t *out,
                 ke_error **error)
{
  yyjson_val *v = member (obj, key);
  if (v == NULL)
    return true;
  if (yyjson_is_uint (v) && yyjson_get_uint (v) <= UINT32_MAX) {
    *out = (uint32_t) yyjson_get_uint (v);
    return true;
  }
  if (yyjson_is_sint (v) && yyjson_get_sint (v) >= 0 && yyjson_get_sint (v) <= UINT32_MAX) {
    *out = (uint32_t) yyjson_get_sint (v);
    return true;
  }
  /* Python writes 8.0 for some integers (e.g. a rope factor); accept integral reals. */
  if (yyjson_is_real (v)) {
    double d = yyjson_get_real (v);
    if (d >= 0 && d <= UINT32_MAX && d == floor (d)) {
      *out = (uint32_t) d;
      return true;
    }
  }
  return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"%s\" must be an integer in 0..%u",
                       what, key, UINT32_MAX);
}

bool
ke_json_get_i32 (yyjson_val *obj, const char *key, const char *what, int32_t *out,
                 ke_error **error)
{
  yyjson_val *v = member (obj, key);
  if (v == NULL)
    return true;
  if (yyjson_is_int (v)) {
    int64_t i = yyjson_get_sint (v);
    if (yyjson_is_uint (v) && yyjson_get_uint (v) > INT32_MAX)
      goto bad;
    if (i >= INT32_MIN && i <= INT32_MAX) {
      *out = (int32_t) i;
      return true;
    }
  }
bad:
  return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"%s\" must be a 32-bit integer", what,
                       key);
}

bool
ke_json_get_float (yyjson_val *obj, const char *key, const char *what, float *out,
                   ke_error **error)
{
  yyjson_val *v = member (obj, key);
  if (v == NULL)
    return true;
  if (yyjson_is_num (v)) {
    double d = yyjson_get_num (v);
    if (isfinite (d) && fabs (d) <= 3.0e38) {
      *out = (float) d;
      return true;
    }
  }
  return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"%s\" must be a finite number", what,
                       key);
}

bool
ke_json_get_bool (yyjson_val *obj, const char *key, const char *what, bool *out,
                  ke_error **error)
{
  yyjson_val *v = member (obj, key);
  if (v == NULL)
    return true;
  if (yyjson_is_bool (v)) {
    *out = yyjson_get_bool (v);
    return true;
  }
  return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"%s\" must be true or false", what, key);
}

bool
ke_json_get_str (yyjson_val *obj, const char *key, const char *what, const char **out,
                 ke_error **error)
{
  yyjson_val *v = member (obj, key);
  if (v == NULL)
    return true;
  if (yyjson_is_str (v)) {
    *out = yyjson_get_str (v);
    return true;
  }
  return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"%s\" must be a string", what, key);
}

bool
ke_json_get_obj (yyjson_val *obj, const char *key, const char *what, yyjson_val **out,
                 ke_error **error)
{
  yyjson_val *v = member (obj, key);
  *out = NULL;
  if (v == NULL)
    return true;
  if (yyjson_is_obj (v)) {
    *out = v;
    return true;
  }
  return ke_set_error (error, KE_ERROR_FORMAT, "%s: \"%s\" must be an object", what, key);
}
