/* kestrel-token-store.c — where the Hugging Face access token is kept.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-download"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-token-store.h"

G_DEFINE_INTERFACE (KestrelTokenStore, kestrel_token_store, G_TYPE_OBJECT)

static void
kestrel_token_store_default_init (KestrelTokenStoreInterface *iface)
{
}

void
kestrel_token_store_lookup_async (KestrelTokenStore   *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (KESTREL_IS_TOKEN_STORE (self));
  KESTREL_TOKEN_STORE_GET_IFACE (self)->lookup_async (self, cancellable, callback, user_data);
}

char *
kestrel_token_store_lookup_finish (KestrelTokenStore  *self,
                                   GAsyncResult       *result,
                                   GError            **error)
{
  g_return_val_if_fail (KESTREL_IS_TOKEN_STORE (self), NULL);
  return KESTREL_TOKEN_STORE_GET_IFACE (self)->lookup_finish (self, result, error);
}

void
kestrel_token_store_store_async (KestrelTokenStore   *self,
                                 const char          *token,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autofree char *stripped = NULL;

  g_return_if_fail (KESTREL_IS_TOKEN_STORE (self));

  stripped = g_strstrip (g_strdup (token ? token : ""));
  if (stripped[0] == '\0')
    {
      g_task_report_new_error (self, callback, user_data, kestrel_token_store_store_async,
                               G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               _("The access token is empty"));
      return;
    }
  KESTREL_TOKEN_STORE_GET_IFACE (self)->store_async (self, stripped, cancellable, callback,
                                                     user_data);
}

gboolean
kestrel_token_store_store_finish (KestrelTokenStore  *self,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  g_return_val_if_fail (KESTREL_IS_TOKEN_STORE (self), FALSE);
  if (g_async_result_is_tagged (result, kestrel_token_store_store_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return KESTREL_TOKEN_STORE_GET_IFACE (self)->store_finish (self, result, error);
}

void
kestrel_token_store_clear_async (KestrelTokenStore   *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (KESTREL_IS_TOKEN_STORE (self));
  KESTREL_TOKEN_STORE_GET_IFACE (self)->clear_async (self, cancellable, callback, user_data);
}

gboolean
kestrel_token_store_clear_finish (KestrelTokenStore  *self,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  g_return_val_if_fail (KESTREL_IS_TOKEN_STORE (self), FALSE);
  return KESTREL_TOKEN_STORE_GET_IFACE (self)->clear_finish (self, result, error);
}
