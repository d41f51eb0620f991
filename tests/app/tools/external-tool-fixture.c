/* external-tool-fixture.c — a command for test-external-tool.c.
 *
 * argv[1] picks the behaviour; the call's arguments arrive as JSON on stdin.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

int
main (int   argc,
      char *argv[])
{
  const char *mode = argc > 1 ? argv[1] : "";

  if (g_str_equal (mode, "echo"))
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *comm_path = g_strdup_printf ("/proc/%d/comm", (int) getppid ());
      g_autofree char *comm = NULL;
      g_autofree char *out = NULL;
      char line[65536];

      if (fgets (line, sizeof line, stdin) == NULL || !json_parser_load_from_data (parser, line, -1, NULL))
        return 2;
      if (!g_file_get_contents (comm_path, &comm, NULL, NULL))
        return 2;
      g_strstrip (comm);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "args");
      json_builder_add_value (builder, json_node_copy (json_parser_get_root (parser)));
      json_builder_set_member_name (builder, "argv");
      json_builder_begin_array (builder);
      for (int i = 2; i < argc; i++)
        json_builder_add_string_value (builder, argv[i]);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "ppid_comm");
      json_builder_add_string_value (builder, comm);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      out = json_to_string (root, FALSE);
      fputs (out, stdout);
      return 0;
    }
  if (g_str_equal (mode, "sleep") && argc > 2)
    {
      g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());

      if (!g_file_set_contents (argv[2], pid, -1, NULL))
        return 2;
      sleep (60);
      puts ("{}");
      return 0;
    }
  if (g_str_equal (mode, "badjson"))
    {
      fputs ("this is not {json", stdout);
      return 0;
    }
  if (g_str_equal (mode, "fail"))
    {
      fputs ("something went wrong\n", stderr);
      return 3;
    }
  if (g_str_equal (mode, "big"))
    {
      putchar ('[');
      for (int i = 0; i < 1000000; i++)
        fputs (i == 0 ? "1" : ",1", stdout);
      putchar (']');
      return 0;
    }
  if (g_str_equal (mode, "noread"))
    {
      puts ("{\"ok\": true}");
      return 0;
    }
  return 99;
}
