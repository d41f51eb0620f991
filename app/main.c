/* main.c — the kestrel executable.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "kestrel-application.h"
#include "kestrel-window.h"

static GtkWindow *
create_main_window (KestrelApplication *application)
{
  KestrelWindow *window = kestrel_window_new (application);

  kestrel_window_attach_session (window,
                                 kestrel_application_get_engine (application),
                                 kestrel_application_get_store (application),
                                 kestrel_application_get_settings (application));
  return GTK_WINDOW (window);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(KestrelApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("Kestrel"));

  app = kestrel_application_new (create_main_window);

  return g_application_run (G_APPLICATION (app), argc, argv);
}
