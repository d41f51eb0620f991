/* kestrel-model-library-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-model-library-page"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-download-error.h"
#include "kestrel-model-library-page.h"

struct _KestrelModelLibraryPage
{
  AdwDialog            parent_instance;

  AdwToastOverlay     *toast_overlay;
  GtkStack            *stack;
  GtkListBox          *list_box;

  KestrelModelLibrary *library;
  GCancellable        *cancellable;
  char                *current_folder;
  gboolean             loaded;
};

G_DEFINE_FINAL_TYPE (KestrelModelLibraryPage, kestrel_model_library_page, ADW_TYPE_DIALOG)

enum {
  USE_REQUESTED,
  DOWNLOAD_REQUESTED,
  REMOVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
toast (KestrelModelLibraryPage *self,
       const char              *message)
{
  AdwToast *t = adw_toast_new (message);

  adw_toast_set_timeout (t, 6);
  adw_toast_overlay_add_toast (self->toast_overlay, t);
}

static gboolean
is_current (KestrelModelLibraryPage *self,
            KestrelModelEntry       *entry)
{
  g_autoptr(GFile) current = NULL;

  if (self->current_folder == NULL || self->current_folder[0] == '\0')
    return FALSE;
  current = g_file_new_for_path (self->current_folder);
  return g_file_equal (current, kestrel_model_entry_get_folder (entry));
}

static void
update_stack (KestrelModelLibraryPage *self)
{
  const char *page = "loading";

  if (self->loaded)
    page = g_list_model_get_n_items (G_LIST_MODEL (self->library)) > 0 ? "list" : "empty";
  gtk_stack_set_visible_child_name (self->stack, page);
}

/* ---- Use and Remove ------------------------------------------------------------------ */

static void
use_clicked_cb (GtkButton               *button,
                KestrelModelLibraryPage *self)
{
  KestrelModelEntry *entry = g_object_get_data (G_OBJECT (button), "entry");

  g_signal_emit (self, signals[USE_REQUESTED], 0, entry);
}

typedef struct
{
  KestrelModelLibraryPage *self;
  KestrelModelEntry       *entry;
} RemoveData;

static void
remove_data_free (RemoveData *data)
{
  g_object_unref (data->self);
  g_object_unref (data->entry);
  g_free (data);
}

static void
removed_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  RemoveData *data = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (!kestrel_model_library_remove_finish (KESTREL_MODEL_LIBRARY (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          /* Translators: %s is the reason */
          message = g_strdup_printf (_("The model could not be removed: %s"), error->message);
          toast (data->self, message);
        }
    }
  else
    {
      /* Translators: %s is a model's name */
      message = g_strdup_printf (_("Removed %s"), kestrel_model_entry_get_name (data->entry));
      toast (data->self, message);
      g_signal_emit (data->self, signals[REMOVED], 0, data->entry);
    }
  remove_data_free (data);
}

static void
remove_confirmed_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  RemoveData *data = user_data;
  const char *response = adw_alert_dialog_choose_finish (ADW_ALERT_DIALOG (source), result);

  if (g_strcmp0 (response, "remove") != 0)
    {
      remove_data_free (data);
      return;
    }
  kestrel_model_library_remove_async (data->self->library, data->entry, data->self->cancellable,
                                      removed_cb, data);
}

