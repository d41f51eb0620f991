/* test-hub-server.c — a Hugging Face Hub look-alike on 127.0.0.1 for the downloader tests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Plain sockets rather than SoupServer: the tests need to close a connection in the middle
 * of a body and to trickle one, which is simplest with one blocking thread per connection.
 */
#include "config.h"

#include <string.h>

#include "test-hub-server.h"

#define SAFETENSORS_SIZE (768 * 1024)
#define TRICKLE_CHUNK (16 * 1024)
#define TRICKLE_INTERVAL_US 10000

typedef struct
{
  char    *name;
  GBytes  *content;
  char    *sha256;  /* LFS files only */
  char    *blob_id;
} HubFile;

struct _TestHub
{
  GSocketService *service;
  guint16         port;
  char           *endpoint;
  GPtrArray      *files; /* of HubFile */

  GMutex          lock;
  GCond           idle;
  guint           active;
  gboolean        stopping;
  GPtrArray      *requests; /* of TestHubRequest */
  guint           flaky_count;
  guint           flaky_file_count;
  gboolean        dropped;
};

static void
hub_file_free (HubFile *file)
{
  g_free (file->name);
  g_bytes_unref (file->content);
  g_free (file->sha256);
  g_free (file->blob_id);
  g_free (file);
}

static void
request_free (TestHubRequest *request)
{
  g_free (request->path);
  g_free (request->host);
  g_free (request);
}

static void
add_file (TestHub    *hub,
          const char *name,
          GBytes     *content,
          gboolean    lfs)
{
  HubFile *file = g_new0 (HubFile, 1);
  g_autoptr(GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_autofree char *header = g_strdup_printf ("blob %" G_GSIZE_FORMAT, g_bytes_get_size (content));
  gsize len;
  const guchar *data = g_bytes_get_data (content, &len);

  file->name = g_strdup (name);
  file->content = content;
  g_checksum_update (sha1, (const guchar *) header, strlen (header) + 1);
  g_checksum_update (sha1, data, len);
  file->blob_id = g_strdup (g_checksum_get_string (sha1));
  if (lfs)
    file->sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, content);
  g_ptr_array_add (hub->files, file);
}

/* A tiny "checkpoint": real-looking names, a Gemma 3 FP8-dynamic config, random weights. */
static void
generate_checkpoint (TestHub *hub)
{
  static const char config[] =
    "{\n"
    "  \"architectures\": [\"Gemma3ForConditionalGeneration\"],\n"
    "  \"model_type\": \"gemma3\",\n"
    "  \"text_config\": {\"hidden_size\": 64, \"num_hidden_layers\": 2, \"torch_dtype\": \"bfloat16\"},\n"
    "  \"quantization_config\": {\n"
    "    \"quant_method\": \"compressed-tensors\",\n"
    "    \"format\": \"float-quantized\",\n"
    "    \"config_groups\": {\"group_0\": {\n"
    "      \"weights\": {\"num_bits\": 8, \"type\": \"float\", \"strategy\": \"channel\", \"dynamic\": false},\n"
    "      \"input_activations\": {\"num_bits\": 8, \"type\": \"float\", \"strategy\": \"token\", \"dynamic\": true},\n"
    "      \"targets\": [\"Linear\"]}}\n"
    "  }\n"
    "}\n";
  g_autoptr(GRand) rand = g_rand_new_with_seed (12);
  g_autoptr(GString) tokenizer = g_string_new ("{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\", \"vocab\": {");
  guint8 *weights = g_malloc (SAFETENSORS_SIZE);

  for (guint i = 0; i < 4000; i++)
    g_string_append_printf (tokenizer, "%s\"tok%u_%08x\": %u", i ? ", " : "", i,
                            g_rand_int (rand), i);
  g_string_append (tokenizer, "}}}\n");
  for (gsize i = 0; i < SAFETENSORS_SIZE; i++)
    weights[i] = (guint8) g_rand_int_range (rand, 0, 256);

  add_file (hub, "config.json", g_bytes_new_static (config, sizeof config - 1), FALSE);
  add_file (hub, "model.safetensors", g_bytes_new_take (weights, SAFETENSORS_SIZE), TRUE);
  add_file (hub, "tokenizer.json", g_string_free_to_bytes (g_steal_pointer (&tokenizer)), TRUE);
}

