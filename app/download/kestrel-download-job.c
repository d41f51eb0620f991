/* kestrel-download-job.c — the blocking work of one download (internal to KestrelDownloader).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each file is written to NAME.partial and renamed to NAME once its size and hash are right,
 * so a file under its final name is always complete and verified; a .partial is resumed with
 * a Range request.  LFS files are checked against their sha256, the others against their git
 * blob id (sha1 of "blob <size>\0" + content), both from the Hub's file list.
 */
#define G_LOG_DOMAIN "kestrel-download"

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "kestrel-download-error.h"
#include "kestrel-download-job.h"

#define CHUNK_SIZE (256 * 1024)
#define MAX_DELAY_MS 30000

typedef struct
{
  const KestrelDownloadJob *job;
  KestrelHubRepo           *repo;
  KestrelDownloadProgress   progress;
  guint8                   *buffer;
} RunState;

static void
report (RunState *state)
{
  if (state->job->progress_func != NULL)
    state->job->progress_func (&state->progress, state->job->progress_data);
}

/* Sleeps @ms unless @cancellable fires first; FALSE when cancelled. */
static gboolean
cancellable_sleep (guint         ms,
                   GCancellable *cancellable,
                   GError      **error)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      g_usleep (MIN (20000, MAX (0, end - g_get_monotonic_time ())));
    }
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

static guint
retry_delay (const KestrelDownloadJob *job,
             guint                     attempt)
{
  guint64 delay = job->first_delay_ms;

  for (guint i = 1; i < attempt && delay < MAX_DELAY_MS; i++)
    delay *= 2;
  return (guint) MIN (delay, MAX_DELAY_MS);
}

static guint64
query_size (GFile        *file,
            GCancellable *cancellable)
{
  g_autoptr(GFileInfo) info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                                 G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                                 G_FILE_QUERY_INFO_NONE, cancellable, NULL);

  if (info == NULL || g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    return G_MAXUINT64; /* missing */
  return (guint64) g_file_info_get_size (info);
}

static GChecksum *
new_hasher (const KestrelHubFile *file)
{
  GChecksum *hasher;
  char header[64];
  int len;

  if (file->sha256 != NULL)
    return g_checksum_new (G_CHECKSUM_SHA256);
  if (file->blob_id == NULL)
    return NULL;
  hasher = g_checksum_new (G_CHECKSUM_SHA1);
  len = g_snprintf (header, sizeof header, "blob %" G_GUINT64_FORMAT, file->size);
  g_checksum_update (hasher, (const guchar *) header, len + 1); /* with the NUL */
  return hasher;
}

/* Feeds the first @length bytes of @partial (kept from an earlier attempt) to @hasher. */
static gboolean
hash_existing (GFile         *partial,
               guint64        length,
               GChecksum     *hasher,
               guint8        *buffer,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(GFileInputStream) in = NULL;
  guint64 left = length;

  if (hasher == NULL || length == 0)
    return TRUE;
  in = g_file_read (partial, cancellable, error);
  if (in == NULL)
    return FALSE;
  while (left > 0)
    {
      gssize n = g_input_stream_read (G_INPUT_STREAM (in), buffer, MIN (left, CHUNK_SIZE),
                                      cancellable, error);
      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      g_checksum_update (hasher, buffer, n);
      left -= (guint64) n;
    }
  return left == 0;
}

static GError *
no_space_while_writing (GFile                *destination,
                        const KestrelHubFile *file)
{
  g_autofree char *where = g_file_get_parse_name (destination);

  return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NO_SPACE,
                      _("No space left on the disk while writing %s in %s: free some space "
                        "and try again — the download resumes where it stopped"),
                      file->path, where);
}

typedef enum { TRANSFER_DONE, TRANSFER_RETRY, TRANSFER_FAILED } TransferResult;

