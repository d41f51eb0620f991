/* kestrel-json-schema.h — validation against the JSON-schema subset tool declarations use.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

gboolean kestrel_json_schema_validate (JsonNode    *value,
                                       JsonObject  *schema,
                                       GError     **error);

G_END_DECLS
