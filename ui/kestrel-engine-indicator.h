/* kestrel-engine-indicator.h — the engine's state for the header bar: loading progress,
 * the device in use, or the load error with a retry button.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Emits "retry" when the user asks to load the model again after a failure.
 */
#pragma once

#include <gtk/gtk.h>

#include "kestrel-engine.h"

G_BEGIN_DECLS

#define KESTREL_TYPE_ENGINE_INDICATOR (kestrel_engine_indicator_get_type ())

G_DECLARE_FINAL_TYPE (KestrelEngineIndicator, kestrel_engine_indicator, KESTREL, ENGINE_INDICATOR, GtkWidget)

GtkWidget     *kestrel_engine_indicator_new        (void);
KestrelEngine *kestrel_engine_indicator_get_engine (KestrelEngineIndicator *self);
void           kestrel_engine_indicator_set_engine (KestrelEngineIndicator *self,
                                                    KestrelEngine          *engine);

G_END_DECLS
