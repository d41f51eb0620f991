/* kestrel-hub-client.c — the Hugging Face Hub HTTP API over libsoup 3 (blocking calls).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Requests follow huggingface_hub: model info at /api/models/{repo}/revision/{rev}?blobs=true,
 * files at /{repo}/resolve/{commit}/{path} (LFS files redirect to a CDN), errors described by
 * the X-Error-Code / X-Error-Message headers.  Redirects are followed here rather than by
 * libsoup so that the access token only ever goes to the Hub's own origin.
 */
#define G_LOG_DOMAIN "kestrel-download"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <libsoup/soup.h>

#include "kestrel-download-error.h"
#include "kestrel-hub-client.h"

#define MAX_REDIRECTS 10
#define MAX_INFO_BYTES (32 * 1024 * 1024)

struct _KestrelHubClient
{
  GObject      parent_instance;

  SoupSession *session;
  char        *endpoint;
  GUri        *endpoint_uri;
  char        *token;
};

G_DEFINE_FINAL_TYPE (KestrelHubClient, kestrel_hub_client, G_TYPE_OBJECT)

static void
kestrel_hub_client_finalize (GObject *object)
{
  KestrelHubClient *self = KESTREL_HUB_CLIENT (object);

  g_clear_object (&self->session);
  g_clear_pointer (&self->endpoint, g_free);
  g_clear_pointer (&self->endpoint_uri, g_uri_unref);
  if (self->token != NULL)
    memset (self->token, 0, strlen (self->token));
  g_clear_pointer (&self->token, g_free);

  G_OBJECT_CLASS (kestrel_hub_client_parent_class)->finalize (object);
}

static void
kestrel_hub_client_class_init (KestrelHubClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kestrel_hub_client_finalize;
}

static void
kestrel_hub_client_init (KestrelHubClient *self)
{
}

char *
kestrel_hub_default_endpoint (void)
{
  const char *env = g_getenv ("KESTREL_HF_ENDPOINT");
  g_autofree char *endpoint = NULL;
  gsize len;

  if (env == NULL || env[0] == '\0')
    env = g_getenv ("HF_ENDPOINT");
  endpoint = g_strdup (env != NULL && env[0] != '\0' ? env : KESTREL_HUB_DEFAULT_ENDPOINT);
  len = strlen (endpoint);
  while (len > 0 && endpoint[len - 1] == '/')
    endpoint[--len] = '\0';
  return g_steal_pointer (&endpoint);
}

KestrelHubClient *
kestrel_hub_client_new (const char     *endpoint,
                        const char     *token,
                        GProxyResolver *proxy_resolver)
{
  KestrelHubClient *self = g_object_new (KESTREL_TYPE_HUB_CLIENT, NULL);
  gsize len;

  self->endpoint = endpoint ? g_strdup (endpoint) : kestrel_hub_default_endpoint ();
  len = strlen (self->endpoint);
  while (len > 0 && self->endpoint[len - 1] == '/')
    self->endpoint[--len] = '\0';
  self->endpoint_uri = g_uri_parse (self->endpoint, SOUP_HTTP_URI_FLAGS, NULL);
  self->token = (token != NULL && token[0] != '\0') ? g_strdup (token) : NULL;

  /* Only set proxy-resolver when one is given: leaving it unset is what makes libsoup use
   * g_proxy_resolver_get_default(), i.e. the system proxy settings. */
  if (proxy_resolver != NULL)
    self->session = soup_session_new_with_options ("proxy-resolver", proxy_resolver,
                                                   "user-agent", "kestrel/" PACKAGE_VERSION,
                                                   "timeout", 60,
                                                   NULL);
  else
    self->session = soup_session_new_with_options ("user-agent", "kestrel/" PACKAGE_VERSION,
                                                   "timeout", 60,
                                                   NULL);
  return self;
}

const char *
kestrel_hub_client_get_endpoint (KestrelHubClient *self)
{
  g_return_val_if_fail (KESTREL_IS_HUB_CLIENT (self), NULL);
  return self->endpoint;
}

gboolean
kestrel_hub_client_has_token (KestrelHubClient *self)
{
  g_return_val_if_fail (KESTREL_IS_HUB_CLIENT (self), FALSE);
  return self->token != NULL;
}