static void
remove_clicked_cb (GtkButton               *button,
                   KestrelModelLibraryPage *self)
{
  KestrelModelEntry *entry = g_object_get_data (G_OBJECT (button), "entry");
  RemoveData *data = g_new0 (RemoveData, 1);
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  g_autofree char *size = kestrel_download_format_size (kestrel_model_entry_get_size (entry));
  g_autofree char *path = g_file_get_path (kestrel_model_entry_get_removable (entry));
  AdwDialog *alert;

  /* Translators: %s is a model's name */
  heading = g_strdup_printf (_("Remove %s?"), kestrel_model_entry_get_name (entry));
  if (is_current (self, entry))
    /* Translators: the first %s is a size ("3.9 GB"), the second a folder */
    body = g_strdup_printf (_("Kestrel is using this model. Removing it deletes %s in %s; to chat again you will need another model. This cannot be undone."),
                            size, path);
  else
    /* Translators: the first %s is a size ("3.9 GB"), the second a folder */
    body = g_strdup_printf (_("This deletes %s in %s. This cannot be undone."), size, path);

  alert = adw_alert_dialog_new (heading, body);
  adw_alert_dialog_add_responses (ADW_ALERT_DIALOG (alert),
                                  "cancel", _("_Cancel"),
                                  "remove", _("_Remove"),
                                  NULL);
  adw_alert_dialog_set_response_appearance (ADW_ALERT_DIALOG (alert), "remove",
                                            ADW_RESPONSE_DESTRUCTIVE);
  adw_alert_dialog_set_default_response (ADW_ALERT_DIALOG (alert), "cancel");
  adw_alert_dialog_set_close_response (ADW_ALERT_DIALOG (alert), "cancel");

  data->self = g_object_ref (self);
  data->entry = g_object_ref (entry);
  adw_alert_dialog_choose (ADW_ALERT_DIALOG (alert), GTK_WIDGET (self), NULL,
                           remove_confirmed_cb, data);
}

static GtkWidget *
create_row (gpointer item,
            gpointer user_data)
{
  KestrelModelLibraryPage *self = user_data;
  KestrelModelEntry *entry = item;
  const char *name = kestrel_model_entry_get_name (entry);
  g_autofree char *size = kestrel_download_format_size (kestrel_model_entry_get_size (entry));
  g_autofree char *path = g_file_get_path (kestrel_model_entry_get_folder (entry));
  g_autofree char *subtitle = NULL;
  g_autofree char *use_label = NULL;
  g_autofree char *remove_label = NULL;
  gboolean current = is_current (self, entry);
  gboolean complete = kestrel_model_entry_get_complete (entry);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *use = gtk_button_new_with_mnemonic (current ? _("In Use") : _("_Use"));
  GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");

  /* Translators: a model's size and format: "3.9 GB · FP8 (compressed-tensors, dynamic activations)" */
  subtitle = g_strdup_printf (_("%s · %s"), size, kestrel_model_entry_get_format (entry));
  if (!complete)
    {
      /* Translators: appended to a model's size and format */
      char *s = g_strconcat (subtitle, _(" · Download not finished"), NULL);

      g_free (subtitle);
      subtitle = s;
    }
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_widget_set_tooltip_text (row, path);

  /* Translators: %s is a model's name (accessible label of a button) */
  use_label = g_strdup_printf (_("Use %s"), name);
  gtk_widget_set_valign (use, GTK_ALIGN_CENTER);
  gtk_widget_set_sensitive (use, complete && !current);
  gtk_accessible_update_property (GTK_ACCESSIBLE (use), GTK_ACCESSIBLE_PROPERTY_LABEL, use_label, -1);
  g_object_set_data_full (G_OBJECT (use), "entry", g_object_ref (entry), g_object_unref);
  g_signal_connect (use, "clicked", G_CALLBACK (use_clicked_cb), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), use);

  /* Translators: %s is a model's name (accessible label of a button) */
  remove_label = g_strdup_printf (_("Remove %s"), name);
  gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (remove, _("Remove"));
  gtk_widget_add_css_class (remove, "flat");
  gtk_accessible_update_property (GTK_ACCESSIBLE (remove), GTK_ACCESSIBLE_PROPERTY_LABEL, remove_label, -1);
  g_object_set_data_full (G_OBJECT (remove), "entry", g_object_ref (entry), g_object_unref);
  g_signal_connect (remove, "clicked", G_CALLBACK (remove_clicked_cb), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);

  return row;
}

static void
rebind (KestrelModelLibraryPage *self)
{
  gtk_list_box_bind_model (self->list_box, G_LIST_MODEL (self->library), create_row, self, NULL);
}

