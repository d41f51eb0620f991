/* kestrel-application.c — the AdwApplication: actions, windows, lifetime.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-application"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-application.h"

struct _KestrelApplication
{
  AdwApplication parent_instance;

  KestrelWindowFactory window_factory;
};

G_DEFINE_FINAL_TYPE (KestrelApplication, kestrel_application, ADW_TYPE_APPLICATION)

KestrelApplication *
kestrel_application_new (KestrelWindowFactory window_factory)
{
  KestrelApplication *self;

  g_return_val_if_fail (window_factory != NULL, NULL);

  self = g_object_new (KESTREL_TYPE_APPLICATION,
                       "application-id", APPLICATION_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/kestrelchat/Kestrel",
                       NULL);
  self->window_factory = window_factory;

  return self;
}

static GtkWindow *
kestrel_application_create_window (KestrelApplication *self)
{
  return self->window_factory (self);
}

static void
kestrel_application_activate (GApplication *app)
{
  GtkWindow *window;

  g_assert (KESTREL_IS_APPLICATION (app));

  window = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (window == NULL)
    window = kestrel_application_create_window (KESTREL_APPLICATION (app));

  gtk_window_present (window);
}

static void
kestrel_application_quit_action_cb (GSimpleAction *action,
                                    GVariant      *parameter,
                                    gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
kestrel_application_new_window_action_cb (GSimpleAction *action,
                                          GVariant      *parameter,
                                          gpointer       user_data)
{
  GtkWindow *window = kestrel_application_create_window (KESTREL_APPLICATION (user_data));

  gtk_window_present (window);
}

static const GActionEntry app_actions[] = {
  { "quit", kestrel_application_quit_action_cb },
  { "new-window", kestrel_application_new_window_action_cb },
};

static void
kestrel_application_startup (GApplication *app)
{
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *new_window_accels[] = { "<Control><Shift>n", NULL };

  G_APPLICATION_CLASS (kestrel_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions,
                                   G_N_ELEMENTS (app_actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.new-window",
                                         new_window_accels);
}

static void
kestrel_application_class_init (KestrelApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->activate = kestrel_application_activate;
  app_class->startup = kestrel_application_startup;
}

static void
kestrel_application_init (KestrelApplication *self)
{
}
