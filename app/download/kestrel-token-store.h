/* kestrel-token-store.h — where the Hugging Face access token is kept.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The app and kestrel-cli use the libsecret store (KestrelSecretTokenStore); tests, which
 * have no secret service, use KestrelMemoryTokenStore.  The token is never written to plain
 * files, logs or the database.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define KESTREL_TYPE_TOKEN_STORE (kestrel_token_store_get_type ())

G_DECLARE_INTERFACE (KestrelTokenStore, kestrel_token_store, KESTREL, TOKEN_STORE, GObject)

struct _KestrelTokenStoreInterface
{
  GTypeInterface parent_iface;

  void      (*lookup_async)  (KestrelTokenStore    *self,
                              GCancellable         *cancellable,
                              GAsyncReadyCallback   callback,
                              gpointer              user_data);
  char     *(*lookup_finish) (KestrelTokenStore    *self,
                              GAsyncResult         *result,
                              GError              **error);
  void      (*store_async)   (KestrelTokenStore    *self,
                              const char           *token,
                              GCancellable         *cancellable,
                              GAsyncReadyCallback   callback,
                              gpointer              user_data);
  gboolean  (*store_finish)  (KestrelTokenStore    *self,
                              GAsyncResult         *result,
                              GError              **error);
  void      (*clear_async)   (KestrelTokenStore    *self,
                              GCancellable         *cancellable,
                              GAsyncReadyCallback   callback,
                              gpointer              user_data);
  gboolean  (*clear_finish)  (KestrelTokenStore    *self,
                              GAsyncResult         *result,
                              GError              **error);
};

/* The token, or NULL without an error when none is stored. */
void      kestrel_token_store_lookup_async  (KestrelTokenStore    *self,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
char     *kestrel_token_store_lookup_finish (KestrelTokenStore    *self,
                                             GAsyncResult         *result,
                                             GError              **error);
/* Replaces the stored token.  Leading and trailing white space is dropped; an empty token is
 * G_IO_ERROR_INVALID_ARGUMENT. */
void      kestrel_token_store_store_async   (KestrelTokenStore    *self,
                                             const char           *token,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
gboolean  kestrel_token_store_store_finish  (KestrelTokenStore    *self,
                                             GAsyncResult         *result,
                                             GError              **error);
void      kestrel_token_store_clear_async   (KestrelTokenStore    *self,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
gboolean  kestrel_token_store_clear_finish  (KestrelTokenStore    *self,
                                             GAsyncResult         *result,
                                             GError              **error);

G_END_DECLS
