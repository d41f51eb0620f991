/* kestrel-model-status-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-model-status-page"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "kestrel-model-library.h"
#include "kestrel-model-status-page.h"

struct _KestrelModelStatusPage
{
  GtkWidget  parent_instance;

  GtkWidget *detected_box;
  GtkWidget *download_button;
  GtkLabel  *detected_label;
  GFile     *detected_folder;
};

G_DEFINE_FINAL_TYPE (KestrelModelStatusPage, kestrel_model_status_page, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_CAN_DOWNLOAD,
  N_PROPS
};

enum {
  FOLDER_CHOSEN,
  DOWNLOAD_REQUESTED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

GFile *
kestrel_model_status_page_find_cached_model (void)
{
  g_autoptr(GFile) hub_dir = kestrel_model_library_default_hf_cache ();
  g_autofree char *hub = g_file_get_path (hub_dir);
  g_auto(GStrv) parts = g_strsplit (KESTREL_MODEL_REPO_ID, "/", 2);
  g_autofree char *repo_dir = g_strdup_printf ("models--%s--%s", parts[0], parts[1]);
  g_autofree char *snapshots = g_build_filename (hub, repo_dir, "snapshots", NULL);
  g_autofree char *ref_path = g_build_filename (hub, repo_dir, "refs", "main", NULL);
  g_autofree char *ref = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;

  /* the revision "main" points at first, then any complete snapshot */
  if (g_file_get_contents (ref_path, &ref, NULL, NULL))
    {
      g_autofree char *config = g_build_filename (snapshots, g_strstrip (ref), "config.json", NULL);

      if (strchr (ref, '/') == NULL && g_file_test (config, G_FILE_TEST_IS_REGULAR))
        return g_file_new_build_filename (snapshots, ref, NULL);
    }

  dir = g_dir_open (snapshots, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *config = g_build_filename (snapshots, name, "config.json", NULL);

      if (g_file_test (config, G_FILE_TEST_IS_REGULAR))
        return g_file_new_build_filename (snapshots, name, NULL);
    }

  return NULL;
}

static void
folder_selected_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(KestrelModelStatusPage) self = user_data;
  g_autoptr(GFile) folder = NULL;

  folder = gtk_file_dialog_select_folder_finish (GTK_FILE_DIALOG (source), result, NULL);
  if (folder != NULL)
    g_signal_emit (self, signals[FOLDER_CHOSEN], 0, folder);
}

static void
choose_clicked_cb (KestrelModelStatusPage *self)
{
  g_autoptr(GtkFileDialog) dialog = gtk_file_dialog_new ();
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  gtk_file_dialog_set_title (dialog, _("Choose Model Folder"));
  gtk_file_dialog_set_accept_label (dialog, _("_Select"));
  gtk_file_dialog_select_folder (dialog, GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                 NULL, folder_selected_cb, g_object_ref (self));
}

static void
use_detected_clicked_cb (KestrelModelStatusPage *self)
{
  if (self->detected_folder != NULL)
    g_signal_emit (self, signals[FOLDER_CHOSEN], 0, self->detected_folder);
}

static void
download_clicked_cb (KestrelModelStatusPage *self)
{
  g_signal_emit (self, signals[DOWNLOAD_REQUESTED], 0);
}

gboolean
kestrel_model_status_page_get_can_download (KestrelModelStatusPage *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_STATUS_PAGE (self), FALSE);
  return gtk_widget_get_visible (self->download_button);
}

void
kestrel_model_status_page_set_can_download (KestrelModelStatusPage *self,
                                            gboolean                can_download)
{
  g_return_if_fail (KESTREL_IS_MODEL_STATUS_PAGE (self));

  if (kestrel_model_status_page_get_can_download (self) == !!can_download)
    return;

  gtk_widget_set_visible (self->download_button, can_download);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_DOWNLOAD]);
}

static void
kestrel_model_status_page_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  KestrelModelStatusPage *self = KESTREL_MODEL_STATUS_PAGE (object);

  switch (prop_id)
    {
    case PROP_CAN_DOWNLOAD:
      g_value_set_boolean (value, kestrel_model_status_page_get_can_download (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_model_status_page_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  KestrelModelStatusPage *self = KESTREL_MODEL_STATUS_PAGE (object);

  switch (prop_id)
    {
    case PROP_CAN_DOWNLOAD:
      kestrel_model_status_page_set_can_download (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

GFile *
kestrel_model_status_page_get_detected_folder (KestrelModelStatusPage *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_STATUS_PAGE (self), NULL);
  return self->detected_folder;
}

GtkWidget *
kestrel_model_status_page_new (void)
{
  return g_object_new (KESTREL_TYPE_MODEL_STATUS_PAGE, NULL);
}

static void
kestrel_model_status_page_dispose (GObject *object)
{
  KestrelModelStatusPage *self = KESTREL_MODEL_STATUS_PAGE (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_MODEL_STATUS_PAGE);
  /* the template's unbound top-level child */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);
  g_clear_object (&self->detected_folder);

  G_OBJECT_CLASS (kestrel_model_status_page_parent_class)->dispose (object);
}

static void
kestrel_model_status_page_class_init (KestrelModelStatusPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = kestrel_model_status_page_dispose;
  object_class->get_property = kestrel_model_status_page_get_property;
  object_class->set_property = kestrel_model_status_page_set_property;

  properties[PROP_CAN_DOWNLOAD] =
    g_param_spec_boolean ("can-download", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[DOWNLOAD_REQUESTED] = g_signal_new ("download-requested", G_TYPE_FROM_CLASS (klass),
                                              G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                              G_TYPE_NONE, 0);
  signals[FOLDER_CHOSEN] = g_signal_new ("folder-chosen", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 1, G_TYPE_FILE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-model-status-page.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelModelStatusPage, detected_box);
  gtk_widget_class_bind_template_child (widget_class, KestrelModelStatusPage, detected_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelModelStatusPage, download_button);
  gtk_widget_class_bind_template_callback (widget_class, download_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, choose_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, use_detected_clicked_cb);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
kestrel_model_status_page_init (KestrelModelStatusPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->detected_folder = kestrel_model_status_page_find_cached_model ();
  gtk_widget_set_visible (self->detected_box, self->detected_folder != NULL);
  if (self->detected_folder != NULL)
    {
      g_autofree char *path = g_file_get_path (self->detected_folder);
      gtk_label_set_label (self->detected_label, path);
    }
}
