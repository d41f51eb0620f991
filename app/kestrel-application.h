/* kestrel-application.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define KESTREL_TYPE_APPLICATION (kestrel_application_get_type ())

G_DECLARE_FINAL_TYPE (KestrelApplication, kestrel_application, KESTREL, APPLICATION, AdwApplication)

/* The app layer does not know the widgets (ui/ depends on app/, never the reverse), so the
 * composition root (main.c, tests) hands in how a main window is made. */
typedef GtkWindow *(*KestrelWindowFactory) (KestrelApplication *application);

KestrelApplication *kestrel_application_new (KestrelWindowFactory window_factory);

G_END_DECLS
