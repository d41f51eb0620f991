/* kestrel-secret-token-store.h — the access token in the user's keyring (libsecret).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-token-store.h"

G_BEGIN_DECLS

#define KESTREL_TOKEN_SCHEMA_NAME "io.github.kestrelchat.Kestrel.HuggingFaceToken"

#define KESTREL_TYPE_SECRET_TOKEN_STORE (kestrel_secret_token_store_get_type ())

G_DECLARE_FINAL_TYPE (KestrelSecretTokenStore, kestrel_secret_token_store, KESTREL,
                      SECRET_TOKEN_STORE, GObject)

/* Items of the schema io.github.kestrelchat.Kestrel.HuggingFaceToken, attribute
 * "endpoint" = the Hub's address (one token per Hub). */
KestrelTokenStore *kestrel_secret_token_store_new (const char *endpoint);

G_END_DECLS
