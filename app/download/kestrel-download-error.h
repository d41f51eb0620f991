/* kestrel-download-error.h — the errors of the model downloader, with actionable messages.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define KESTREL_DOWNLOAD_ERROR (kestrel_download_error_quark ())

typedef enum
{
  KESTREL_DOWNLOAD_ERROR_INVALID_REPO_ID,  /* not "org/name" */
  KESTREL_DOWNLOAD_ERROR_GATED,            /* licence not accepted or no token (401/403 GatedRepo) */
  KESTREL_DOWNLOAD_ERROR_UNAUTHORIZED,     /* 401 without gating: private repo or bad token */
  KESTREL_DOWNLOAD_ERROR_FORBIDDEN,        /* 403 */
  KESTREL_DOWNLOAD_ERROR_NOT_FOUND,        /* 404: repository, revision or file */
  KESTREL_DOWNLOAD_ERROR_SERVER,           /* 5xx, after retries */
  KESTREL_DOWNLOAD_ERROR_HTTP,             /* any other unexpected status */
  KESTREL_DOWNLOAD_ERROR_NETWORK,          /* no connection, connection dropped (after retries) */
  KESTREL_DOWNLOAD_ERROR_NO_SPACE,         /* not enough free space, before or while writing */
  KESTREL_DOWNLOAD_ERROR_CHECKSUM,         /* sha256 / git blob id does not match */
  KESTREL_DOWNLOAD_ERROR_SIZE,             /* received size differs from the listed size */
  KESTREL_DOWNLOAD_ERROR_INVALID_RESPONSE, /* malformed JSON, unsafe file names… */
} KestrelDownloadError;

GQuark   kestrel_download_error_quark      (void);

/* Turns a failed HTTP exchange into a GError.  @error_code and @error_message are the Hub's
 * X-Error-Code / X-Error-Message headers (may be NULL); @what names the resource
 * ("model BCCard/gemma-3-4b-it-FP8-Dynamic", "file config.json"). */
GError  *kestrel_download_error_from_http  (guint       status,
                                            const char *error_code,
                                            const char *error_message,
                                            const char *repo_id,
                                            const char *what,
                                            gboolean    had_token);

/* Whether trying the same request again later may succeed (5xx, network trouble). */
gboolean kestrel_download_error_is_transient (const GError *error);

/* Human readable byte count for messages: "3.9 GB", "512 kB" (SI units, like GNOME). */
char    *kestrel_download_format_size      (guint64 bytes);

G_END_DECLS
