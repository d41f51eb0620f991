/* kestrel-store-history-source.h — the search_history tool's source: the store's FTS index.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-history-tool.h"
#include "kestrel-store.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_STORE_HISTORY_SOURCE (kestrel_store_history_source_get_type ())

G_DECLARE_FINAL_TYPE (KestrelStoreHistorySource, kestrel_store_history_source, KESTREL, STORE_HISTORY_SOURCE, GObject)

KestrelHistorySource *kestrel_store_history_source_new (KestrelStore *store);

G_END_DECLS
