/* kestrel-sidebar.c — the conversations sidebar: the store's conversations grouped by date
 * (pinned first), full-text search with highlighted snippets, and the rows' menus.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The list is a GtkListBox bound to the KestrelConversationList (already in sidebar order:
 * pinned, then most recently updated), filtered to leave out conversations whose deletion
 * can still be undone. Group headers come from the header function, so a group is simply
 * a run of rows. The row actions live in kestrel-sidebar-actions.c, the search in
 * kestrel-sidebar-search.c.
 */
#define G_LOG_DOMAIN "kestrel-sidebar"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-sidebar-private.h"

G_DEFINE_FINAL_TYPE (KestrelSidebar, kestrel_sidebar, ADW_TYPE_BIN)

enum {
  CONVERSATION_ACTIVATED,
  CONVERSATION_REMOVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

GtkWidget *
kestrel_sidebar_new (void)
{
  return g_object_new (KESTREL_TYPE_SIDEBAR, NULL);
}

/* ---- date groups --------------------------------------------------------------------- */

KestrelSidebarGroup
kestrel_sidebar_group_for (KestrelConversation *conversation,
                           GDateTime           *now)
{
  g_autoptr(GDateTime) today = NULL;
  g_autoptr(GDateTime) yesterday = NULL;
  g_autoptr(GDateTime) week = NULL;
  gint64 updated;

  g_return_val_if_fail (KESTREL_IS_CONVERSATION (conversation), KESTREL_SIDEBAR_GROUP_OLDER);
  g_return_val_if_fail (now != NULL, KESTREL_SIDEBAR_GROUP_OLDER);

  if (kestrel_conversation_get_pinned (conversation))
    return KESTREL_SIDEBAR_GROUP_PINNED;

  /* Day boundaries in local time; add_days keeps them right across DST changes. */
  today = g_date_time_new_local (g_date_time_get_year (now), g_date_time_get_month (now),
                                 g_date_time_get_day_of_month (now), 0, 0, 0);
  yesterday = g_date_time_add_days (today, -1);
  week = g_date_time_add_days (today, -7);
  updated = kestrel_conversation_get_updated_at (conversation);

  /* A time in the future (a clock set back) counts as today. */
  if (updated >= g_date_time_to_unix_usec (today))
    return KESTREL_SIDEBAR_GROUP_TODAY;
  if (updated >= g_date_time_to_unix_usec (yesterday))
    return KESTREL_SIDEBAR_GROUP_YESTERDAY;
  if (updated >= g_date_time_to_unix_usec (week))
    return KESTREL_SIDEBAR_GROUP_PREVIOUS_7_DAYS;
  return KESTREL_SIDEBAR_GROUP_OLDER;
}

const char *
kestrel_sidebar_group_title (KestrelSidebarGroup group)
{
  switch (group)
    {
    case KESTREL_SIDEBAR_GROUP_PINNED: return _("Pinned");
    case KESTREL_SIDEBAR_GROUP_TODAY: return _("Today");
    case KESTREL_SIDEBAR_GROUP_YESTERDAY: return _("Yesterday");
    case KESTREL_SIDEBAR_GROUP_PREVIOUS_7_DAYS: return _("Previous 7 Days");
    case KESTREL_SIDEBAR_GROUP_OLDER:
    default:
      return _("Older");
    }
}

static KestrelConversation *
row_conversation (GtkListBoxRow *row)
{
  return g_object_get_data (G_OBJECT (row), "conversation");
}

static void
update_header (GtkListBoxRow *row,
               GtkListBoxRow *before,
               gpointer       user_data)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  KestrelSidebarGroup group = kestrel_sidebar_group_for (row_conversation (row), now);
  GtkWidget *header;

  if (before != NULL && kestrel_sidebar_group_for (row_conversation (before), now) == group)
    {
      gtk_list_box_row_set_header (row, NULL);
      return;
    }

  header = gtk_list_box_row_get_header (row);
  if (header != NULL && GPOINTER_TO_INT (g_object_get_data (G_OBJECT (header), "group")) == (int) group + 1)
    return;

