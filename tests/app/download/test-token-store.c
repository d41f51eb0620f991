/* test-token-store.c — the access-token stores: in memory, and libsecret without a keyring.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "kestrel-memory-token-store.h"
#include "kestrel-secret-token-store.h"

typedef struct
{
  gboolean  done;
  gboolean  ok;
  char     *token;
  GError   *error;
} Result;

static void
lookup_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  Result *r = user_data;

  r->token = kestrel_token_store_lookup_finish (KESTREL_TOKEN_STORE (object), result, &r->error);
  r->done = TRUE;
}

static void
store_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  Result *r = user_data;

  r->ok = kestrel_token_store_store_finish (KESTREL_TOKEN_STORE (object), result, &r->error);
  r->done = TRUE;
}

static void
clear_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  Result *r = user_data;

  r->ok = kestrel_token_store_clear_finish (KESTREL_TOKEN_STORE (object), result, &r->error);
  r->done = TRUE;
}

static void
wait_for (Result *r)
{
  while (!r->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
test_memory_store (void)
{
  g_autoptr(KestrelTokenStore) store = kestrel_memory_token_store_new ();
  Result r = { 0 };

  kestrel_token_store_lookup_async (store, NULL, lookup_cb, &r);
  wait_for (&r);
  g_assert_no_error (r.error);
  g_assert_null (r.token);

  r = (Result) { 0 };
  kestrel_token_store_store_async (store, "  hf_abc\n", NULL, store_cb, &r);
  wait_for (&r);
  g_assert_no_error (r.error);
  g_assert_true (r.ok);

  r = (Result) { 0 };
  kestrel_token_store_lookup_async (store, NULL, lookup_cb, &r);
  wait_for (&r);
  g_assert_cmpstr (r.token, ==, "hf_abc");
  g_free (r.token);

  /* an empty token is refused and the stored one kept */
  r = (Result) { 0 };
  kestrel_token_store_store_async (store, " \t\n", NULL, store_cb, &r);
  wait_for (&r);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_false (r.ok);
  g_clear_error (&r.error);

  r = (Result) { 0 };
  kestrel_token_store_clear_async (store, NULL, clear_cb, &r);
  wait_for (&r);
  g_assert_true (r.ok);

  r = (Result) { 0 };
  kestrel_token_store_lookup_async (store, NULL, lookup_cb, &r);
  wait_for (&r);
  g_assert_no_error (r.error);
  g_assert_null (r.token);
}

/* No session bus here (main() points it at nowhere): the libsecret store must fail with a
 * clear error, and never fall back to a file. */
static void
test_secret_store_without_keyring (void)
{
  g_autoptr(KestrelTokenStore) store = kestrel_secret_token_store_new ("http://127.0.0.1:1");
  Result r = { 0 };

  g_assert_true (KESTREL_IS_TOKEN_STORE (store));
  kestrel_token_store_store_async (store, "hf_SecretThatStaysSecret", NULL, store_cb, &r);
  wait_for (&r);
  g_assert_false (r.ok);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (r.error->message, "keyring"));
  g_assert_null (strstr (r.error->message, "hf_SecretThatStaysSecret"));
  g_test_message ("%s", r.error->message);
  g_clear_error (&r.error);

  r = (Result) { 0 };
  kestrel_token_store_lookup_async (store, NULL, lookup_cb, &r);
  wait_for (&r);
  g_assert_null (r.token);
  g_assert_nonnull (r.error);
  g_clear_error (&r.error);
}

int
main (int   argc,
      char *argv[])
{
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/kestrel-test-bus", TRUE);
  g_unsetenv ("DISPLAY");
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/token-store/memory", test_memory_store);
  g_test_add_func ("/token-store/secret-without-keyring", test_secret_store_without_keyring);

  return g_test_run ();
}