static HubFile *
find_file (TestHub    *hub,
           const char *name)
{
  for (guint i = 0; i < hub->files->len; i++)
    {
      HubFile *file = g_ptr_array_index (hub->files, i);

      if (strcmp (file->name, name) == 0)
        return file;
    }
  return NULL;
}

static HubFile *
find_lfs (TestHub    *hub,
          const char *sha256)
{
  for (guint i = 0; i < hub->files->len; i++)
    {
      HubFile *file = g_ptr_array_index (hub->files, i);

      if (g_strcmp0 (file->sha256, sha256) == 0)
        return file;
    }
  return NULL;
}

/* ---- HTTP -------------------------------------------------------------------------------- */

typedef struct
{
  GOutputStream *out;
  guint          status;
  GString       *headers;
} Response;

static void
response_init (Response      *response,
               GOutputStream *out,
               guint          status)
{
  response->out = out;
  response->status = status;
  response->headers = g_string_new (NULL);
}

static void
response_header (Response   *response,
                 const char *name,
                 const char *value)
{
  g_string_append_printf (response->headers, "%s: %s\r\n", name, value);
}

static const char *
reason (guint status)
{
  switch (status)
    {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 302: return "Found";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Whatever";
    }
}

/* Sends the head and @data[0, @length).  @announced is the Content-Length (> @length for a
 * connection that drops); @trickle sends in small timed pieces. */
static void
response_send (TestHub      *hub,
               Response     *response,
               const guint8 *data,
               gsize         length,
               gsize         announced,
               gboolean      trickle)
{
  g_autofree char *head = NULL;
  gsize sent = 0;

  head = g_strdup_printf ("HTTP/1.1 %u %s\r\n%sContent-Length: %" G_GSIZE_FORMAT "\r\n"
                          "Connection: close\r\n\r\n",
                          response->status, reason (response->status), response->headers->str,
                          announced);
  g_string_free (response->headers, TRUE);
  if (!g_output_stream_write_all (response->out, head, strlen (head), NULL, NULL, NULL))
    return;
  while (sent < length)
    {
      gsize n = trickle ? MIN (TRICKLE_CHUNK, length - sent) : length - sent;
      gboolean stopping;

      if (!g_output_stream_write_all (response->out, data + sent, n, NULL, NULL, NULL))
        return;
      sent += n;
      g_mutex_lock (&hub->lock);
      stopping = hub->stopping;
      g_mutex_unlock (&hub->lock);
      if (stopping)
        return;
      if (trickle)
        g_usleep (TRICKLE_INTERVAL_US);
    }
  g_output_stream_flush (response->out, NULL, NULL);
}

static void
send_text (TestHub       *hub,
           GOutputStream *out,
           guint          status,
           const char    *error_code,
           const char    *error_message,
           const char    *body)
{
  Response response;

  response_init (&response, out, status);
  response_header (&response, "Content-Type", "application/json");
  if (error_code != NULL)
    response_header (&response, "X-Error-Code", error_code);
  if (error_message != NULL)
    response_header (&response, "X-Error-Message", error_message);
  response_send (hub, &response, (const guint8 *) body, strlen (body), strlen (body), FALSE);
}