static gboolean
same_origin (GUri *a,
             GUri *b)
{
  return a != NULL && b != NULL &&
         g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0 &&
         g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0 &&
         g_uri_get_port (a) == g_uri_get_port (b);
}

static GError *
network_error (KestrelHubClient *self,
               GError           *cause)
{
  const char *host;
  GError *error;

  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (cause);
  host = self->endpoint_uri ? g_uri_get_host (self->endpoint_uri) : NULL;
  error = g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NETWORK,
                       _("The network connection to %s failed (%s) — check that you are "
                         "online and try again"),
                       host ? host : self->endpoint, cause->message);
  return error;
}

/* Sends GET @url, following redirects; returns the body stream of the final answer, whatever
 * its status, and that answer in *@out_message. */
static GInputStream *
send_following_redirects (KestrelHubClient  *self,
                          const char        *url,
                          guint64            offset,
                          SoupMessage      **out_message,
                          GCancellable      *cancellable,
                          GError           **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &local_error);
  if (uri == NULL)
    {
      g_set_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_INVALID_RESPONSE,
                   _("The Hugging Face address %s is not a valid URL"), self->endpoint);
      return NULL;
    }

  for (guint hop = 0; hop <= MAX_REDIRECTS; hop++)
    {
      g_autoptr(SoupMessage) message = soup_message_new_from_uri (SOUP_METHOD_GET, uri);
      g_autoptr(GInputStream) stream = NULL;
      SoupMessageHeaders *headers = soup_message_get_request_headers (message);
      const char *location;
      guint status;

      soup_message_add_flags (message, SOUP_MESSAGE_NO_REDIRECT);
      if (self->token != NULL && same_origin (uri, self->endpoint_uri))
        {
          g_autofree char *value = g_strconcat ("Bearer ", self->token, NULL);

          soup_message_headers_replace (headers, "Authorization", value);
          memset (value, 0, strlen (value));
        }
      if (offset > 0)
        soup_message_headers_set_range (headers, (goffset) offset, -1);

      g_debug ("GET %s%s", g_uri_get_path (uri), offset > 0 ? " (range)" : "");
      stream = soup_session_send (self->session, message, cancellable, &local_error);
      if (stream == NULL)
        {
          g_propagate_error (error, network_error (self, local_error));
          return NULL;
        }

      status = soup_message_get_status (message);
      location = soup_message_headers_get_one (soup_message_get_response_headers (message),
                                               "Location");
      if (SOUP_STATUS_IS_REDIRECTION (status) && location != NULL)
        {
          GUri *next = g_uri_parse_relative (uri, location, SOUP_HTTP_URI_FLAGS, NULL);

          if (next == NULL)
            {
              g_set_error (error, KESTREL_DOWNLOAD_ERROR,
                           KESTREL_DOWNLOAD_ERROR_INVALID_RESPONSE,
                           _("The server redirected to an invalid address"));
              return NULL;
            }
          g_input_stream_close (stream, NULL, NULL);
          g_clear_pointer (&uri, g_uri_unref);
          uri = next;
          continue;
        }

      *out_message = g_steal_pointer (&message);
      return g_steal_pointer (&stream);
    }

  g_set_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_INVALID_RESPONSE,
               _("The server redirected too many times"));
  return NULL;
}

static GError *
http_error (KestrelHubClient *self,
            SoupMessage      *message,
            const char       *repo_id,
            const char       *what)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (message);

  return kestrel_download_error_from_http (soup_message_get_status (message),
                                           soup_message_headers_get_one (headers, "X-Error-Code"),
                                           soup_message_headers_get_one (headers,
                                                                         "X-Error-Message"),
                                           repo_id, what, self->token != NULL);
}

static GBytes *
read_body (GInputStream  *stream,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autoptr(GByteArray) body = g_byte_array_new ();
  guint8 buffer[16384];

  for (;;)
    {
      gssize n = g_input_stream_read (stream, buffer, sizeof buffer, cancellable, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      if (body->len + (gsize) n > MAX_INFO_BYTES)
        {
          g_set_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_INVALID_RESPONSE,
                       _("The server's file list is too large"));
          return NULL;
        }
      g_byte_array_append (body, buffer, (guint) n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&body));
}

