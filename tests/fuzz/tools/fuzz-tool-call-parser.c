/* fuzz-tool-call-parser.c — libFuzzer target for the streaming tool-call parser.
 *
 * The first input byte picks how the rest is chunked (as a detokenizer would deliver it); the
 * rest is the model's reply.  Checked on every input, beyond "no crash, no leak, no UB":
 *   - without a CALLS event, the text shown is exactly the input (nothing lost or invented);
 *   - every call in a CALLS event names a declared tool and passes its schema;
 *   - a CALLS list written back as history (kestrel_tool_prompt_calls) parses to the same calls.
 * The raw bytes also go through the Python-literal value parser.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "kestrel-pylit.h"
#include "kestrel-tool-call-syntax.h"
#include "kestrel-tool-call-parser.h"
#include "kestrel-tool-prompt.h"

static JsonArray *declarations;

static void
load_declarations (void)
{
  static const char json[] =
    "[{\"name\": \"get_time\", \"parameters\": {\"type\": \"object\","
    "   \"properties\": {\"zone\": {\"type\": \"string\", \"enum\": [\"UTC\", \"CET\"]}}}},"
    " {\"name\": \"add\", \"parameters\": {\"type\": \"object\", \"additionalProperties\": false,"
    "   \"properties\": {\"a\": {\"type\": \"number\", \"minimum\": -5}, \"b\": {\"type\": \"integer\"},"
    "                    \"l\": {\"type\": \"array\", \"items\": {\"type\": [\"string\", \"null\"]}}},"
    "   \"required\": [\"a\"]}},"
    " {\"name\": \"echo\", \"parameters\": {\"type\": \"object\", \"properties\": {\"value\": {}}}}]";
  JsonParser *parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, json, -1, NULL))
    abort ();
  declarations = json_array_ref (json_node_get_array (json_parser_get_root (parser)));
  g_object_unref (parser);
}

static void
consume (GPtrArray *events,
         GString   *shown,
         gboolean  *saw_calls)
{
  for (guint i = 0; i < events->len; i++)
    {
      KestrelToolCallEvent *event = g_ptr_array_index (events, i);

      if (event->kind == KESTREL_TOOL_CALL_EVENT_TEXT)
        g_string_append (shown, event->text);
      else if (event->kind == KESTREL_TOOL_CALL_EVENT_CALLS)
        {
          g_autofree char *history = kestrel_tool_prompt_calls (event->calls, FALSE);
          g_autoptr(GPtrArray) again = kestrel_tool_calls_parse_pythonic (history, strlen (history), NULL);

          *saw_calls = TRUE;
          if (again == NULL || again->len != event->calls->len)
            abort ();
          for (guint j = 0; j < event->calls->len; j++)
            {
              KestrelToolCall *call = g_ptr_array_index (event->calls, j);
              KestrelToolCall *back = g_ptr_array_index (again, j);

              if (!kestrel_tool_call_validate (declarations, call, NULL) ||
                  g_strcmp0 (call->name, back->name) != 0 ||
                  !json_object_equal (call->arguments, back->arguments))
                abort ();
            }
        }
    }
  g_ptr_array_unref (events);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  KestrelToolCallParser *parser;
  g_autoptr(GString) shown = g_string_new (NULL);
  g_autofree char *text = NULL;
  gboolean saw_calls = FALSE;
  size_t chunk;

  if (declarations == NULL)
    load_declarations ();
  if (size < 1)
    return 0;

  chunk = 1 + data[0] % 16;
  data++, size--;
  /* The parser takes C text (the detokenizer never yields NUL); cut at the first NUL. */
  text = g_strndup ((const char *) data, size);
  size = strlen (text);

  parser = kestrel_tool_call_parser_new (declarations);
  for (size_t i = 0; i < size; i += chunk)
    consume (kestrel_tool_call_parser_feed (parser, text + i, (gssize) MIN (chunk, size - i)),
             shown, &saw_calls);
  consume (kestrel_tool_call_parser_finish (parser), shown, &saw_calls);
  g_object_unref (parser);

  if (!saw_calls && (shown->len != size || memcmp (shown->str, text, size) != 0))
    abort ();

  {
    JsonNode *node = kestrel_pylit_parse_value (text, size, NULL);
    if (node != NULL)
      json_node_unref (node);
  }
  return 0;
}
