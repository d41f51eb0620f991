/* kestrel-preferences-dialog.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-preferences"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-engine.h"
#include "kestrel-preferences-dialog.h"

struct _KestrelPreferencesDialog
{
  AdwPreferencesDialog  parent_instance;

  GSettings            *settings;

  AdwActionRow         *model_folder_row;
  AdwEntryRow          *gpus_row;
  AdwSpinRow           *context_row;
  AdwSpinRow           *temperature_row;
  AdwSpinRow           *top_p_row;
  AdwSpinRow           *top_k_row;
  AdwSpinRow           *max_tokens_row;
  AdwEntryRow          *system_prompt_row;
  AdwSwitchRow         *tools_row;
  AdwSwitchRow         *pan_and_scan_row;
  AdwSwitchRow         *history_row;
};

G_DEFINE_FINAL_TYPE (KestrelPreferencesDialog, kestrel_preferences_dialog, ADW_TYPE_PREFERENCES_DIALOG)

enum {
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

enum {
  CLEAR_HISTORY,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
update_model_folder (KestrelPreferencesDialog *self)
{
  g_autofree char *folder = g_settings_get_string (self->settings, "model-folder");

  adw_action_row_set_subtitle (self->model_folder_row,
                               folder[0] != '\0' ? folder : _("Not chosen"));
}

/* The GPU list: gpu-indices when set, else the single gpu-index. */
static void
update_gpus (KestrelPreferencesDialog *self)
{
  g_autoptr(GVariant) value = g_settings_get_value (self->settings, "gpu-indices");
  gsize n = 0;
  const gint32 *indices = g_variant_get_fixed_array (value, &n, sizeof (gint32));
  g_autofree char *text = NULL;

  if (n > 0)
    text = kestrel_gpu_list_format (indices, n);
  else
    text = g_strdup_printf ("%d", g_settings_get_int (self->settings, "gpu-index"));
  gtk_editable_set_text (GTK_EDITABLE (self->gpus_row), text);
  gtk_widget_remove_css_class (GTK_WIDGET (self->gpus_row), "error");
}

static void
gpus_changed_cb (KestrelPreferencesDialog *self)
{
  gtk_widget_remove_css_class (GTK_WIDGET (self->gpus_row), "error");
}

/* "0,1" → gpu-indices [0, 1] and gpu-index 0; "" → gpu-indices [] (the gpu-index alone). */
static void
gpus_apply_cb (KestrelPreferencesDialog *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) list = kestrel_gpu_list_parse (gtk_editable_get_text (GTK_EDITABLE (self->gpus_row)),
                                                   &error);

  if (list == NULL)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->gpus_row), "error");
      adw_preferences_dialog_add_toast (ADW_PREFERENCES_DIALOG (self), adw_toast_new (error->message));
      return;
    }
  if (list->len > 0)
    g_settings_set_int (self->settings, "gpu-index", g_array_index (list, int, 0));
  g_settings_set_value (self->settings, "gpu-indices",
                        g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, list->data, list->len,
                                                   sizeof (gint32)));
  update_gpus (self);
}

static void
folder_selected_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(KestrelPreferencesDialog) self = user_data;
  g_autoptr(GFile) folder = NULL;
  g_autofree char *path = NULL;

  folder = gtk_file_dialog_select_folder_finish (GTK_FILE_DIALOG (source), result, NULL);
  if (folder == NULL)
    return;

  path = g_file_get_path (folder);
  if (path != NULL)
    g_settings_set_string (self->settings, "model-folder", path);
}

static void
choose_folder_clicked_cb (KestrelPreferencesDialog *self)
{
  g_autoptr(GtkFileDialog) dialog = gtk_file_dialog_new ();
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  gtk_file_dialog_set_title (dialog, _("Choose Model Folder"));
  gtk_file_dialog_select_folder (dialog, GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                 NULL, folder_selected_cb, g_object_ref (self));
}

static void
clear_response_cb (AdwAlertDialog           *dialog,
                   const char               *response,
                   KestrelPreferencesDialog *self)
{
  if (g_str_equal (response, "clear"))
    {
      g_signal_emit (self, signals[CLEAR_HISTORY], 0);
      adw_preferences_dialog_add_toast (ADW_PREFERENCES_DIALOG (self),
                                        adw_toast_new (_("History cleared")));
    }
}