/* One attempt at one file: resume or start its .partial, receive the rest, verify, rename. */
static TransferResult
transfer_file (RunState              *state,
               const KestrelHubFile  *file,
               GFile                 *target,
               GFile                 *partial,
               guint64                base_done,
               gboolean              *restarted,
               GCancellable          *cancellable,
               GError               **error)
{
  g_autoptr(GInputStream) body = NULL;
  g_autoptr(GFileOutputStream) out = NULL;
  g_autoptr(GChecksum) hasher = NULL;
  g_autoptr(GError) local_error = NULL;
  guint64 have = query_size (partial, cancellable);
  guint64 start = 0;
  guint64 position;
  gboolean resumed;
  gboolean read_failed = FALSE;

  if (have == G_MAXUINT64 || have > file->size)
    have = 0;

  state->progress.bytes_done = base_done + have;
  report (state);

  hasher = new_hasher (file);
  if (have < file->size || file->size == 0)
    {
      body = kestrel_hub_client_open_file (state->job->client, state->repo, file, have, &start,
                                           cancellable, &local_error);
      if (body == NULL)
        goto failed;
      if (start == 0)
        have = 0; /* the server sent everything: start the .partial again */
    }
  resumed = have > 0;

  if (!hash_existing (partial, have, hasher, state->buffer, cancellable, &local_error))
    goto failed;

  if (have > 0)
    out = g_file_append_to (partial, G_FILE_CREATE_NONE, cancellable, &local_error);
  else
    {
      /* Delete and create rather than g_file_replace(), which writes a temporary copy next
       * to the old file: the disk would have to hold both. */
      if (!g_file_delete (partial, cancellable, &local_error) &&
          !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        goto failed;
      g_clear_error (&local_error);
      out = g_file_create (partial, G_FILE_CREATE_NONE, cancellable, &local_error);
    }
  if (out == NULL)
    goto failed;

  position = have;
  state->progress.bytes_done = base_done + position;
  while (body != NULL)
    {
      gssize n = g_input_stream_read (body, state->buffer, CHUNK_SIZE, cancellable,
                                      &local_error);
      if (n < 0)
        {
          read_failed = TRUE;
          break;
        }
      if (n == 0)
        break;
      if (position + (guint64) n > file->size)
        {
          g_set_error (&local_error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_SIZE,
                       _("The server sent more of %s than its listed size (%" PRIu64 " bytes)"),
                       file->path, (uint64_t) file->size);
          break;
        }
      if (!g_output_stream_write_all (G_OUTPUT_STREAM (out), state->buffer, n, NULL,
                                      cancellable, &local_error))
        break;
      if (hasher != NULL)
        g_checksum_update (hasher, state->buffer, n);
      position += (guint64) n;
      state->progress.bytes_done = base_done + position;
      state->progress.bytes_transferred += (guint64) n;
      report (state);
    }

  /* Close even after a failure: what was written stays in the .partial for the resume. */
  if (!g_output_stream_close (G_OUTPUT_STREAM (out), NULL,
                              local_error == NULL ? &local_error : NULL))
    goto failed;
  if (local_error != NULL)
    goto failed;

  if (position != file->size)
    {
      /* The body ended early without a transport error: resume it like a dropped one. */
      g_set_error (&local_error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NETWORK,
                   _("The connection ended after %" PRIu64 " of %" PRIu64 " bytes of %s"),
                   (uint64_t) position, (uint64_t) file->size, file->path);
      goto failed;
    }

  if (hasher != NULL)
    {
      const char *expected = file->sha256 ? file->sha256 : file->blob_id;
      const char *got = g_checksum_get_string (hasher);

      if (g_strcmp0 (expected, got) != 0)
        {
          g_debug ("%s: expected %s, got %s", file->path, expected, got);
          g_file_delete (partial, NULL, NULL);
          state->progress.bytes_done = base_done;
          g_set_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_CHECKSUM,
                       _("%s arrived damaged (its %s does not match the one Hugging Face "
                         "lists): try again; if it keeps failing, the files on the server "
                         "may be changing"),
                       file->path, file->sha256 ? "sha256" : "checksum");
          if (resumed && !*restarted)
            {
              /* Maybe a .partial of an older version of the file: fetch it whole, once. */
              *restarted = TRUE;
              return TRANSFER_RETRY;
            }
          return TRANSFER_FAILED;
        }
    }

  if (!g_file_move (partial, target, G_FILE_COPY_OVERWRITE | G_FILE_COPY_NO_FALLBACK_FOR_MOVE,
                    cancellable, NULL, NULL, error))
    return TRANSFER_FAILED;
  return TRANSFER_DONE;

failed:
  g_debug ("%s: %s", file->path, local_error->message);
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
    {
      g_propagate_error (error, no_space_while_writing (state->job->destination, file));
      return TRANSFER_FAILED;
    }
  if (read_failed && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* A read error on the body stream: the connection broke mid-file. */
      GError *network = g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NETWORK,
                                     _("The connection broke while downloading %s (%s) — "
                                       "check that you are online and try again"),
                                     file->path, local_error->message);
      g_clear_error (&local_error);
      local_error = network;
    }
  if (kestrel_download_error_is_transient (local_error) &&
      local_error->domain == KESTREL_DOWNLOAD_ERROR)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return TRANSFER_RETRY;
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return TRANSFER_FAILED;
}

