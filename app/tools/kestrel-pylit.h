/* kestrel-pylit.h — Python literals (tool-call argument values) → JSON.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>


G_BEGIN_DECLS

/* Limits on what the parsers accept (larger input is an error, not a crash). */
#define KESTREL_PYLIT_MAX_DEPTH  32

JsonNode  *kestrel_pylit_parse_value      (const char  *text,
                                           gsize        len,
                                           GError     **error);
JsonNode  *kestrel_pylit_parse_value_at   (const char  *start,
                                           const char **pos,
                                           const char  *end,
                                           GError     **error);
gboolean   kestrel_pylit_is_ident_start   (char         c);
gboolean   kestrel_pylit_is_ident_char    (char         c);

G_END_DECLS
