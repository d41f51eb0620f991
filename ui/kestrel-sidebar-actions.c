/* kestrel-sidebar-actions.c — the sidebar rows' actions: rename (a dialog), pin / unpin,
 * and delete with an undo toast.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A deleted conversation is only hidden at first; the store deletes it when its toast goes
 * away without Undo (or when the sidebar goes away while the toast is still up), so undo
 * needs no copy of the conversation.
 */
#define G_LOG_DOMAIN "kestrel-sidebar"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-sidebar-private.h"

static void
show_error (KestrelSidebar *self,
            const char     *what,
            const GError   *error)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);
  g_autofree char *message = g_strdup_printf ("%s: %s", what, error->message);

  g_message ("%s", message);
  if (overlay != NULL)
    {
      AdwToast *toast = adw_toast_new (message);

      adw_toast_set_use_markup (toast, FALSE);
      adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
    }
}

/* ---- rename ----------------------------------------------------------------------------- */

typedef struct
{
  KestrelSidebar *self;    /* owned */
  GtkEditable    *entry;
  gint64          id;
} Rename;

static void
rename_free (gpointer data,
             GClosure *closure)
{
  Rename *rename = data;

  g_object_unref (rename->self);
  g_free (rename);
}

static void
set_title_done_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(KestrelSidebar) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!kestrel_store_set_title_finish (KESTREL_STORE (object), result, &error))
    show_error (self, _("Could not rename the conversation"), error);
}

static gboolean
apply_rename (Rename *rename)
{
  g_autofree char *title = g_strstrip (g_strdup (gtk_editable_get_text (rename->entry)));

  if (title[0] == '\0' || rename->self->store == NULL)
    return FALSE;
  kestrel_store_set_title_async (rename->self->store, rename->id, title, KESTREL_TITLE_SOURCE_USER,
                                 NULL, set_title_done_cb, g_object_ref (rename->self));
  return TRUE;
}

static void
rename_response_cb (AdwAlertDialog *dialog,
                    const char     *response,
                    Rename         *rename)
{
  if (g_str_equal (response, "rename"))
    apply_rename (rename);
}

/* Enter in the entry renames (AdwAlertDialog does not pass it on to its default response). */
static void
rename_entry_activate_cb (GtkEntry *entry,
                          Rename   *rename)
{
  AdwDialog *dialog = ADW_DIALOG (gtk_widget_get_ancestor (GTK_WIDGET (entry), ADW_TYPE_ALERT_DIALOG));

  if (apply_rename (rename))
    adw_dialog_close (dialog);   /* responds with the close response, "cancel": nothing more */
}

static void
rename_entry_changed_cb (GtkEditable    *entry,
                         AdwAlertDialog *dialog)
{
  g_autofree char *title = g_strstrip (g_strdup (gtk_editable_get_text (entry)));

  adw_alert_dialog_set_response_enabled (dialog, "rename", title[0] != '\0');
}

static void
rename_action_cb (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  KestrelSidebar *self = KESTREL_SIDEBAR (widget);
  gint64 id = g_variant_get_int64 (parameter);
  KestrelConversation *conversation = _kestrel_sidebar_find (self, id);
  AdwDialog *dialog;
  GtkWidget *entry;
  Rename *rename;

  if (conversation == NULL)
    return;

  dialog = adw_alert_dialog_new (_("Rename Conversation"), NULL);
  adw_alert_dialog_add_responses (ADW_ALERT_DIALOG (dialog),
                                  "cancel", _("_Cancel"),
                                  "rename", _("_Rename"),
                                  NULL);
  adw_alert_dialog_set_response_appearance (ADW_ALERT_DIALOG (dialog), "rename", ADW_RESPONSE_SUGGESTED);
  adw_alert_dialog_set_default_response (ADW_ALERT_DIALOG (dialog), "rename");
  adw_alert_dialog_set_close_response (ADW_ALERT_DIALOG (dialog), "cancel");

  entry = gtk_entry_new ();
  gtk_editable_set_text (GTK_EDITABLE (entry), kestrel_conversation_get_title (conversation));
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Title"), -1);
  g_signal_connect_object (entry, "changed", G_CALLBACK (rename_entry_changed_cb), dialog, 0);
  rename_entry_changed_cb (GTK_EDITABLE (entry), ADW_ALERT_DIALOG (dialog));
  adw_alert_dialog_set_extra_child (ADW_ALERT_DIALOG (dialog), entry);

  rename = g_new0 (Rename, 1);
  rename->self = g_object_ref (self);
  rename->entry = GTK_EDITABLE (entry);
  rename->id = id;
  g_signal_connect_data (dialog, "response", G_CALLBACK (rename_response_cb), rename, rename_free, 0);
  g_signal_connect (entry, "activate", G_CALLBACK (rename_entry_activate_cb), rename);

  adw_dialog_set_focus (dialog, entry);
  adw_dialog_present (dialog, widget);
}

/* ---- pin -------------------------------------------------------------------------------- */

static void
set_pinned_done_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(KestrelSidebar) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!kestrel_store_set_pinned_finish (KESTREL_STORE (object), result, &error))
    show_error (self, _("Could not pin the conversation"), error);
}

static void
toggle_pin_action_cb (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  KestrelSidebar *self = KESTREL_SIDEBAR (widget);
  gint64 id = g_variant_get_int64 (parameter);
  KestrelConversation *conversation = _kestrel_sidebar_find (self, id);

  if (conversation == NULL)
    return;
  kestrel_store_set_pinned_async (self->store, id, !kestrel_conversation_get_pinned (conversation),
                                  NULL, set_pinned_done_cb, g_object_ref (self));
}

/* ---- delete with undo ----------------------------------------------------------------- */

