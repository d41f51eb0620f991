/* kestrel-download-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-download-page"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "kestrel-download-error.h"
#include "kestrel-download-page.h"
#include "kestrel-hub-repo.h"

struct _KestrelDownloadPage
{
  AdwDialog                 parent_instance;

  AdwEntryRow              *repo_row;
  GtkStack                 *state_stack;
  GtkLabel                 *idle_label;
  GtkProgressBar           *progress_bar;
  AdwActionRow             *bytes_row;
  AdwActionRow             *speed_row;
  AdwActionRow             *eta_row;
  AdwActionRow             *file_row;
  GtkLabel                 *error_title;
  GtkLabel                 *error_label;
  GtkWidget                *token_box;
  GtkPasswordEntry         *token_entry;
  GtkLabel                 *token_note;
  GtkLinkButton            *model_link;
  GtkLabel                 *done_label;
  GtkWidget                *download_button;
  GtkWidget                *retry_button;
  GtkWidget                *cancel_button;

  KestrelTokenStore        *token_store;
  KestrelDownloader        *downloader;
  GCancellable             *cancellable;
  GError                   *error;
  char                     *endpoint;
  guint                     max_attempts;
  guint                     first_delay_ms;
  KestrelDownloadPageState  state;
};

G_DEFINE_FINAL_TYPE (KestrelDownloadPage, kestrel_download_page, ADW_TYPE_DIALOG)

G_DEFINE_ENUM_TYPE (KestrelDownloadPageState, kestrel_download_page_state,
                    G_DEFINE_ENUM_VALUE (KESTREL_DOWNLOAD_PAGE_IDLE, "idle"),
                    G_DEFINE_ENUM_VALUE (KESTREL_DOWNLOAD_PAGE_RUNNING, "running"),
                    G_DEFINE_ENUM_VALUE (KESTREL_DOWNLOAD_PAGE_FAILED, "failed"),
                    G_DEFINE_ENUM_VALUE (KESTREL_DOWNLOAD_PAGE_DONE, "done"))

enum {
  PROP_0,
  PROP_STATE,
  N_PROPS
};

enum {
  FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* The token only passes through here on its way to the store and the downloader. */
static void
wipe_string (char *secret)
{
  if (secret != NULL)
    {
      explicit_bzero (secret, strlen (secret));
      g_free (secret);
    }
}

static char *
dup_repo_id (KestrelDownloadPage *self)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->repo_row))));
}