  header = gtk_label_new (kestrel_sidebar_group_title (group));
  gtk_label_set_xalign (GTK_LABEL (header), 0);
  gtk_widget_add_css_class (header, "heading");
  gtk_widget_add_css_class (header, "dim-label");
  gtk_widget_set_margin_start (header, 12);
  gtk_widget_set_margin_top (header, 12);
  gtk_widget_set_margin_bottom (header, 3);
  g_object_set_data (G_OBJECT (header), "group", GINT_TO_POINTER ((int) group + 1));
  gtk_list_box_row_set_header (row, header);
}

/* Today becomes Yesterday at midnight: redraw the headers then. */
static gboolean midnight_cb (gpointer user_data);

static void
schedule_midnight (KestrelSidebar *self)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) today = g_date_time_new_local (g_date_time_get_year (now), g_date_time_get_month (now),
                                                      g_date_time_get_day_of_month (now), 0, 0, 0);
  g_autoptr(GDateTime) tomorrow = g_date_time_add_days (today, 1);
  GTimeSpan until = g_date_time_difference (tomorrow, now);

  self->midnight_source = g_timeout_add_seconds ((guint) (until / G_USEC_PER_SEC) + 1, midnight_cb, self);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->midnight_source),
                            "[kestrel-sidebar] midnight");
}

static gboolean
midnight_cb (gpointer user_data)
{
  KestrelSidebar *self = user_data;

  gtk_list_box_invalidate_headers (self->list_box);
  schedule_midnight (self);
  return G_SOURCE_REMOVE;
}

/* ---- conversation rows --------------------------------------------------------------- */

const char *
_kestrel_sidebar_display_title (const char *title)
{
  return title != NULL && title[0] != '\0' ? title : _("New Conversation");
}

static void
append_item (GMenu      *menu,
             const char *label,
             const char *action,
             gint64      id)
{
  g_autoptr(GMenuItem) item = g_menu_item_new (label, NULL);

  g_menu_item_set_action_and_target_value (item, action, g_variant_new_int64 (id));
  g_menu_append_item (menu, item);
}

static GMenuModel *
create_row_menu (KestrelConversation *conversation)
{
  GMenu *menu = g_menu_new ();
  gint64 id = kestrel_conversation_get_id (conversation);

  append_item (menu, _("_Rename…"), "sidebar.rename", id);
  append_item (menu, kestrel_conversation_get_pinned (conversation) ? _("Un_pin") : _("_Pin"),
               "sidebar.toggle-pin", id);
  append_item (menu, _("_Delete"), "sidebar.delete", id);
  return G_MENU_MODEL (menu);
}

void
_kestrel_sidebar_popup_row_menu (GtkListBoxRow *row)
{
  GtkMenuButton *button = g_object_get_data (G_OBJECT (row), "menu-button");

  if (button != NULL)
    gtk_menu_button_popup (button);
}

static void
row_secondary_click_cb (GtkGestureClick *gesture,
                        int              n_press,
                        double           x,
                        double           y,
                        GtkListBoxRow   *row)
{
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  _kestrel_sidebar_popup_row_menu (row);
}

static void
row_long_press_cb (GtkGestureLongPress *gesture,
                   double               x,
                   double               y,
                   GtkListBoxRow       *row)
{
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  _kestrel_sidebar_popup_row_menu (row);
}

