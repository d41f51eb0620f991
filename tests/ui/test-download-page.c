/* test-download-page.c — the download page and the model library page against the Hub
 * look-alike of tests/app/download (test-hub-server.c, on 127.0.0.1 in this process):
 * a download completes with visible progress, a gated model asks for an access token and
 * succeeds once one is entered (kept in an in-memory token store, never shown or logged),
 * Cancel, and the error states with Retry; the library page lists a model folder, uses it,
 * and removes it only after the confirmation; and in the real window, the status page's
 * download button opens the page and a finished download becomes the model folder.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "kestrel-application.h"
#include "kestrel-download-error.h"
#include "kestrel-download-page.h"
#include "kestrel-memory-token-store.h"
#include "kestrel-model-library-page.h"
#include "kestrel-window-private.h"
#include "test-hub-server.h"
#include "ui-test-util.h"

static TestHub *hub;
static char *tmp_root;
static GMutex log_lock;
static GString *log_text;

/* Every log line of the run is kept, to check that the token never appears in one. */
static GLogWriterOutput
capture_log_writer (GLogLevelFlags   log_level,
                    const GLogField *fields,
                    gsize            n_fields,
                    gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
      {
        g_mutex_lock (&log_lock);
        g_string_append (log_text, fields[i].value);
        g_string_append_c (log_text, '\n');
        g_mutex_unlock (&log_lock);
      }
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))
    return g_log_writer_default (log_level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

static GLogFunc previous_handler;

/* g_log()'s messages, debug ones included, before they are filtered */
static void
capture_log_handler (const char     *log_domain,
                     GLogLevelFlags  level,
                     const char     *message,
                     gpointer        user_data)
{
  g_mutex_lock (&log_lock);
  g_string_append_printf (log_text, "%s %s\n", log_domain ? log_domain : "", message);
  g_mutex_unlock (&log_lock);
  if (!(level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)))
    previous_handler (log_domain, level, message, user_data);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                                   G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                                   NULL, NULL);
  GFileInfo *info;

  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

      remove_tree (child);
      g_object_unref (info);
    }
  g_remove (path);
}

/* Each test starts without downloaded models. */
static void
clear_downloads (void)
{
  g_autofree char *models = g_build_filename (g_get_user_data_dir (), "kestrel", "models", NULL);

  remove_tree (models);
}

static GtkWidget *
find_button (GtkWidget  *widget,
             const char *label)
{
  if (GTK_IS_BUTTON (widget) &&
      (g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0 ||
       g_strcmp0 (gtk_widget_get_tooltip_text (widget), label) == 0))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_button (child, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Clicks the visible, sensitive button labelled @label. */
static void
click (GtkWidget  *root,
       const char *label)
{
  GtkWidget *button = find_button (root, label);

  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_visible (button));
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

static gboolean
button_shown (GtkWidget  *root,
              const char *label)
{
  GtkWidget *button = find_button (root, label);

  return button != NULL && gtk_widget_is_visible (button);
}

/* No label of @widget shows @text. */
static void
assert_no_label_contains (GtkWidget  *widget,
                          const char *text)
{
  if (GTK_IS_LABEL (widget))
    g_assert_null (strstr (gtk_label_get_label (GTK_LABEL (widget)), text));
  if (GTK_IS_EDITABLE (widget) && !GTK_IS_TEXT (widget))
    g_assert_null (strstr (gtk_editable_get_text (GTK_EDITABLE (widget)), text));
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    assert_no_label_contains (child, text);
}

static gboolean
label_contains (GtkWidget  *widget,
                const char *text)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_is_visible (widget) &&
      strstr (gtk_label_get_label (GTK_LABEL (widget)), text) != NULL)
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    if (label_contains (child, text))
      return TRUE;
  return FALSE;
}

/* The subtitle of the action row titled @title (the page's progress rows). */
static const char *
row_subtitle (GtkWidget  *widget,
              const char *title)
{
  if (ADW_IS_ACTION_ROW (widget) &&
      g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0)
    return adw_action_row_get_subtitle (ADW_ACTION_ROW (widget));
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    {
      const char *found = row_subtitle (child, title);

      if (found != NULL)
        return found;
    }
  return NULL;
}

typedef struct
{
  KestrelDownloadPage *page;
  KestrelDownloadPageState state;
} StateWait;

