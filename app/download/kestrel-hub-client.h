/* kestrel-hub-client.h — the Hugging Face Hub HTTP API over libsoup 3 (blocking calls).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "kestrel-hub-repo.h"

G_BEGIN_DECLS

#define KESTREL_HUB_DEFAULT_ENDPOINT "https://huggingface.co"

#define KESTREL_TYPE_HUB_CLIENT (kestrel_hub_client_get_type ())

G_DECLARE_FINAL_TYPE (KestrelHubClient, kestrel_hub_client, KESTREL, HUB_CLIENT, GObject)

/* The endpoint to use when none is given: $KESTREL_HF_ENDPOINT, else $HF_ENDPOINT (as
 * huggingface_hub reads it), else https://huggingface.co.  Trailing slashes are dropped. */
char             *kestrel_hub_default_endpoint      (void);

/* All calls block: the client belongs to the thread that uses it (the downloader's worker).
 * @endpoint NULL means kestrel_hub_default_endpoint().  @token (nullable) is sent as a bearer
 * token to the endpoint's own origin only — never to the CDN a download is redirected to.
 * @proxy_resolver NULL keeps libsoup's default, the system proxy settings. */
KestrelHubClient *kestrel_hub_client_new            (const char      *endpoint,
                                                     const char      *token,
                                                     GProxyResolver  *proxy_resolver);
const char       *kestrel_hub_client_get_endpoint   (KestrelHubClient *self);
gboolean          kestrel_hub_client_has_token      (KestrelHubClient *self);

/* GET /api/models/{repo_id}/revision/{revision}?blobs=true */
KestrelHubRepo   *kestrel_hub_client_fetch_repo     (KestrelHubClient  *self,
                                                     const char        *repo_id,
                                                     const char        *revision,
                                                     GCancellable      *cancellable,
                                                     GError           **error);

/* GET /{repo_id}/resolve/{commit}/{path}, from byte @offset on (a Range request when
 * @offset > 0).  *@out_offset is where the returned body starts: @offset after a 206,
 * 0 when the server sent the whole file (200). */
GInputStream     *kestrel_hub_client_open_file      (KestrelHubClient      *self,
                                                     KestrelHubRepo        *repo,
                                                     const KestrelHubFile  *file,
                                                     guint64                offset,
                                                     guint64               *out_offset,
                                                     GCancellable          *cancellable,
                                                     GError               **error);

G_END_DECLS
