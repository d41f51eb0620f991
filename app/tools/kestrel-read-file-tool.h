/* kestrel-read-file-tool.h — built-in tool: read a text file the user picks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "kestrel-tool.h"

G_BEGIN_DECLS

#define KESTREL_READ_FILE_TOOL_DEFAULT_MAX_BYTES (256 * 1024)

#define KESTREL_TYPE_READ_FILE_TOOL (kestrel_read_file_tool_get_type ())

G_DECLARE_FINAL_TYPE (KestrelReadFileTool, kestrel_read_file_tool, KESTREL, READ_FILE_TOOL, KestrelTool)

KestrelTool *kestrel_read_file_tool_new (gsize max_bytes);

G_END_DECLS