static void
set_state (KestrelDownloadPage      *self,
           KestrelDownloadPageState  state)
{
  static const char *pages[] = { "idle", "running", "failed", "done" };
  g_autofree char *repo_id = dup_repo_id (self);
  gboolean valid = kestrel_hub_is_valid_repo_id (repo_id);

  gtk_stack_set_visible_child_name (self->state_stack, pages[state]);
  gtk_widget_set_visible (self->download_button, state == KESTREL_DOWNLOAD_PAGE_IDLE);
  gtk_widget_set_visible (self->retry_button, state == KESTREL_DOWNLOAD_PAGE_FAILED);
  gtk_widget_set_visible (self->cancel_button, state == KESTREL_DOWNLOAD_PAGE_RUNNING);
  gtk_widget_set_sensitive (self->download_button, valid);
  gtk_widget_set_sensitive (self->retry_button, valid);
  /* not insensitive: the entry may have the focus (GTK warns when a focused text loses
   * its sensitivity) */
  gtk_editable_set_editable (GTK_EDITABLE (self->repo_row),
                             state == KESTREL_DOWNLOAD_PAGE_IDLE || state == KESTREL_DOWNLOAD_PAGE_FAILED);
  if (state == KESTREL_DOWNLOAD_PAGE_IDLE)
    adw_dialog_set_default_widget (ADW_DIALOG (self), self->download_button);
  else if (state == KESTREL_DOWNLOAD_PAGE_FAILED)
    adw_dialog_set_default_widget (ADW_DIALOG (self), self->retry_button);
  else
    adw_dialog_set_default_widget (ADW_DIALOG (self), NULL);

  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
show_destination (KestrelDownloadPage *self)
{
  g_autofree char *repo_id = dup_repo_id (self);
  g_autoptr(GFile) destination = NULL;
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;

  if (!kestrel_hub_is_valid_repo_id (repo_id))
    {
      gtk_label_set_label (self->idle_label,
                           _("Enter a Hugging Face repository as “organization/name”."));
      return;
    }
  destination = kestrel_downloader_default_destination (repo_id);
  path = g_file_get_path (destination);
  /* Translators: %s is a folder */
  text = g_strdup_printf (_("The files go to %s."), path);
  gtk_label_set_label (self->idle_label, text);
}

static void
repo_changed_cb (KestrelDownloadPage *self)
{
  if (self->state == KESTREL_DOWNLOAD_PAGE_IDLE)
    show_destination (self);
  set_state (self, self->state);
}

/* ---- progress ------------------------------------------------------------------------ */

static char *
format_time_left (gint64 seconds)
{
  if (seconds < 0)
    return g_strdup (_("Unknown"));
  if (seconds >= 3600)
    /* Translators: hours:minutes:seconds */
    return g_strdup_printf (_("%d:%02d:%02d"), (int) (seconds / 3600),
                            (int) (seconds / 60 % 60), (int) (seconds % 60));
  /* Translators: minutes:seconds */
  return g_strdup_printf (_("%d:%02d"), (int) (seconds / 60), (int) (seconds % 60));
}

static void
progress_cb (KestrelDownloadPage *self)
{
  KestrelDownloader *d = self->downloader;
  guint64 done = kestrel_downloader_get_bytes_done (d);
  guint64 total = kestrel_downloader_get_bytes_total (d);
  double speed = kestrel_downloader_get_speed (d);
  const char *file = kestrel_downloader_get_current_file (d);
  g_autofree char *done_text = kestrel_download_format_size (done);
  g_autofree char *total_text = kestrel_download_format_size (total);
  g_autofree char *bytes = NULL;
  g_autofree char *percent = NULL;
  g_autofree char *speed_text = NULL;
  g_autofree char *eta = NULL;
  g_autofree char *file_text = NULL;

  if (total > 0)
    {
      double fraction = MIN ((double) done / (double) total, 1.0);

      gtk_progress_bar_set_fraction (self->progress_bar, fraction);
      /* Translators: download progress; %.0f is the percentage */
      percent = g_strdup_printf (_("%.0f %%"), fraction * 100.0);
      gtk_progress_bar_set_text (self->progress_bar, percent);
      /* Translators: "1.5 GB of 3.9 GB" */
      bytes = g_strdup_printf (_("%s of %s"), done_text, total_text);
    }
  else
    {
      gtk_progress_bar_set_fraction (self->progress_bar, 0);
      gtk_progress_bar_set_text (self->progress_bar, _("Listing the files…"));
      bytes = g_strdup (done_text);
    }
  adw_action_row_set_subtitle (self->bytes_row, bytes);

  if (speed > 0)
    {
      g_autofree char *per = kestrel_download_format_size ((guint64) speed);

      /* Translators: a transfer rate, "25.3 MB/s" */
      speed_text = g_strdup_printf (_("%s/s"), per);
    }
  adw_action_row_set_subtitle (self->speed_row, speed_text ? speed_text : _("Unknown"));

  eta = format_time_left (kestrel_downloader_get_eta (d));
  adw_action_row_set_subtitle (self->eta_row, eta);

  if (file != NULL && file[0] != '\0')
    /* Translators: "model-00001-of-00002.safetensors (file 2 of 9)" */
    file_text = g_strdup_printf (_("%s (file %u of %u)"), file,
                                 MIN (kestrel_downloader_get_files_done (d) + 1,
                                      kestrel_downloader_get_files_total (d)),
                                 kestrel_downloader_get_files_total (d));
  adw_action_row_set_subtitle (self->file_row, file_text ? file_text : "—");
}

/* ---- errors -------------------------------------------------------------------------- */

void
kestrel_download_page_show_error (KestrelDownloadPage *self,
                                  const GError        *error)
{
  g_autofree char *repo_id = NULL;
  g_autofree char *uri = NULL;
  const char *title = _("The Download Failed");
  gboolean wants_token = FALSE;

  g_return_if_fail (KESTREL_IS_DOWNLOAD_PAGE (self));
  g_return_if_fail (error != NULL);

  if (error->domain == KESTREL_DOWNLOAD_ERROR)
    {
      switch ((KestrelDownloadError) error->code)
        {
        case KESTREL_DOWNLOAD_ERROR_GATED:
          title = _("This Model Needs an Access Token");
          wants_token = TRUE;
          break;
        case KESTREL_DOWNLOAD_ERROR_UNAUTHORIZED:
          title = _("The Access Token Was Not Accepted");
          wants_token = TRUE;
          break;
        case KESTREL_DOWNLOAD_ERROR_FORBIDDEN:
          title = _("Access Refused");
          wants_token = TRUE;
          break;
        case KESTREL_DOWNLOAD_ERROR_NOT_FOUND:
          title = _("Model Not Found");
          /* the Hub answers a private repository without a token this way */
          wants_token = TRUE;
          break;
        case KESTREL_DOWNLOAD_ERROR_INVALID_REPO_ID:
          title = _("Not a Repository Name");
          break;
        case KESTREL_DOWNLOAD_ERROR_SERVER:
        case KESTREL_DOWNLOAD_ERROR_HTTP:
          title = _("Hugging Face Is Not Available");
          break;
        case KESTREL_DOWNLOAD_ERROR_NETWORK:
          title = _("No Connection");
          break;
        case KESTREL_DOWNLOAD_ERROR_NO_SPACE:
          title = _("Not Enough Disk Space");
          break;
        case KESTREL_DOWNLOAD_ERROR_CHECKSUM:
        case KESTREL_DOWNLOAD_ERROR_SIZE:
          title = _("A File Arrived Damaged");
          break;
        case KESTREL_DOWNLOAD_ERROR_INVALID_RESPONSE:
        default:
          break;
        }
    }

  if (self->error != error)
    {
      g_clear_error (&self->error);
      self->error = g_error_copy (error);
    }
  gtk_label_set_label (self->error_title, title);
  gtk_label_set_label (self->error_label, error->message);
  gtk_widget_set_visible (self->token_box, wants_token);
  repo_id = dup_repo_id (self);
  uri = g_strconcat ("https://huggingface.co/", repo_id, NULL);
  gtk_link_button_set_uri (self->model_link, uri);
  set_state (self, KESTREL_DOWNLOAD_PAGE_FAILED);
}

/* ---- running ------------------------------------------------------------------------- */

static void
download_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(KestrelDownloadPage) self = user_data;
  KestrelDownloader *downloader = KESTREL_DOWNLOADER (source);
  g_autoptr(GError) error = NULL;

  if (!kestrel_downloader_download_finish (downloader, result, &error))
    {
      if (downloader != self->downloader)
        return;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          gtk_label_set_label (self->idle_label,
                               _("The download was cancelled. Downloading again continues where it stopped."));
          set_state (self, KESTREL_DOWNLOAD_PAGE_IDLE);
        }
      else
        kestrel_download_page_show_error (self, error);
      return;
    }

  if (downloader != self->downloader)
    return;
  {
    g_autofree char *path = g_file_get_path (kestrel_downloader_get_destination (downloader));
    g_autofree char *text = NULL;

    /* Translators: %s is a folder */
    text = g_strdup_printf (_("The model is in %s."), path);
    gtk_label_set_label (self->done_label, text);
  }
  progress_cb (self);
  set_state (self, KESTREL_DOWNLOAD_PAGE_DONE);
  g_signal_emit (self, signals[FINISHED], 0, kestrel_downloader_get_destination (downloader));
}

