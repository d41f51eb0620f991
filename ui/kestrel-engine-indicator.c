/* kestrel-engine-indicator.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-engine-indicator"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "kestrel-engine-indicator.h"

struct _KestrelEngineIndicator
{
  GtkWidget      parent_instance;

  KestrelEngine *engine;
  gulong         notify_id;

  GtkStack      *stack;
  GtkLabel      *loading_label;
  GtkLabel      *device_label;
  GtkWidget     *notice_icon;
  GtkLabel      *error_label;
  GtkMenuButton *error_button;
};

G_DEFINE_FINAL_TYPE (KestrelEngineIndicator, kestrel_engine_indicator, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_ENGINE,
  N_PROPS
};

enum {
  RETRY,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
update (KestrelEngineIndicator *self)
{
  KestrelEngineState state = self->engine ? kestrel_engine_get_state (self->engine) : KESTREL_ENGINE_EMPTY;

  switch (state)
    {
    case KESTREL_ENGINE_LOADING:
      {
        /* Translators: %d is a percentage */
        g_autofree char *text = g_strdup_printf (_("Loading model… %d %%"),
                                                 (int) (100 * kestrel_engine_get_load_fraction (self->engine)));

        gtk_label_set_label (self->loading_label, text);
        gtk_widget_set_tooltip_text (GTK_WIDGET (self->loading_label),
                                     kestrel_engine_get_load_stage (self->engine));
        gtk_stack_set_visible_child_name (self->stack, "loading");
      }
      break;

    case KESTREL_ENGINE_READY:
      {
        const char *device = kestrel_engine_get_device_name (self->engine);
        const char *backend = kestrel_engine_get_backend_name (self->engine);
        const char *notice = kestrel_engine_get_notice (self->engine);
        g_autofree char *text = NULL;

        if (device != NULL && backend != NULL)
          /* Translators: the device and the backend, e.g. "NVIDIA H100 · CUDA" */
          text = g_strdup_printf (_("%s · %s"), device, backend);
        else
          text = g_strdup (device ? device : backend ? backend : _("Model loaded"));

        gtk_label_set_label (self->device_label, text);
        gtk_widget_set_visible (self->notice_icon, notice != NULL);
        gtk_widget_set_tooltip_text (self->notice_icon, notice);
        gtk_stack_set_visible_child_name (self->stack, "ready");
      }
      break;

    case KESTREL_ENGINE_FAILED:
      {
        const GError *error = kestrel_engine_get_error (self->engine);

        gtk_label_set_label (self->error_label,
                             error ? error->message : _("The model could not be loaded."));
        gtk_stack_set_visible_child_name (self->stack, "failed");
      }
      break;

    case KESTREL_ENGINE_EMPTY:
    default:
      gtk_stack_set_visible_child_name (self->stack, "empty");
      break;
    }
}

static void
retry_clicked_cb (KestrelEngineIndicator *self)
{
  gtk_menu_button_popdown (self->error_button);
  g_signal_emit (self, signals[RETRY], 0);
}

KestrelEngine *
kestrel_engine_indicator_get_engine (KestrelEngineIndicator *self)
{
  g_return_val_if_fail (KESTREL_IS_ENGINE_INDICATOR (self), NULL);
  return self->engine;
}

void
kestrel_engine_indicator_set_engine (KestrelEngineIndicator *self,
                                     KestrelEngine          *engine)
{
  g_return_if_fail (KESTREL_IS_ENGINE_INDICATOR (self));
  g_return_if_fail (engine == NULL || KESTREL_IS_ENGINE (engine));

  if (self->engine == engine)
    return;

  if (self->engine != NULL)
    g_clear_signal_handler (&self->notify_id, self->engine);
  g_set_object (&self->engine, engine);
  if (engine != NULL)
    self->notify_id = g_signal_connect_swapped (engine, "notify", G_CALLBACK (update), self);

  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENGINE]);
}

GtkWidget *
kestrel_engine_indicator_new (void)
{
  return g_object_new (KESTREL_TYPE_ENGINE_INDICATOR, NULL);
}

static void
kestrel_engine_indicator_dispose (GObject *object)
{
  KestrelEngineIndicator *self = KESTREL_ENGINE_INDICATOR (object);

  if (self->engine != NULL)
    g_clear_signal_handler (&self->notify_id, self->engine);
  g_clear_object (&self->engine);
  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_ENGINE_INDICATOR);

  G_OBJECT_CLASS (kestrel_engine_indicator_parent_class)->dispose (object);
}

static void
kestrel_engine_indicator_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  KestrelEngineIndicator *self = KESTREL_ENGINE_INDICATOR (object);

  switch (prop_id)
    {
    case PROP_ENGINE: g_value_set_object (value, self->engine); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_engine_indicator_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  KestrelEngineIndicator *self = KESTREL_ENGINE_INDICATOR (object);

  switch (prop_id)
    {
    case PROP_ENGINE: kestrel_engine_indicator_set_engine (self, g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_engine_indicator_class_init (KestrelEngineIndicatorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = kestrel_engine_indicator_dispose;
  object_class->get_property = kestrel_engine_indicator_get_property;
  object_class->set_property = kestrel_engine_indicator_set_property;

  properties[PROP_ENGINE] =
    g_param_spec_object ("engine", NULL, NULL, KESTREL_TYPE_ENGINE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[RETRY] = g_signal_new ("retry", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                 0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-engine-indicator.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelEngineIndicator, stack);
  gtk_widget_class_bind_template_child (widget_class, KestrelEngineIndicator, loading_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelEngineIndicator, device_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelEngineIndicator, notice_icon);
  gtk_widget_class_bind_template_child (widget_class, KestrelEngineIndicator, error_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelEngineIndicator, error_button);
  gtk_widget_class_bind_template_callback (widget_class, retry_clicked_cb);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "kestrel-engine-indicator");
}

static void
kestrel_engine_indicator_init (KestrelEngineIndicator *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  update (self);
}