static GtkWidget *
create_conversation_row (gpointer item,
                         gpointer user_data)
{
  KestrelConversation *conversation = item;
  const char *title = _kestrel_sidebar_display_title (kestrel_conversation_get_title (conversation));
  gboolean pinned = kestrel_conversation_get_pinned (conversation);
  g_autoptr(GMenuModel) menu = create_row_menu (conversation);
  g_autofree char *menu_label = g_strdup_printf (_("Menu for “%s”"), title);
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *label = gtk_label_new (title);
  GtkWidget *button = gtk_menu_button_new ();
  GtkGesture *click = gtk_gesture_click_new ();
  GtkGesture *long_press = gtk_gesture_long_press_new ();

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_box_append (GTK_BOX (box), label);

  if (pinned)
    {
      GtkWidget *icon = gtk_image_new_from_icon_name ("view-pin-symbolic");

      gtk_widget_set_tooltip_text (icon, _("Pinned"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Pinned"), -1);
      gtk_box_append (GTK_BOX (box), icon);
    }

  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (button), "view-more-symbolic");
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (button), menu);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_add_css_class (button, "conversation-menu");
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (button, _("Conversation Menu"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, menu_label, -1);
  gtk_box_append (GTK_BOX (box), button);

  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect_object (click, "pressed", G_CALLBACK (row_secondary_click_cb), row, 0);
  gtk_widget_add_controller (row, GTK_EVENT_CONTROLLER (click));
  gtk_gesture_single_set_touch_only (GTK_GESTURE_SINGLE (long_press), TRUE);
  g_signal_connect_object (long_press, "pressed", G_CALLBACK (row_long_press_cb), row, 0);
  gtk_widget_add_controller (row, GTK_EVENT_CONTROLLER (long_press));

  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
  g_object_set_data_full (G_OBJECT (row), "conversation", g_object_ref (conversation), g_object_unref);
  g_object_set_data (G_OBJECT (row), "menu-button", button);
  return row;
}

/* Activating (a click, Enter) also works on the open conversation: in the narrow layout it
 * shows the chat again. */
static void
row_activated_cb (KestrelSidebar *self,
                  GtkListBoxRow  *row)
{
  gint64 id = kestrel_conversation_get_id (row_conversation (row));

  self->selected_id = id;
  g_signal_emit (self, signals[CONVERSATION_ACTIVATED], 0, id);
}

/* Selecting (a click, or the arrow keys moving through the list) opens the conversation;
 * selections made here to mark the open one change nothing. */
static void
row_selected_cb (KestrelSidebar *self,
                 GtkListBoxRow  *row)
{
  gint64 id;

  if (row == NULL)
    return;
  id = kestrel_conversation_get_id (row_conversation (row));
  if (id == self->selected_id)
    return;
  self->selected_id = id;
  g_signal_emit (self, signals[CONVERSATION_ACTIVATED], 0, id);
}

static int
find_shown_position (KestrelSidebar *self,
                     gint64          conversation_id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->shown));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(KestrelConversation) conversation = g_list_model_get_item (G_LIST_MODEL (self->shown), i);

      if (kestrel_conversation_get_id (conversation) == conversation_id)
        return (int) i;
    }
  return -1;
}

static void
reselect (KestrelSidebar *self)
{
  int position = self->selected_id != 0 ? find_shown_position (self, self->selected_id) : -1;
  GtkListBoxRow *row = position >= 0 ? gtk_list_box_get_row_at_index (self->list_box, position) : NULL;

  if (row == NULL)
    gtk_list_box_unselect_all (self->list_box);
  else if (gtk_list_box_get_selected_row (self->list_box) != row)
    gtk_list_box_select_row (self->list_box, row);
}

/* A changed conversation's row is made anew (title, pin): keep the open one marked. */
static void
shown_items_changed_cb (KestrelSidebar *self)
{
  reselect (self);
}

void
kestrel_sidebar_select_conversation (KestrelSidebar *self,
                                     gint64          conversation_id)
{
  g_return_if_fail (KESTREL_IS_SIDEBAR (self));

  self->selected_id = conversation_id;
  reselect (self);
}

gint64
kestrel_sidebar_get_selected_id (KestrelSidebar *self)
{
  g_return_val_if_fail (KESTREL_IS_SIDEBAR (self), 0);
  return self->selected_id;
}

void
_kestrel_sidebar_emit_activated (KestrelSidebar *self,
                                 gint64          conversation_id)
{
  g_signal_emit (self, signals[CONVERSATION_ACTIVATED], 0, conversation_id);
}

/* ---- hidden (deleted, undo still possible) ------------------------------------------- */

static gboolean
shown_filter_cb (gpointer item,
                 gpointer user_data)
{
  KestrelSidebar *self = user_data;

  return !g_hash_table_contains (self->hidden, item);
}

void
_kestrel_sidebar_set_hidden (KestrelSidebar      *self,
                             KestrelConversation *conversation,
                             gboolean             hidden)
{
  gboolean changed;

  if (hidden)
    changed = g_hash_table_add (self->hidden, g_object_ref (conversation));
  else
    changed = g_hash_table_remove (self->hidden, conversation);
  if (changed)
    gtk_filter_changed (GTK_FILTER (self->hidden_filter),
                        hidden ? GTK_FILTER_CHANGE_MORE_STRICT : GTK_FILTER_CHANGE_LESS_STRICT);
  if (hidden)
    {
      gint64 id = kestrel_conversation_get_id (conversation);

      if (self->selected_id == id)
        self->selected_id = 0;
      g_signal_emit (self, signals[CONVERSATION_REMOVED], 0, id);
    }
}

