/* kestrel-app-tools.c — the tools the app offers the model.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include "kestrel-app-tools.h"
#include "kestrel-calculator-tool.h"
#include "kestrel-datetime-tool.h"
#include "kestrel-history-tool.h"
#include "kestrel-read-file-tool.h"
#include "kestrel-store-history-source.h"
#include "kestrel-unit-tool.h"

char *
kestrel_app_tools_dup_external_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "kestrel", "tools.json", NULL);
}

KestrelToolRegistry *
kestrel_app_tools_new (KestrelStore  *store,
                       const char    *external_path,
                       GError       **error)
{
  g_autoptr(KestrelToolRegistry) registry = kestrel_tool_registry_new ();
  g_autoptr(KestrelHistorySource) source = kestrel_store_history_source_new (store);
  KestrelTool *builtin[] = {
    kestrel_datetime_tool_new (NULL, NULL),
    kestrel_calculator_tool_new (),
    kestrel_unit_tool_new (),
    kestrel_history_tool_new (source),
    kestrel_read_file_tool_new (KESTREL_READ_FILE_TOOL_DEFAULT_MAX_BYTES),
  };

  g_return_val_if_fail (KESTREL_IS_STORE (store), NULL);

  for (guint i = 0; i < G_N_ELEMENTS (builtin); i++)
    {
      g_autoptr(GError) local_error = NULL;

      /* built-in names are fixed and distinct: a failure here is a bug */
      if (!kestrel_tool_registry_add (registry, builtin[i], &local_error))
        g_critical ("A built-in tool could not be registered: %s", local_error->message);
      g_object_unref (builtin[i]);
    }

  if (external_path != NULL && g_file_test (external_path, G_FILE_TEST_EXISTS))
    kestrel_tool_registry_load_external_tools (registry, external_path, error);

  return g_steal_pointer (&registry);
}
