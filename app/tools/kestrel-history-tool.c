/* kestrel-history-tool.c — built-in tool: search in conversation history.
 *
 * The store (SQLite FTS) implements KestrelHistorySource; this tool only validates, bounds
 * and shapes the call.  It needs approval: it reads the user's other conversations.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include "kestrel-history-tool.h"

#define DEFAULT_LIMIT 5
#define MAX_LIMIT     20

G_DEFINE_INTERFACE (KestrelHistorySource, kestrel_history_source, G_TYPE_OBJECT)

static void
kestrel_history_source_default_init (KestrelHistorySourceInterface *iface)
{
}

/**
 * kestrel_history_source_search:
 *
 * Returns: (transfer full): the matches, or %NULL with @error set.
 */
JsonArray *
kestrel_history_source_search (KestrelHistorySource  *self,
                               const char            *query,
                               guint                  limit,
                               GCancellable          *cancellable,
                               GError               **error)
{
  g_return_val_if_fail (KESTREL_IS_HISTORY_SOURCE (self), NULL);
  g_return_val_if_fail (query != NULL, NULL);

  return KESTREL_HISTORY_SOURCE_GET_IFACE (self)->search (self, query, limit, cancellable, error);
}

struct _KestrelHistoryTool
{
  KestrelTool           parent_instance;

  KestrelHistorySource *source;
};

G_DEFINE_FINAL_TYPE (KestrelHistoryTool, kestrel_history_tool, KESTREL_TYPE_TOOL)

static const char schema[] =
  "{\"type\": \"object\","
  " \"properties\": {"
  "   \"query\": {\"type\": \"string\", \"minLength\": 1, \"description\": \"Words to look for\"},"
  "   \"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 20, \"description\": \"Most results to return (default 5)\"}},"
  " \"required\": [\"query\"], \"additionalProperties\": false}";

static JsonNode *
kestrel_history_tool_run (KestrelTool      *tool,
                          KestrelToolCall  *call,
                          GCancellable     *cancellable,
                          GError          **error)
{
  KestrelHistoryTool *self = KESTREL_HISTORY_TOOL (tool);
  const char *query = json_object_get_string_member (call->arguments, "query");
  gint64 limit = json_object_get_int_member_with_default (call->arguments, "limit", DEFAULT_LIMIT);
  g_autoptr(JsonArray) results = NULL;
  JsonObject *object;

  results = kestrel_history_source_search (self->source, query, (guint) CLAMP (limit, 1, MAX_LIMIT),
                                           cancellable, error);
  if (results == NULL)
    return NULL;
  while (json_array_get_length (results) > (guint) CLAMP (limit, 1, MAX_LIMIT))
    json_array_remove_element (results, json_array_get_length (results) - 1);

  object = json_object_new ();
  json_object_set_string_member (object, "query", query);
  json_object_set_array_member (object, "results", g_steal_pointer (&results));
  {
    JsonNode *node = json_node_alloc ();

    json_node_init (node, JSON_NODE_OBJECT);
    json_node_take_object (node, object);
    return node;
  }
}

static void
kestrel_history_tool_dispose (GObject *object)
{
  g_clear_object (&KESTREL_HISTORY_TOOL (object)->source);

  G_OBJECT_CLASS (kestrel_history_tool_parent_class)->dispose (object);
}

static void
kestrel_history_tool_class_init (KestrelHistoryToolClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = kestrel_history_tool_dispose;
  KESTREL_TOOL_CLASS (klass)->run = kestrel_history_tool_run;
}

static void
kestrel_history_tool_init (KestrelHistoryTool *self)
{
}

KestrelTool *
kestrel_history_tool_new (KestrelHistorySource *source)
{
  g_autoptr(JsonObject) parameters = kestrel_tool_parse_schema (schema);
  KestrelHistoryTool *self;

  g_return_val_if_fail (KESTREL_IS_HISTORY_SOURCE (source), NULL);

  self = g_object_new (KESTREL_TYPE_HISTORY_TOOL,
                       "name", "search_history",
                       "description", "Searches the user's earlier conversations for words and returns matching snippets.",
                       "parameters", parameters,
                       "requires-approval", TRUE,
                       NULL);
  self->source = g_object_ref (source);
  return KESTREL_TOOL (self);
}