/* ---- loading ------------------------------------------------------------------------- */

static void
refreshed_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(KestrelModelLibraryPage) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!kestrel_model_library_refresh_finish (KESTREL_MODEL_LIBRARY (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      toast (self, error->message);
    }
  self->loaded = TRUE;
  update_stack (self);
}

static void
items_changed_cb (KestrelModelLibraryPage *self)
{
  update_stack (self);
}

static void
download_clicked_cb (KestrelModelLibraryPage *self)
{
  g_signal_emit (self, signals[DOWNLOAD_REQUESTED], 0);
}

/* ---- API ----------------------------------------------------------------------------- */

AdwDialog *
kestrel_model_library_page_new (KestrelModelLibrary *library)
{
  KestrelModelLibraryPage *self;

  g_return_val_if_fail (KESTREL_IS_MODEL_LIBRARY (library), NULL);

  self = g_object_new (KESTREL_TYPE_MODEL_LIBRARY_PAGE, NULL);
  self->library = g_object_ref (library);
  g_signal_connect_object (library, "items-changed", G_CALLBACK (items_changed_cb), self,
                           G_CONNECT_SWAPPED);
  rebind (self);
  update_stack (self);
  kestrel_model_library_refresh_async (library, self->cancellable, refreshed_cb, g_object_ref (self));
  return ADW_DIALOG (self);
}

KestrelModelLibrary *
kestrel_model_library_page_get_library (KestrelModelLibraryPage *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_LIBRARY_PAGE (self), NULL);
  return self->library;
}

void
kestrel_model_library_page_set_current_folder (KestrelModelLibraryPage *self,
                                               const char              *path)
{
  g_return_if_fail (KESTREL_IS_MODEL_LIBRARY_PAGE (self));
  if (g_set_str (&self->current_folder, path) && self->library != NULL)
    rebind (self);
}

gboolean
kestrel_model_library_page_get_loaded (KestrelModelLibraryPage *self)
{
  g_return_val_if_fail (KESTREL_IS_MODEL_LIBRARY_PAGE (self), FALSE);
  return self->loaded;
}

static void
kestrel_model_library_page_dispose (GObject *object)
{
  KestrelModelLibraryPage *self = KESTREL_MODEL_LIBRARY_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->list_box != NULL)
    gtk_list_box_bind_model (self->list_box, NULL, NULL, NULL, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_MODEL_LIBRARY_PAGE);
  g_clear_object (&self->library);

  G_OBJECT_CLASS (kestrel_model_library_page_parent_class)->dispose (object);
}

static void
kestrel_model_library_page_finalize (GObject *object)
{
  KestrelModelLibraryPage *self = KESTREL_MODEL_LIBRARY_PAGE (object);

  g_clear_object (&self->cancellable);
  g_free (self->current_folder);

  G_OBJECT_CLASS (kestrel_model_library_page_parent_class)->finalize (object);
}

static void
kestrel_model_library_page_class_init (KestrelModelLibraryPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = kestrel_model_library_page_dispose;
  object_class->finalize = kestrel_model_library_page_finalize;

  signals[USE_REQUESTED] = g_signal_new ("use-requested", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 1, KESTREL_TYPE_MODEL_ENTRY);
  signals[DOWNLOAD_REQUESTED] = g_signal_new ("download-requested", G_TYPE_FROM_CLASS (klass),
                                              G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                              G_TYPE_NONE, 0);
  signals[REMOVED] = g_signal_new ("removed", G_TYPE_FROM_CLASS (klass),
                                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                   G_TYPE_NONE, 1, KESTREL_TYPE_MODEL_ENTRY);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-model-library-page.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelModelLibraryPage, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, KestrelModelLibraryPage, stack);
  gtk_widget_class_bind_template_child (widget_class, KestrelModelLibraryPage, list_box);
  gtk_widget_class_bind_template_callback (widget_class, download_clicked_cb);
}

static void
kestrel_model_library_page_init (KestrelModelLibraryPage *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}
