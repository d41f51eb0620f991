/* kestrel-unit-tool.c — built-in tool: unit conversion.
 *
 * Each unit maps to its kind's base unit as base = (value + offset) × factor, which covers
 * the linear units and the temperature scales.  Units match their aliases exactly first, then
 * ignoring case.  US customary volumes; the year is the Julian year (365.25 days).  Results
 * are rounded to 12 significant digits so that 0.1 + 0.2-style noise does not reach the model.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel-calculator-tool.h"
#include "kestrel-unit-tool.h"

struct _KestrelUnitTool
{
  KestrelTool parent_instance;
};

G_DEFINE_FINAL_TYPE (KestrelUnitTool, kestrel_unit_tool, KESTREL_TYPE_TOOL)

typedef struct
{
  const char *kind;
  const char *aliases;  /* '|'-separated; the first is the canonical symbol */
  double      factor;
  double      offset;
} Unit;

static const Unit units[] = {
  { "length", "m|meter|meters|metre|metres", 1, 0 },
  { "length", "km|kilometer|kilometers|kilometre|kilometres", 1e3, 0 },
  { "length", "cm|centimeter|centimeters|centimetre|centimetres", 1e-2, 0 },
  { "length", "mm|millimeter|millimeters|millimetre|millimetres", 1e-3, 0 },
  { "length", "µm|um|micrometer|micrometers|micron|microns", 1e-6, 0 },
  { "length", "nm|nanometer|nanometers", 1e-9, 0 },
  { "length", "mi|mile|miles", 1609.344, 0 },
  { "length", "yd|yard|yards", 0.9144, 0 },
  { "length", "ft|foot|feet", 0.3048, 0 },
  { "length", "in|inch|inches", 0.0254, 0 },
  { "length", "nmi|nautical mile|nautical miles", 1852, 0 },
  { "mass", "kg|kilogram|kilograms", 1, 0 },
  { "mass", "g|gram|grams", 1e-3, 0 },
  { "mass", "mg|milligram|milligrams", 1e-6, 0 },
  { "mass", "t|tonne|tonnes|metric ton|metric tons", 1e3, 0 },
  { "mass", "lb|lbs|pound|pounds", 0.45359237, 0 },
  { "mass", "oz|ounce|ounces", 0.028349523125, 0 },
  { "mass", "st|stone|stones", 6.35029318, 0 },
  { "temperature", "°C|C|celsius|degC", 1, 273.15 },
  { "temperature", "°F|F|fahrenheit|degF", 5.0 / 9.0, 459.67 },
  { "temperature", "K|kelvin", 1, 0 },
  { "volume", "L|l|liter|liters|litre|litres", 1e-3, 0 },
  { "volume", "mL|ml|milliliter|milliliters|millilitre|millilitres", 1e-6, 0 },
  { "volume", "m3|m³|cubic meter|cubic meters", 1, 0 },
  { "volume", "gal|gallon|gallons", 3.785411784e-3, 0 },
  { "volume", "qt|quart|quarts", 9.46352946e-4, 0 },
  { "volume", "pt|pint|pints", 4.73176473e-4, 0 },
  { "volume", "cup|cups", 2.365882365e-4, 0 },
  { "volume", "fl oz|floz|fluid ounce|fluid ounces", 2.95735295625e-5, 0 },
  { "volume", "tbsp|tablespoon|tablespoons", 1.478676478125e-5, 0 },
  { "volume", "tsp|teaspoon|teaspoons", 4.92892159375e-6, 0 },
  { "time", "s|sec|second|seconds", 1, 0 },
  { "time", "ms|millisecond|milliseconds", 1e-3, 0 },
  { "time", "min|minute|minutes", 60, 0 },
  { "time", "h|hr|hour|hours", 3600, 0 },
  { "time", "d|day|days", 86400, 0 },
  { "time", "wk|week|weeks", 604800, 0 },
  { "time", "yr|year|years", 31557600, 0 },
  { "speed", "m/s|mps|meters per second", 1, 0 },
  { "speed", "km/h|kph|kmh|kilometers per hour", 1 / 3.6, 0 },
  { "speed", "mph|miles per hour", 0.44704, 0 },
  { "speed", "kn|knot|knots", 1852.0 / 3600.0, 0 },
  { "speed", "ft/s|fps|feet per second", 0.3048, 0 },
  { "area", "m2|m²|square meter|square meters", 1, 0 },
  { "area", "km2|km²|square kilometer|square kilometers", 1e6, 0 },
  { "area", "cm2|cm²|square centimeter|square centimeters", 1e-4, 0 },
  { "area", "ha|hectare|hectares", 1e4, 0 },
  { "area", "acre|acres", 4046.8564224, 0 },
  { "area", "ft2|ft²|sq ft|square foot|square feet", 0.09290304, 0 },
  { "area", "mi2|mi²|sq mi|square mile|square miles", 2589988.110336, 0 },
  { "data", "B|byte|bytes", 1, 0 },
  { "data", "bit|bits", 0.125, 0 },
  { "data", "kB|KB|kilobyte|kilobytes", 1e3, 0 },
  { "data", "MB|megabyte|megabytes", 1e6, 0 },
  { "data", "GB|gigabyte|gigabytes", 1e9, 0 },
  { "data", "TB|terabyte|terabytes", 1e12, 0 },
  { "data", "KiB|kibibyte|kibibytes", 1024, 0 },
  { "data", "MiB|mebibyte|mebibytes", 1048576, 0 },
  { "data", "GiB|gibibyte|gibibytes", 1073741824, 0 },
  { "data", "TiB|tebibyte|tebibytes", 1099511627776, 0 },
  { "energy", "J|joule|joules", 1, 0 },
  { "energy", "kJ|kilojoule|kilojoules", 1e3, 0 },
  { "energy", "cal|calorie|calories", 4.184, 0 },
  { "energy", "kcal|kilocalorie|kilocalories", 4184, 0 },
  { "energy", "Wh|watt hour|watt hours", 3600, 0 },
  { "energy", "kWh|kilowatt hour|kilowatt hours", 3.6e6, 0 },
  { "pressure", "Pa|pascal|pascals", 1, 0 },
  { "pressure", "kPa|kilopascal|kilopascals", 1e3, 0 },
  { "pressure", "bar|bars", 1e5, 0 },
  { "pressure", "atm|atmosphere|atmospheres", 101325, 0 },
  { "pressure", "psi", 6894.757293168, 0 },
  { "pressure", "mmHg", 133.322387415, 0 },
};

