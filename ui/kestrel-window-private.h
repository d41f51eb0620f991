/* kestrel-window-private.h — what kestrel-window-session.c needs of the window.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-token-store.h"
#include "kestrel-window.h"

G_BEGIN_DECLS

AdwToastOverlay *kestrel_window_get_toast_overlay      (KestrelWindow  *self);
/* In the collapsed (narrow) layout, shows the content page instead of the sidebar. */
void             kestrel_window_show_content           (KestrelWindow  *self);
void             _kestrel_window_class_add_session_actions (GtkWidgetClass *widget_class);
/* Instead of the keyring (tests); after attach_session. */
void             _kestrel_window_set_token_store       (KestrelWindow       *self,
                                                        KestrelTokenStore   *token_store);

/* Connects the preferences dialog's clear-history to the session's store (no session: no-op). */
void             _kestrel_window_session_connect_preferences (KestrelWindow *self,
                                                              AdwDialog     *dialog);

G_END_DECLS
