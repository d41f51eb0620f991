/* kestrel-sidebar-private.h — shared between kestrel-sidebar.c (list, groups, search) and
 * kestrel-sidebar-actions.c (rename, pin, delete with undo) and kestrel-sidebar-search.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-conversation-list.h"
#include "kestrel-sidebar.h"

G_BEGIN_DECLS

struct _KestrelSidebar
{
  AdwBin                   parent_instance;

  GtkSearchEntry          *search_entry;
  GtkStack                *stack;
  GtkListBox              *list_box;
  GtkListBox              *results_box;

  KestrelStore            *store;
  KestrelConversationList *conversations;
  GtkCustomFilter         *hidden_filter;
  GtkFilterListModel      *shown;        /* conversations less the hidden ones */
  GHashTable              *hidden;       /* KestrelConversation (owned) deleted, undo still possible */
  GListStore              *results;      /* KestrelSearchHit */
  GCancellable            *search_cancellable;
  GPtrArray               *pending;      /* PendingDelete (owned), not yet committed */
  GWeakRef                 undo_toast;
  gint64                   selected_id;
  guint                    midnight_source;
};

KestrelConversation *_kestrel_sidebar_find (KestrelSidebar *self,
                                            gint64          conversation_id);
void                 _kestrel_sidebar_set_hidden (KestrelSidebar      *self,
                                                  KestrelConversation *conversation,
                                                  gboolean             hidden);
void                 _kestrel_sidebar_class_add_actions (GtkWidgetClass *widget_class);
void                 _kestrel_sidebar_commit_pending    (KestrelSidebar *self);
void                 _kestrel_sidebar_pending_release   (gpointer        pending);
void                 _kestrel_sidebar_popup_row_menu    (GtkListBoxRow  *row);
GtkListBoxRow       *_kestrel_sidebar_get_focus_row     (KestrelSidebar *self);
/* The title, or "New Conversation" while it has none. */
const char          *_kestrel_sidebar_display_title     (const char     *title);
void                 _kestrel_sidebar_emit_activated    (KestrelSidebar *self,
                                                         gint64          conversation_id);
/* kestrel-sidebar-search.c */
void                 _kestrel_sidebar_init_search       (KestrelSidebar *self);
void                 _kestrel_sidebar_dispose_search    (KestrelSidebar *self);
void                 _kestrel_sidebar_search_again      (KestrelSidebar *self);
GtkListBox          *_kestrel_sidebar_visible_box       (KestrelSidebar *self);

G_END_DECLS