static gboolean
state_reached (gpointer data)
{
  StateWait *wait = data;

  return kestrel_download_page_get_state (wait->page) == wait->state;
}

static void
wait_for_state (KestrelDownloadPage      *page,
                KestrelDownloadPageState  state)
{
  StateWait wait = { page, state };

  iterate_until (state_reached, &wait, 30);
  g_assert_cmpint (kestrel_download_page_get_state (page), ==, state);
}

typedef struct
{
  GtkWindow           *window;
  KestrelDownloadPage *page;
  KestrelTokenStore   *store;
  GFile               *finished;
  double               max_fraction;
  gboolean             partial_fraction_seen;
} Fixture;

static void
fraction_cb (GtkProgressBar *bar,
             GParamSpec     *pspec,
             Fixture        *fixture)
{
  double fraction = gtk_progress_bar_get_fraction (bar);

  fixture->max_fraction = MAX (fixture->max_fraction, fraction);
  if (fraction > 0 && fraction < 1)
    fixture->partial_fraction_seen = TRUE;
}

static void
finished_cb (KestrelDownloadPage *page,
             GFile               *folder,
             Fixture             *fixture)
{
  g_assert_null (fixture->finished);
  fixture->finished = g_object_ref (folder);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  clear_downloads ();
  fixture->store = kestrel_memory_token_store_new ();
  fixture->page = KESTREL_DOWNLOAD_PAGE (kestrel_download_page_new (fixture->store));
  g_object_ref_sink (fixture->page);
  fixture->window = present_in_window (gtk_label_new (""), 700, 800);
  adw_dialog_present (ADW_DIALOG (fixture->page), GTK_WIDGET (fixture->window));
  iterate_until ((gboolean (*) (gpointer)) gtk_widget_get_mapped, fixture->page, 5);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (fixture->page)));
  g_signal_connect (find_descendant (GTK_WIDGET (fixture->page), GTK_TYPE_PROGRESS_BAR),
                    "notify::fraction", G_CALLBACK (fraction_cb), fixture);
  g_signal_connect (fixture->page, "finished", G_CALLBACK (finished_cb), fixture);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  adw_dialog_force_close (ADW_DIALOG (fixture->page));
  gtk_window_destroy (fixture->window);
  iterate_for (50);
  g_assert_finalize_object (fixture->page);
  g_clear_object (&fixture->store);
  g_clear_object (&fixture->finished);
}

static GFile *
destination_of (const char *repo_id)
{
  return kestrel_downloader_default_destination (repo_id);
}

static void
assert_downloaded (GFile *folder)
{
  for (guint i = 0; i < test_hub_get_n_files (hub); i++)
    {
      const char *name = test_hub_get_file_name (hub, i);
      g_autoptr(GFile) file = g_file_get_child (folder, name);
      GBytes *expected = test_hub_get_file (hub, name);  /* owned by the hub */
      g_autoptr(GBytes) contents = g_file_load_bytes (file, NULL, NULL, NULL);

      g_assert_nonnull (contents);
      g_assert_true (g_bytes_equal (contents, expected));
    }
}

static void
test_download_completes (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GFile) expected = destination_of ("kestrel-test/slow");
  GtkWidget *page = GTK_WIDGET (fixture->page);

  /* the default is the real model */
  g_assert_cmpstr (kestrel_download_page_get_repo_id (fixture->page), ==, KESTREL_DEFAULT_MODEL_REPO);
  g_assert_true (button_shown (page, "_Download"));
  g_assert_false (button_shown (page, "_Cancel Download"));

  /* the slow repository trickles, so that the progress moves through several updates */
  kestrel_download_page_set_repo_id (fixture->page, "kestrel-test/slow");
  click (page, "_Download");
  g_assert_cmpint (kestrel_download_page_get_state (fixture->page), ==, KESTREL_DOWNLOAD_PAGE_RUNNING);
  g_assert_true (button_shown (page, "_Cancel Download"));
  g_assert_false (button_shown (page, "_Download"));

  wait_for_state (fixture->page, KESTREL_DOWNLOAD_PAGE_DONE);
  g_assert_nonnull (fixture->finished);
  g_assert_true (g_file_equal (fixture->finished, expected));
  assert_downloaded (fixture->finished);
  g_assert_true (fixture->partial_fraction_seen);
  g_assert_cmpfloat (fixture->max_fraction, ==, 1.0);
  /* the last numbers the page shows are the downloader's */
  {
    g_autofree char *total = kestrel_download_format_size (test_hub_get_total_size (hub));
    g_autofree char *bytes = g_strdup_printf ("%s of %s", total, total);

    g_assert_cmpstr (row_subtitle (page, "Downloaded"), ==, bytes);
  }
  g_assert_cmpuint (kestrel_downloader_get_bytes_done (kestrel_download_page_get_downloader (fixture->page)),
                    ==, test_hub_get_total_size (hub));
  g_assert_false (button_shown (page, "_Cancel Download"));
}

