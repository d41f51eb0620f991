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

  KestrelEngine  *engine;
  KestrelStore   *store;
  char           *store_problem;
  GSettings      *settings;
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
kestrel_application_open_store (KestrelApplication *self)
{
  g_autofree char *path = kestrel_store_dup_default_path ();
  g_autoptr(GError) error = NULL;

  self->store = kestrel_store_new (path, &error);
  if (self->store != NULL)
    {
      /* A damaged file was moved aside and a fresh database started. */
      if (kestrel_store_get_recovery_message (self->store) != NULL)
        self->store_problem = g_strdup (kestrel_store_get_recovery_message (self->store));
      return;
    }

  g_warning ("Cannot open the conversation database %s: %s", path, error->message);
  self->store_problem = g_strdup_printf (_("Conversations cannot be saved: %s. This session keeps them in memory only."),
                                         error->message);
  g_clear_error (&error);
  self->store = kestrel_store_new_in_memory (&error);
  if (self->store == NULL)
    g_error ("Cannot create an in-memory store: %s", error->message);
}

static void
kestrel_application_startup (GApplication *app)
{
  KestrelApplication *self = KESTREL_APPLICATION (app);

  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *new_window_accels[] = { "<Control><Shift>n", NULL };

  G_APPLICATION_CLASS (kestrel_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions,
                                   G_N_ELEMENTS (app_actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.new-window",
                                         new_window_accels);

  self->settings = g_settings_new (APPLICATION_ID_BASE);
  self->engine = kestrel_engine_new ();
  /* one engine for every window: the image setting applies to all of them */
  g_settings_bind (self->settings, "pan-and-scan", self->engine, "pan-and-scan", G_SETTINGS_BIND_GET);
  kestrel_application_open_store (self);
}

static void
kestrel_application_shutdown (GApplication *app)
{
  KestrelApplication *self = KESTREL_APPLICATION (app);

  /* Pending streamed text reaches the file before the process ends; with "keep history"
   * off, the conversations of this session go instead. */
  if (self->store != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (self->settings != NULL && !g_settings_get_boolean (self->settings, "keep-history") &&
          !kestrel_store_delete_all_conversations (self->store, &error))
        g_warning ("Cannot delete the history: %s", error->message);
      kestrel_store_flush (self->store, NULL);
    }

  G_APPLICATION_CLASS (kestrel_application_parent_class)->shutdown (app);
}

static void
kestrel_application_finalize (GObject *object)
{
  KestrelApplication *self = KESTREL_APPLICATION (object);

  g_clear_object (&self->engine);
  g_clear_object (&self->store);
  g_clear_object (&self->settings);
  g_free (self->store_problem);

  G_OBJECT_CLASS (kestrel_application_parent_class)->finalize (object);
}

KestrelEngine *
kestrel_application_get_engine (KestrelApplication *self)
{
  g_return_val_if_fail (KESTREL_IS_APPLICATION (self), NULL);
  return self->engine;
}

KestrelStore *
kestrel_application_get_store (KestrelApplication *self)
{
  g_return_val_if_fail (KESTREL_IS_APPLICATION (self), NULL);
  return self->store;
}

const char *
kestrel_application_get_store_problem (KestrelApplication *self)
{
  g_return_val_if_fail (KESTREL_IS_APPLICATION (self), NULL);
  return self->store_problem;
}

GSettings *
kestrel_application_get_settings (KestrelApplication *self)
{
  g_return_val_if_fail (KESTREL_IS_APPLICATION (self), NULL);
  return self->settings;
}

static void
kestrel_application_class_init (KestrelApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = kestrel_application_finalize;
  app_class->shutdown = kestrel_application_shutdown;

  app_class->activate = kestrel_application_activate;
  app_class->startup = kestrel_application_startup;
}

static void
kestrel_application_init (KestrelApplication *self)
{
}
