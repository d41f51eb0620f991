/* kestrel-json-schema.c — validation against the JSON-schema subset tool declarations use.
 *
 * Supported keywords: type (a name or a list of names), properties, required,
 * additionalProperties (boolean), enum, items (one schema), minimum, maximum, minLength,
 * maxLength, minItems, maxItems.  Unknown keywords (description, default, …) are ignored, as
 * JSON Schema says.  Errors name the path of the offending value ("arguments.unit").
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include <math.h>

#include "kestrel-json-schema.h"
#include "kestrel-tool-call.h"

#define MAX_SCHEMA_DEPTH 32

static gboolean validate (JsonNode *value, JsonObject *schema, const char *path, guint depth, GError **error);

static G_GNUC_PRINTF (3, 4) gboolean
fail (GError    **error,
      const char *path,
      const char *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_INVALID_ARGUMENTS, "%s: %s", path, message);
  return FALSE;
}

static gboolean
node_is_number (JsonNode *node)
{
  GType t = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;
  return t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;
}

static double
node_number (JsonNode *node)
{
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return (double) json_node_get_int (node);
  return json_node_get_double (node);
}

static gboolean
matches_type (JsonNode   *node,
              const char *type)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT: return g_str_equal (type, "object");
    case JSON_NODE_ARRAY:  return g_str_equal (type, "array");
    case JSON_NODE_NULL:   return g_str_equal (type, "null");
    case JSON_NODE_VALUE:
      {
        GType t = json_node_get_value_type (node);

        if (t == G_TYPE_STRING)
          return g_str_equal (type, "string");
        if (t == G_TYPE_BOOLEAN)
          return g_str_equal (type, "boolean");
        if (t == G_TYPE_INT64)
          return g_str_equal (type, "integer") || g_str_equal (type, "number");
        if (t == G_TYPE_DOUBLE)
          return g_str_equal (type, "number");
        return FALSE;
      }
    default:
      return FALSE;
    }
}

static const char *
describe (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT: return "object";
    case JSON_NODE_ARRAY:  return "array";
    case JSON_NODE_NULL:   return "null";
    default:
      {
        GType t = json_node_get_value_type (node);
        return t == G_TYPE_STRING ? "string" : t == G_TYPE_BOOLEAN ? "boolean" :
               t == G_TYPE_INT64 ? "integer" : "number";
      }
    }
}

static gboolean
check_type (JsonNode   *value,
            JsonNode   *type,
            const char *path,
            GError    **error)
{
  if (JSON_NODE_HOLDS_VALUE (type) && json_node_get_value_type (type) == G_TYPE_STRING)
    {
      if (!matches_type (value, json_node_get_string (type)))
        return fail (error, path, "expected %s, got %s", json_node_get_string (type), describe (value));
      return TRUE;
    }
  if (JSON_NODE_HOLDS_ARRAY (type))
    {
      JsonArray *types = json_node_get_array (type);

      for (guint i = 0; i < json_array_get_length (types); i++)
        {
          JsonNode *t = json_array_get_element (types, i);
          if (JSON_NODE_HOLDS_VALUE (t) && json_node_get_value_type (t) == G_TYPE_STRING &&
              matches_type (value, json_node_get_string (t)))
            return TRUE;
        }
      return fail (error, path, "%s is not one of the allowed types", describe (value));
    }
  return fail (error, path, "the schema's \"type\" is malformed");
}

static gboolean
check_enum (JsonNode   *value,
            JsonArray  *choices,
            const char *path,
            GError    **error)
{
  for (guint i = 0; i < json_array_get_length (choices); i++)
    {
      JsonNode *choice = json_array_get_element (choices, i);

      if (node_is_number (value) && node_is_number (choice))
        {
          if (node_number (value) == node_number (choice))
            return TRUE;
        }
      else if (json_node_equal (value, choice))
        return TRUE;
    }
  return fail (error, path, "value is not one of the allowed choices");
}

static gboolean
get_limit (JsonObject *schema,
           const char *key,
           double     *out)
{
  JsonNode *node = json_object_get_member (schema, key);

  if (node == NULL || !node_is_number (node))
    return FALSE;
  *out = node_number (node);
  return TRUE;
}

static gboolean
validate_object (JsonObject *object,
                 JsonObject *schema,
                 const char *path,
                 guint       depth,
                 GError    **error)
{
  JsonNode *properties_node = json_object_get_member (schema, "properties");
  JsonNode *required_node = json_object_get_member (schema, "required");
  JsonNode *additional = json_object_get_member (schema, "additionalProperties");
  JsonObject *properties = properties_node != NULL && JSON_NODE_HOLDS_OBJECT (properties_node) ?
                           json_node_get_object (properties_node) : NULL;
  gboolean closed = additional != NULL && JSON_NODE_HOLDS_VALUE (additional) &&
                    json_node_get_value_type (additional) == G_TYPE_BOOLEAN &&
                    !json_node_get_boolean (additional);
  JsonObjectIter iter;
  const char *key;
  JsonNode *member;

  if (required_node != NULL && JSON_NODE_HOLDS_ARRAY (required_node))
    {
      JsonArray *required = json_node_get_array (required_node);

      for (guint i = 0; i < json_array_get_length (required); i++)
        {
          JsonNode *name = json_array_get_element (required, i);

          if (JSON_NODE_HOLDS_VALUE (name) && json_node_get_value_type (name) == G_TYPE_STRING &&
              !json_object_has_member (object, json_node_get_string (name)))
            return fail (error, path, "missing required argument \"%s\"", json_node_get_string (name));
        }
    }

  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &key, &member))
    {
      g_autofree char *child_path = g_strdup_printf ("%s.%s", path, key);
      JsonNode *sub = properties != NULL ? json_object_get_member (properties, key) : NULL;

      if (sub == NULL)
        {
          if (closed)
            return fail (error, path, "unknown argument \"%s\"", key);
          continue;
        }
      if (!JSON_NODE_HOLDS_OBJECT (sub))
        continue;
      if (!validate (member, json_node_get_object (sub), child_path, depth + 1, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
validate (JsonNode   *value,
          JsonObject *schema,
          const char *path,
          guint       depth,
          GError    **error)
{
  JsonNode *type = json_object_get_member (schema, "type");
  JsonNode *choices = json_object_get_member (schema, "enum");
  double limit;

  if (depth > MAX_SCHEMA_DEPTH)
    return fail (error, path, "value nested too deeply");

  if (type != NULL && !check_type (value, type, path, error))
    return FALSE;
  if (choices != NULL && JSON_NODE_HOLDS_ARRAY (choices) &&
      !check_enum (value, json_node_get_array (choices), path, error))
    return FALSE;

  if (node_is_number (value))
    {
      double v = node_number (value);

      if (get_limit (schema, "minimum", &limit) && v < limit)
        return fail (error, path, "%g is below the minimum %g", v, limit);
      if (get_limit (schema, "maximum", &limit) && v > limit)
        return fail (error, path, "%g is above the maximum %g", v, limit);
    }
  else if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING)
    {
      double n = (double) g_utf8_strlen (json_node_get_string (value), -1);

      if (get_limit (schema, "minLength", &limit) && n < limit)
        return fail (error, path, "text is shorter than %g characters", limit);
      if (get_limit (schema, "maxLength", &limit) && n > limit)
        return fail (error, path, "text is longer than %g characters", limit);
    }
  else if (JSON_NODE_HOLDS_ARRAY (value))
    {
      JsonArray *array = json_node_get_array (value);
      JsonNode *items = json_object_get_member (schema, "items");
      double n = json_array_get_length (array);

      if (get_limit (schema, "minItems", &limit) && n < limit)
        return fail (error, path, "fewer than %g items", limit);
      if (get_limit (schema, "maxItems", &limit) && n > limit)
        return fail (error, path, "more than %g items", limit);
      if (items != NULL && JSON_NODE_HOLDS_OBJECT (items))
        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            g_autofree char *child_path = g_strdup_printf ("%s[%u]", path, i);

            if (!validate (json_array_get_element (array, i), json_node_get_object (items),
                           child_path, depth + 1, error))
              return FALSE;
          }
    }
  else if (JSON_NODE_HOLDS_OBJECT (value))
    {
      if (!validate_object (json_node_get_object (value), schema, path, depth, error))
        return FALSE;
    }

  return TRUE;
}

/**
 * kestrel_json_schema_validate:
 * @value: the value to check (a call's arguments as an object node, say)
 * @schema: the schema
 *
 * Returns: %TRUE if @value satisfies @schema; otherwise sets a
 *   %KESTREL_TOOL_ERROR_INVALID_ARGUMENTS error naming the offending path.
 */
gboolean
kestrel_json_schema_validate (JsonNode    *value,
                              JsonObject  *schema,
                              GError     **error)
{
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (schema != NULL, FALSE);

  return validate (value, schema, "arguments", 0, error);
}
