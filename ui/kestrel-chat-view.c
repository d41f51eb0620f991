/* kestrel-chat-view.c — GtkListView of KestrelMessageRows, auto-scroll, jump button.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Following: the view stays at the bottom while "following" is set.  Layout changes
 * (rows growing while text streams, new rows) scroll to the bottom on the next frame.
 * The user leaves the bottom by scrolling up (a scroll event upwards, or the value moving
 * up by something other than us); reaching the bottom again, or the jump button, turns
 * following back on.
 */
#define G_LOG_DOMAIN "kestrel-chat-view"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-chat-message.h"
#include "kestrel-chat-view.h"
#include "kestrel-message-row.h"

#define BOTTOM_TOLERANCE 4.0
#define LEAVE_DISTANCE   32.0

struct _KestrelChatView
{
  GtkWidget           parent_instance;

  GtkScrolledWindow  *scroller;
  GtkListView        *list_view;
  GtkRevealer        *jump_revealer;

  GtkNoSelection     *selection;
  GtkAdjustment      *vadjustment;
  double              last_value;
  guint               scroll_tick_id;
  guint               n_bound;
  gboolean            following;
  gboolean            scrolling;
};

G_DEFINE_FINAL_TYPE (KestrelChatView, kestrel_chat_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_FOLLOWING,
  N_PROPS
};

enum {
  REGENERATE,
  EDIT,
  DELETE,
  SWITCH_BRANCH,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
set_following (KestrelChatView *self,
               gboolean         following)
{
  if (self->following == following)
    return;

  self->following = following;
  gtk_revealer_set_reveal_child (self->jump_revealer, !following);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FOLLOWING]);
}

static double
distance_to_bottom (KestrelChatView *self)
{
  GtkAdjustment *adj = self->vadjustment;

  return gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj) -
         gtk_adjustment_get_value (adj);
}

static void
jump_to_end (KestrelChatView *self)
{
  GtkAdjustment *adj = self->vadjustment;

  self->scrolling = TRUE;
  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  self->scrolling = FALSE;
  self->last_value = gtk_adjustment_get_value (adj);
}

static gboolean
scroll_tick_cb (GtkWidget     *widget,
                GdkFrameClock *frame_clock,
                gpointer       user_data)
{
  KestrelChatView *self = KESTREL_CHAT_VIEW (widget);

  self->scroll_tick_id = 0;
  if (self->following)
    jump_to_end (self);
  return G_SOURCE_REMOVE;
}

static void
queue_scroll_to_end (KestrelChatView *self)
{
  if (self->scroll_tick_id == 0)
    self->scroll_tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), scroll_tick_cb, NULL, NULL);
}

static void
adjustment_changed_cb (KestrelChatView *self)
{
  if (self->following && distance_to_bottom (self) > BOTTOM_TOLERANCE)
    queue_scroll_to_end (self);
}

static void
value_changed_cb (KestrelChatView *self)
{
  double value = gtk_adjustment_get_value (self->vadjustment);
  double distance = distance_to_bottom (self);

  if (distance <= BOTTOM_TOLERANCE)
    set_following (self, TRUE);
  else if (!self->scrolling && value < self->last_value - 0.5 && distance > LEAVE_DISTANCE)
    set_following (self, FALSE);

  self->last_value = value;
}

static gboolean
scroll_cb (GtkEventControllerScroll *controller,
           double                    dx,
           double                    dy,
           KestrelChatView          *self)
{
  /* scrolling up says "stop following" even before the value has moved far */
  if (dy < 0 && gtk_adjustment_get_upper (self->vadjustment) >
                gtk_adjustment_get_page_size (self->vadjustment))
    set_following (self, FALSE);
  return FALSE;
}

static void
jump_clicked_cb (KestrelChatView *self)
{
  kestrel_chat_view_scroll_to_bottom (self);
}

