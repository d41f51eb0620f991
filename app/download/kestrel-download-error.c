/* kestrel-download-error.c — the errors of the model downloader, with actionable messages.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-download"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "kestrel-download-error.h"

G_DEFINE_QUARK (kestrel-download-error-quark, kestrel_download_error)

GError *
kestrel_download_error_from_http (guint       status,
                                  const char *error_code,
                                  const char *error_message,
                                  const char *repo_id,
                                  const char *what,
                                  gboolean    had_token)
{
  g_return_val_if_fail (repo_id != NULL, NULL);
  g_return_val_if_fail (what != NULL, NULL);

  /* The Hub says what is wrong in X-Error-Code (huggingface_hub's hf_raise_for_status reads
   * the same header): GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound. */
  if (g_strcmp0 (error_code, "GatedRepo") == 0 ||
      ((status == 401 || status == 403) && error_message != NULL &&
       strstr (error_message, "restricted") != NULL))
    {
      if (had_token)
        return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_GATED,
                            _("The model %s is gated and your access token is not allowed to "
                              "download it yet: accept its licence on "
                              "https://huggingface.co/%s (with the account the token belongs "
                              "to) and try again"),
                            repo_id, repo_id);
      return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_GATED,
                          _("This model is gated: accept its licence on "
                            "https://huggingface.co/%s and add an access token "
                            "(https://huggingface.co/settings/tokens)"),
                          repo_id);
    }

  switch (status)
    {
    case 401:
      if (g_strcmp0 (error_code, "RepoNotFound") == 0 && !had_token)
        return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NOT_FOUND,
                            _("The model %s does not exist, or it is private: check the name, "
                              "or add an access token that can read it"),
                            repo_id);
      if (had_token)
        return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_UNAUTHORIZED,
                            _("Hugging Face did not accept your access token for %s (HTTP 401): "
                              "check or replace the token"),
                            repo_id);
      return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_UNAUTHORIZED,
                          _("The model %s needs an access token (HTTP 401): add one from "
                            "https://huggingface.co/settings/tokens"),
                          repo_id);
    case 403:
      return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_FORBIDDEN,
                          _("Access to %s was refused (HTTP 403)%s%s"),
                          what,
                          error_message ? ": " : "",
                          error_message ? error_message : "");
    case 404:
      if (g_strcmp0 (error_code, "RevisionNotFound") == 0)
        return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NOT_FOUND,
                            _("The model %s has no such revision: check the branch, tag or "
                              "commit"),
                            repo_id);
      if (g_strcmp0 (error_code, "EntryNotFound") == 0)
        return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NOT_FOUND,
                            _("The %s is missing from %s on the server (HTTP 404)"),
                            what, repo_id);
      return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NOT_FOUND,
                          _("Not found on Hugging Face (HTTP 404): %s — check the model name"),
                          what);
    default:
      break;
    }

  if (status >= 500 && status <= 599)
    return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_SERVER,
                        _("The server is unavailable (HTTP %u) — try again later"),
                        status);

  return g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_HTTP,
                      _("Unexpected answer from the server for %s (HTTP %u)"),
                      what, status);
}

gboolean
kestrel_download_error_is_transient (const GError *error)
{
  if (error == NULL)
    return FALSE;
  if (g_error_matches (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_SERVER) ||
      g_error_matches (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NETWORK))
    return TRUE;
  /* Raw transport errors before they are turned into NETWORK ones. */
  if (error->domain == G_IO_ERROR)
    return !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
           !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  if (error->domain == G_RESOLVER_ERROR)
    return TRUE;
  return FALSE;
}

char *
kestrel_download_format_size (guint64 bytes)
{
  return g_format_size (bytes);
}