static char *
model_info_json (TestHub    *hub,
                 const char *repo)
{
  GString *json = g_string_new (NULL);

  g_string_append_printf (json, "{\"_id\": \"66f0c0ffee\", \"id\": \"%s\", \"modelId\": \"%s\", "
                          "\"sha\": \"%s\", \"private\": false, \"gated\": %s, \"siblings\": [",
                          repo, repo, TEST_HUB_COMMIT,
                          g_str_has_suffix (repo, "/gated") ? "\"manual\"" : "false");
  for (guint i = 0; i < hub->files->len; i++)
    {
      HubFile *file = g_ptr_array_index (hub->files, i);
      gsize size = g_bytes_get_size (file->content);

      g_string_append_printf (json, "%s{\"rfilename\": \"%s\", \"blobId\": \"%s\", "
                              "\"size\": %" G_GSIZE_FORMAT,
                              i ? ", " : "", file->name, file->blob_id, size);
      if (file->sha256 != NULL)
        g_string_append_printf (json, ", \"lfs\": {\"sha256\": \"%s\", \"size\": %" G_GSIZE_FORMAT
                                ", \"pointerSize\": 134}", file->sha256, size);
      g_string_append (json, "}");
    }
  if (g_str_has_suffix (repo, "/evil"))
    g_string_append (json, ", {\"rfilename\": \"../evil\", \"size\": 4}");
  g_string_append (json, "]}");
  return g_string_free (json, FALSE);
}

static gboolean
known_repo (const char *repo)
{
  static const char *names[] = { "tiny", "gated", "flaky", "down", "dropping", "stutter",
                                 "corrupt", "slow", "evil" };

  if (!g_str_has_prefix (repo, "kestrel-test/"))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (repo + strlen ("kestrel-test/"), names[i]) == 0)
      return TRUE;
  return FALSE;
}

/* The gate: TRUE when the request may go on; otherwise the refusal has been sent. */
static gboolean
pass_gate (TestHub       *hub,
           GOutputStream *out,
           const char    *repo,
           const char    *authorization)
{
  g_autofree char *message = NULL;

  if (!g_str_has_suffix (repo, "/gated"))
    return TRUE;
  if (g_strcmp0 (authorization, "Bearer " TEST_HUB_TOKEN) == 0)
    return TRUE;
  if (authorization == NULL)
    {
      message = g_strdup_printf ("Access to model %s is restricted. You must have access to it "
                                 "and be authenticated to access it. Please log in.", repo);
      send_text (hub, out, 401, "GatedRepo", message, "{\"error\": \"gated\"}");
    }
  else
    {
      message = g_strdup_printf ("Access to model %s is restricted and you are not in the "
                                 "authorized list. Visit https://huggingface.co/%s to ask for "
                                 "access.", repo, repo);
      send_text (hub, out, 403, "GatedRepo", message, "{\"error\": \"gated\"}");
    }
  return FALSE;
}

static void
serve_info (TestHub       *hub,
            GOutputStream *out,
            const char    *repo,
            const char    *revision,
            const char    *authorization)
{
  g_autofree char *json = NULL;
  gboolean fail = FALSE;

  if (!known_repo (repo))
    {
      send_text (hub, out, 401, "RepoNotFound", "Repository not found", "{\"error\": \"Repository not found\"}");
      return;
    }
  if (!pass_gate (hub, out, repo, authorization))
    return;
  if (strcmp (revision, "main") != 0 && strcmp (revision, TEST_HUB_COMMIT) != 0)
    {
      send_text (hub, out, 404, "RevisionNotFound", "Invalid rev id", "{\"error\": \"Invalid rev id\"}");
      return;
    }
  g_mutex_lock (&hub->lock);
  if (g_str_has_suffix (repo, "/flaky"))
    fail = hub->flaky_count++ < 2;
  g_mutex_unlock (&hub->lock);
  if (fail || g_str_has_suffix (repo, "/down"))
    {
      send_text (hub, out, 503, NULL, NULL, "{\"error\": \"Service Unavailable\"}");
      return;
    }
  json = model_info_json (hub, repo);
  send_text (hub, out, 200, NULL, NULL, json);
}

