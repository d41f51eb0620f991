/* kestrel-model-library.c — the models on disk, as a GListModel of KestrelModelEntry.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-download"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "kestrel-model-library.h"

typedef struct
{
  GFile              *root;
  KestrelModelSource  source;
} Root;

struct _KestrelModelLibrary
{
  GObject    parent_instance;

  GArray    *roots;   /* of Root */
  GPtrArray *entries; /* of KestrelModelEntry */
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (KestrelModelLibrary, kestrel_model_library, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static void
root_clear (Root *root)
{
  g_clear_object (&root->root);
}

static void
kestrel_model_library_finalize (GObject *object)
{
  KestrelModelLibrary *self = KESTREL_MODEL_LIBRARY (object);

  g_clear_pointer (&self->roots, g_array_unref);
  g_clear_pointer (&self->entries, g_ptr_array_unref);

  G_OBJECT_CLASS (kestrel_model_library_parent_class)->finalize (object);
}

static void
kestrel_model_library_class_init (KestrelModelLibraryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kestrel_model_library_finalize;
}

static void
kestrel_model_library_init (KestrelModelLibrary *self)
{
  self->roots = g_array_new (FALSE, TRUE, sizeof (Root));
  g_array_set_clear_func (self->roots, (GDestroyNotify) root_clear);
  self->entries = g_ptr_array_new_with_free_func (g_object_unref);
}

static GType
get_item_type (GListModel *model)
{
  return KESTREL_TYPE_MODEL_ENTRY;
}

static guint
get_n_items (GListModel *model)
{
  return KESTREL_MODEL_LIBRARY (model)->entries->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  KestrelModelLibrary *self = KESTREL_MODEL_LIBRARY (model);

  if (position >= self->entries->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->entries, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

GFile *
kestrel_model_library_default_hf_cache (void)
{
  const char *hub_cache = g_getenv ("HF_HUB_CACHE");
  const char *hf_home = g_getenv ("HF_HOME");

  if (hub_cache != NULL && hub_cache[0] != '\0')
    return g_file_new_for_path (hub_cache);
  if (hf_home != NULL && hf_home[0] != '\0')
    return g_file_new_build_filename (hf_home, "hub", NULL);
  return g_file_new_build_filename (g_get_user_cache_dir (), "huggingface", "hub", NULL);
}

GFile *
kestrel_model_library_default_downloads (void)
{
  return g_file_new_build_filename (g_get_user_data_dir (), "kestrel", "models", NULL);
}

KestrelModelLibrary *
kestrel_model_library_new (void)
{
  return g_object_new (KESTREL_TYPE_MODEL_LIBRARY, NULL);
}

void
kestrel_model_library_add_root (KestrelModelLibrary *self,
                                GFile               *root,
                                KestrelModelSource   source)
{
  Root entry;

  g_return_if_fail (KESTREL_IS_MODEL_LIBRARY (self));
  g_return_if_fail (G_IS_FILE (root));

  for (guint i = 0; i < self->roots->len; i++)
    if (g_file_equal (g_array_index (self->roots, Root, i).root, root))
      return;
  entry.root = g_object_ref (root);
  entry.source = source;
  g_array_append_val (self->roots, entry);
}

void
kestrel_model_library_add_default_roots (KestrelModelLibrary *self)
{
  g_autoptr(GFile) cache = kestrel_model_library_default_hf_cache ();
  g_autoptr(GFile) downloads = kestrel_model_library_default_downloads ();

  kestrel_model_library_add_root (self, cache, KESTREL_MODEL_SOURCE_HF_CACHE);
  /* In a Flatpak sandbox XDG_CACHE_HOME is the app's own; the cache Python tools fill is
   * ~/.cache/huggingface/hub (visible when the sandbox grants that folder). */
  if (g_getenv ("HF_HUB_CACHE") == NULL && g_getenv ("HF_HOME") == NULL)
    {
      g_autoptr(GFile) home_cache = g_file_new_build_filename (g_get_home_dir (), ".cache",
                                                               "huggingface", "hub", NULL);

      kestrel_model_library_add_root (self, home_cache, KESTREL_MODEL_SOURCE_HF_CACHE);
    }
  kestrel_model_library_add_root (self, downloads, KESTREL_MODEL_SOURCE_DOWNLOADS);
}

/* ---- scanning (worker thread) --------------------------------------------------------- */

static void
add_entry (GPtrArray          *found,
           GFile              *folder,
           GFile              *removable,
           const char         *name,
           KestrelModelSource  source,
           GCancellable       *cancellable)
{
  g_autoptr(GError) error = NULL;
  KestrelModelEntry *entry = kestrel_model_entry_new_from_folder (folder, removable, name,
                                                                  source, cancellable, &error);
  if (entry == NULL)
    {
      g_autofree char *path = g_file_get_parse_name (folder);

      g_debug ("Not a model: %s: %s", path, error->message);
      return;
    }
  g_ptr_array_add (found, entry);
}

/* models--org--name → the snapshot that refs/main names, else the newest snapshot. */
static GFile *
pick_snapshot (GFile        *repo_dir,
               GCancellable *cancellable)
{
  g_autoptr(GFile) snapshots = g_file_get_child (repo_dir, "snapshots");
  g_autoptr(GFile) ref = g_file_resolve_relative_path (repo_dir, "refs/main");
  g_autoptr(GFileEnumerator) children = NULL;
  g_autofree char *commit = NULL;
  g_autoptr(GFile) newest = NULL;
  guint64 newest_time = 0;

  if (g_file_load_contents (ref, cancellable, &commit, NULL, NULL, NULL))
    {
      g_autoptr(GFile) snapshot = NULL;

      g_strstrip (commit);
      if (commit[0] != '\0' && strchr (commit, '/') == NULL && strcmp (commit, "..") != 0)
        {
          snapshot = g_file_get_child (snapshots, commit);
          if (g_file_query_file_type (snapshot, G_FILE_QUERY_INFO_NONE, cancellable) ==
              G_FILE_TYPE_DIRECTORY)
            return g_steal_pointer (&snapshot);
        }
    }

  children = g_file_enumerate_children (snapshots, G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                        G_FILE_ATTRIBUTE_TIME_MODIFIED,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, cancellable, NULL);
  while (children != NULL)
    {
      GFileInfo *info;
      GFile *child;

      if (!g_file_enumerator_iterate (children, &info, &child, cancellable, NULL) ||
          info == NULL)
        break;
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY &&
          (newest == NULL ||
           g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED) > newest_time))
        {
          g_set_object (&newest, child);
          newest_time = g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED);
        }
    }
  return g_steal_pointer (&newest);
}

