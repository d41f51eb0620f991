/* kestrel-memory-token-store.h — a token store that lives in memory (tests).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-token-store.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_MEMORY_TOKEN_STORE (kestrel_memory_token_store_get_type ())

G_DECLARE_FINAL_TYPE (KestrelMemoryTokenStore, kestrel_memory_token_store, KESTREL,
                      MEMORY_TOKEN_STORE, GObject)

KestrelTokenStore *kestrel_memory_token_store_new (void);

G_END_DECLS