static gboolean
alias_matches (const char *aliases,
               const char *name,
               gboolean    fold_case)
{
  g_auto(GStrv) list = g_strsplit (aliases, "|", -1);

  for (guint i = 0; list[i] != NULL; i++)
    if (fold_case ? g_ascii_strcasecmp (list[i], name) == 0 : strcmp (list[i], name) == 0)
      return TRUE;
  return FALSE;
}

static const Unit *
find_unit (const char  *name,
           GError     **error)
{
  g_autofree char *trimmed = g_strstrip (g_strdup (name));

  for (int pass = 0; pass < 2; pass++)
    for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
      if (alias_matches (units[i].aliases, trimmed, pass == 1))
        return &units[i];

  g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
               "Unknown unit “%s” (known kinds: length, mass, temperature, volume, time, speed, "
               "area, data, energy, pressure)", name);
  return NULL;
}

static char *
symbol (const Unit *unit)
{
  const char *bar = strchr (unit->aliases, '|');

  return bar != NULL ? g_strndup (unit->aliases, bar - unit->aliases) : g_strdup (unit->aliases);
}

/**
 * kestrel_unit_convert:
 *
 * Converts @value from one unit to another of the same kind.
 */
gboolean
kestrel_unit_convert (double       value,
                      const char  *from,
                      const char  *to,
                      double      *result,
                      GError     **error)
{
  const Unit *a = find_unit (from, error);
  const Unit *b = a != NULL ? find_unit (to, error) : NULL;
  char buf[64];
  double base, out;

  if (a == NULL || b == NULL)
    return FALSE;
  if (!g_str_equal (a->kind, b->kind))
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "Cannot convert %s (%s) to %s (%s)", from, a->kind, to, b->kind);
      return FALSE;
    }
  base = (value + a->offset) * a->factor;
  if (g_str_equal (a->kind, "temperature") && base < 0)
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "%g %s is below absolute zero", value, from);
      return FALSE;
    }
  out = base / b->factor - b->offset;
  if (!isfinite (out))
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                           "The result is too large");
      return FALSE;
    }
  g_snprintf (buf, sizeof buf, "%.12g", out);
  *result = g_ascii_strtod (buf, NULL);
  if (*result == 0)
    *result = 0;  /* no "-0" */
  return TRUE;
}

static const char schema[] =
  "{\"type\": \"object\","
  " \"properties\": {"
  "   \"value\": {\"type\": \"number\"},"
  "   \"from_unit\": {\"type\": \"string\", \"description\": \"e.g. km, mi, kg, lb, °C, °F, L, gal, h, km/h, MB, kWh, bar\"},"
  "   \"to_unit\": {\"type\": \"string\"}},"
  " \"required\": [\"value\", \"from_unit\", \"to_unit\"], \"additionalProperties\": false}";

static JsonNode *
kestrel_unit_tool_run (KestrelTool      *tool,
                       KestrelToolCall  *call,
                       GCancellable     *cancellable,
                       GError          **error)
{
  JsonNode *value_node = json_object_get_member (call->arguments, "value");
  const char *from = json_object_get_string_member (call->arguments, "from_unit");
  const char *to = json_object_get_string_member (call->arguments, "to_unit");
  double value = json_node_get_value_type (value_node) == G_TYPE_INT64 ?
                 (double) json_node_get_int (value_node) : json_node_get_double (value_node);
  g_autofree char *from_symbol = NULL;
  g_autofree char *to_symbol = NULL;
  JsonObject *object;
  double result;

  if (!kestrel_unit_convert (value, from, to, &result, error))
    return NULL;
  from_symbol = symbol (find_unit (from, NULL));
  to_symbol = symbol (find_unit (to, NULL));

  object = json_object_new ();
  json_object_set_member (object, "value", json_node_copy (value_node));
  json_object_set_string_member (object, "from_unit", from_symbol);
  json_object_set_string_member (object, "to_unit", to_symbol);
  json_object_set_member (object, "result", kestrel_tool_number_node (result));
  {
    JsonNode *node = json_node_alloc ();

    json_node_init (node, JSON_NODE_OBJECT);
    json_node_take_object (node, object);
    return node;
  }
}

static void
kestrel_unit_tool_class_init (KestrelUnitToolClass *klass)
{
  KESTREL_TOOL_CLASS (klass)->run = kestrel_unit_tool_run;
}

static void
kestrel_unit_tool_init (KestrelUnitTool *self)
{
}

KestrelTool *
kestrel_unit_tool_new (void)
{
  g_autoptr(JsonObject) parameters = kestrel_tool_parse_schema (schema);

  return g_object_new (KESTREL_TYPE_UNIT_TOOL,
                       "name", "convert_units",
                       "description", "Converts a value between units of the same kind (length, mass, "
                                      "temperature, volume, time, speed, area, data, energy, pressure).",
                       "parameters", parameters,
                       "requires-approval", FALSE,
                       NULL);
}