static char *
name_from_folder (const char *basename,
                  const char *prefix)
{
  g_autofree char *rest = NULL;
  const char *sep;

  if (prefix != NULL)
    {
      if (!g_str_has_prefix (basename, prefix))
        return NULL;
      basename += strlen (prefix);
    }
  /* org--name → org/name (the cache's and Kestrel's folder naming) */
  sep = strstr (basename, "--");
  if (sep == NULL || sep == basename || sep[2] == '\0')
    return prefix ? NULL : g_strdup (basename);
  rest = g_strdup (sep + 2);
  return g_strdup_printf ("%.*s/%s", (int) (sep - basename), basename, rest);
}

static void
scan_root (const Root   *root,
           GPtrArray    *found,
           GCancellable *cancellable)
{
  g_autoptr(GFileEnumerator) children = NULL;
  g_autoptr(GFile) own_config = g_file_get_child (root->root, "config.json");

  if (root->source == KESTREL_MODEL_SOURCE_FOLDER && g_file_query_exists (own_config, NULL))
    {
      g_autofree char *base = g_file_get_basename (root->root);

      add_entry (found, root->root, root->root, base, root->source, cancellable);
      return;
    }

  children = g_file_enumerate_children (root->root, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, cancellable, NULL);
  while (children != NULL)
    {
      g_autofree char *name = NULL;
      GFileInfo *info;
      GFile *child;

      if (!g_file_enumerator_iterate (children, &info, &child, cancellable, NULL) ||
          info == NULL)
        break;
      if (g_file_info_get_file_type (info) != G_FILE_TYPE_DIRECTORY)
        continue;

      if (root->source == KESTREL_MODEL_SOURCE_HF_CACHE)
        {
          g_autoptr(GFile) snapshot = NULL;

          name = name_from_folder (g_file_info_get_name (info), "models--");
          if (name == NULL)
            continue; /* datasets--…, spaces--…, .locks */
          snapshot = pick_snapshot (child, cancellable);
          if (snapshot != NULL)
            add_entry (found, snapshot, child, name, root->source, cancellable);
        }
      else
        {
          name = name_from_folder (g_file_info_get_name (info),
                                   NULL);
          add_entry (found, child, child, name, root->source, cancellable);
        }
    }
}

static int
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  KestrelModelEntry *ea = *(KestrelModelEntry **) a;
  KestrelModelEntry *eb = *(KestrelModelEntry **) b;

  return g_utf8_collate (kestrel_model_entry_get_name (ea), kestrel_model_entry_get_name (eb));
}