KestrelHubRepo *
kestrel_hub_client_fetch_repo (KestrelHubClient  *self,
                               const char        *repo_id,
                               const char        *revision,
                               GCancellable      *cancellable,
                               GError           **error)
{
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *escaped_revision = NULL;
  g_autofree char *url = NULL;
  g_autofree char *what = NULL;

  g_return_val_if_fail (KESTREL_IS_HUB_CLIENT (self), NULL);
  g_return_val_if_fail (revision != NULL, NULL);

  if (!kestrel_hub_is_valid_repo_id (repo_id))
    {
      g_set_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_INVALID_REPO_ID,
                   _("“%s” is not a Hugging Face model name: expected the form "
                     "organisation/model, e.g. BCCard/gemma-3-4b-it-FP8-Dynamic"),
                   repo_id ? repo_id : "");
      return NULL;
    }

  /* Like huggingface_hub: the revision is one path segment ("refs/pr/1" → refs%2Fpr%2F1). */
  escaped_revision = g_uri_escape_string (revision, NULL, FALSE);
  url = g_strdup_printf ("%s/api/models/%s/revision/%s?blobs=true",
                         self->endpoint, repo_id, escaped_revision);
  what = g_strdup_printf (_("model %s"), repo_id);

  stream = send_following_redirects (self, url, 0, &message, cancellable, error);
  if (stream == NULL)
    return NULL;
  if (soup_message_get_status (message) != SOUP_STATUS_OK)
    {
      g_propagate_error (error, http_error (self, message, repo_id, what));
      return NULL;
    }
  body = read_body (stream, cancellable, &local_error);
  if (body == NULL)
    {
      if (local_error->domain == KESTREL_DOWNLOAD_ERROR)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_propagate_error (error, network_error (self, local_error));
      return NULL;
    }
  return kestrel_hub_repo_new_from_json (repo_id, revision, body, error);
}

static char *
escape_path (const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *escaped = g_uri_escape_string (parts[i], NULL, FALSE);

      g_free (parts[i]);
      parts[i] = escaped;
    }
  return g_strjoinv ("/", parts);
}

GInputStream *
kestrel_hub_client_open_file (KestrelHubClient      *self,
                              KestrelHubRepo        *repo,
                              const KestrelHubFile  *file,
                              guint64                offset,
                              guint64               *out_offset,
                              GCancellable          *cancellable,
                              GError               **error)
{
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *url = NULL;
  g_autofree char *what = NULL;
  goffset start = 0, end = 0, total = 0;
  guint status;

  g_return_val_if_fail (KESTREL_IS_HUB_CLIENT (self), NULL);
  g_return_val_if_fail (KESTREL_IS_HUB_REPO (repo), NULL);
  g_return_val_if_fail (file != NULL, NULL);
  g_return_val_if_fail (out_offset != NULL, NULL);

  escaped = escape_path (file->path);
  url = g_strdup_printf ("%s/%s/resolve/%s/%s", self->endpoint,
                         kestrel_hub_repo_get_repo_id (repo),
                         kestrel_hub_repo_get_commit (repo), escaped);
  what = g_strdup_printf (_("file %s"), file->path);

  stream = send_following_redirects (self, url, offset, &message, cancellable, error);
  if (stream == NULL)
    return NULL;

  status = soup_message_get_status (message);
  if (status == SOUP_STATUS_OK)
    {
      *out_offset = 0;
      return g_steal_pointer (&stream);
    }
  if (status == SOUP_STATUS_PARTIAL_CONTENT && offset > 0)
    {
      if (!soup_message_headers_get_content_range (soup_message_get_response_headers (message),
                                                   &start, &end, &total) ||
          start != (goffset) offset || (total >= 0 && (guint64) total != file->size))
        {
          g_set_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_INVALID_RESPONSE,
                       _("The server resumed %s at the wrong place"), file->path);
          return NULL;
        }
      *out_offset = offset;
      return g_steal_pointer (&stream);
    }

  g_propagate_error (error, http_error (self, message, kestrel_hub_repo_get_repo_id (repo),
                                        what));
  return NULL;
}