static gboolean
download_file (RunState             *state,
               const KestrelHubFile *file,
               guint64               base_done,
               GCancellable         *cancellable,
               GError              **error)
{
  g_autoptr(GFile) target = g_file_resolve_relative_path (state->job->destination, file->path);
  g_autofree char *partial_name = g_strconcat (file->path, ".partial", NULL);
  g_autoptr(GFile) partial = g_file_resolve_relative_path (state->job->destination,
                                                           partial_name);
  g_autoptr(GFile) parent = g_file_get_parent (target);
  g_autoptr(GError) local_error = NULL;
  gboolean restarted = FALSE;
  guint64 furthest = query_size (partial, cancellable);
  guint64 kept;

  if (furthest == G_MAXUINT64)
    furthest = 0;
  if (!g_file_make_directory_with_parents (parent, cancellable, &local_error) &&
      !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_clear_error (&local_error);

  for (guint attempt = 1;; attempt++)
    {
      switch (transfer_file (state, file, target, partial, base_done, &restarted,
                             cancellable, &local_error))
        {
        case TRANSFER_DONE:
          return TRUE;
        case TRANSFER_FAILED:
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        case TRANSFER_RETRY:
        default:
          break;
        }
      /* A connection that broke after delivering data is not a failed attempt: a long
       * download on a flaky network keeps resuming as long as the .partial grows past
       * where it ever was (not when a server without Range support starts over). */
      kept = query_size (partial, cancellable);
      if (kept != G_MAXUINT64 && kept > furthest)
        {
          furthest = kept;
          attempt = 1;
        }
      else if (attempt >= state->job->max_attempts)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_debug ("%s: attempt %u failed (%s), retrying", file->path, attempt,
               local_error ? local_error->message : "hash mismatch");
      g_clear_error (&local_error);
      if (!cancellable_sleep (retry_delay (state->job, attempt), cancellable, error))
        return FALSE;
    }
}

static KestrelHubRepo *
fetch_repo_with_retries (const KestrelDownloadJob  *job,
                         GCancellable              *cancellable,
                         GError                   **error)
{
  for (guint attempt = 1;; attempt++)
    {
      g_autoptr(GError) local_error = NULL;
      KestrelHubRepo *repo = kestrel_hub_client_fetch_repo (job->client, job->repo_id,
                                                            job->revision, cancellable,
                                                            &local_error);
      if (repo != NULL)
        return repo;
      if (!kestrel_download_error_is_transient (local_error) || attempt >= job->max_attempts)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_debug ("file list: attempt %u failed (%s), retrying", attempt, local_error->message);
      if (!cancellable_sleep (retry_delay (job, attempt), cancellable, error))
        return NULL;
    }
}

static gboolean
check_free_space (GFile         *destination,
                  guint64        needed,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GFileInfo) info = NULL;
  guint64 free_bytes;

  info = g_file_query_filesystem_info (destination, G_FILE_ATTRIBUTE_FILESYSTEM_FREE,
                                       cancellable, NULL);
  if (info == NULL || !g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE))
    return TRUE; /* unknown: let the writes tell */
  free_bytes = g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE);
  if (free_bytes < needed)
    {
      g_autofree char *need_text = g_format_size (needed);
      g_autofree char *free_text = g_format_size (free_bytes);
      g_autofree char *where = g_file_get_parse_name (destination);

      g_set_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NO_SPACE,
                   _("No space left: needs %s, %s free in %s"), need_text, free_text, where);
      return FALSE;
    }
  return TRUE;
}

