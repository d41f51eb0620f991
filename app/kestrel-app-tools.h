/* kestrel-app-tools.h — the tools the app offers the model.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-store.h"
#include "kestrel-tool-registry.h"

G_BEGIN_DECLS

/* The user's command tools: $XDG_CONFIG_HOME/kestrel/tools.json (docs/tool-calling.md §4). */
char                *kestrel_app_tools_dup_external_path (void);

/* A registry with the built-in tools (date and time, calculator, unit conversion, history
 * search over `store`, read a file the user picks) and, when `external_path` is not NULL
 * and the file exists, the user's command tools from it.  A bad external file adds none
 * of its tools and is reported in `error` (the built-in tools are still there). */
KestrelToolRegistry *kestrel_app_tools_new               (KestrelStore  *store,
                                                          const char    *external_path,
                                                          GError       **error);

G_END_DECLS
