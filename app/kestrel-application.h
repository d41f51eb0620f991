/* kestrel-application.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "kestrel-engine.h"
#include "kestrel-store.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_APPLICATION (kestrel_application_get_type ())

G_DECLARE_FINAL_TYPE (KestrelApplication, kestrel_application, KESTREL, APPLICATION, AdwApplication)

/* The app layer does not know the widgets (ui/ depends on app/, never the reverse), so the
 * composition root (main.c, tests) hands in how a main window is made. */
typedef GtkWindow *(*KestrelWindowFactory) (KestrelApplication *application);

KestrelApplication *kestrel_application_new (KestrelWindowFactory window_factory);

/* The one engine (one engine thread) and the one conversation store of the process, made
 * at startup.  When the database cannot be opened the store is an in-memory one and
 * get_store_problem() says what happened (for a toast in the first window). */
KestrelEngine      *kestrel_application_get_engine        (KestrelApplication *self);
KestrelStore       *kestrel_application_get_store         (KestrelApplication *self);
const char         *kestrel_application_get_store_problem (KestrelApplication *self);
GSettings          *kestrel_application_get_settings      (KestrelApplication *self);

G_END_DECLS
