/* kestrel-sidebar.h — the conversations sidebar: grouped list, search, row actions.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "kestrel-store.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_SIDEBAR (kestrel_sidebar_get_type ())

G_DECLARE_FINAL_TYPE (KestrelSidebar, kestrel_sidebar, KESTREL, SIDEBAR, AdwBin)

/* The date group a conversation is listed under. */
typedef enum
{
  KESTREL_SIDEBAR_GROUP_PINNED,
  KESTREL_SIDEBAR_GROUP_TODAY,
  KESTREL_SIDEBAR_GROUP_YESTERDAY,
  KESTREL_SIDEBAR_GROUP_PREVIOUS_7_DAYS,
  KESTREL_SIDEBAR_GROUP_OLDER,
} KestrelSidebarGroup;

GtkWidget           *kestrel_sidebar_new                 (void);
/* Lists the store's (unarchived) conversations; searching and the row actions use it too. */
void                 kestrel_sidebar_set_store           (KestrelSidebar      *self,
                                                          KestrelStore        *store);
KestrelStore        *kestrel_sidebar_get_store           (KestrelSidebar      *self);
/* The conversations shown, in order: those deleted but still undoable are left out. */
GListModel          *kestrel_sidebar_get_conversations   (KestrelSidebar      *self);
/* Marks the open conversation (0: none). */
void                 kestrel_sidebar_select_conversation (KestrelSidebar      *self,
                                                          gint64               conversation_id);
gint64               kestrel_sidebar_get_selected_id     (KestrelSidebar      *self);
void                 kestrel_sidebar_focus_search        (KestrelSidebar      *self);
/* The toast offering to undo the latest deletion while it is shown, else NULL. */
AdwToast            *kestrel_sidebar_get_undo_toast      (KestrelSidebar      *self);

KestrelSidebarGroup  kestrel_sidebar_group_for           (KestrelConversation *conversation,
                                                          GDateTime           *now);
const char          *kestrel_sidebar_group_title         (KestrelSidebarGroup  group);

G_END_DECLS
