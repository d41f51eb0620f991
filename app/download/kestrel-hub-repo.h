/* kestrel-hub-repo.h — one revision of a Hugging Face model repository: its commit and files.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* One file of the repository as the Hub lists it (GET /api/models/{repo}/revision/{rev}
 * ?blobs=true, "siblings").  LFS files carry the sha256 of their content (also their ETag);
 * small files are checked against their git blob id, sha1("blob <size>\0" + content). */
typedef struct
{
  char    *path;    /* relative, '/'-separated, checked by kestrel_hub_is_safe_path() */
  guint64  size;
  char    *sha256;  /* lowercase hex, LFS files only; else NULL */
  char    *blob_id; /* lowercase hex git blob sha1; NULL when the Hub did not list it */
} KestrelHubFile;

#define KESTREL_TYPE_HUB_FILE (kestrel_hub_file_get_type ())
GType           kestrel_hub_file_get_type (void) G_GNUC_CONST;
KestrelHubFile *kestrel_hub_file_copy     (const KestrelHubFile *file);
void            kestrel_hub_file_free     (KestrelHubFile       *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KestrelHubFile, kestrel_hub_file_free)

#define KESTREL_TYPE_HUB_REPO (kestrel_hub_repo_get_type ())

G_DECLARE_FINAL_TYPE (KestrelHubRepo, kestrel_hub_repo, KESTREL, HUB_REPO, GObject)

/* Parses the model-info JSON of the Hub.  Unsafe file names, missing sizes or malformed
 * hashes are KESTREL_DOWNLOAD_ERROR_INVALID_RESPONSE. */
KestrelHubRepo       *kestrel_hub_repo_new_from_json (const char  *repo_id,
                                                      const char  *revision,
                                                      GBytes      *json,
                                                      GError     **error);
const char           *kestrel_hub_repo_get_repo_id   (KestrelHubRepo *self);
const char           *kestrel_hub_repo_get_revision  (KestrelHubRepo *self);
/* The commit the revision resolved to ("sha"); files are fetched at this commit so that a
 * push during the download cannot mix two versions. */
const char           *kestrel_hub_repo_get_commit    (KestrelHubRepo *self);
guint                 kestrel_hub_repo_get_n_files   (KestrelHubRepo *self);
const KestrelHubFile *kestrel_hub_repo_get_file      (KestrelHubRepo *self,
                                                      guint           index);
guint64               kestrel_hub_repo_get_total_size (KestrelHubRepo *self);

/* "org/name" with the characters the Hub allows (letters, digits, - _ .), no "..". */
gboolean kestrel_hub_is_valid_repo_id (const char *repo_id);
/* A relative path that stays inside the destination: no absolute paths, no "." or ".."
 * components, no empty components, no backslashes or control characters. */
gboolean kestrel_hub_is_safe_path     (const char *path);

G_END_DECLS
