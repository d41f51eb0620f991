/* kestrel-tool-call-syntax.h — the call forms: pythonic lists, bare calls, JSON objects.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kestrel-tool-call.h"

G_BEGIN_DECLS

#define KESTREL_TOOL_CALLS_MAX 16

GPtrArray *kestrel_tool_calls_parse_pythonic (const char  *text,
                                              gsize        len,
                                              GError     **error);
GPtrArray *kestrel_tool_calls_parse_bare     (const char  *text,
                                              gsize        len,
                                              GError     **error);
GPtrArray *kestrel_tool_calls_parse_json     (const char  *text,
                                              gsize        len,
                                              GError     **error);

G_END_DECLS