void
kestrel_chat_view_scroll_to_bottom (KestrelChatView *self)
{
  guint n;

  g_return_if_fail (KESTREL_IS_CHAT_VIEW (self));

  set_following (self, TRUE);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
  if (n > 0)
    gtk_list_view_scroll_to (self->list_view, n - 1, GTK_LIST_SCROLL_NONE, NULL);
  jump_to_end (self);
  queue_scroll_to_end (self);
}

static void
items_changed_cb (KestrelChatView *self,
                  guint            position,
                  guint            removed,
                  guint            added)
{
  if (self->following && added > 0)
    queue_scroll_to_end (self);
}

/* Row signals come out of the view with the row's message. */
static void
row_regenerate_cb (KestrelMessageRow *row, KestrelChatView *self)
{
  g_signal_emit (self, signals[REGENERATE], 0, kestrel_message_row_get_message (row));
}

static void
row_edit_cb (KestrelMessageRow *row, const char *text, KestrelChatView *self)
{
  g_signal_emit (self, signals[EDIT], 0, kestrel_message_row_get_message (row), text);
}

static void
row_delete_cb (KestrelMessageRow *row, KestrelChatView *self)
{
  g_signal_emit (self, signals[DELETE], 0, kestrel_message_row_get_message (row));
}

static void
row_switch_branch_cb (KestrelMessageRow *row, int delta, KestrelChatView *self)
{
  g_signal_emit (self, signals[SWITCH_BRANCH], 0, kestrel_message_row_get_message (row), delta);
}

static void
setup_cb (GtkSignalListItemFactory *factory,
          GtkListItem              *item,
          KestrelChatView          *self)
{
  GtkWidget *row = kestrel_message_row_new ();

  g_signal_connect_object (row, "regenerate", G_CALLBACK (row_regenerate_cb), self, 0);
  g_signal_connect_object (row, "edit", G_CALLBACK (row_edit_cb), self, 0);
  g_signal_connect_object (row, "delete", G_CALLBACK (row_delete_cb), self, 0);
  g_signal_connect_object (row, "switch-branch", G_CALLBACK (row_switch_branch_cb), self, 0);
  gtk_list_item_set_activatable (item, FALSE);
  gtk_list_item_set_selectable (item, FALSE);
  gtk_list_item_set_focusable (item, FALSE);
  gtk_list_item_set_child (item, row);
}

static void
bind_cb (GtkSignalListItemFactory *factory,
         GtkListItem              *item,
         KestrelChatView          *self)
{
  kestrel_message_row_set_message (KESTREL_MESSAGE_ROW (gtk_list_item_get_child (item)),
                                   gtk_list_item_get_item (item));
  self->n_bound++;
}

static void
unbind_cb (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           KestrelChatView          *self)
{
  kestrel_message_row_set_message (KESTREL_MESSAGE_ROW (gtk_list_item_get_child (item)), NULL);
  self->n_bound--;
}

GListModel *
kestrel_chat_view_get_model (KestrelChatView *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_VIEW (self), NULL);
  return gtk_no_selection_get_model (self->selection);
}

void
kestrel_chat_view_set_model (KestrelChatView *self,
                             GListModel      *model)
{
  g_return_if_fail (KESTREL_IS_CHAT_VIEW (self));
  g_return_if_fail (model == NULL || G_IS_LIST_MODEL (model));

  if (model != NULL)
    g_return_if_fail (g_type_is_a (g_list_model_get_item_type (model), KESTREL_TYPE_CHAT_MESSAGE));

  if (gtk_no_selection_get_model (self->selection) == model)
    return;

  gtk_no_selection_set_model (self->selection, model);
  /* a newly opened conversation starts at its end */
  kestrel_chat_view_scroll_to_bottom (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
}

gboolean
kestrel_chat_view_get_following (KestrelChatView *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_VIEW (self), FALSE);
  return self->following;
}

guint
kestrel_chat_view_get_n_bound_rows (KestrelChatView *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_VIEW (self), 0);
  return self->n_bound;
}