typedef struct
{
  GWeakRef             sidebar;
  KestrelStore        *store;
  KestrelConversation *conversation;
  gboolean             undone;
  gboolean             committed;
} PendingDelete;

static void
pending_clear (gpointer data)
{
  PendingDelete *pending = data;

  g_weak_ref_clear (&pending->sidebar);
  g_clear_object (&pending->store);
  g_clear_object (&pending->conversation);
}

void
_kestrel_sidebar_pending_release (gpointer data)
{
  g_rc_box_release_full (data, pending_clear);
}

static void
pending_release_closure (gpointer  data,
                         GClosure *closure)
{
  _kestrel_sidebar_pending_release (data);
}

static void
delete_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  PendingDelete *pending = user_data;
  g_autoptr(KestrelSidebar) self = g_weak_ref_get (&pending->sidebar);
  g_autoptr(GError) error = NULL;

  if (!kestrel_store_delete_conversation_finish (KESTREL_STORE (object), result, &error))
    {
      if (self != NULL)
        {
          _kestrel_sidebar_set_hidden (self, pending->conversation, FALSE);
          show_error (self, _("Could not delete the conversation"), error);
        }
      else
        g_message ("Deleting a conversation failed: %s", error->message);
    }
  /* On success the row stays hidden until the list drops the conversation. */
  _kestrel_sidebar_pending_release (pending);
}

static void
commit (PendingDelete *pending)
{
  if (pending->undone || pending->committed)
    return;
  pending->committed = TRUE;
  kestrel_store_delete_conversation_async (pending->store, kestrel_conversation_get_id (pending->conversation),
                                           NULL, delete_done_cb, g_rc_box_acquire (pending));
}

static void
forget (PendingDelete *pending,
        AdwToast      *toast)
{
  g_autoptr(KestrelSidebar) self = g_weak_ref_get (&pending->sidebar);
  g_autoptr(AdwToast) current = NULL;

  if (self == NULL)
    return;
  current = g_weak_ref_get (&self->undo_toast);
  if (current == toast)
    g_weak_ref_set (&self->undo_toast, NULL);
  g_ptr_array_remove (self->pending, pending);
}

static void
undo_cb (AdwToast      *toast,
         PendingDelete *pending)
{
  g_autoptr(KestrelSidebar) self = g_weak_ref_get (&pending->sidebar);

  if (pending->committed)
    return;
  pending->undone = TRUE;
  if (self != NULL)
    _kestrel_sidebar_set_hidden (self, pending->conversation, FALSE);
  forget (pending, toast);
}

static void
dismissed_cb (AdwToast      *toast,
              PendingDelete *pending)
{
  commit (pending);
  forget (pending, toast);
}

void
_kestrel_sidebar_commit_pending (KestrelSidebar *self)
{
  for (guint i = 0; i < self->pending->len; i++)
    commit (g_ptr_array_index (self->pending, i));
  g_ptr_array_set_size (self->pending, 0);
}

static void
delete_action_cb (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  KestrelSidebar *self = KESTREL_SIDEBAR (widget);
  gint64 id = g_variant_get_int64 (parameter);
  KestrelConversation *conversation = _kestrel_sidebar_find (self, id);
  GtkWidget *overlay = gtk_widget_get_ancestor (widget, ADW_TYPE_TOAST_OVERLAY);
  g_autofree char *title = NULL;
  PendingDelete *pending;
  AdwToast *toast;

  if (conversation == NULL || self->store == NULL)
    return;

  pending = g_rc_box_new0 (PendingDelete);
  g_weak_ref_init (&pending->sidebar, self);
  pending->store = g_object_ref (self->store);
  pending->conversation = g_object_ref (conversation);

  {
    /* Keyboard users keep their place: the focus moves to the row that takes its place. */
    GtkListBoxRow *focus_row = _kestrel_sidebar_get_focus_row (self);
    gboolean had_focus = focus_row != NULL && gtk_widget_has_focus (GTK_WIDGET (focus_row));
    int index = focus_row != NULL ? gtk_list_box_row_get_index (focus_row) : -1;

    _kestrel_sidebar_set_hidden (self, conversation, TRUE);
    if (had_focus)
      {
        GtkListBoxRow *next = gtk_list_box_get_row_at_index (self->list_box, index);

        if (next == NULL && index > 0)
          next = gtk_list_box_get_row_at_index (self->list_box, index - 1);
        if (next != NULL)
          gtk_widget_grab_focus (GTK_WIDGET (next));
      }
  }

  /* Without a place to offer undo, delete at once. */
  if (overlay == NULL)
    {
      commit (pending);
      _kestrel_sidebar_pending_release (pending);
      return;
    }

  g_ptr_array_add (self->pending, pending);   /* takes the first reference */

  /* Translators: shown after deleting a conversation, with an Undo button */
  title = g_strdup_printf (_("“%s” deleted"),
                           _kestrel_sidebar_display_title (kestrel_conversation_get_title (conversation)));
  toast = adw_toast_new (title);
  adw_toast_set_use_markup (toast, FALSE);
  adw_toast_set_button_label (toast, _("_Undo"));
  g_signal_connect_data (toast, "button-clicked", G_CALLBACK (undo_cb),
                         g_rc_box_acquire (pending), pending_release_closure, 0);
  g_signal_connect_data (toast, "dismissed", G_CALLBACK (dismissed_cb),
                         g_rc_box_acquire (pending), pending_release_closure, 0);
  g_weak_ref_set (&self->undo_toast, toast);
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
}

void
_kestrel_sidebar_class_add_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "sidebar.rename", "x", rename_action_cb);
  gtk_widget_class_install_action (widget_class, "sidebar.toggle-pin", "x", toggle_pin_action_cb);
  gtk_widget_class_install_action (widget_class, "sidebar.delete", "x", delete_action_cb);
}