static void
token_looked_up_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  char **token = user_data;
  g_autoptr(GError) error = NULL;

  *token = kestrel_token_store_lookup_finish (KESTREL_TOKEN_STORE (source), result, &error);
  g_assert_no_error (error);
  if (*token == NULL)
    *token = g_strdup ("");
}

static gboolean
is_set (gpointer pointer)
{
  return *(gpointer *) pointer != NULL;
}

static void
test_gated (Fixture       *fixture,
            gconstpointer  data)
{
  GtkWidget *page = GTK_WIDGET (fixture->page);
  GtkEditable *token_entry = find_descendant (page, GTK_TYPE_PASSWORD_ENTRY);
  g_autofree char *stored = NULL;
  const GError *error;

  kestrel_download_page_set_repo_id (fixture->page, "kestrel-test/gated");
  click (page, "_Download");
  wait_for_state (fixture->page, KESTREL_DOWNLOAD_PAGE_FAILED);
  error = kestrel_download_page_get_error (fixture->page);
  g_assert_error ((GError *) error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_GATED);
  g_assert_true (label_contains (page, "This Model Needs an Access Token"));
  g_assert_true (label_contains (page, "accept its licence"));
  /* the explanation, the token entry and Retry */
  g_assert_true (gtk_widget_is_visible (GTK_WIDGET (token_entry)));
  g_assert_true (button_shown (page, "_Retry"));
  g_assert_false (button_shown (page, "_Download"));

  gtk_editable_set_text (token_entry, "  " TEST_HUB_TOKEN "\n");
  click (page, "_Retry");
  /* read and cleared at once */
  g_assert_cmpstr (gtk_editable_get_text (token_entry), ==, "");
  wait_for_state (fixture->page, KESTREL_DOWNLOAD_PAGE_DONE);
  assert_downloaded (fixture->finished);

  /* it went to the token store (the keyring in the app) */
  kestrel_token_store_lookup_async (fixture->store, NULL, token_looked_up_cb, &stored);
  iterate_until (is_set, &stored, 5);
  g_assert_cmpstr (stored, ==, TEST_HUB_TOKEN);

  /* shown nowhere, logged nowhere */
  assert_no_label_contains (page, TEST_HUB_TOKEN);
  g_mutex_lock (&log_lock);
  g_assert_nonnull (strstr (log_text->str, "kestrel-test/gated"));
  g_assert_null (strstr (log_text->str, TEST_HUB_TOKEN));
  g_mutex_unlock (&log_lock);
}

static void
token_stored_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  *(gboolean *) user_data = kestrel_token_store_store_finish (KESTREL_TOKEN_STORE (source), result, &error);
  g_assert_no_error (error);
}

static gboolean
is_true (gpointer flag)
{
  return *(gboolean *) flag;
}

/* A token already in the store is used without asking. */
static void
test_gated_with_stored_token (Fixture       *fixture,
                              gconstpointer  data)
{
  GtkWidget *page = GTK_WIDGET (fixture->page);
  gboolean stored = FALSE;

  kestrel_token_store_store_async (fixture->store, TEST_HUB_TOKEN, NULL, token_stored_cb, &stored);
  iterate_until (is_true, &stored, 5);
  g_assert_true (stored);

  kestrel_download_page_set_repo_id (fixture->page, "kestrel-test/gated");
  click (page, "_Download");
  wait_for_state (fixture->page, KESTREL_DOWNLOAD_PAGE_DONE);
  assert_downloaded (fixture->finished);
  g_assert_false (gtk_widget_is_visible (find_descendant (page, GTK_TYPE_PASSWORD_ENTRY)));
}

static gboolean
file_started (gpointer file)
{
  g_autoptr(GFileInfo) info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE,
                                                 G_FILE_QUERY_INFO_NONE, NULL, NULL);

  return info != NULL && g_file_info_get_size (info) > 0;
}

