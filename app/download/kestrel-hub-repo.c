/* kestrel-hub-repo.c — one revision of a Hugging Face model repository: its commit and files.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-download"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "kestrel-download-error.h"
#include "kestrel-hub-repo.h"

struct _KestrelHubRepo
{
  GObject    parent_instance;

  char      *repo_id;
  char      *revision;
  char      *commit;
  GPtrArray *files; /* of KestrelHubFile */
  guint64    total_size;
};

G_DEFINE_FINAL_TYPE (KestrelHubRepo, kestrel_hub_repo, G_TYPE_OBJECT)

G_DEFINE_BOXED_TYPE (KestrelHubFile, kestrel_hub_file, kestrel_hub_file_copy, kestrel_hub_file_free)

KestrelHubFile *
kestrel_hub_file_copy (const KestrelHubFile *file)
{
  KestrelHubFile *copy = g_new0 (KestrelHubFile, 1);

  copy->path = g_strdup (file->path);
  copy->size = file->size;
  copy->sha256 = g_strdup (file->sha256);
  copy->blob_id = g_strdup (file->blob_id);
  return copy;
}

void
kestrel_hub_file_free (KestrelHubFile *file)
{
  if (file == NULL)
    return;
  g_free (file->path);
  g_free (file->sha256);
  g_free (file->blob_id);
  g_free (file);
}

static void
kestrel_hub_repo_finalize (GObject *object)
{
  KestrelHubRepo *self = KESTREL_HUB_REPO (object);

  g_clear_pointer (&self->repo_id, g_free);
  g_clear_pointer (&self->revision, g_free);
  g_clear_pointer (&self->commit, g_free);
  g_clear_pointer (&self->files, g_ptr_array_unref);

  G_OBJECT_CLASS (kestrel_hub_repo_parent_class)->finalize (object);
}

static void
kestrel_hub_repo_class_init (KestrelHubRepoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kestrel_hub_repo_finalize;
}

static void
kestrel_hub_repo_init (KestrelHubRepo *self)
{
  self->files = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_hub_file_free);
}

static gboolean
is_name_char (char c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '_' || c == '.';
}

gboolean
kestrel_hub_is_valid_repo_id (const char *repo_id)
{
  const char *slash;
  gsize len;

  if (repo_id == NULL)
    return FALSE;
  len = strlen (repo_id);
  slash = strchr (repo_id, '/');
  if (len == 0 || len > 200 || slash == NULL || slash == repo_id || slash[1] == '\0' ||
      strchr (slash + 1, '/') != NULL)
    return FALSE;
  for (const char *p = repo_id; *p; p++)
    if (*p != '/' && !is_name_char (*p))
      return FALSE;
  return strstr (repo_id, "..") == NULL && repo_id[0] != '.' && slash[1] != '.';
}

gboolean
kestrel_hub_is_safe_path (const char *path)
{
  g_auto(GStrv) parts = NULL;

  if (path == NULL || path[0] == '\0' || path[0] == '/' || strlen (path) > 4096 ||
      !g_utf8_validate (path, -1, NULL))
    return FALSE;
  for (const char *p = path; *p; p++)
    if (*p == '\\' || (guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] == '\0' || strcmp (parts[i], ".") == 0 || strcmp (parts[i], "..") == 0)
      return FALSE;
  return TRUE;
}

static gboolean
is_lower_hex (const char *s,
              gsize       len)
{
  if (s == NULL || strlen (s) != len)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  return TRUE;
}

static gboolean
read_size (JsonObject *object,
           const char *member,
           guint64    *out)
{
  JsonNode *node = json_object_get_member (object, member);
  gint64 value;

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  value = json_node_get_int (node);
  if (value < 0)
    return FALSE;
  *out = (guint64) value;
  return TRUE;
}

static GError *
invalid (const char *repo_id,
         const char *why)
{
  return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_INVALID_RESPONSE,
                      _("The server sent an unusable file list for %s: %s"), repo_id, why);
}

