/* kestrel-memory-token-store.c — a token store that lives in memory (tests).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-download"

#include "config.h"

#include <string.h>

#include "kestrel-memory-token-store.h"

struct _KestrelMemoryTokenStore
{
  GObject  parent_instance;

  char    *token;
};

static void token_store_iface_init (KestrelTokenStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (KestrelMemoryTokenStore, kestrel_memory_token_store,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (KESTREL_TYPE_TOKEN_STORE,
                                                      token_store_iface_init))

static void
forget (KestrelMemoryTokenStore *self)
{
  if (self->token != NULL)
    memset (self->token, 0, strlen (self->token));
  g_clear_pointer (&self->token, g_free);
}

static void
kestrel_memory_token_store_finalize (GObject *object)
{
  forget (KESTREL_MEMORY_TOKEN_STORE (object));
  G_OBJECT_CLASS (kestrel_memory_token_store_parent_class)->finalize (object);
}

static void
kestrel_memory_token_store_class_init (KestrelMemoryTokenStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kestrel_memory_token_store_finalize;
}

static void
kestrel_memory_token_store_init (KestrelMemoryTokenStore *self)
{
}

KestrelTokenStore *
kestrel_memory_token_store_new (void)
{
  return g_object_new (KESTREL_TYPE_MEMORY_TOKEN_STORE, NULL);
}

static void
lookup_async (KestrelTokenStore   *store,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  KestrelMemoryTokenStore *self = KESTREL_MEMORY_TOKEN_STORE (store);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, lookup_async);
  g_task_return_pointer (task, g_strdup (self->token), g_free);
}

static char *
lookup_finish (KestrelTokenStore  *store,
               GAsyncResult       *result,
               GError            **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
store_async (KestrelTokenStore   *store,
             const char          *token,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  KestrelMemoryTokenStore *self = KESTREL_MEMORY_TOKEN_STORE (store);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, store_async);
  forget (self);
  self->token = g_strdup (token);
  g_task_return_boolean (task, TRUE);
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
  KestrelMemoryTokenStore *self = KESTREL_MEMORY_TOKEN_STORE (store);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, clear_async);
  forget (self);
  g_task_return_boolean (task, TRUE);
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