static gboolean
resumed (gpointer data)
{
  g_autoptr(GPtrArray) requests = test_hub_get_requests (hub);

  for (guint i = 0; i < requests->len; i++)
    if (((TestHubRequest *) g_ptr_array_index (requests, i))->range_start > 0)
      return TRUE;
  return FALSE;
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  data)
{
  GtkWidget *page = GTK_WIDGET (fixture->page);
  g_autoptr(GFile) destination = destination_of ("kestrel-test/slow");
  g_autoptr(GFile) partial = g_file_get_child (destination, "model.safetensors.partial");

  kestrel_download_page_set_repo_id (fixture->page, "kestrel-test/slow");
  click (page, "_Download");
  /* the big file has started arriving */
  iterate_until (file_started, partial, 30);
  g_assert_true (file_started (partial));
  click (page, "_Cancel Download");
  wait_for_state (fixture->page, KESTREL_DOWNLOAD_PAGE_IDLE);
  g_assert_null (fixture->finished);
  g_assert_true (label_contains (page, "cancelled"));
  g_assert_true (button_shown (page, "_Download"));
  /* kept for the next run to resume */
  g_assert_true (g_file_query_exists (partial, NULL));

  /* and it does (the hub sees a Range request) */
  test_hub_reset (hub);
  click (page, "_Download");
  wait_for_state (fixture->page, KESTREL_DOWNLOAD_PAGE_DONE);
  assert_downloaded (fixture->finished);
  g_assert_true (resumed (NULL));
}

static void
expect_failure (Fixture    *fixture,
                const char *repo_id,
                int         code,
                const char *title)
{
  GtkWidget *page = GTK_WIDGET (fixture->page);
  const GError *error;

  kestrel_download_page_set_repo_id (fixture->page, repo_id);
  if (button_shown (page, "_Retry"))
    click (page, "_Retry");
  else
    click (page, "_Download");
  wait_for_state (fixture->page, KESTREL_DOWNLOAD_PAGE_FAILED);
  error = kestrel_download_page_get_error (fixture->page);
  g_assert_error ((GError *) error, KESTREL_DOWNLOAD_ERROR, code);
  g_test_message ("%s: %s — %s", repo_id, title, error->message);
  g_assert_true (label_contains (page, title));
  g_assert_true (label_contains (page, error->message));
  g_assert_true (button_shown (page, "_Retry"));
  g_assert_null (fixture->finished);
}

static void
test_errors (Fixture       *fixture,
             gconstpointer  data)
{
  GtkWidget *page = GTK_WIDGET (fixture->page);
  GtkWidget *token_entry = find_descendant (page, GTK_TYPE_PASSWORD_ENTRY);
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GError) no_space = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *closed = NULL;
  guint16 port;

  kestrel_download_page_set_retry_policy (fixture->page, 2, 10);

  /* an invalid name cannot be sent */
  kestrel_download_page_set_repo_id (fixture->page, "not a repository");
  g_assert_false (gtk_widget_is_sensitive (find_button (page, "_Download")));
  g_assert_true (label_contains (page, "organization/name"));

  /* 401 RepoNotFound → not found (or private) */
  expect_failure (fixture, "kestrel-test/no-such-model", KESTREL_DOWNLOAD_ERROR_NOT_FOUND, "Model Not Found");
  /* (private repositories answer so without a token: the entry is offered) */
  g_assert_true (gtk_widget_is_visible (token_entry));
  /* 503 after the retries */
  expect_failure (fixture, "kestrel-test/down", KESTREL_DOWNLOAD_ERROR_SERVER, "Hugging Face Is Not Available");
  g_assert_true (label_contains (page, "try again later"));

  /* network down: nobody listens at the endpoint */
  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (listener);
  closed = g_strdup_printf ("http://127.0.0.1:%u", port);
  kestrel_download_page_set_endpoint (fixture->page, closed);
  expect_failure (fixture, "kestrel-test/tiny", KESTREL_DOWNLOAD_ERROR_NETWORK, "No Connection");
  kestrel_download_page_set_endpoint (fixture->page, NULL);

  /* disk full: the downloader's error (tested for real in test-download-disk-full) as the
   * page presents it */
  no_space = g_error_new (KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NO_SPACE,
                          "No space left: needs 3.9 GB, 1.2 GB free in /tmp");
  kestrel_download_page_show_error (fixture->page, no_space);
  g_assert_cmpint (kestrel_download_page_get_state (fixture->page), ==, KESTREL_DOWNLOAD_PAGE_FAILED);
  g_assert_true (label_contains (page, "Not Enough Disk Space"));
  g_assert_true (label_contains (page, "needs 3.9 GB"));
  g_assert_true (button_shown (page, "_Retry"));

  /* Retry after the trouble is gone */
  kestrel_download_page_set_repo_id (fixture->page, "kestrel-test/flaky");
  kestrel_download_page_set_retry_policy (fixture->page, 4, 10);
  click (page, "_Retry");
  wait_for_state (fixture->page, KESTREL_DOWNLOAD_PAGE_DONE);
  assert_downloaded (fixture->finished);
}