static KestrelHubFile *
parse_sibling (const char  *repo_id,
               JsonNode    *node,
               GError     **error)
{
  g_autoptr(KestrelHubFile) file = g_new0 (KestrelHubFile, 1);
  JsonObject *object;
  JsonObject *lfs = NULL;
  const char *name;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_propagate_error (error, invalid (repo_id, "a file entry is not an object"));
      return NULL;
    }
  object = json_node_get_object (node);
  name = json_object_get_string_member_with_default (object, "rfilename", NULL);
  if (!kestrel_hub_is_safe_path (name))
    {
      g_propagate_error (error, invalid (repo_id, "a file name is missing or unsafe"));
      return NULL;
    }
  file->path = g_strdup (name);

  if (json_object_has_member (object, "lfs"))
    {
      JsonNode *lfs_node = json_object_get_member (object, "lfs");

      if (!JSON_NODE_HOLDS_OBJECT (lfs_node))
        {
          g_propagate_error (error, invalid (repo_id, "an LFS entry is not an object"));
          return NULL;
        }
      lfs = json_node_get_object (lfs_node);
    }

  if (lfs != NULL)
    {
      const char *sha256 = json_object_get_string_member_with_default (lfs, "sha256", NULL);

      if (!is_lower_hex (sha256, 64) || !read_size (lfs, "size", &file->size))
        {
          g_propagate_error (error, invalid (repo_id, "an LFS file lacks its sha256 or size"));
          return NULL;
        }
      file->sha256 = g_strdup (sha256);
    }
  else if (!read_size (object, "size", &file->size))
    {
      g_propagate_error (error, invalid (repo_id, "a file lacks its size"));
      return NULL;
    }

  if (json_object_has_member (object, "blobId"))
    {
      const char *blob_id = json_object_get_string_member_with_default (object, "blobId", NULL);

      if (!is_lower_hex (blob_id, 40))
        {
          g_propagate_error (error, invalid (repo_id, "a blob id is malformed"));
          return NULL;
        }
      file->blob_id = g_strdup (blob_id);
    }

  return g_steal_pointer (&file);
}

KestrelHubRepo *
kestrel_hub_repo_new_from_json (const char  *repo_id,
                                const char  *revision,
                                GBytes      *json,
                                GError     **error)
{
  g_autoptr(KestrelHubRepo) self = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GError) local_error = NULL;
  JsonObject *root;
  JsonNode *siblings;
  const char *sha;
  gsize len;
  const char *data;

  g_return_val_if_fail (repo_id != NULL, NULL);
  g_return_val_if_fail (revision != NULL, NULL);
  g_return_val_if_fail (json != NULL, NULL);

  data = g_bytes_get_data (json, &len);
  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser, data ? data : "", len,
                                                       &local_error))
    {
      g_propagate_error (error, invalid (repo_id, local_error ? local_error->message
                                                              : "too large"));
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_propagate_error (error, invalid (repo_id, "the answer is not a JSON object"));
      return NULL;
    }
  root = json_node_get_object (json_parser_get_root (parser));

  self = g_object_new (KESTREL_TYPE_HUB_REPO, NULL);
  self->repo_id = g_strdup (repo_id);
  self->revision = g_strdup (revision);

  sha = json_object_get_string_member_with_default (root, "sha", NULL);
  if (!is_lower_hex (sha, 40))
    {
      g_propagate_error (error, invalid (repo_id, "the commit id is missing"));
      return NULL;
    }
  self->commit = g_strdup (sha);

  siblings = json_object_get_member (root, "siblings");
  if (siblings == NULL || !JSON_NODE_HOLDS_ARRAY (siblings))
    {
      g_propagate_error (error, invalid (repo_id, "the file list is missing"));
      return NULL;
    }

  for (guint i = 0; i < json_array_get_length (json_node_get_array (siblings)); i++)
    {
      JsonNode *node = json_array_get_element (json_node_get_array (siblings), i);
      KestrelHubFile *file = parse_sibling (repo_id, node, error);

      if (file == NULL)
        return NULL;
      if (g_hash_table_contains (seen, file->path) ||
          !g_uint64_checked_add (&self->total_size, self->total_size, file->size))
        {
          kestrel_hub_file_free (file);
          g_propagate_error (error, invalid (repo_id, "duplicate files or impossible sizes"));
          return NULL;
        }
      g_hash_table_add (seen, file->path);
      g_ptr_array_add (self->files, file);
    }

  if (self->files->len == 0)
    {
      g_propagate_error (error, invalid (repo_id, "the repository has no files"));
      return NULL;
    }

  return g_steal_pointer (&self);
}

const char *
kestrel_hub_repo_get_repo_id (KestrelHubRepo *self)
{
  g_return_val_if_fail (KESTREL_IS_HUB_REPO (self), NULL);
  return self->repo_id;
}

const char *
kestrel_hub_repo_get_revision (KestrelHubRepo *self)
{
  g_return_val_if_fail (KESTREL_IS_HUB_REPO (self), NULL);
  return self->revision;
}

const char *
kestrel_hub_repo_get_commit (KestrelHubRepo *self)
{
  g_return_val_if_fail (KESTREL_IS_HUB_REPO (self), NULL);
  return self->commit;
}

guint
kestrel_hub_repo_get_n_files (KestrelHubRepo *self)
{
  g_return_val_if_fail (KESTREL_IS_HUB_REPO (self), 0);
  return self->files->len;
}

const KestrelHubFile *
kestrel_hub_repo_get_file (KestrelHubRepo *self,
                           guint           index)
{
  g_return_val_if_fail (KESTREL_IS_HUB_REPO (self), NULL);
  g_return_val_if_fail (index < self->files->len, NULL);
  return g_ptr_array_index (self->files, index);
}

guint64
kestrel_hub_repo_get_total_size (KestrelHubRepo *self)
{
  g_return_val_if_fail (KESTREL_IS_HUB_REPO (self), 0);
  return self->total_size;
}