KestrelConversation *
_kestrel_sidebar_find (KestrelSidebar *self,
                       gint64          conversation_id)
{
  int position = find_shown_position (self, conversation_id);
  g_autoptr(KestrelConversation) conversation = NULL;

  if (position < 0)
    return NULL;
  /* The list holds a reference as long as it is listed. */
  conversation = g_list_model_get_item (G_LIST_MODEL (self->shown), (guint) position);
  return conversation;
}

/* ---- keyboard on the list ------------------------------------------------------------- */

GtkListBoxRow *
_kestrel_sidebar_get_focus_row (KestrelSidebar *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;
  GtkWidget *row = focus ? gtk_widget_get_ancestor (focus, GTK_TYPE_LIST_BOX_ROW) : NULL;

  if (row != NULL && gtk_widget_get_parent (row) == GTK_WIDGET (self->list_box))
    return GTK_LIST_BOX_ROW (row);
  return gtk_list_box_get_selected_row (self->list_box);
}

static gboolean
row_shortcut_cb (GtkWidget *widget,
                 GVariant  *args,
                 gpointer   user_data)
{
  KestrelSidebar *self = KESTREL_SIDEBAR (gtk_widget_get_ancestor (widget, KESTREL_TYPE_SIDEBAR));
  const char *what = user_data;
  GtkListBoxRow *row = _kestrel_sidebar_get_focus_row (self);
  g_autofree char *action = NULL;

  if (row == NULL)
    return FALSE;
  if (g_str_equal (what, "menu"))
    {
      _kestrel_sidebar_popup_row_menu (row);
      return TRUE;
    }
  action = g_strconcat ("sidebar.", what, NULL);
  return gtk_widget_activate_action (GTK_WIDGET (self), action, "x",
                                     kestrel_conversation_get_id (row_conversation (row)));
}

static void
add_row_shortcut (GtkShortcutController *controller,
                  const char            *trigger,
                  const char            *what)
{
  gtk_shortcut_controller_add_shortcut (controller,
                                        gtk_shortcut_new (gtk_shortcut_trigger_parse_string (trigger),
                                                          gtk_callback_action_new (row_shortcut_cb,
                                                                                   (gpointer) what, NULL)));
}

/* ---- the object ----------------------------------------------------------------------- */

void
kestrel_sidebar_set_store (KestrelSidebar *self,
                           KestrelStore   *store)
{
  g_return_if_fail (KESTREL_IS_SIDEBAR (self));
  g_return_if_fail (store == NULL || KESTREL_IS_STORE (store));

  if (self->store == store)
    return;

  _kestrel_sidebar_commit_pending (self);
  g_set_object (&self->store, store);
  g_clear_object (&self->conversations);
  g_hash_table_remove_all (self->hidden);
  if (store != NULL)
    self->conversations = kestrel_conversation_list_new (store, FALSE);
  gtk_filter_list_model_set_model (self->shown, G_LIST_MODEL (self->conversations));
  _kestrel_sidebar_search_again (self);
}

KestrelStore *
kestrel_sidebar_get_store (KestrelSidebar *self)
{
  g_return_val_if_fail (KESTREL_IS_SIDEBAR (self), NULL);
  return self->store;
}

GListModel *
kestrel_sidebar_get_conversations (KestrelSidebar *self)
{
  g_return_val_if_fail (KESTREL_IS_SIDEBAR (self), NULL);
  return G_LIST_MODEL (self->shown);
}

AdwToast *
kestrel_sidebar_get_undo_toast (KestrelSidebar *self)
{
  AdwToast *toast;

  g_return_val_if_fail (KESTREL_IS_SIDEBAR (self), NULL);

  /* borrowed: the overlay holds it while it is shown */
  toast = g_weak_ref_get (&self->undo_toast);
  if (toast != NULL)
    g_object_unref (toast);
  return toast;
}