gboolean
kestrel_download_job_run (const KestrelDownloadJob  *job,
                          GCancellable              *cancellable,
                          GError                   **error)
{
  g_autoptr(KestrelHubRepo) repo = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree guint8 *buffer = NULL;
  g_autofree gboolean *complete = NULL;
  g_autofree guint64 *partial_sizes = NULL;
  guint64 pending_partials = 0;
  RunState state = { .job = job };
  guint64 needed = 0;
  guint64 base_done = 0;
  guint n_files;

  repo = fetch_repo_with_retries (job, cancellable, error);
  if (repo == NULL)
    return FALSE;
  state.repo = repo;
  n_files = kestrel_hub_repo_get_n_files (repo);
  state.progress.commit = kestrel_hub_repo_get_commit (repo);
  state.progress.files_total = n_files;
  state.progress.bytes_total = kestrel_hub_repo_get_total_size (repo);

  if (!g_file_make_directory_with_parents (job->destination, cancellable, &local_error) &&
      !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  /* What is already here: files in place (complete by construction) and .partial ones. */
  complete = g_new0 (gboolean, n_files);
  partial_sizes = g_new0 (guint64, n_files);
  for (guint i = 0; i < n_files; i++)
    {
      const KestrelHubFile *file = kestrel_hub_repo_get_file (repo, i);
      g_autoptr(GFile) target = g_file_resolve_relative_path (job->destination, file->path);
      g_autofree char *partial_name = g_strconcat (file->path, ".partial", NULL);
      g_autoptr(GFile) partial = g_file_resolve_relative_path (job->destination, partial_name);
      guint64 partial_size;

      if (query_size (target, cancellable) == file->size)
        {
          complete[i] = TRUE;
          state.progress.files_done++;
          state.progress.bytes_done += file->size;
          continue;
        }
      partial_size = query_size (partial, cancellable);
      if (partial_size == G_MAXUINT64 || partial_size > file->size)
        partial_size = 0;
      partial_sizes[i] = partial_size;
      pending_partials += partial_size;
      state.progress.bytes_done += partial_size;
      needed += file->size - partial_size;
    }
  report (&state);

  if (!check_free_space (job->destination, needed, cancellable, error))
    return FALSE;

  buffer = g_malloc (CHUNK_SIZE);
  state.buffer = buffer;
  for (guint i = 0; i < n_files; i++)
    {
      const KestrelHubFile *file = kestrel_hub_repo_get_file (repo, i);

      if (complete[i])
        {
          base_done += file->size;
          continue;
        }
      state.progress.current_file = file->path;
      /* bytes_done = files before this one + this one's progress + later files' .partial */
      pending_partials -= partial_sizes[i];
      if (!download_file (&state, file, base_done + pending_partials, cancellable, error))
        {
          state.progress.current_file = NULL;
          report (&state);
          return FALSE;
        }
      base_done += file->size;
      state.progress.files_done++;
      state.progress.bytes_done = base_done + pending_partials;
      state.progress.current_file = NULL;
      report (&state);
    }

  return TRUE;
}