/* @token: owned, wiped after use */
static void
begin_download (KestrelDownloadPage *self,
                char                *token)
{
  g_autofree char *repo_id = dup_repo_id (self);
  g_autoptr(GFile) destination = NULL;

  if (!kestrel_hub_is_valid_repo_id (repo_id))
    {
      g_autoptr(GError) error = g_error_new (KESTREL_DOWNLOAD_ERROR,
                                             KESTREL_DOWNLOAD_ERROR_INVALID_REPO_ID,
                                             _("“%s” is not a Hugging Face repository: it has the form “organization/name”"),
                                             repo_id);

      wipe_string (token);
      kestrel_download_page_show_error (self, error);
      return;
    }

  if (self->downloader != NULL)
    g_signal_handlers_disconnect_by_data (self->downloader, self);
  g_clear_object (&self->downloader);

  destination = kestrel_downloader_default_destination (repo_id);
  self->downloader = kestrel_downloader_new (repo_id, destination);
  if (self->endpoint != NULL)
    kestrel_downloader_set_endpoint (self->downloader, self->endpoint);
  if (self->max_attempts > 0)
    kestrel_downloader_set_retry_policy (self->downloader, self->max_attempts, self->first_delay_ms);
  kestrel_downloader_set_token (self->downloader, token);
  wipe_string (token);

  g_signal_connect_swapped (self->downloader, "notify::bytes-done", G_CALLBACK (progress_cb), self);
  g_signal_connect_swapped (self->downloader, "notify::bytes-total", G_CALLBACK (progress_cb), self);
  g_signal_connect_swapped (self->downloader, "notify::speed", G_CALLBACK (progress_cb), self);
  g_signal_connect_swapped (self->downloader, "notify::eta", G_CALLBACK (progress_cb), self);
  g_signal_connect_swapped (self->downloader, "notify::current-file", G_CALLBACK (progress_cb), self);
  g_signal_connect_swapped (self->downloader, "notify::files-done", G_CALLBACK (progress_cb), self);
  progress_cb (self);

  kestrel_downloader_download_async (self->downloader, self->cancellable, download_done_cb,
                                     g_object_ref (self));
}

