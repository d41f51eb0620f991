/* kestrel-tool-call-card.c — a tool call in the chat: what is called, approval, result.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Follows its KestrelToolCallRequest: while the call waits for approval it offers Allow
 * Once / Always Allow / Deny (for read_file, allowing first asks for the file, so the
 * model never names a path); then a spinner while the tool runs; then the result (long
 * results start collapsed) or the error; or that the call was denied.
 */
#define G_LOG_DOMAIN "kestrel-tool-call-card"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <string.h>

#include "kestrel-tool-call-card.h"

struct _KestrelToolCallCard
{
  GtkWidget               parent_instance;

  KestrelToolCallRequest *request;
  gulong                  notify_id;
  gboolean                result_shown;  /* the expander's initial state was chosen */

  GtkLabel               *name_label;
  GtkLabel               *state_label;
  GtkWidget              *spinner;
  GtkLabel               *arguments_label;
  GtkWidget              *buttons_box;
  GtkExpander            *result_expander;
  GtkLabel               *result_label;
  GtkLabel               *error_label;
};

G_DEFINE_FINAL_TYPE (KestrelToolCallCard, kestrel_tool_call_card, GTK_TYPE_WIDGET)

static gboolean
is_long (const char *text)
{
  guint lines = 1;

  if (strlen (text) > KESTREL_TOOL_CALL_CARD_COLLAPSE_BYTES)
    return TRUE;
  for (const char *p = text; *p != '\0'; p++)
    if (*p == '\n' && ++lines > KESTREL_TOOL_CALL_CARD_COLLAPSE_LINES)
      return TRUE;
  return FALSE;
}

static void
update (KestrelToolCallCard *self)
{
  KestrelToolCallStatus status = kestrel_tool_call_request_get_status (self->request);
  KestrelToolApproval approval = kestrel_tool_call_request_get_approval (self->request);
  gboolean waiting = status == KESTREL_TOOL_CALL_STATUS_PENDING && approval == KESTREL_TOOL_APPROVAL_PENDING;
  gboolean denied = approval == KESTREL_TOOL_APPROVAL_DENIED;
  const char *state = NULL;

  gtk_widget_set_visible (self->buttons_box, waiting);
  gtk_widget_set_visible (self->spinner, status == KESTREL_TOOL_CALL_STATUS_RUNNING);
  gtk_widget_remove_css_class (GTK_WIDGET (self), "denied");

  switch (status)
    {
    case KESTREL_TOOL_CALL_STATUS_PENDING:
      state = waiting ? _("Waiting for your approval") : _("Waiting");
      break;
    case KESTREL_TOOL_CALL_STATUS_RUNNING:
      state = _("Running…");
      break;
    case KESTREL_TOOL_CALL_STATUS_COMPLETE:
      state = _("Done");
      break;
    case KESTREL_TOOL_CALL_STATUS_ERROR:
    default:
      state = denied ? _("Denied") : _("Failed");
      break;
    }
  if (denied)
    gtk_widget_add_css_class (GTK_WIDGET (self), "denied");
  gtk_label_set_label (self->state_label, state);

  if (status == KESTREL_TOOL_CALL_STATUS_COMPLETE && kestrel_tool_call_request_get_result (self->request) != NULL)
    {
      g_autofree char *text = kestrel_tool_call_request_pretty_json (kestrel_tool_call_request_get_result (self->request));
      g_autofree char *title = g_strdup_printf (_("Result (%zu bytes)"),
                                                strlen (kestrel_tool_call_request_get_result (self->request)));

      gtk_label_set_label (self->result_label, text);
      gtk_expander_set_label (self->result_expander, title);
      if (!self->result_shown)
        gtk_expander_set_expanded (self->result_expander, !is_long (text));
      self->result_shown = TRUE;
      gtk_widget_set_visible (GTK_WIDGET (self->result_expander), TRUE);
    }
  else
    gtk_widget_set_visible (GTK_WIDGET (self->result_expander), FALSE);

  if (status == KESTREL_TOOL_CALL_STATUS_ERROR && !denied &&
      kestrel_tool_call_request_get_error_message (self->request) != NULL)
    {
      gtk_label_set_label (self->error_label, kestrel_tool_call_request_get_error_message (self->request));
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
    }
  else
    gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
}