static void
refresh_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  GArray *roots = task_data;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < roots->len; i++)
    scan_root (&g_array_index (roots, Root, i), found, cancellable);
  if (g_task_return_error_if_cancelled (task))
    return;
  g_ptr_array_sort (found, compare_entries);
  g_task_return_pointer (task, g_steal_pointer (&found), (GDestroyNotify) g_ptr_array_unref);
}

void
kestrel_model_library_refresh_async (KestrelModelLibrary *self,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GArray *roots;

  g_return_if_fail (KESTREL_IS_MODEL_LIBRARY (self));

  /* the thread gets its own copy of the roots */
  roots = g_array_new (FALSE, TRUE, sizeof (Root));
  g_array_set_clear_func (roots, (GDestroyNotify) root_clear);
  for (guint i = 0; i < self->roots->len; i++)
    {
      Root copy = g_array_index (self->roots, Root, i);

      copy.root = g_object_ref (copy.root);
      g_array_append_val (roots, copy);
    }

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, kestrel_model_library_refresh_async);
  g_task_set_task_data (task, roots, (GDestroyNotify) g_array_unref);
  g_task_run_in_thread (task, refresh_thread);
}

gboolean
kestrel_model_library_refresh_finish (KestrelModelLibrary  *self,
                                      GAsyncResult         *result,
                                      GError              **error)
{
  g_autoptr(GPtrArray) found = NULL;
  guint removed;

  g_return_val_if_fail (KESTREL_IS_MODEL_LIBRARY (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  found = g_task_propagate_pointer (G_TASK (result), error);
  if (found == NULL)
    return FALSE;
  removed = self->entries->len;
  g_ptr_array_unref (self->entries);
  self->entries = g_steal_pointer (&found);
  g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, self->entries->len);
  return TRUE;
}

/* ---- removing (worker thread) --------------------------------------------------------- */

/* Deletes @file and, for folders, what is inside; symlinks are deleted, not followed. */
static gboolean
delete_recursively (GFile         *file,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GFileEnumerator) children = NULL;
  g_autoptr(GError) local_error = NULL;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, cancellable,
                                        &local_error);
  if (children != NULL)
    {
      for (;;)
        {
          GFileInfo *info;
          GFile *child;

          if (!g_file_enumerator_iterate (children, &info, &child, cancellable, error))
            return FALSE;
          if (info == NULL)
            break;
          if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
            {
              if (!delete_recursively (child, cancellable, error))
                return FALSE;
            }
          else if (!g_file_delete (child, cancellable, error))
            return FALSE;
        }
    }
  else if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return g_file_delete (file, cancellable, error);
}

static void
remove_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GFile *removable = task_data;
  GError *error = NULL;

  if (delete_recursively (removable, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
remove_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  KestrelModelLibrary *self = KESTREL_MODEL_LIBRARY (object);
  g_autoptr(GTask) outer = user_data;
  KestrelModelEntry *entry = g_task_get_task_data (outer);
  GError *error = NULL;
  guint position;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (outer, error);
      return;
    }
  if (g_ptr_array_find (self->entries, entry, &position))
    {
      g_ptr_array_remove_index (self->entries, position);
      g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
    }
  g_task_return_boolean (outer, TRUE);
}

void
kestrel_model_library_remove_async (KestrelModelLibrary *self,
                                    KestrelModelEntry   *entry,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) outer = NULL;
  g_autoptr(GTask) inner = NULL;
  GFile *removable;

  g_return_if_fail (KESTREL_IS_MODEL_LIBRARY (self));
  g_return_if_fail (KESTREL_IS_MODEL_ENTRY (entry));

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, kestrel_model_library_remove_async);
  g_task_set_task_data (outer, g_object_ref (entry), g_object_unref);

  /* Only what this library found, and only inside one of its roots (or a picked model
   * folder itself). */
  removable = kestrel_model_entry_get_removable (entry);
  if (!g_ptr_array_find (self->entries, entry, NULL))
    {
      g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               _("This model is not in the library"));
      return;
    }
  {
    gboolean inside = FALSE;

    for (guint i = 0; i < self->roots->len && !inside; i++)
      {
        GFile *root = g_array_index (self->roots, Root, i).root;

        inside = g_file_has_prefix (removable, root) || g_file_equal (removable, root);
      }
    if (!inside)
      {
        g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                                 _("The model's folder is outside the library's folders"));
        return;
      }
  }

  inner = g_task_new (self, cancellable, remove_done_cb, g_steal_pointer (&outer));
  g_task_set_task_data (inner, g_object_ref (removable), g_object_unref);
  g_task_run_in_thread (inner, remove_thread);
}

gboolean
kestrel_model_library_remove_finish (KestrelModelLibrary  *self,
                                     GAsyncResult         *result,
                                     GError              **error)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_LIBRARY (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
