/* ke-internal.h — helpers shared by every part of the engine (not public API).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ke-engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KE_PRINTF(f, a) __attribute__ ((format (printf, f, a)))
#define KE_LIKELY(x) __builtin_expect (!!(x), 1)
#define KE_UNLIKELY(x) __builtin_expect (!!(x), 0)
#else
#define KE_PRINTF(f, a)
#define KE_LIKELY(x) (x)
#define KE_UNLIKELY(x) (x)
#endif

/* Sets *error (if error != NULL and *error == NULL) to a new ke_error.  Always returns
 * false so that `return ke_set_error (...)` reads naturally in bool functions. */
bool ke_set_error (ke_error **error, ke_error_code code, const char *fmt, ...) KE_PRINTF (3, 4);
bool ke_set_error_va (ke_error **error, ke_error_code code, const char *fmt, va_list ap)
  KE_PRINTF (3, 0);
/* Prepends "prefix: " to an existing error's message. */
void ke_error_prefix (ke_error **error, const char *fmt, ...) KE_PRINTF (2, 3);
/* Moves *src into *dest (dest may be NULL: then src is freed). */
void ke_propagate_error (ke_error **dest, ke_error *src);

/* Overflow-checked arithmetic: return false on overflow, leaving *out unspecified. */
static inline bool
ke_mul_size (size_t a, size_t b, size_t *out)
{
  return !__builtin_mul_overflow (a, b, out);
}

static inline bool
ke_add_size (size_t a, size_t b, size_t *out)
{
  return !__builtin_add_overflow (a, b, out);
}

static inline bool
ke_mul_u64 (uint64_t a, uint64_t b, uint64_t *out)
{
  return !__builtin_mul_overflow (a, b, out);
}

static inline bool
ke_add_u64 (uint64_t a, uint64_t b, uint64_t *out)
{
  return !__builtin_add_overflow (a, b, out);
}

/* Allocation helpers that never abort; they return NULL on failure or overflow. */
void *ke_malloc_array (size_t n, size_t size);
void *ke_calloc_array (size_t n, size_t size);
void *ke_realloc_array (void *ptr, size_t n, size_t size);
char *ke_strdup (const char *s);
char *ke_strndup (const char *s, size_t n);
char *ke_strdup_printf (const char *fmt, ...) KE_PRINTF (1, 2);

/* Path helpers. */
char *ke_path_join (const char *dir, const char *name);
bool ke_file_exists (const char *path);
/* Reads a whole (small) file; fails with KE_ERROR_IO/KE_ERROR_FORMAT above max_bytes. */
bool ke_read_file (const char *path, size_t max_bytes, char **contents, size_t *len,
                   ke_error **error);

/* UTF-8 validation (strict: no surrogates, no overlongs, <= U+10FFFF). */
bool ke_utf8_validate (const char *s, size_t len, size_t *bad_offset);

/* Monotonic clock in seconds. */
double ke_now (void);

#ifdef __cplusplus
}
#endif
