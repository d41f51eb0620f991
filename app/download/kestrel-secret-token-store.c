/* kestrel-secret-token-store.c — the access token in the user's keyring (libsecret).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-download"

#include "config.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>

#include "kestrel-secret-token-store.h"

struct _KestrelSecretTokenStore
{
  GObject  parent_instance;

  char    *endpoint;
};

static void token_store_iface_init (KestrelTokenStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (KestrelSecretTokenStore, kestrel_secret_token_store,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (KESTREL_TYPE_TOKEN_STORE,
                                                      token_store_iface_init))

static const SecretSchema *
token_schema (void)
{
  static const SecretSchema schema = {
    KESTREL_TOKEN_SCHEMA_NAME, SECRET_SCHEMA_NONE,
    {
      { "endpoint", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    }
  };
  return &schema;
}

static void
kestrel_secret_token_store_finalize (GObject *object)
{
  g_clear_pointer (&KESTREL_SECRET_TOKEN_STORE (object)->endpoint, g_free);
  G_OBJECT_CLASS (kestrel_secret_token_store_parent_class)->finalize (object);
}

static void
kestrel_secret_token_store_class_init (KestrelSecretTokenStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kestrel_secret_token_store_finalize;
}

static void
kestrel_secret_token_store_init (KestrelSecretTokenStore *self)
{
}

KestrelTokenStore *
kestrel_secret_token_store_new (const char *endpoint)
{
  KestrelSecretTokenStore *self;

  g_return_val_if_fail (endpoint != NULL, NULL);

  self = g_object_new (KESTREL_TYPE_SECRET_TOKEN_STORE, NULL);
  self->endpoint = g_strdup (endpoint);
  return KESTREL_TOKEN_STORE (self);
}

/* libsecret's errors say "secret service" things; say what failed for the user. */
static GError *
keyring_error (const GError *cause)
{
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (cause);
  return g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                      _("The keyring is not available (%s): Kestrel keeps access tokens only "
                        "in the keyring, so the token cannot be remembered"),
                      cause->message);
}

static void
lookup_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  char *token = secret_password_lookup_finish (result, &error);

  if (error != NULL)
    {
      g_task_return_error (task, keyring_error (error));
      return;
    }
  /* callers free it with g_free(); libsecret's own copy is wiped */
  g_task_return_pointer (task, g_strdup (token), g_free);
  if (token != NULL)
    secret_password_free (token);
}

static void
lookup_async (KestrelTokenStore   *store,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  KestrelSecretTokenStore *self = KESTREL_SECRET_TOKEN_STORE (store);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, lookup_async);
  secret_password_lookup (token_schema (), cancellable, lookup_done_cb, task,
                          "endpoint", self->endpoint, NULL);
}

static char *
lookup_finish (KestrelTokenStore  *store,
               GAsyncResult       *result,
               GError            **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
store_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!secret_password_store_finish (result, &error))
    g_task_return_error (task, keyring_error (error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
clear_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  /* FALSE without an error: nothing was stored, which is fine */
  secret_password_clear_finish (result, &error);
  if (error != NULL)
    g_task_return_error (task, keyring_error (error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
store_async (KestrelTokenStore   *store,
             const char          *token,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  KestrelSecretTokenStore *self = KESTREL_SECRET_TOKEN_STORE (store);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *label = g_strdup_printf (_("Hugging Face access token for Kestrel (%s)"),
                                            self->endpoint);

  g_task_set_source_tag (task, store_async);
  secret_password_store (token_schema (), SECRET_COLLECTION_DEFAULT, label, token,
                         cancellable, store_done_cb, task,
                         "endpoint", self->endpoint, NULL);
}

static gboolean
boolean_finish (KestrelTokenStore  *store,
                GAsyncResult       *result,
                GError            **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
clear_async (KestrelTokenStore   *store,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  KestrelSecretTokenStore *self = KESTREL_SECRET_TOKEN_STORE (store);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, clear_async);
  secret_password_clear (token_schema (), cancellable, clear_done_cb, task,
                         "endpoint", self->endpoint, NULL);
}

static void
token_store_iface_init (KestrelTokenStoreInterface *iface)
{
  iface->lookup_async = lookup_async;
  iface->lookup_finish = lookup_finish;
  iface->store_async = store_async;
  iface->store_finish = boolean_finish;
  iface->clear_async = clear_async;
  iface->clear_finish = boolean_finish;
}