/* ---- the library page ---------------------------------------------------------------- */

typedef struct
{
  KestrelModelEntry *used;
} LibraryRun;

static void
use_requested_cb (KestrelModelLibraryPage *page,
                  KestrelModelEntry       *entry,
                  LibraryRun              *run)
{
  g_set_object (&run->used, entry);
}

static gboolean
page_loaded (gpointer page)
{
  return kestrel_model_library_page_get_loaded (page);
}

static AdwDialog *
visible_dialog (GtkWidget *window)
{
  if (ADW_IS_APPLICATION_WINDOW (window))
    return adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window));
  return adw_window_get_visible_dialog (ADW_WINDOW (window));
}

static gboolean
alert_shown (gpointer window)
{
  return ADW_IS_ALERT_DIALOG (visible_dialog (window));
}

static gboolean
library_empty (gpointer library)
{
  return g_list_model_get_n_items (library) == 0;
}

static void
answer_alert (GtkWindow  *window,
              const char *heading,
              const char *label)
{
  AdwDialog *alert;

  iterate_until (alert_shown, window, 5);
  alert = visible_dialog (GTK_WIDGET (window));
  g_assert_true (ADW_IS_ALERT_DIALOG (alert));
  g_assert_true (label_contains (GTK_WIDGET (alert), heading));
  click (GTK_WIDGET (alert), label);
  iterate_for (300);
}

static void
test_library (void)
{
  g_autofree char *root = g_build_filename (tmp_root, "picked", NULL);
  g_autofree char *model = g_build_filename (root, "my-model", NULL);
  g_autofree char *config = g_build_filename (model, "config.json", NULL);
  g_autofree char *weights = g_build_filename (model, "model.safetensors", NULL);
  g_autofree char *weight_bytes = g_strnfill (4000, 'x');
  const char *config_text = "{\"model_type\": \"gemma3\", \"torch_dtype\": \"bfloat16\"}";
  g_autoptr(GFile) root_file = g_file_new_for_path (root);
  g_autoptr(GFile) model_file = g_file_new_for_path (model);
  g_autoptr(KestrelModelLibrary) library = kestrel_model_library_new ();
  KestrelModelLibraryPage *page;
  LibraryRun run = { NULL };
  GtkWindow *window;
  GtkListBoxRow *row;
  GtkWidget *page_widget;

  g_assert_cmpint (g_mkdir_with_parents (model, 0755), ==, 0);
  g_assert_true (g_file_set_contents (config, config_text, -1, NULL));
  g_assert_true (g_file_set_contents (weights, weight_bytes, -1, NULL));
  kestrel_model_library_add_root (library, root_file, KESTREL_MODEL_SOURCE_FOLDER);

  window = present_in_window (gtk_label_new (""), 800, 700);
  page = KESTREL_MODEL_LIBRARY_PAGE (kestrel_model_library_page_new (library));
  page_widget = GTK_WIDGET (page);
  g_object_ref_sink (page);
  g_signal_connect (page, "use-requested", G_CALLBACK (use_requested_cb), &run);
  adw_dialog_present (ADW_DIALOG (page), GTK_WIDGET (window));
  iterate_until (page_loaded, page, 10);
  iterate_for (100);

  /* one row: name, size, format */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (library)), ==, 1);
  row = gtk_list_box_get_row_at_index (find_descendant (page_widget, GTK_TYPE_LIST_BOX), 0);
  g_assert_nonnull (row);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==, "my-model");
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "BF16"));
  {
    g_autoptr(KestrelModelEntry) entry = g_list_model_get_item (G_LIST_MODEL (library), 0);
    g_autofree char *size = NULL;

    g_assert_cmpuint (kestrel_model_entry_get_size (entry), ==, 4000 + strlen (config_text));
    size = kestrel_download_format_size (kestrel_model_entry_get_size (entry));
    g_assert_true (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), size));
  }
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (row)));

  /* Use */
  click (GTK_WIDGET (row), "_Use");
  g_assert_nonnull (run.used);
  g_assert_true (g_file_equal (kestrel_model_entry_get_folder (run.used), model_file));

  /* Remove, then Cancel: nothing happens */
  click (GTK_WIDGET (row), "Remove");
  answer_alert (window, "Remove my-model?", "_Cancel");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (library)), ==, 1);
  g_assert_true (g_file_test (config, G_FILE_TEST_EXISTS));

  /* Remove, confirmed: the folder is gone and so is the row */
  click (GTK_WIDGET (row), "Remove");
  answer_alert (window, "Remove my-model?", "_Remove");
  iterate_until (library_empty, library, 10);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (library)), ==, 0);
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
  iterate_for (100);
  g_assert_true (label_contains (page_widget, "No Models Found"));

  adw_dialog_force_close (ADW_DIALOG (page));
  gtk_window_destroy (window);
  iterate_for (50);
  g_clear_object (&run.used);
  g_assert_finalize_object (page);
  remove_tree (root);
}