static void
token_looked_up_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(KestrelDownloadPage) self = user_data;
  g_autoptr(GError) error = NULL;
  char *token = kestrel_token_store_lookup_finish (KESTREL_TOKEN_STORE (source), result, &error);

  if (g_cancellable_is_cancelled (self->cancellable))
    {
      wipe_string (token);
      gtk_label_set_label (self->idle_label, _("The download was cancelled."));
      set_state (self, KESTREL_DOWNLOAD_PAGE_IDLE);
      return;
    }
  /* no keyring: download without a token (public models need none) */
  if (error != NULL)
    g_debug ("no access token from the keyring: %s", error->message);
  begin_download (self, token);
}

typedef struct
{
  KestrelDownloadPage *self;
  char                *token;
} StoreData;

static void
token_stored_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  StoreData *data = user_data;
  g_autoptr(KestrelDownloadPage) self = data->self;
  char *token = data->token;
  g_autoptr(GError) error = NULL;

  g_free (data);
  if (!kestrel_token_store_store_finish (KESTREL_TOKEN_STORE (source), result, &error))
    {
      g_autofree char *note = NULL;

      /* Translators: %s says why; the token itself is never shown */
      note = g_strdup_printf (_("The access token could not be saved in the keyring (%s). It is used for this download only."),
                              error->message);
      gtk_label_set_label (self->token_note, note);
      gtk_widget_set_visible (GTK_WIDGET (self->token_note), TRUE);
    }
  if (g_cancellable_is_cancelled (self->cancellable))
    {
      wipe_string (token);
      set_state (self, KESTREL_DOWNLOAD_PAGE_IDLE);
      return;
    }
  begin_download (self, token);
}

void
kestrel_download_page_start (KestrelDownloadPage *self)
{
  const char *typed;

  g_return_if_fail (KESTREL_IS_DOWNLOAD_PAGE (self));

  if (self->state == KESTREL_DOWNLOAD_PAGE_RUNNING)
    return;

  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  gtk_widget_set_visible (GTK_WIDGET (self->token_note), FALSE);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_progress_bar_set_text (self->progress_bar, _("Listing the files…"));
  adw_action_row_set_subtitle (self->bytes_row, "—");
  adw_action_row_set_subtitle (self->speed_row, "—");
  adw_action_row_set_subtitle (self->eta_row, "—");
  adw_action_row_set_subtitle (self->file_row, "—");
  set_state (self, KESTREL_DOWNLOAD_PAGE_RUNNING);

  typed = gtk_editable_get_text (GTK_EDITABLE (self->token_entry));
  if (gtk_widget_get_visible (self->token_box) && typed[0] != '\0')
    {
      StoreData *data = g_new0 (StoreData, 1);

      data->self = g_object_ref (self);
      data->token = g_strstrip (g_strdup (typed));
      /* out of the widget as soon as it is read */
      gtk_editable_set_text (GTK_EDITABLE (self->token_entry), "");
      kestrel_token_store_store_async (self->token_store, data->token, self->cancellable,
                                       token_stored_cb, data);
      return;
    }

  kestrel_token_store_lookup_async (self->token_store, self->cancellable, token_looked_up_cb,
                                    g_object_ref (self));
}

void
kestrel_download_page_cancel (KestrelDownloadPage *self)
{
  g_return_if_fail (KESTREL_IS_DOWNLOAD_PAGE (self));
  g_cancellable_cancel (self->cancellable);
}

static void
download_clicked_cb (KestrelDownloadPage *self)
{
  kestrel_download_page_start (self);
}

static void
cancel_clicked_cb (KestrelDownloadPage *self)
{
  kestrel_download_page_cancel (self);
}

/* Closing the dialog stops the download; the .partial files stay for next time. */
static void
closed_cb (KestrelDownloadPage *self)
{
  g_cancellable_cancel (self->cancellable);
}

/* ---- API ----------------------------------------------------------------------------- */

