/* ke-error.c — error values, allocation and small file/UTF-8 helpers.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ke-internal.h"

void
ke_error_free (ke_error *error)
{
  if (error == NULL)
    return;
  free (error->message);
  free (error);
}

const char *
ke_error_code_name (ke_error_code code)
{
  switch (code) {
  case KE_ERROR_FAILED: return "failed";
  case KE_ERROR_INVALID_ARGUMENT: return "invalid-argument";
  case KE_ERROR_IO: return "io";
  case KE_ERROR_FORMAT: return "format";
  case KE_ERROR_UNSUPPORTED: return "unsupported";
  case KE_ERROR_NO_MEMORY: return "no-memory";
  case KE_ERROR_NO_DEVICE: return "no-device";
  case KE_ERROR_DEVICE_MEMORY: return "device-memory";
  case KE_ERROR_DEVICE: return "device";
  case KE_ERROR_CANCELLED: return "cancelled";
  case KE_ERROR_CONTEXT_FULL: return "context-full";
  default: return "unknown";
  }
}

/* Used when even the error cannot be allocated: a static error is never freed. */
static char oom_message[] = "Out of memory";

bool
ke_set_error_va (ke_error **error, ke_error_code code, const char *fmt, va_list ap)
{
  if (error == NULL || *error != NULL)
    return false;
  ke_error *e = calloc (1, sizeof *e);
  if (e == NULL)
    return false;
  e->code = code;
  char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = strdup (oom_message);
  e->message = msg;
  if (e->message == NULL) {
    free (e);
    return false;
  }
  *error = e;
  return false;
}

bool
ke_set_error (ke_error **error, ke_error_code code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  ke_set_error_va (error, code, fmt, ap);
  va_end (ap);
  return false;
}

void
ke_error_prefix (ke_error **error, const char *fmt, ...)
{
  if (error == NULL || *error == NULL)
    return;
  char *prefix = NULL;
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&prefix, fmt, ap);
  va_end (ap);
  if (r < 0)
    return;
  char *joined = NULL;
  if (asprintf (&joined, "%s: %s", prefix, (*error)->message) >= 0) {
    free ((*error)->message);
    (*error)->message = joined;
  }
  free (prefix);
}

void
ke_propagate_error (ke_error **dest, ke_error *src)
{
  if (src == NULL)
    return;
  if (dest == NULL || *dest != NULL) {
    ke_error_free (src);
    return;
  }
  *dest = src;
}

void *
ke_malloc_array (size_t n, size_t size)
{
  size_t bytes;
  if (!ke_mul_size (n, size, &bytes))
    return NULL;
  return malloc (bytes ? bytes : 1);
}

void *
ke_calloc_array (size_t n, size_t size)
{
  if (n == 0 || size == 0)
    return calloc (1, 1);
  return calloc (n, size);
}

void *
ke_realloc_array (void *ptr, size_t n, size_t size)
{
  size_t bytes;
  if (!ke_mul_size (n, size, &bytes))
    return NULL;
  return realloc (ptr, bytes ? bytes : 1);
}

char *
ke_strdup (const char *s)
{
  return s ? strdup (s) : NULL;
}

char *
ke_strndup (const char *s, size_t n)
{
  return s ? strndup (s, n) : NULL;
}

char *
ke_strdup_printf (const char *fmt, ...)
{
  char *s = NULL;
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&s, fmt, ap);
  va_end (ap);
  return r < 0 ? NULL : s;
}

char *
ke_path_join (const char *dir, const char *name)
{
  size_t dl = strlen (dir);
  if (dl > 0 && dir[dl - 1] == '/')
    return ke_strdup_printf ("%s%s", dir, name);
  return ke_strdup_printf ("%s/%s", dir, name);
}

bool
ke_file_exists (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 && S_ISREG (st.st_mode);
}

bool
ke_read_file (const char *path, size_t max_bytes, char **contents, size_t *len,
              ke_error **error)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return ke_set_error (error, KE_ERROR_IO, "Cannot open %s: %s", path, strerror (errno));
  struct stat st;
  if (fstat (fileno (f), &st) != 0 || !S_ISREG (st.st_mode)) {
    fclose (f);
    return ke_set_error (error, KE_ERROR_IO, "%s is not a regular file", path);
  }
  if ((uint64_t) st.st_size > max_bytes) {
    fclose (f);
    return ke_set_error (error, KE_ERROR_FORMAT, "%s is too large (%lld bytes, at most %zu)",
                         path, (long long) st.st_size, max_bytes);
  }
  size_t size = (size_t) st.st_size;
  char *buf = malloc (size + 1);
  if (buf == NULL) {
    fclose (f);
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory reading %s", path);
  }
  size_t got = fread (buf, 1, size, f);
  int failed = ferror (f);
  fclose (f);
  if (failed || got != size) {
    free (buf);
    return ke_set_error (error, KE_ERROR_IO, "Cannot read %s", path);
  }
  buf[size] = '\0';
  *contents = buf;
  if (len)
    *len = size;
  return true;
}

bool
ke_utf8_validate (const char *s, size_t len, size_t *bad_offset)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t i = 0;
  while (i < len) {
    unsigned c = p[i];
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      goto bad;
    }
    if (len - i <= n)
      goto bad;
    for (size_t k = 1; k <= n; k++) {
      if ((p[i + k] & 0xc0) != 0x80)
        goto bad;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      goto bad;
    i += n + 1;
  }
  return true;
bad:
  if (bad_offset)
    *bad_offset = i;
  return false;
}

double
ke_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}