/* ---- the window ---------------------------------------------------------------------- */

static GtkWindow *
create_main_window (KestrelApplication *application)
{
  KestrelWindow *window = kestrel_window_new (application);

  kestrel_window_attach_session (window,
                                 kestrel_application_get_engine (application),
                                 kestrel_application_get_store (application),
                                 kestrel_application_get_settings (application));
  return GTK_WINDOW (window);
}

static gboolean
dialog_closed (gpointer window)
{
  return adw_application_window_get_visible_dialog (window) == NULL;
}

static gboolean
engine_settled (gpointer engine)
{
  KestrelEngineState state = kestrel_engine_get_state (engine);

  return state == KESTREL_ENGINE_READY || state == KESTREL_ENGINE_FAILED;
}

static gboolean
setting_cleared (gpointer settings)
{
  g_autofree char *folder = g_settings_get_string (settings, "model-folder");

  return folder[0] == '\0';
}

static void
window_activate_cb (GApplication *app,
                    gboolean     *ran)
{
  KestrelApplication *kapp = KESTREL_APPLICATION (app);
  KestrelWindow *window = KESTREL_WINDOW (create_main_window (kapp));
  KestrelEngine *engine = kestrel_application_get_engine (kapp);
  KestrelModelStatusPage *status = kestrel_window_get_model_status_page (window);
  g_autoptr(KestrelTokenStore) store = kestrel_memory_token_store_new ();
  g_autoptr(GFile) expected = destination_of ("kestrel-test/tiny");
  g_autofree char *expected_path = g_file_get_path (expected);
  g_autofree char *folder = NULL;
  AdwDialog *dialog;

  _kestrel_window_set_token_store (window, store);
  gtk_window_present (GTK_WINDOW (window));
  iterate_for (200);

  /* no model: the status page offers the download */
  g_assert_true (kestrel_model_status_page_get_can_download (status));
  click (GTK_WIDGET (status), "_Download the Model…");
  dialog = adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window));
  g_assert_true (KESTREL_IS_DOWNLOAD_PAGE (dialog));

  kestrel_download_page_set_repo_id (KESTREL_DOWNLOAD_PAGE (dialog), "kestrel-test/tiny");
  click (GTK_WIDGET (dialog), "_Download");
  /* done: the page closes, the folder becomes the setting and loads */
  iterate_until (dialog_closed, window, 30);
  g_assert_null (adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window)));
  folder = g_settings_get_string (kestrel_application_get_settings (kapp), "model-folder");
  g_assert_cmpstr (folder, ==, expected_path);
  g_assert_cmpint (kestrel_engine_get_state (engine), !=, KESTREL_ENGINE_EMPTY);
  /* the hub's checkpoint is random bytes with a made-up config: the engine tries it */
  iterate_until (engine_settled, engine, 30);

  /* the library from the primary menu's action lists the download */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.show-models", NULL);
  dialog = adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window));
  g_assert_true (KESTREL_IS_MODEL_LIBRARY_PAGE (dialog));
  iterate_until (page_loaded, dialog, 10);
  {
    GListModel *models = G_LIST_MODEL (kestrel_model_library_page_get_library (KESTREL_MODEL_LIBRARY_PAGE (dialog)));
    gboolean found = FALSE;

    for (guint i = 0; i < g_list_model_get_n_items (models); i++)
      {
        g_autoptr(KestrelModelEntry) entry = g_list_model_get_item (models, i);

        found |= g_file_equal (kestrel_model_entry_get_folder (entry), expected);
      }
    g_assert_true (found);
  }

  /* removing the model in use clears the setting, so that the next start asks again */
  {
    GtkListBox *list = find_descendant (GTK_WIDGET (dialog), GTK_TYPE_LIST_BOX);
    GtkListBoxRow *row = NULL;

    for (int i = 0; (row = gtk_list_box_get_row_at_index (list, i)) != NULL; i++)
      if (g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), "kestrel-test/tiny") == 0)
        break;
    g_assert_nonnull (row);
    /* the one in use cannot be "used" again */
    g_assert_false (gtk_widget_is_sensitive (find_button (GTK_WIDGET (row), "In Use")));
    click (GTK_WIDGET (row), "Remove");
    answer_alert (GTK_WINDOW (window), "Remove kestrel-test/tiny?", "_Remove");
    iterate_until (setting_cleared, kestrel_application_get_settings (kapp), 10);
    g_assert_true (setting_cleared (kestrel_application_get_settings (kapp)));
    g_assert_false (g_file_query_exists (expected, NULL));
  }
  dialog = adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window));
  g_assert_true (KESTREL_IS_MODEL_LIBRARY_PAGE (dialog));
  adw_dialog_force_close (dialog);

  *ran = TRUE;
  gtk_window_destroy (GTK_WINDOW (window));
  g_signal_stop_emission_by_name (app, "activate");
}

