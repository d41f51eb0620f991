/* test-hub-server.h — a Hugging Face Hub look-alike on 127.0.0.1 for the downloader tests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A GThreadedSocketService in the test process, bound to 127.0.0.1 on an ephemeral port.
 * Speaks just enough HTTP/1.1 (one request per connection) to answer like the Hub:
 *   GET /api/models/ORG/NAME/revision/REV?blobs=true   model info with siblings + lfs
 *   GET /ORG/NAME/resolve/REV/PATH                      small files directly (ETag = blob id),
 *                                                       LFS files 302 → http://localhost:PORT/cdn/SHA
 *   GET /cdn/SHA                                        LFS content, ETag = sha256, Range → 206
 * Repositories (all serve the same generated tiny checkpoint unless said otherwise):
 *   kestrel-test/tiny       plain
 *   kestrel-test/gated      401 GatedRepo without a token, 403 GatedRepo with a wrong one
 *   kestrel-test/flaky      the model info answers 503 twice, then 200; config.json 500
 *                           once, then 200
 *   kestrel-test/down       the model info always answers 503
 *   kestrel-test/dropping   the first download of model.safetensors stops after DROP_AFTER
 *                           bytes (the socket is closed)
 *   kestrel-test/stutter    every download of model.safetensors stops after STUTTER_BYTES
 *   kestrel-test/corrupt    model.safetensors arrives with one byte changed
 *   kestrel-test/slow       model.safetensors trickles (16 KiB every 10 ms)
 *   kestrel-test/evil       lists a file named "../evil"
 *   anything else           401 RepoNotFound (as the Hub answers without a token);
 *                           revision "missing" → 404 RevisionNotFound
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define TEST_HUB_COMMIT "0123456789abcdef0123456789abcdef01234567"
#define TEST_HUB_TOKEN "hf_TestTokenThatMustNeverBeLogged42"
#define TEST_HUB_DROP_AFTER (300 * 1024)
#define TEST_HUB_STUTTER_BYTES (100 * 1024)

typedef struct _TestHub TestHub;

typedef struct
{
  char    *path;        /* without the query */
  gint64   range_start; /* -1 without a Range header */
  gboolean authorized;  /* an Authorization header came */
  gboolean absolute;    /* request target was an absolute URI (a proxy request) */
  char    *host;        /* the Host header */
} TestHubRequest;

TestHub    *test_hub_new           (void);
void        test_hub_free          (TestHub *hub);
const char *test_hub_get_endpoint  (TestHub *hub);
guint16     test_hub_get_port      (TestHub *hub);

/* The generated checkpoint: names, contents. */
guint       test_hub_get_n_files   (TestHub *hub);
const char *test_hub_get_file_name (TestHub *hub,
                                    guint    index);
GBytes     *test_hub_get_file      (TestHub    *hub,
                                    const char *name);
guint64     test_hub_get_total_size (TestHub *hub);

/* The requests seen since the last reset (a copy; free with g_ptr_array_unref). */
GPtrArray  *test_hub_get_requests  (TestHub *hub);
void        test_hub_reset         (TestHub *hub);
/* How many requests had a path starting with @prefix. */
guint       test_hub_count         (TestHub    *hub,
                                    const char *prefix);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestHub, test_hub_free)

G_END_DECLS