static void
kestrel_sidebar_dispose (GObject *object)
{
  KestrelSidebar *self = (KestrelSidebar *)object;

  /* Deletions whose toast is still up were meant: do them. */
  _kestrel_sidebar_commit_pending (self);
  _kestrel_sidebar_dispose_search (self);
  g_clear_handle_id (&self->midnight_source, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_SIDEBAR);
  g_clear_object (&self->shown);
  g_clear_object (&self->hidden_filter);
  g_clear_object (&self->conversations);
  g_clear_object (&self->store);
  if (self->hidden != NULL)
    g_hash_table_remove_all (self->hidden);

  G_OBJECT_CLASS (kestrel_sidebar_parent_class)->dispose (object);
}

static void
kestrel_sidebar_finalize (GObject *object)
{
  KestrelSidebar *self = (KestrelSidebar *)object;

  g_clear_pointer (&self->hidden, g_hash_table_unref);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_weak_ref_clear (&self->undo_toast);

  G_OBJECT_CLASS (kestrel_sidebar_parent_class)->finalize (object);
}

static void
kestrel_sidebar_class_init (KestrelSidebarClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = kestrel_sidebar_dispose;
  object_class->finalize = kestrel_sidebar_finalize;

  /**
   * KestrelSidebar::conversation-activated:
   * @conversation_id: the conversation chosen in the list or through a search hit
   */
  signals[CONVERSATION_ACTIVATED] =
    g_signal_new ("conversation-activated",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);

  /**
   * KestrelSidebar::conversation-removed:
   * @conversation_id: the conversation the user deleted
   *
   * Emitted when the row goes away, before the store deletes it (the toast's undo can
   * still bring it back); whoever shows it should close it.
   */
  signals[CONVERSATION_REMOVED] =
    g_signal_new ("conversation-removed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-sidebar.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelSidebar, search_entry);
  gtk_widget_class_bind_template_child (widget_class, KestrelSidebar, stack);
  gtk_widget_class_bind_template_child (widget_class, KestrelSidebar, list_box);
  gtk_widget_class_bind_template_child (widget_class, KestrelSidebar, results_box);
  gtk_widget_class_bind_template_callback (widget_class, row_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, row_selected_cb);

  _kestrel_sidebar_class_add_actions (widget_class);
}

static void
kestrel_sidebar_init (KestrelSidebar *self)
{
  GtkShortcutController *shortcuts;
  GtkWidget *placeholder;

  self->hidden = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  self->pending = g_ptr_array_new_with_free_func (_kestrel_sidebar_pending_release);
  g_weak_ref_init (&self->undo_toast, NULL);
  self->hidden_filter = gtk_custom_filter_new (shown_filter_cb, self, NULL);
  self->shown = gtk_filter_list_model_new (NULL, GTK_FILTER (g_object_ref (self->hidden_filter)));

  gtk_widget_init_template (GTK_WIDGET (self));

  gtk_list_box_bind_model (self->list_box, G_LIST_MODEL (self->shown),
                           create_conversation_row, NULL, NULL);
  gtk_list_box_set_header_func (self->list_box, update_header, NULL, NULL);
  placeholder = gtk_label_new (_("No conversations yet"));
  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_label_set_wrap (GTK_LABEL (placeholder), TRUE);
  gtk_widget_set_margin_top (placeholder, 24);
  gtk_widget_set_margin_start (placeholder, 12);
  gtk_widget_set_margin_end (placeholder, 12);
  gtk_list_box_set_placeholder (self->list_box, placeholder);
  g_signal_connect_object (self->shown, "items-changed", G_CALLBACK (shown_items_changed_cb), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);

  shortcuts = GTK_SHORTCUT_CONTROLLER (gtk_shortcut_controller_new ());
  add_row_shortcut (shortcuts, "F2", "rename");
  add_row_shortcut (shortcuts, "Delete", "delete");
  add_row_shortcut (shortcuts, "KP_Delete", "delete");
  add_row_shortcut (shortcuts, "<Control>p", "toggle-pin");
  add_row_shortcut (shortcuts, "<Shift>F10", "menu");
  add_row_shortcut (shortcuts, "Menu", "menu");
  gtk_widget_add_controller (GTK_WIDGET (self->list_box), GTK_EVENT_CONTROLLER (shortcuts));

  _kestrel_sidebar_init_search (self);

  schedule_midnight (self);
}
