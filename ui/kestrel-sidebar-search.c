/* kestrel-sidebar-search.c — the sidebar's full-text search: hits with the conversation title
 * and a highlighted snippet, newest first, as you type.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-sidebar"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-sidebar-private.h"

#define SEARCH_LIMIT 50

static gboolean
is_hidden_id (KestrelSidebar *self,
              gint64          conversation_id)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->hidden);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (kestrel_conversation_get_id (key) == conversation_id)
      return TRUE;
  return FALSE;
}

static GtkWidget *
create_result_row (gpointer item,
                   gpointer user_data)
{
  KestrelSearchHit *hit = item;
  const char *title = _kestrel_sidebar_display_title (kestrel_search_hit_get_conversation_title (hit));
  const char *markup = kestrel_search_hit_get_snippet_markup (hit);
  g_autofree char *plain = NULL;
  g_autofree char *row_label = NULL;
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 3);
  GtkWidget *title_label = gtk_label_new (title);
  GtkWidget *snippet = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (title_label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (title_label), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (title_label, "heading");
  gtk_box_append (GTK_BOX (box), title_label);

  /* The store's snippet is Pango markup (text escaped, matches in <b>); should it ever not
   * parse, show it as plain text rather than let GTK warn. */
  if (markup != NULL && pango_parse_markup (markup, -1, 0, NULL, &plain, NULL, NULL))
    gtk_label_set_markup (GTK_LABEL (snippet), markup);
  else
    {
      g_clear_pointer (&plain, g_free);
      plain = g_strdup (markup ? markup : "");
      gtk_label_set_text (GTK_LABEL (snippet), plain);
    }
  gtk_label_set_xalign (GTK_LABEL (snippet), 0);
  gtk_label_set_wrap (GTK_LABEL (snippet), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (snippet), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_lines (GTK_LABEL (snippet), 3);
  gtk_label_set_ellipsize (GTK_LABEL (snippet), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (snippet, "caption");
  gtk_box_append (GTK_BOX (box), snippet);

  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  /* Translators: a search result read by a screen reader: conversation title, found text */
  row_label = g_strdup_printf (_("%s: %s"), title, plain);
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, row_label, -1);
  g_object_set_data_full (G_OBJECT (row), "hit", g_object_ref (hit), g_object_unref);
  return row;
}

static void
search_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(KestrelSidebar) self = user_data;
  g_autoptr(GPtrArray) hits = NULL;
  g_autoptr(GPtrArray) shown = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  hits = kestrel_store_search_finish (KESTREL_STORE (object), result, &error);
  if (hits == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_message ("Search failed: %s", error->message);
      g_list_store_remove_all (self->results);
      gtk_stack_set_visible_child_name (self->stack, "no-results");
      return;
    }

  for (guint i = 0; i < hits->len; i++)
    if (!is_hidden_id (self, kestrel_search_hit_get_conversation_id (g_ptr_array_index (hits, i))))
      g_ptr_array_add (shown, g_ptr_array_index (hits, i));

  g_list_store_splice (self->results, 0, g_list_model_get_n_items (G_LIST_MODEL (self->results)),
                       shown->pdata, shown->len);
  gtk_stack_set_visible_child_name (self->stack, shown->len > 0 ? "results" : "no-results");
}

void
_kestrel_sidebar_search_again (KestrelSidebar *self)
{
  g_autofree char *query = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->search_entry))));

  g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);

  if (query[0] == '\0' || self->store == NULL)
    {
      g_list_store_remove_all (self->results);
      gtk_stack_set_visible_child_name (self->stack, "list");
      return;
    }

  self->search_cancellable = g_cancellable_new ();
  kestrel_store_search_async (self->store, query, SEARCH_LIMIT, self->search_cancellable,
                              search_done_cb, g_object_ref (self));
}

GtkListBox *
_kestrel_sidebar_visible_box (KestrelSidebar *self)
{
  const char *name = gtk_stack_get_visible_child_name (self->stack);

  if (g_strcmp0 (name, "results") == 0)
    return self->results_box;
  if (g_strcmp0 (name, "list") == 0)
    return self->list_box;
  return NULL;
}

static void
stop_search_cb (KestrelSidebar *self)
{
  GtkListBoxRow *row;

  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
  row = gtk_list_box_get_selected_row (self->list_box);
  if (row == NULL)
    row = gtk_list_box_get_row_at_index (self->list_box, 0);
  if (row != NULL)
    gtk_widget_grab_focus (GTK_WIDGET (row));
}

/* Enter opens the first hit. */
static void
search_activate_cb (KestrelSidebar *self)
{
  GtkListBox *box = _kestrel_sidebar_visible_box (self);
  GtkListBoxRow *row = box == self->results_box ? gtk_list_box_get_row_at_index (box, 0) : NULL;

  if (row != NULL)
    gtk_widget_activate (GTK_WIDGET (row));
}

/* Down from the search entry goes into the list shown below it. */
static gboolean
search_key_pressed_cb (GtkEventControllerKey *controller,
                       guint                  keyval,
                       guint                  keycode,
                       GdkModifierType        state,
                       KestrelSidebar        *self)
{
  GtkListBox *box;
  GtkListBoxRow *row;

  if (keyval != GDK_KEY_Down && keyval != GDK_KEY_KP_Down)
    return GDK_EVENT_PROPAGATE;
  if ((box = _kestrel_sidebar_visible_box (self)) == NULL || (row = gtk_list_box_get_row_at_index (box, 0)) == NULL)
    return GDK_EVENT_PROPAGATE;
  gtk_widget_grab_focus (GTK_WIDGET (row));
  return GDK_EVENT_STOP;
}

static void
result_activated_cb (KestrelSidebar *self,
                     GtkListBoxRow  *row)
{
  KestrelSearchHit *hit = g_object_get_data (G_OBJECT (row), "hit");
  gint64 id = kestrel_search_hit_get_conversation_id (hit);

  kestrel_sidebar_select_conversation (self, id);
  _kestrel_sidebar_emit_activated (self, id);
}

void
kestrel_sidebar_focus_search (KestrelSidebar *self)
{
  g_return_if_fail (KESTREL_IS_SIDEBAR (self));

  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
  gtk_editable_select_region (GTK_EDITABLE (self->search_entry), 0, -1);
}


static void
search_changed_cb (KestrelSidebar *self)
{
  _kestrel_sidebar_search_again (self);
}

void
_kestrel_sidebar_init_search (KestrelSidebar *self)
{
  GtkEventController *keys = gtk_event_controller_key_new ();

  self->results = g_list_store_new (KESTREL_TYPE_SEARCH_HIT);
  gtk_list_box_bind_model (self->results_box, G_LIST_MODEL (self->results),
                           create_result_row, NULL, NULL);
  g_signal_connect_swapped (self->search_entry, "search-changed", G_CALLBACK (search_changed_cb), self);
  g_signal_connect_swapped (self->search_entry, "stop-search", G_CALLBACK (stop_search_cb), self);
  g_signal_connect_swapped (self->search_entry, "activate", G_CALLBACK (search_activate_cb), self);
  g_signal_connect_swapped (self->results_box, "row-activated", G_CALLBACK (result_activated_cb), self);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (search_key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->search_entry), keys);
}

void
_kestrel_sidebar_dispose_search (KestrelSidebar *self)
{
  g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);
  g_clear_object (&self->results);
}