static void
test_window (void)
{
  KestrelApplication *app;
  gboolean ran = FALSE;

  clear_downloads ();
  app = kestrel_application_new (create_main_window);
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "activate", G_CALLBACK (window_activate_cb), &ran);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 0, NULL), ==, 0);
  g_assert_true (ran);
  g_object_unref (app);
}

int
main (int   argc,
      char *argv[])
{
  static const char *proxies[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                   "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY" };
  int ret;

  /* isolated: downloads, the database and the Hugging Face cache go to a temporary folder;
   * the hub is on 127.0.0.1, where no proxy of the host must come between */
  tmp_root = g_dir_make_tmp ("kestrel-download-page-XXXXXX", NULL);
  g_setenv ("XDG_DATA_HOME", tmp_root, TRUE);
  g_setenv ("XDG_CACHE_HOME", tmp_root, TRUE);
  g_setenv ("HF_HUB_CACHE", tmp_root, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (proxies); i++)
    g_unsetenv (proxies[i]);
  log_text = g_string_new (NULL);
  g_log_set_writer_func (capture_log_writer, NULL, NULL);
  gtk_test_init (&argc, &argv, NULL);
  /* after g_test_init(), which sets it from --debug-log */
  g_log_set_debug_enabled (TRUE);
  previous_handler = g_log_set_default_handler (capture_log_handler, NULL);

  hub = test_hub_new ();
  g_setenv ("KESTREL_HF_ENDPOINT", test_hub_get_endpoint (hub), TRUE);

  g_test_add ("/kestrel/download-page/complete", Fixture, NULL, fixture_set_up, test_download_completes, fixture_tear_down);
  g_test_add ("/kestrel/download-page/gated", Fixture, NULL, fixture_set_up, test_gated, fixture_tear_down);
  g_test_add ("/kestrel/download-page/gated-stored-token", Fixture, NULL, fixture_set_up, test_gated_with_stored_token, fixture_tear_down);
  g_test_add ("/kestrel/download-page/cancel", Fixture, NULL, fixture_set_up, test_cancel, fixture_tear_down);
  g_test_add ("/kestrel/download-page/errors", Fixture, NULL, fixture_set_up, test_errors, fixture_tear_down);
  g_test_add_func ("/kestrel/model-library-page/use-and-remove", test_library);
  g_test_add_func ("/kestrel/download-page/window", test_window);
  ret = g_test_run ();

  test_hub_free (hub);
  remove_tree (tmp_root);
  g_free (tmp_root);
  g_string_free (log_text, TRUE);
  return ret;
}