AdwDialog *
kestrel_download_page_new (KestrelTokenStore *token_store)
{
  KestrelDownloadPage *self;

  g_return_val_if_fail (KESTREL_IS_TOKEN_STORE (token_store), NULL);

  self = g_object_new (KESTREL_TYPE_DOWNLOAD_PAGE, NULL);
  self->token_store = g_object_ref (token_store);
  return ADW_DIALOG (self);
}

const char *
kestrel_download_page_get_repo_id (KestrelDownloadPage *self)
{
  g_return_val_if_fail (KESTREL_IS_DOWNLOAD_PAGE (self), NULL);
  return gtk_editable_get_text (GTK_EDITABLE (self->repo_row));
}

void
kestrel_download_page_set_repo_id (KestrelDownloadPage *self,
                                   const char          *repo_id)
{
  g_return_if_fail (KESTREL_IS_DOWNLOAD_PAGE (self));
  gtk_editable_set_text (GTK_EDITABLE (self->repo_row), repo_id ? repo_id : "");
}

void
kestrel_download_page_set_endpoint (KestrelDownloadPage *self,
                                    const char          *endpoint)
{
  g_return_if_fail (KESTREL_IS_DOWNLOAD_PAGE (self));
  g_set_str (&self->endpoint, endpoint);
}

void
kestrel_download_page_set_retry_policy (KestrelDownloadPage *self,
                                        guint                max_attempts,
                                        guint                first_delay_ms)
{
  g_return_if_fail (KESTREL_IS_DOWNLOAD_PAGE (self));
  self->max_attempts = max_attempts;
  self->first_delay_ms = first_delay_ms;
}

KestrelDownloadPageState
kestrel_download_page_get_state (KestrelDownloadPage *self)
{
  g_return_val_if_fail (KESTREL_IS_DOWNLOAD_PAGE (self), KESTREL_DOWNLOAD_PAGE_IDLE);
  return self->state;
}

KestrelDownloader *
kestrel_download_page_get_downloader (KestrelDownloadPage *self)
{
  g_return_val_if_fail (KESTREL_IS_DOWNLOAD_PAGE (self), NULL);
  return self->downloader;
}

const GError *
kestrel_download_page_get_error (KestrelDownloadPage *self)
{
  g_return_val_if_fail (KESTREL_IS_DOWNLOAD_PAGE (self), NULL);
  return self->state == KESTREL_DOWNLOAD_PAGE_FAILED ? self->error : NULL;
}

static void
kestrel_download_page_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  KestrelDownloadPage *self = KESTREL_DOWNLOAD_PAGE (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_download_page_dispose (GObject *object)
{
  KestrelDownloadPage *self = KESTREL_DOWNLOAD_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->downloader != NULL)
    g_signal_handlers_disconnect_by_data (self->downloader, self);
  g_clear_object (&self->downloader);
  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_DOWNLOAD_PAGE);

  G_OBJECT_CLASS (kestrel_download_page_parent_class)->dispose (object);
}

static void
kestrel_download_page_finalize (GObject *object)
{
  KestrelDownloadPage *self = KESTREL_DOWNLOAD_PAGE (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->token_store);
  g_clear_error (&self->error);
  g_free (self->endpoint);

  G_OBJECT_CLASS (kestrel_download_page_parent_class)->finalize (object);
}

static void
kestrel_download_page_class_init (KestrelDownloadPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = kestrel_download_page_dispose;
  object_class->finalize = kestrel_download_page_finalize;
  object_class->get_property = kestrel_download_page_get_property;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, KESTREL_TYPE_DOWNLOAD_PAGE_STATE,
                       KESTREL_DOWNLOAD_PAGE_IDLE,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_FILE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-download-page.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, repo_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, state_stack);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, idle_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, bytes_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, speed_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, eta_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, file_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, error_title);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, token_box);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, token_entry);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, token_note);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, model_link);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, done_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, download_button);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, retry_button);
  gtk_widget_class_bind_template_child (widget_class, KestrelDownloadPage, cancel_button);
  gtk_widget_class_bind_template_callback (widget_class, repo_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, download_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, cancel_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, closed_cb);
}

static void
kestrel_download_page_init (KestrelDownloadPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->state = KESTREL_DOWNLOAD_PAGE_IDLE;
  gtk_editable_set_text (GTK_EDITABLE (self->repo_row), KESTREL_DEFAULT_MODEL_REPO);
  show_destination (self);
  set_state (self, KESTREL_DOWNLOAD_PAGE_IDLE);
}
