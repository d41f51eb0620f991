/* kestrel-conversation-list.c — the sidebar's list of conversations, backed by the store.
 *
 * A GListModel of KestrelConversation in sidebar order (pinned first, then most recently
 * updated). It fills itself page by page on the store's database thread, so a first page
 * shows at once and ten thousand conversations never block a frame, and follows the store's
 * "conversation-changed" signal: a changed conversation is re-read (again off the main
 * thread) and updated in place, moved, added or removed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include "kestrel-conversation-list.h"

#define PAGE_SIZE 200

struct _KestrelConversationList
{
  GObject parent_instance;

  KestrelStore *store;
  GPtrArray *items;        /* KestrelConversation, sorted by kestrel_conversation_compare_sidebar */
  GHashTable *by_id;       /* gint64* id -> KestrelConversation (borrowed from items) */
  GCancellable *cancellable;
  gulong changed_handler;
  guint archived : 1;
  guint loading : 1;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (KestrelConversationList, kestrel_conversation_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_STORE,
  PROP_ARCHIVED,
  PROP_LOADING,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
kestrel_conversation_list_get_item_type (GListModel *model)
{
  return KESTREL_TYPE_CONVERSATION;
}

static guint
kestrel_conversation_list_get_n_items (GListModel *model)
{
  return KESTREL_CONVERSATION_LIST (model)->items->len;
}

static gpointer
kestrel_conversation_list_get_item (GListModel *model,
                                    guint       position)
{
  KestrelConversationList *self = KESTREL_CONVERSATION_LIST (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = kestrel_conversation_list_get_item_type;
  iface->get_n_items = kestrel_conversation_list_get_n_items;
  iface->get_item = kestrel_conversation_list_get_item;
}

/* Where @conversation belongs (binary search on the sidebar order). */
static guint
find_insert_position (KestrelConversationList *self,
                      KestrelConversation     *conversation)
{
  guint lo = 0, hi = self->items->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (kestrel_conversation_compare_sidebar (g_ptr_array_index (self->items, mid), conversation) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static void
notify_n_items (KestrelConversationList *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

static void
insert_sorted (KestrelConversationList *self,
               KestrelConversation     *conversation)
{
  guint position = find_insert_position (self, conversation);
  gint64 id = kestrel_conversation_get_id (conversation);

  g_ptr_array_insert (self->items, position, g_object_ref (conversation));
  g_hash_table_insert (self->by_id, g_memdup2 (&id, sizeof id), conversation);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 0, 1);
}

static void
remove_item (KestrelConversationList *self,
             KestrelConversation     *conversation)
{
  guint position;
  gint64 id = kestrel_conversation_get_id (conversation);

  if (!g_ptr_array_find (self->items, conversation, &position))
    return;

  g_hash_table_remove (self->by_id, &id);
  g_ptr_array_remove_index (self->items, position);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
}

static void load_page (KestrelConversationList *self,
                       KestrelConversation     *after);

static void
set_loading (KestrelConversationList *self,
             gboolean                 loading)
{
  if (self->loading != !!loading)
    {
      self->loading = !!loading;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
    }
}

static void
load_page_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(KestrelConversationList) self = user_data;
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GError) error = NULL;
  guint n_added = 0;
  guint n_appended = 0;

  page = kestrel_store_list_conversations_finish (KESTREL_STORE (object), result, &error);
  if (page == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("Loading conversations failed: %s", error->message);
      set_loading (self, FALSE);
      return;
    }

  for (guint i = 0; i < page->len; i++)
    {
      KestrelConversation *conversation = g_ptr_array_index (page, i);
      gint64 id = kestrel_conversation_get_id (conversation);

      /* Already added by a change notification while the pages loaded. */
      if (g_hash_table_contains (self->by_id, &id))
        continue;

      if (find_insert_position (self, conversation) == self->items->len)
        {
          /* The usual case: pages arrive in order and append. One signal per run. */
          g_ptr_array_add (self->items, g_object_ref (conversation));
          g_hash_table_insert (self->by_id, g_memdup2 (&id, sizeof id), conversation);
          n_appended++;
        }
      else
        {
          if (n_appended > 0)
            g_list_model_items_changed (G_LIST_MODEL (self), self->items->len - n_appended, 0, n_appended);
          n_appended = 0;
          insert_sorted (self, conversation);
        }
      n_added++;
    }
  if (n_appended > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), self->items->len - n_appended, 0, n_appended);

  if (n_added > 0)
    notify_n_items (self);

  if (page->len == PAGE_SIZE)
    load_page (self, g_ptr_array_index (page, page->len - 1));
  else
    set_loading (self, FALSE);
}

static void
load_page (KestrelConversationList *self,
           KestrelConversation     *after)
{
  set_loading (self, TRUE);
  kestrel_store_list_conversations_async (self->store, self->archived, after, PAGE_SIZE,
                                          self->cancellable, load_page_cb, g_object_ref (self));
}

typedef struct
{
  KestrelConversationList *self;
  gint64 id;
} Refresh;

static void
refresh_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Refresh *refresh = user_data;
  KestrelConversationList *self = refresh->self;
  g_autoptr(KestrelConversation) fresh = NULL;
  g_autoptr(GError) error = NULL;
  KestrelConversation *existing;

  fresh = kestrel_store_get_conversation_finish (KESTREL_STORE (object), result, &error);
  existing = g_hash_table_lookup (self->by_id, &refresh->id);

  if (fresh == NULL && !g_error_matches (error, KESTREL_STORE_ERROR, KESTREL_STORE_ERROR_NOT_FOUND))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("Reading conversation %" G_GINT64_FORMAT " failed: %s", refresh->id, error->message);
    }
  else if (fresh == NULL || kestrel_conversation_get_archived (fresh) != self->archived)
    {
      if (existing != NULL)
        {
          remove_item (self, existing);
          notify_n_items (self);
        }
    }
  else if (existing != NULL)
    {
      guint position;

      /* The same object stays (bound widgets update); it moves if its place changed. */
      g_object_ref (existing);
      g_ptr_array_find (self->items, existing, &position);
      g_ptr_array_remove_index (self->items, position);
      kestrel_conversation_update_from (existing, fresh);
      {
        guint new_position = find_insert_position (self, existing);

        g_ptr_array_insert (self->items, new_position, existing);
        if (new_position == position)
          g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 1);
        else
          {
            g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
            g_list_model_items_changed (G_LIST_MODEL (self), new_position, 0, 1);
          }
      }
    }
  else
    {
      insert_sorted (self, fresh);
      notify_n_items (self);
    }

  g_object_unref (refresh->self);
  g_free (refresh);
}

