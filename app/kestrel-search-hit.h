/* kestrel-search-hit.h — one message found by a full-text search.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "kestrel-store-types.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_SEARCH_HIT (kestrel_search_hit_get_type ())

G_DECLARE_FINAL_TYPE (KestrelSearchHit, kestrel_search_hit, KESTREL, SEARCH_HIT, GObject)

gint64              kestrel_search_hit_get_message_id         (KestrelSearchHit *self);
gint64              kestrel_search_hit_get_conversation_id    (KestrelSearchHit *self);
const char         *kestrel_search_hit_get_conversation_title (KestrelSearchHit *self);
KestrelMessageRole  kestrel_search_hit_get_role               (KestrelSearchHit *self);
const char         *kestrel_search_hit_get_snippet_markup     (KestrelSearchHit *self);
gint64              kestrel_search_hit_get_created_at         (KestrelSearchHit *self);

G_END_DECLS
