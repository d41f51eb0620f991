/* kestrel-datetime-tool.c — built-in tool: the current date and time, with its time zone.
 *
 * Without arguments it answers in the system's local zone (TZ, /etc/localtime); the model may
 * ask for an IANA zone ("Asia/Tokyo").  The clock is injectable for tests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include "kestrel-datetime-tool.h"

struct _KestrelDatetimeTool
{
  KestrelTool      parent_instance;

  KestrelClockFunc clock;
  gpointer         clock_data;
};

G_DEFINE_FINAL_TYPE (KestrelDatetimeTool, kestrel_datetime_tool, KESTREL_TYPE_TOOL)

static const char schema[] =
  "{\"type\": \"object\","
  " \"properties\": {\"timezone\": {\"type\": \"string\", \"description\":"
  "   \"IANA time zone such as Europe/Paris; omit for the user's own time zone\"}},"
  " \"additionalProperties\": false}";

static const char *weekdays[] = { "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                  "Saturday", "Sunday" };

static JsonNode *
kestrel_datetime_tool_run (KestrelTool      *tool,
                           KestrelToolCall  *call,
                           GCancellable     *cancellable,
                           GError          **error)
{
  KestrelDatetimeTool *self = KESTREL_DATETIME_TOOL (tool);
  const char *zone_name = json_object_get_string_member_with_default (call->arguments, "timezone", NULL);
  g_autoptr(GTimeZone) zone = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autoptr(GDateTime) local = NULL;
  g_autofree char *iso = NULL;
  g_autofree char *date = NULL;
  g_autofree char *time = NULL;
  g_autofree char *offset = NULL;
  JsonObject *object;
  gint64 offset_minutes;

  if (zone_name != NULL)
    {
      zone = g_time_zone_new_identifier (zone_name);
      if (zone == NULL)
        {
          g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                       "“%s” is not a known time zone (use an IANA name like Europe/Paris)", zone_name);
          return NULL;
        }
    }
  else
    zone = g_time_zone_new_local ();

  now = self->clock != NULL ? self->clock (self->clock_data) : g_date_time_new_now_utc ();
  if (now == NULL || (local = g_date_time_to_timezone (now, zone)) == NULL)
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                           "The clock could not be read");
      return NULL;
    }

  offset_minutes = g_date_time_get_utc_offset (local) / G_TIME_SPAN_MINUTE;
  offset = g_strdup_printf ("%c%02d:%02d", offset_minutes < 0 ? '-' : '+',
                            (int) (ABS (offset_minutes) / 60), (int) (ABS (offset_minutes) % 60));
  date = g_date_time_format (local, "%Y-%m-%d");
  time = g_date_time_format (local, "%H:%M:%S");
  iso = g_strdup_printf ("%sT%s%s", date, time, offset);

  object = json_object_new ();
  json_object_set_string_member (object, "datetime", iso);
  json_object_set_string_member (object, "date", date);
  json_object_set_string_member (object, "time", time);
  json_object_set_string_member (object, "weekday", weekdays[g_date_time_get_day_of_week (local) - 1]);
  json_object_set_string_member (object, "timezone", g_time_zone_get_identifier (zone));
  json_object_set_string_member (object, "abbreviation", g_date_time_get_timezone_abbreviation (local));
  json_object_set_string_member (object, "utc_offset", offset);
  {
    JsonNode *node = json_node_alloc ();

    json_node_init (node, JSON_NODE_OBJECT);
    json_node_take_object (node, object);
    return node;
  }
}

static void
kestrel_datetime_tool_class_init (KestrelDatetimeToolClass *klass)
{
  KESTREL_TOOL_CLASS (klass)->run = kestrel_datetime_tool_run;
}

static void
kestrel_datetime_tool_init (KestrelDatetimeTool *self)
{
}

/**
 * kestrel_datetime_tool_new:
 * @clock: (nullable): the clock; %NULL for the system clock
 */
KestrelTool *
kestrel_datetime_tool_new (KestrelClockFunc clock,
                           gpointer         clock_data)
{
  g_autoptr(JsonObject) parameters = kestrel_tool_parse_schema (schema);
  KestrelDatetimeTool *self;

  self = g_object_new (KESTREL_TYPE_DATETIME_TOOL,
                       "name", "get_current_datetime",
                       "description", "Returns the current date, time, weekday and time zone.",
                       "parameters", parameters,
                       "requires-approval", TRUE,
                       NULL);
  self->clock = clock;
  self->clock_data = clock_data;
  return KESTREL_TOOL (self);
}
