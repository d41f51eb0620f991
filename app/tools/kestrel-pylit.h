/* kestrel-pylit.h — Python-literal tool-call lists → JSON (the pythonic call grammar).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kestrel-tool-call.h"

G_BEGIN_DECLS

/* Limits on what the parsers accept (larger input is an error, not a crash). */
#define KESTREL_PYLIT_MAX_DEPTH  32
#define KESTREL_PYLIT_MAX_CALLS  16

JsonNode  *kestrel_pylit_parse_value      (const char  *text,
                                           gsize        len,
                                           GError     **error);
GPtrArray *kestrel_pylit_parse_call_list  (const char  *text,
                                           gsize        len,
                                           GError     **error);
GPtrArray *kestrel_pylit_parse_bare_calls (const char  *text,
                                           gsize        len,
                                           GError     **error);
GPtrArray *kestrel_json_parse_calls       (const char  *text,
                                           gsize        len,
                                           GError     **error);
gboolean   kestrel_pylit_is_ident_start   (char         c);
gboolean   kestrel_pylit_is_ident_char    (char         c);

G_END_DECLS