static void
serve_resolve (TestHub       *hub,
               GOutputStream *out,
               const char    *repo,
               const char    *revision,
               const char    *path,
               const char    *authorization)
{
  HubFile *file;
  Response response;
  g_autofree char *etag = NULL;
  g_autofree char *size = NULL;

  if (!known_repo (repo))
    {
      send_text (hub, out, 401, "RepoNotFound", "Repository not found", "{}");
      return;
    }
  if (!pass_gate (hub, out, repo, authorization))
    return;
  if (g_str_has_suffix (repo, "/flaky") && strcmp (path, "config.json") == 0)
    {
      gboolean fail;

      g_mutex_lock (&hub->lock);
      fail = hub->flaky_file_count++ < 1;
      g_mutex_unlock (&hub->lock);
      if (fail)
        {
          send_text (hub, out, 500, NULL, NULL, "{\"error\": \"Internal Error\"}");
          return;
        }
    }
  file = find_file (hub, path);
  if (file == NULL || strcmp (revision, TEST_HUB_COMMIT) != 0)
    {
      send_text (hub, out, 404, "EntryNotFound", "Entry not found", "{}");
      return;
    }

  response_init (&response, out, 200);
  response_header (&response, "X-Repo-Commit", TEST_HUB_COMMIT);
  if (file->sha256 != NULL)
    {
      /* like the Hub: LFS files redirect to the CDN (another origin) */
      g_autofree char *location = g_strdup_printf ("http://localhost:%u/cdn/%s/%s",
                                                   hub->port, repo, file->sha256);

      response.status = 302;
      etag = g_strdup_printf ("\"%s\"", file->sha256);
      size = g_strdup_printf ("%" G_GSIZE_FORMAT, g_bytes_get_size (file->content));
      response_header (&response, "Location", location);
      response_header (&response, "X-Linked-Etag", etag);
      response_header (&response, "X-Linked-Size", size);
      response_send (hub, &response, NULL, 0, 0, FALSE);
      return;
    }
  etag = g_strdup_printf ("\"%s\"", file->blob_id);
  response_header (&response, "ETag", etag);
  response_send (hub, &response, g_bytes_get_data (file->content, NULL),
                 g_bytes_get_size (file->content), g_bytes_get_size (file->content), FALSE);
}

static void
serve_cdn (TestHub       *hub,
           GOutputStream *out,
           const char    *repo,
           const char    *sha256,
           gint64         range_start)
{
  HubFile *file = find_lfs (hub, sha256);
  Response response;
  g_autofree char *etag = NULL;
  g_autofree guint8 *corrupted = NULL;
  const guint8 *data;
  gsize length, start = 0, send_length, announced;
  gboolean drop = FALSE;

  if (file == NULL)
    {
      send_text (hub, out, 404, NULL, NULL, "not found");
      return;
    }
  data = g_bytes_get_data (file->content, &length);
  if (g_str_has_suffix (repo, "/corrupt") && strcmp (file->name, "model.safetensors") == 0)
    {
      corrupted = g_memdup2 (data, length);
      corrupted[1000] ^= 0x5a;
      data = corrupted;
    }

  response_init (&response, out, 200);
  etag = g_strdup_printf ("\"%s\"", file->sha256);
  response_header (&response, "ETag", etag);
  response_header (&response, "Accept-Ranges", "bytes");
  if (range_start >= 0 && (gsize) range_start < length)
    {
      g_autofree char *range = g_strdup_printf ("bytes %" G_GINT64_FORMAT "-%" G_GSIZE_FORMAT
                                                "/%" G_GSIZE_FORMAT,
                                                range_start, length - 1, length);
      response.status = 206;
      start = (gsize) range_start;
      response_header (&response, "Content-Range", range);
    }
  send_length = announced = length - start;

  g_mutex_lock (&hub->lock);
  if (g_str_has_suffix (repo, "/dropping") && strcmp (file->name, "model.safetensors") == 0 &&
      !hub->dropped && start == 0)
    drop = hub->dropped = TRUE;
  g_mutex_unlock (&hub->lock);
  if (drop)
    send_length = TEST_HUB_DROP_AFTER;
  /* stutter: every answer stops after STUTTER_BYTES, wherever it started */
  if (g_str_has_suffix (repo, "/stutter") && strcmp (file->name, "model.safetensors") == 0 &&
      send_length > TEST_HUB_STUTTER_BYTES)
    send_length = TEST_HUB_STUTTER_BYTES;

  response_send (hub, &response, data + start, send_length, announced,
                 g_str_has_suffix (repo, "/slow") && strcmp (file->name, "model.safetensors") == 0);
}

