/* kestrel-cli-download.c — kestrel-cli download: fetch a model from the Hugging Face Hub.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The one subcommand that needs GLib (libsoup, libsecret): built only with -Dui=true.
 * Progress goes to stderr (a redrawn bar on a terminal, plain lines otherwise); the model's
 * folder is printed on stdout at the end.  Ctrl-C cancels and keeps the .partial files, so
 * running the same command again resumes.
 */
#define G_LOG_DOMAIN "kestrel-cli"

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <gio/gio.h>

#include "kestrel-cli.h"
#include "kestrel-download-error.h"
#include "kestrel-downloader.h"
#include "kestrel-hub-client.h"
#include "kestrel-secret-token-store.h"

#define PLAIN_LINE_INTERVAL_US (2 * G_USEC_PER_SEC)

typedef struct
{
  GMainLoop    *loop;
  GCancellable *cancellable;
  gboolean      tty;
  gint64        last_line_us;
  gboolean      drew;
  gboolean      ok;
  GError       *error;
  /* token store round trips */
  char         *token;
  gboolean      done;
} Cli;

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: kestrel-cli download [REPO] [OPTIONS…]\n"
           "\n"
           "Download a Gemma 3 model from the Hugging Face Hub (default: %s).\n"
           "Interrupted downloads resume where they stopped.\n"
           "\n"
           "Options:\n"
           "  --revision R        branch, tag or commit (default: main)\n"
           "  --dir DIR           where the files go (default: %s)\n"
           "  --token-from-stdin  read a Hugging Face access token from stdin and keep it in\n"
           "                      the keyring for later downloads (needed for gated models)\n"
           "\n"
           "Environment: KESTREL_HF_ENDPOINT (or HF_ENDPOINT) replaces https://huggingface.co.\n",
           KESTREL_DEFAULT_MODEL_REPO, "~/.local/share/kestrel/models/ORG--NAME");
}

static char *
format_duration (gint64 seconds)
{
  if (seconds < 0)
    return g_strdup ("--:--");
  if (seconds >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", seconds / 3600,
                            (int) (seconds / 60 % 60), (int) (seconds % 60));
  return g_strdup_printf ("%d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

static void
progress_cb (KestrelDownloader *downloader,
             GParamSpec        *pspec,
             Cli               *cli)
{
  guint64 done = kestrel_downloader_get_bytes_done (downloader);
  guint64 total = kestrel_downloader_get_bytes_total (downloader);
  double speed = kestrel_downloader_get_speed (downloader);
  const char *file = kestrel_downloader_get_current_file (downloader);
  g_autofree char *done_text = g_format_size (done);
  g_autofree char *total_text = g_format_size (total);
  g_autofree char *speed_text = g_format_size ((guint64) speed);
  g_autofree char *eta_text = format_duration (kestrel_downloader_get_eta (downloader));
  double fraction = total > 0 ? (double) done / (double) total : 0;
  gint64 now = g_get_monotonic_time ();

  if (total == 0)
    return;

  if (cli->tty)
    {
      char bar[31];
      int filled = (int) (fraction * 30);

      for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
      bar[30] = '\0';
      /* \r + erase line: one line, redrawn */
      fprintf (stderr, "\r\033[K[%s] %3d%%  %s / %s  %s/s  %s left  %.30s", bar,
               (int) (fraction * 100), done_text, total_text, speed_text, eta_text,
               file ? file : "");
      cli->drew = TRUE;
    }
  else if (now - cli->last_line_us >= PLAIN_LINE_INTERVAL_US || done == total)
    {
      cli->last_line_us = now;
      fprintf (stderr, "%3d%%  %s / %s  %s/s  %s left  %s\n", (int) (fraction * 100),
               done_text, total_text, speed_text, eta_text, file ? file : "");
    }
  fflush (stderr);
}

static void
download_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Cli *cli = user_data;

  cli->ok = kestrel_downloader_download_finish (KESTREL_DOWNLOADER (object), result,
                                                &cli->error);
  g_main_loop_quit (cli->loop);
}

static gboolean
interrupt_cb (gpointer user_data)
{
  Cli *cli = user_data;

  g_cancellable_cancel (cli->cancellable);
  return G_SOURCE_CONTINUE;
}

static void
lookup_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;

  cli->token = kestrel_token_store_lookup_finish (KESTREL_TOKEN_STORE (object), result, &error);
  if (error != NULL)
    g_debug ("No stored token: %s", error->message);
  cli->done = TRUE;
}

static void
store_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;

  if (!kestrel_token_store_store_finish (KESTREL_TOKEN_STORE (object), result, &error))
    fprintf (stderr, "kestrel-cli download: %s; using the token for this download only\n",
             error->message);
  cli->done = TRUE;
}

