/* kestrel-preferences-dialog.h — the app's settings, bound to GSettings.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Emits "clear-history" after the user confirmed it in an alert.
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* The schema ID is the same in the .Devel profile (see the schema file). */
#define KESTREL_SETTINGS_SCHEMA_ID "io.github.kestrelchat.Kestrel"

#define KESTREL_TYPE_PREFERENCES_DIALOG (kestrel_preferences_dialog_get_type ())

G_DECLARE_FINAL_TYPE (KestrelPreferencesDialog, kestrel_preferences_dialog, KESTREL, PREFERENCES_DIALOG, AdwPreferencesDialog)

AdwDialog *kestrel_preferences_dialog_new (GSettings *settings);
/* Asks for confirmation, then emits "clear-history" (what the clear button does). */
void       kestrel_preferences_dialog_confirm_clear_history (KestrelPreferencesDialog *self);

G_END_DECLS