/* /ORG/NAME/REST → repo "ORG/NAME", rest "REST" */
static gboolean
split_repo (const char  *path,
            char       **repo,
            const char **rest)
{
  const char *second = strchr (path + 1, '/');
  const char *third;

  if (second == NULL)
    return FALSE;
  third = strchr (second + 1, '/');
  if (third == NULL)
    return FALSE;
  *repo = g_strndup (path + 1, third - path - 1);
  *rest = third + 1;
  return TRUE;
}

static void
route (TestHub       *hub,
       GOutputStream *out,
       const char    *path,
       gint64         range_start,
       const char    *authorization)
{
  g_autofree char *repo = NULL;
  const char *rest;

  if (g_str_has_prefix (path, "/api/models/") && split_repo (path + strlen ("/api/models"), &repo, &rest) &&
      g_str_has_prefix (rest, "revision/"))
    {
      g_autofree char *revision = g_uri_unescape_string (rest + strlen ("revision/"), NULL);

      serve_info (hub, out, repo, revision ? revision : "", authorization);
      return;
    }
  if (g_str_has_prefix (path, "/cdn/") && split_repo (path + strlen ("/cdn"), &repo, &rest))
    {
      serve_cdn (hub, out, repo, rest, range_start);
      return;
    }
  if (split_repo (path, &repo, &rest) && g_str_has_prefix (rest, "resolve/"))
    {
      const char *slash = strchr (rest + strlen ("resolve/"), '/');

      if (slash != NULL)
        {
          g_autofree char *revision = g_strndup (rest + strlen ("resolve/"),
                                                 slash - rest - strlen ("resolve/"));
          g_autofree char *file = g_uri_unescape_string (slash + 1, NULL);

          serve_resolve (hub, out, repo, revision, file ? file : "", authorization);
          return;
        }
    }
  send_text (hub, out, 404, NULL, NULL, "{\"error\": \"no route\"}");
}

static gboolean
run_cb (GThreadedSocketService *service,
        GSocketConnection      *connection,
        GObject                *source_object,
        gpointer                user_data)
{
  TestHub *hub = user_data;
  g_autoptr(GDataInputStream) in = NULL;
  g_autofree char *request_line = NULL;
  g_autofree char *authorization = NULL;
  g_auto(GStrv) parts = NULL;
  TestHubRequest *request;
  char *query;

  g_mutex_lock (&hub->lock);
  if (hub->stopping)
    {
      g_mutex_unlock (&hub->lock);
      return TRUE;
    }
  hub->active++;
  g_mutex_unlock (&hub->lock);

  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (in), FALSE);
  g_data_input_stream_set_newline_type (in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);

  request = g_new0 (TestHubRequest, 1);
  request->range_start = -1;
  request_line = g_data_input_stream_read_line (in, NULL, NULL, NULL);
  parts = request_line ? g_strsplit (request_line, " ", 3) : NULL;
  if (parts == NULL || g_strv_length (parts) != 3 || strcmp (parts[0], "GET") != 0)
    {
      request_free (request);
      goto done;
    }
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, NULL);

      if (line == NULL || line[0] == '\0')
        break;
      if (g_ascii_strncasecmp (line, "Range: bytes=", 13) == 0)
        request->range_start = g_ascii_strtoll (line + 13, NULL, 10);
      else if (g_ascii_strncasecmp (line, "Authorization: ", 15) == 0)
        authorization = g_strdup (line + 15);
      else if (g_ascii_strncasecmp (line, "Host: ", 6) == 0)
        request->host = g_strdup (line + 6);
    }

  /* a proxy request names the whole URI */
  if (g_str_has_prefix (parts[1], "http://"))
    {
      const char *path = strchr (parts[1] + strlen ("http://"), '/');

      request->absolute = TRUE;
      request->path = g_strdup (path ? path : "/");
    }
  else
    request->path = g_strdup (parts[1]);
  query = strchr (request->path, '?');
  if (query != NULL)
    *query = '\0';
  request->authorized = authorization != NULL;

  g_mutex_lock (&hub->lock);
  g_ptr_array_add (hub->requests, request);
  g_mutex_unlock (&hub->lock);

  route (hub, g_io_stream_get_output_stream (G_IO_STREAM (connection)), request->path,
         request->range_start, authorization);

