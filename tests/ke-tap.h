/* ke-tap.h — a tiny TAP producer for the engine's tests (which cannot use GLib).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Usage: KE_TEST(name) { ... KE_CHECK(cond, "fmt", ...); ... }  and in main():
 *   return ke_tap_run (argc, argv, tests, n);
 * Exit status non-zero when any check failed; a test that calls KE_SKIP is reported as
 * "ok N name # SKIP reason", and meson shows a program whose tests all skipped as SKIP.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name;
  void (*fn) (void);
} ke_tap_test;

static int ke_tap_failures_;
static int ke_tap_checks_;
static const char *ke_tap_skip_reason_;

#define KE_TEST(name) static void name (void)
#define KE_TAP_ENTRY(name) { #name, name }

static inline void ke_tap_diag (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static inline void
ke_tap_diag (const char *fmt, ...)
{
  /* Every line of the message gets its own "# " so that text with newlines (a model's
   * reply, say) cannot break the TAP stream. */
  char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  int n = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    return;
  fputs ("# ", stdout);
  for (const char *p = msg; *p; p++) {
    if (*p == '\n')
      fputs ("\n# ", stdout);
    else
      fputc (*p, stdout);
  }
  fputc ('\n', stdout);
  free (msg);
}

#define KE_CHECK(cond, ...)                                                                \
  do {                                                                                     \
    ke_tap_checks_++;                                                                      \
    if (!(cond)) {                                                                         \
      ke_tap_failures_++;                                                                  \
      printf ("# FAILED %s:%d: %s\n# ", __FILE__, __LINE__, #cond);                        \
      printf (__VA_ARGS__);                                                                \
      printf ("\n");                                                                       \
    }                                                                                      \
  } while (0)

/* Abort the current test (not the process) on a failed precondition. */
/* cond is evaluated once: it may have side effects (a launch, an allocation). */
#define KE_REQUIRE(cond, ...)                                                              \
  do {                                                                                     \
    bool ke_require_ok_ = (cond);                                                          \
    KE_CHECK (ke_require_ok_ && #cond, __VA_ARGS__);                                       \
    if (!ke_require_ok_)                                                                   \
      return;                                                                              \
  } while (0)

#define KE_SKIP(reason)                                                                    \
  do {                                                                                     \
    ke_tap_skip_reason_ = (reason);                                                        \
    return;                                                                                \
  } while (0)

static inline int
ke_tap_run (int argc, char **argv, const ke_tap_test *tests, int n)
{
  const char *only = argc > 1 ? argv[1] : NULL;
  int failed = 0, skipped = 0, ran = 0;
  printf ("TAP version 13\n1..%d\n", n);
  for (int i = 0; i < n; i++) {
    if (only && strcmp (only, tests[i].name) != 0) {
      printf ("ok %d %s # SKIP not selected\n", i + 1, tests[i].name);
      skipped++;
      continue;
    }
    int before = ke_tap_failures_;
    ke_tap_skip_reason_ = NULL;
    tests[i].fn ();
    fflush (stdout);
    ran++;
    if (ke_tap_failures_ != before) {
      printf ("not ok %d %s\n", i + 1, tests[i].name);
      failed++;
    } else if (ke_tap_skip_reason_) {
      printf ("ok %d %s # SKIP %s\n", i + 1, tests[i].name, ke_tap_skip_reason_);
      skipped++;
    } else {
      printf ("ok %d %s\n", i + 1, tests[i].name);
    }
  }
  fflush (stdout);
  if (failed)
    return 1;
  /* With TAP, meson reports a test whose every case is "# SKIP" as SKIP; exit 0 so it
   * does not read the exit status as an error. */
  (void) ran;
  return 0;
}

#define KE_TAP_MAIN(...)                                                                   \
  int main (int argc, char **argv)                                                         \
  {                                                                                        \
    static const ke_tap_test tests[] = { __VA_ARGS__ };                                    \
    return ke_tap_run (argc, argv, tests, (int) (sizeof tests / sizeof tests[0]));        \
  }

/* Deterministic PRNG for tests (splitmix64), seeded per test so failures reproduce. */
static inline unsigned long long
ke_test_rand_u64 (unsigned long long *state)
{
  unsigned long long z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline float
ke_test_rand_uniform (unsigned long long *state) /* [-1, 1) */
{
  return (float) ((ke_test_rand_u64 (state) >> 40) * (1.0 / 16777216.0) * 2.0 - 1.0);
}