GtkAdjustment *
kestrel_chat_view_get_vadjustment (KestrelChatView *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_VIEW (self), NULL);
  return self->vadjustment;
}

GtkWidget *
kestrel_chat_view_new (void)
{
  return g_object_new (KESTREL_TYPE_CHAT_VIEW, NULL);
}

static void
kestrel_chat_view_dispose (GObject *object)
{
  KestrelChatView *self = KESTREL_CHAT_VIEW (object);

  if (self->scroll_tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->scroll_tick_id);
      self->scroll_tick_id = 0;
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_CHAT_VIEW);
  /* the template's unbound top-level child */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);
  g_clear_object (&self->selection);

  G_OBJECT_CLASS (kestrel_chat_view_parent_class)->dispose (object);
}

static void
kestrel_chat_view_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  KestrelChatView *self = KESTREL_CHAT_VIEW (object);

  switch (prop_id)
    {
    case PROP_MODEL: g_value_set_object (value, kestrel_chat_view_get_model (self)); break;
    case PROP_FOLLOWING: g_value_set_boolean (value, self->following); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_chat_view_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  KestrelChatView *self = KESTREL_CHAT_VIEW (object);

  switch (prop_id)
    {
    case PROP_MODEL: kestrel_chat_view_set_model (self, g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_chat_view_class_init (KestrelChatViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = kestrel_chat_view_dispose;
  object_class->get_property = kestrel_chat_view_get_property;
  object_class->set_property = kestrel_chat_view_set_property;

  properties[PROP_MODEL] =
    g_param_spec_object ("model", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_FOLLOWING] =
    g_param_spec_boolean ("following", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[REGENERATE] = g_signal_new ("regenerate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                      0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                      KESTREL_TYPE_CHAT_MESSAGE);
  signals[EDIT] = g_signal_new ("edit", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                KESTREL_TYPE_CHAT_MESSAGE, G_TYPE_STRING);
  signals[DELETE] = g_signal_new ("delete", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, KESTREL_TYPE_CHAT_MESSAGE);
  signals[SWITCH_BRANCH] = g_signal_new ("switch-branch", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                         KESTREL_TYPE_CHAT_MESSAGE, G_TYPE_INT);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-chat-view.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelChatView, scroller);
  gtk_widget_class_bind_template_child (widget_class, KestrelChatView, list_view);
  gtk_widget_class_bind_template_child (widget_class, KestrelChatView, jump_revealer);
  gtk_widget_class_bind_template_callback (widget_class, jump_clicked_cb);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "kestrel-chat-view");
}

static void
kestrel_chat_view_init (KestrelChatView *self)
{
  GtkListItemFactory *factory;
  GtkEventController *scroll;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->following = TRUE;
  self->selection = gtk_no_selection_new (NULL);
  g_signal_connect_object (self->selection, "items-changed",
                           G_CALLBACK (items_changed_cb), self, G_CONNECT_SWAPPED);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect_object (factory, "setup", G_CALLBACK (setup_cb), self, 0);
  g_signal_connect_object (factory, "bind", G_CALLBACK (bind_cb), self, 0);
  g_signal_connect_object (factory, "unbind", G_CALLBACK (unbind_cb), self, 0);
  gtk_list_view_set_factory (self->list_view, factory);
  g_object_unref (factory);
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (self->selection));

  self->vadjustment = gtk_scrolled_window_get_vadjustment (self->scroller);
  g_signal_connect_object (self->vadjustment, "changed",
                           G_CALLBACK (adjustment_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->vadjustment, "value-changed",
                           G_CALLBACK (value_changed_cb), self, G_CONNECT_SWAPPED);

  scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  gtk_event_controller_set_propagation_phase (scroll, GTK_PHASE_CAPTURE);
  g_signal_connect (scroll, "scroll", G_CALLBACK (scroll_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->scroller), scroll);
}