static void
conversation_changed_cb (KestrelConversationList *self,
                         gint64                   conversation_id,
                         KestrelStore            *store)
{
  Refresh *refresh = g_new0 (Refresh, 1);

  refresh->self = g_object_ref (self);
  refresh->id = conversation_id;
  kestrel_store_get_conversation_async (store, conversation_id, self->cancellable, refresh_cb, refresh);
}

static void
kestrel_conversation_list_constructed (GObject *object)
{
  KestrelConversationList *self = (KestrelConversationList *)object;

  G_OBJECT_CLASS (kestrel_conversation_list_parent_class)->constructed (object);

  g_return_if_fail (KESTREL_IS_STORE (self->store));

  self->changed_handler = g_signal_connect_object (self->store, "conversation-changed",
                                                   G_CALLBACK (conversation_changed_cb), self,
                                                   G_CONNECT_SWAPPED);
  load_page (self, NULL);
}

static void
kestrel_conversation_list_dispose (GObject *object)
{
  KestrelConversationList *self = (KestrelConversationList *)object;

  g_cancellable_cancel (self->cancellable);
  if (self->store != NULL)
    g_clear_signal_handler (&self->changed_handler, self->store);
  g_clear_object (&self->store);
  g_hash_table_remove_all (self->by_id);
  g_ptr_array_set_size (self->items, 0);

  G_OBJECT_CLASS (kestrel_conversation_list_parent_class)->dispose (object);
}

static void
kestrel_conversation_list_finalize (GObject *object)
{
  KestrelConversationList *self = (KestrelConversationList *)object;

  g_clear_pointer (&self->items, g_ptr_array_unref);
  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (kestrel_conversation_list_parent_class)->finalize (object);
}

static void
kestrel_conversation_list_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  KestrelConversationList *self = KESTREL_CONVERSATION_LIST (object);

  switch (prop_id)
    {
    case PROP_STORE: g_value_set_object (value, self->store); break;
    case PROP_ARCHIVED: g_value_set_boolean (value, self->archived); break;
    case PROP_LOADING: g_value_set_boolean (value, self->loading); break;
    case PROP_N_ITEMS: g_value_set_uint (value, self->items->len); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_conversation_list_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  KestrelConversationList *self = KESTREL_CONVERSATION_LIST (object);

  switch (prop_id)
    {
    case PROP_STORE: self->store = g_value_dup_object (value); break;
    case PROP_ARCHIVED: self->archived = g_value_get_boolean (value); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_conversation_list_class_init (KestrelConversationListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = kestrel_conversation_list_constructed;
  object_class->dispose = kestrel_conversation_list_dispose;
  object_class->finalize = kestrel_conversation_list_finalize;
  object_class->get_property = kestrel_conversation_list_get_property;
  object_class->set_property = kestrel_conversation_list_set_property;

  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, KESTREL_TYPE_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* FALSE: the sidebar; TRUE: the archive. */
  properties[PROP_ARCHIVED] =
    g_param_spec_boolean ("archived", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* TRUE while pages are still coming in. */
  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
kestrel_conversation_list_init (KestrelConversationList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->cancellable = g_cancellable_new ();
}

KestrelConversationList *
kestrel_conversation_list_new (KestrelStore *store,
                               gboolean      archived)
{
  g_return_val_if_fail (KESTREL_IS_STORE (store), NULL);

  return g_object_new (KESTREL_TYPE_CONVERSATION_LIST,
                       "store", store,
                       "archived", archived,
                       NULL);
}

KestrelStore *
kestrel_conversation_list_get_store (KestrelConversationList *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION_LIST (self), NULL);
  return self->store;
}

gboolean
kestrel_conversation_list_get_archived (KestrelConversationList *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION_LIST (self), FALSE);
  return self->archived;
}

gboolean
kestrel_conversation_list_get_loading (KestrelConversationList *self)
{
  g_return_val_if_fail (KESTREL_IS_CONVERSATION_LIST (self), FALSE);
  return self->loading;
}