void
kestrel_preferences_dialog_confirm_clear_history (KestrelPreferencesDialog *self)
{
  AdwDialog *alert;

  g_return_if_fail (KESTREL_IS_PREFERENCES_DIALOG (self));

  alert = adw_alert_dialog_new (_("Delete All Conversations?"),
                                _("Every conversation and its images will be deleted permanently."));
  adw_alert_dialog_add_responses (ADW_ALERT_DIALOG (alert),
                                  "cancel", _("_Cancel"),
                                  "clear", _("_Delete All"),
                                  NULL);
  adw_alert_dialog_set_response_appearance (ADW_ALERT_DIALOG (alert), "clear",
                                            ADW_RESPONSE_DESTRUCTIVE);
  adw_alert_dialog_set_default_response (ADW_ALERT_DIALOG (alert), "cancel");
  adw_alert_dialog_set_close_response (ADW_ALERT_DIALOG (alert), "cancel");
  g_signal_connect_object (alert, "response", G_CALLBACK (clear_response_cb), self, 0);
  adw_dialog_present (alert, GTK_WIDGET (self));
}

static void
clear_history_activated_cb (KestrelPreferencesDialog *self)
{
  kestrel_preferences_dialog_confirm_clear_history (self);
}

static void
bind_settings (KestrelPreferencesDialog *self)
{
  g_settings_bind (self->settings, "context-length", self->context_row, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "temperature", self->temperature_row, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "top-p", self->top_p_row, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "top-k", self->top_k_row, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "max-tokens", self->max_tokens_row, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "system-prompt", self->system_prompt_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "tools-enabled", self->tools_row, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "pan-and-scan", self->pan_and_scan_row, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "keep-history", self->history_row, "active", G_SETTINGS_BIND_DEFAULT);

  g_signal_connect_object (self->settings, "changed::gpu-indices",
                           G_CALLBACK (update_gpus), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::gpu-index",
                           G_CALLBACK (update_gpus), self, G_CONNECT_SWAPPED);
  update_gpus (self);
  g_signal_connect_object (self->settings, "changed::model-folder",
                           G_CALLBACK (update_model_folder), self, G_CONNECT_SWAPPED);
  update_model_folder (self);
}

AdwDialog *
kestrel_preferences_dialog_new (GSettings *settings)
{
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (KESTREL_TYPE_PREFERENCES_DIALOG, "settings", settings, NULL);
}

static void
kestrel_preferences_dialog_constructed (GObject *object)
{
  KestrelPreferencesDialog *self = KESTREL_PREFERENCES_DIALOG (object);

  G_OBJECT_CLASS (kestrel_preferences_dialog_parent_class)->constructed (object);

  if (self->settings == NULL)
    self->settings = g_settings_new (KESTREL_SETTINGS_SCHEMA_ID);
  bind_settings (self);
}

static void
kestrel_preferences_dialog_dispose (GObject *object)
{
  KestrelPreferencesDialog *self = KESTREL_PREFERENCES_DIALOG (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_PREFERENCES_DIALOG);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (kestrel_preferences_dialog_parent_class)->dispose (object);
}

static void
kestrel_preferences_dialog_set_property (GObject      *object,
                                         guint         prop_id,
                                         const GValue *value,
                                         GParamSpec   *pspec)
{
  KestrelPreferencesDialog *self = KESTREL_PREFERENCES_DIALOG (object);

  switch (prop_id)
    {
    case PROP_SETTINGS: self->settings = g_value_dup_object (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_preferences_dialog_class_init (KestrelPreferencesDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = kestrel_preferences_dialog_constructed;
  object_class->dispose = kestrel_preferences_dialog_dispose;
  object_class->set_property = kestrel_preferences_dialog_set_property;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[CLEAR_HISTORY] = g_signal_new ("clear-history", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-preferences-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, model_folder_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, gpus_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, context_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, temperature_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, top_p_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, top_k_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, max_tokens_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, system_prompt_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, tools_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, pan_and_scan_row);
  gtk_widget_class_bind_template_child (widget_class, KestrelPreferencesDialog, history_row);
  gtk_widget_class_bind_template_callback (widget_class, choose_folder_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, clear_history_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, gpus_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, gpus_changed_cb);
}

static void
kestrel_preferences_dialog_init (KestrelPreferencesDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
