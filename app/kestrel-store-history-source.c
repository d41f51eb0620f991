/* kestrel-store-history-source.c — the search_history tool's source: the store's FTS index.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * kestrel_store_search() takes the store's lock, so it may be called from the tool's
 * worker thread.  Snippets come as Pango markup (matches in bold); the model gets plain text.
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include <pango/pango.h>

#include "kestrel-search-hit.h"
#include "kestrel-store-history-source.h"

struct _KestrelStoreHistorySource
{
  GObject       parent_instance;
  KestrelStore *store;
};

static void history_source_iface_init (KestrelHistorySourceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (KestrelStoreHistorySource, kestrel_store_history_source, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (KESTREL_TYPE_HISTORY_SOURCE, history_source_iface_init))

static JsonArray *
store_history_search (KestrelHistorySource  *source,
                      const char            *query,
                      guint                  limit,
                      GCancellable          *cancellable,
                      GError               **error)
{
  KestrelStoreHistorySource *self = KESTREL_STORE_HISTORY_SOURCE (source);
  g_autoptr(GPtrArray) hits = kestrel_store_search (self->store, query, limit, error);
  JsonArray *results;

  if (hits == NULL)
    return NULL;

  results = json_array_new ();
  for (guint i = 0; i < hits->len; i++)
    {
      KestrelSearchHit *hit = g_ptr_array_index (hits, i);
      JsonObject *o = json_object_new ();
      g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc_usec (kestrel_search_hit_get_created_at (hit));
      g_autofree char *text = NULL;
      const char *markup = kestrel_search_hit_get_snippet_markup (hit);

      if (!pango_parse_markup (markup, -1, 0, NULL, &text, NULL, NULL))
        text = g_strdup (markup);
      json_object_set_string_member (o, "conversation", kestrel_search_hit_get_conversation_title (hit));
      json_object_set_string_member (o, "role", kestrel_message_role_to_string (kestrel_search_hit_get_role (hit)));
      if (time != NULL)
        {
          g_autofree char *iso = g_date_time_format_iso8601 (time);
          json_object_set_string_member (o, "time", iso);
        }
      json_object_set_string_member (o, "text", text);
      json_array_add_object_element (results, o);
    }
  return results;
}

static void
history_source_iface_init (KestrelHistorySourceInterface *iface)
{
  iface->search = store_history_search;
}

KestrelHistorySource *
kestrel_store_history_source_new (KestrelStore *store)
{
  KestrelStoreHistorySource *self;

  g_return_val_if_fail (KESTREL_IS_STORE (store), NULL);

  self = g_object_new (KESTREL_TYPE_STORE_HISTORY_SOURCE, NULL);
  self->store = g_object_ref (store);
  return KESTREL_HISTORY_SOURCE (self);
}

static void
kestrel_store_history_source_finalize (GObject *object)
{
  KestrelStoreHistorySource *self = (KestrelStoreHistorySource *) object;

  g_clear_object (&self->store);
  G_OBJECT_CLASS (kestrel_store_history_source_parent_class)->finalize (object);
}

static void
kestrel_store_history_source_class_init (KestrelStoreHistorySourceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kestrel_store_history_source_finalize;
}

static void
kestrel_store_history_source_init (KestrelStoreHistorySource *self)
{
}