static void
request_notify_cb (KestrelToolCallRequest *request,
                   GParamSpec             *pspec,
                   KestrelToolCallCard    *self)
{
  update (self);
}

typedef struct
{
  KestrelToolCallCard   *self;   /* strong */
  KestrelToolCallAnswer  answer;
} PickData;

static void
file_picked_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  PickData *pd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = gtk_file_dialog_open_finish (GTK_FILE_DIALOG (source), result, &error);

  /* dismissing the chooser leaves the call waiting */
  if (file != NULL)
    kestrel_tool_call_request_answer (pd->self->request, pd->answer, file);
  g_object_unref (pd->self);
  g_free (pd);
}

static void
allow (KestrelToolCallCard   *self,
       KestrelToolCallAnswer  answer)
{
  if (kestrel_tool_call_request_get_needs_file (self->request))
    {
      g_autoptr(GtkFileDialog) dialog = gtk_file_dialog_new ();
      PickData *pd = g_new0 (PickData, 1);

      pd->self = g_object_ref (self);
      pd->answer = answer;
      gtk_file_dialog_set_title (dialog, _("Choose a File for the Model to Read"));
      gtk_file_dialog_open (dialog, GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))), NULL,
                            file_picked_cb, pd);
      return;
    }
  kestrel_tool_call_request_answer (self->request, answer, NULL);
}

static void
allow_clicked_cb (KestrelToolCallCard *self)
{
  allow (self, KESTREL_TOOL_CALL_ANSWER_ALLOW_ONCE);
}

static void
always_clicked_cb (KestrelToolCallCard *self)
{
  allow (self, KESTREL_TOOL_CALL_ANSWER_ALLOW_ALWAYS);
}

static void
deny_clicked_cb (KestrelToolCallCard *self)
{
  kestrel_tool_call_request_answer (self->request, KESTREL_TOOL_CALL_ANSWER_DENY, NULL);
}

GtkWidget *
kestrel_tool_call_card_new (KestrelToolCallRequest *request)
{
  KestrelToolCallCard *self;
  g_autofree char *arguments = NULL;
  g_autofree char *accessible = NULL;

  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (request), NULL);

  self = g_object_new (KESTREL_TYPE_TOOL_CALL_CARD, NULL);
  self->request = g_object_ref (request);
  arguments = kestrel_tool_call_request_dup_arguments_pretty (request);
  gtk_label_set_label (self->name_label, kestrel_tool_call_request_get_name (request));
  gtk_label_set_label (self->arguments_label, arguments);
  accessible = g_strdup_printf (_("Tool call: %s"), kestrel_tool_call_request_get_name (request));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
  update (self);
  self->notify_id = g_signal_connect (request, "notify", G_CALLBACK (request_notify_cb), self);
  return GTK_WIDGET (self);
}

KestrelToolCallRequest *
kestrel_tool_call_card_get_request (KestrelToolCallCard *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_CARD (self), NULL);
  return self->request;
}

static void
kestrel_tool_call_card_dispose (GObject *object)
{
  KestrelToolCallCard *self = (KestrelToolCallCard *) object;

  if (self->request != NULL)
    g_clear_signal_handler (&self->notify_id, self->request);
  g_clear_object (&self->request);
  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_TOOL_CALL_CARD);
  /* the template's unbound top-level child */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (kestrel_tool_call_card_parent_class)->dispose (object);
}

static void
kestrel_tool_call_card_class_init (KestrelToolCallCardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = kestrel_tool_call_card_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/kestrelchat/Kestrel/kestrel-tool-call-card.ui");
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "toolcallcard");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
  gtk_widget_class_bind_template_child (widget_class, KestrelToolCallCard, name_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelToolCallCard, state_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelToolCallCard, spinner);
  gtk_widget_class_bind_template_child (widget_class, KestrelToolCallCard, arguments_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelToolCallCard, buttons_box);
  gtk_widget_class_bind_template_child (widget_class, KestrelToolCallCard, result_expander);
  gtk_widget_class_bind_template_child (widget_class, KestrelToolCallCard, result_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelToolCallCard, error_label);
  gtk_widget_class_bind_template_callback (widget_class, allow_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, always_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, deny_clicked_cb);
}

static void
kestrel_tool_call_card_init (KestrelToolCallCard *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
