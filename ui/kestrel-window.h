/* kestrel-window.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "kestrel-application.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_WINDOW (kestrel_window_get_type ())

G_DECLARE_FINAL_TYPE (KestrelWindow, kestrel_window, KESTREL, WINDOW, AdwApplicationWindow)

KestrelWindow *kestrel_window_new (KestrelApplication *application);

G_END_DECLS