done:
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_mutex_lock (&hub->lock);
  hub->active--;
  g_cond_broadcast (&hub->idle);
  g_mutex_unlock (&hub->lock);
  return TRUE;
}

TestHub *
test_hub_new (void)
{
  TestHub *hub = g_new0 (TestHub, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_mutex_init (&hub->lock);
  g_cond_init (&hub->idle);
  hub->files = g_ptr_array_new_with_free_func ((GDestroyNotify) hub_file_free);
  hub->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);
  generate_checkpoint (hub);

  hub->service = g_threaded_socket_service_new (16);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (hub->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                      &bound, &error))
    g_error ("test hub: cannot listen on 127.0.0.1: %s", error->message);
  hub->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  hub->endpoint = g_strdup_printf ("http://127.0.0.1:%u", hub->port);
  g_signal_connect (hub->service, "run", G_CALLBACK (run_cb), hub);
  g_socket_service_start (hub->service);
  return hub;
}

void
test_hub_free (TestHub *hub)
{
  g_mutex_lock (&hub->lock);
  hub->stopping = TRUE;
  g_mutex_unlock (&hub->lock);
  g_socket_service_stop (hub->service);
  g_socket_listener_close (G_SOCKET_LISTENER (hub->service));
  g_mutex_lock (&hub->lock);
  while (hub->active > 0)
    g_cond_wait (&hub->idle, &hub->lock);
  g_mutex_unlock (&hub->lock);
  g_clear_object (&hub->service);
  g_ptr_array_unref (hub->files);
  g_ptr_array_unref (hub->requests);
  g_free (hub->endpoint);
  g_mutex_clear (&hub->lock);
  g_cond_clear (&hub->idle);
  g_free (hub);
}

const char *
test_hub_get_endpoint (TestHub *hub)
{
  return hub->endpoint;
}

guint16
test_hub_get_port (TestHub *hub)
{
  return hub->port;
}

guint
test_hub_get_n_files (TestHub *hub)
{
  return hub->files->len;
}

const char *
test_hub_get_file_name (TestHub *hub,
                        guint    index)
{
  return ((HubFile *) g_ptr_array_index (hub->files, index))->name;
}

GBytes *
test_hub_get_file (TestHub    *hub,
                   const char *name)
{
  HubFile *file = find_file (hub, name);

  return file ? file->content : NULL;
}

guint64
test_hub_get_total_size (TestHub *hub)
{
  guint64 total = 0;

  for (guint i = 0; i < hub->files->len; i++)
    total += g_bytes_get_size (((HubFile *) g_ptr_array_index (hub->files, i))->content);
  return total;
}

GPtrArray *
test_hub_get_requests (TestHub *hub)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);

  g_mutex_lock (&hub->lock);
  for (guint i = 0; i < hub->requests->len; i++)
    {
      TestHubRequest *request = g_ptr_array_index (hub->requests, i);
      TestHubRequest *dup = g_memdup2 (request, sizeof *request);

      dup->path = g_strdup (request->path);
      dup->host = g_strdup (request->host);
      g_ptr_array_add (copy, dup);
    }
  g_mutex_unlock (&hub->lock);
  return copy;
}

void
test_hub_reset (TestHub *hub)
{
  g_mutex_lock (&hub->lock);
  g_ptr_array_set_size (hub->requests, 0);
  hub->flaky_count = 0;
  hub->flaky_file_count = 0;
  hub->dropped = FALSE;
  g_mutex_unlock (&hub->lock);
}

guint
test_hub_count (TestHub    *hub,
                const char *prefix)
{
  guint count = 0;

  g_mutex_lock (&hub->lock);
  for (guint i = 0; i < hub->requests->len; i++)
    if (g_str_has_prefix (((TestHubRequest *) g_ptr_array_index (hub->requests, i))->path,
                          prefix))
      count++;
  g_mutex_unlock (&hub->lock);
  return count;
}