static char *
read_token_from_stdin (void)
{
  char line[1024];
  size_t len;

  if (fgets (line, sizeof line, stdin) == NULL)
    return NULL;
  len = strlen (line);
  if (len == sizeof line - 1 && line[len - 1] != '\n')
    {
      memset (line, 0, sizeof line);
      return NULL;
    }
  {
    char *token = g_strstrip (g_strdup (line));

    memset (line, 0, sizeof line);
    if (token[0] == '\0')
      {
        g_free (token);
        return NULL;
      }
    return token;
  }
}

int
kcli_download (int    argc,
               char **argv)
{
  g_autoptr(KestrelDownloader) downloader = NULL;
  g_autoptr(KestrelTokenStore) store = NULL;
  g_autoptr(GFile) destination = NULL;
  g_autofree char *endpoint = kestrel_hub_default_endpoint ();
  g_autofree char *dest_path = NULL;
  const char *repo_id = NULL;
  const char *revision = NULL;
  const char *dir = NULL;
  gboolean token_from_stdin = FALSE;
  Cli cli = { 0 };
  guint sigint_id, sigterm_id;
  int status;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          usage (stdout);
          return 0;
        }
      else if (strcmp (argv[i], "--revision") == 0 && i + 1 < argc)
        revision = argv[++i];
      else if (strcmp (argv[i], "--dir") == 0 && i + 1 < argc)
        dir = argv[++i];
      else if (strcmp (argv[i], "--token-from-stdin") == 0)
        token_from_stdin = TRUE;
      else if (argv[i][0] == '-')
        return kcli_usage_error ("download", "unknown option or missing value: %s", argv[i]);
      else if (repo_id == NULL)
        repo_id = argv[i];
      else
        return kcli_usage_error ("download", "only one repository at a time");
    }
  if (repo_id == NULL)
    repo_id = KESTREL_DEFAULT_MODEL_REPO;
  if (!kestrel_hub_is_valid_repo_id (repo_id))
    return kcli_usage_error ("download", "“%s” is not a repository id like %s", repo_id,
                             KESTREL_DEFAULT_MODEL_REPO);

  destination = dir ? g_file_new_for_commandline_arg (dir)
                    : kestrel_downloader_default_destination (repo_id);
  downloader = kestrel_downloader_new (repo_id, destination);
  kestrel_downloader_set_revision (downloader, revision);
  kestrel_downloader_set_endpoint (downloader, endpoint);

  /* The token: from stdin (then kept in the keyring) or from the keyring. */
  store = kestrel_secret_token_store_new (endpoint);
  if (token_from_stdin)
    {
      cli.token = read_token_from_stdin ();
      if (cli.token == NULL)
        return kcli_usage_error ("download", "--token-from-stdin: no token on stdin");
      kestrel_token_store_store_async (store, cli.token, NULL, store_done_cb, &cli);
    }
  else
    kestrel_token_store_lookup_async (store, NULL, lookup_done_cb, &cli);
  while (!cli.done)
    g_main_context_iteration (NULL, TRUE);
  kestrel_downloader_set_token (downloader, cli.token);
  if (cli.token != NULL)
    memset (cli.token, 0, strlen (cli.token));
  g_clear_pointer (&cli.token, g_free);

  cli.loop = g_main_loop_new (NULL, FALSE);
  cli.cancellable = g_cancellable_new ();
  cli.tty = isatty (STDERR_FILENO);
  cli.last_line_us = 0;
  g_signal_connect (downloader, "notify::bytes-done", G_CALLBACK (progress_cb), &cli);
  g_signal_connect (downloader, "notify::current-file", G_CALLBACK (progress_cb), &cli);
  sigint_id = g_unix_signal_add (SIGINT, interrupt_cb, &cli);
  sigterm_id = g_unix_signal_add (SIGTERM, interrupt_cb, &cli);

  dest_path = g_file_get_parse_name (destination);
  fprintf (stderr, "Downloading %s (%s) into %s\n", repo_id,
           kestrel_downloader_get_revision (downloader), dest_path);
  kestrel_downloader_download_async (downloader, cli.cancellable, download_done_cb, &cli);
  g_main_loop_run (cli.loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (cli.drew)
    fputc ('\n', stderr);

  if (cli.ok)
    {
      g_autofree char *total = g_format_size (kestrel_downloader_get_bytes_total (downloader));

      fprintf (stderr, "Done: %u files, %s, commit %s\n",
               kestrel_downloader_get_files_total (downloader), total,
               kestrel_downloader_get_commit (downloader));
      printf ("%s\n", dest_path);
      status = 0;
    }
  else if (g_error_matches (cli.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      fprintf (stderr, "kestrel-cli download: cancelled — run the same command again to "
                       "resume\n");
      status = 130;
    }
  else
    {
      fprintf (stderr, "kestrel-cli download: %s\n", cli.error->message);
      status = 1;
    }

  g_clear_error (&cli.error);
  g_clear_object (&cli.cancellable);
  g_main_loop_unref (cli.loop);
  return status;
}
