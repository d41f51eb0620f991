/* kestrel-tool-prompt.h — the Gemma 3 pythonic tool-calling prompt format.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

char *kestrel_tool_prompt_json_dumps       (JsonNode    *node,
                                            gboolean     indent);
char *kestrel_tool_prompt_strip            (const char  *text);
char *kestrel_tool_prompt_declarations     (JsonArray   *tools);
char *kestrel_tool_prompt_first_user_turn  (const char  *system,
                                            JsonArray   *tools,
                                            const char  *content);
char *kestrel_tool_prompt_calls            (GPtrArray   *calls,
                                            gboolean     template_compat);
char *kestrel_tool_prompt_model_call_turn  (GPtrArray   *calls,
                                            const char  *content,
                                            gboolean     template_compat);
char *kestrel_tool_prompt_result_turn      (const char  *result);

G_END_DECLS
