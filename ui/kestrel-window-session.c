/* kestrel-window-session.c — KestrelWindow's wiring to the engine, the store and the
 * settings: model loading, the sidebar's conversations, and the open conversation.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Split from kestrel-window.c by concern (as gnome-text-editor splits its window): the
 * widgets know nothing of the store or the engine; this file connects their signals to a
 * KestrelChatController and the application's KestrelEngine.
 */
#define G_LOG_DOMAIN "kestrel-window"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-app-tools.h"
#include "kestrel-chat-controller.h"
#include "kestrel-conversation.h"
#include "kestrel-conversation-list.h"
#include "kestrel-window-private.h"

typedef struct
{
  KestrelWindow           *window;      /* unowned: the session lives as window data */
  KestrelEngine           *engine;
  KestrelStore            *store;
  GSettings               *settings;
  KestrelChatController   *controller;
  KestrelToolRegistry     *tools;
  KestrelConversationList *conversations;
} Session;

static void
session_free (Session *session)
{
  g_signal_handlers_disconnect_by_data (session->engine, session);
  g_signal_handlers_disconnect_by_data (session->settings, session);
  /* a tool call waiting for approval holds the controller: end it with the window */
  if (session->controller != NULL)
    {
      /* nobody listens any more (the widgets are going away) */
      g_signal_handlers_disconnect_by_data (session->controller, session);
      g_signal_handlers_disconnect_matched (session->controller, G_SIGNAL_MATCH_ID,
                                            g_signal_lookup ("notify", G_TYPE_OBJECT), 0,
                                            NULL, NULL, NULL);
      kestrel_chat_controller_cancel (session->controller);
    }
  g_clear_object (&session->controller);
  g_clear_object (&session->tools);
  g_clear_object (&session->conversations);
  g_clear_object (&session->engine);
  g_clear_object (&session->store);
  g_clear_object (&session->settings);
  g_free (session);
}

static void
toast (Session    *session,
       const char *message)
{
  AdwToast *t = adw_toast_new (message);

  adw_toast_set_timeout (t, 6);
  adw_toast_overlay_add_toast (kestrel_window_get_toast_overlay (session->window), t);
}

/* ---- model loading ----------------------------------------------------------------- */

static void
load_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* The engine indicator shows the error with a retry button; nothing more to do here. */
  if (!kestrel_engine_load_finish (KESTREL_ENGINE (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("model load failed: %s", error->message);
}

static void
load_model (Session *session)
{
  g_autofree char *folder = g_settings_get_string (session->settings, "model-folder");

  if (folder[0] == '\0')
    return;
  kestrel_engine_load_async (session->engine, folder, KESTREL_BACKEND_AUTO,
                             g_settings_get_int (session->settings, "gpu-index"),
                             (guint) MAX (g_settings_get_int (session->settings, "context-length"), 0),
                             NULL, load_done_cb, NULL);
}

static void
folder_chosen_cb (KestrelModelStatusPage *page,
                  GFile                  *folder,
                  Session                *session)
{
  g_autofree char *path = g_file_get_path (folder);

  if (path == NULL)
    {
      toast (session, _("Only local folders can hold a model"));
      return;
    }
  g_settings_set_string (session->settings, "model-folder", path);
  load_model (session);
}

static void
retry_cb (KestrelEngineIndicator *indicator,
          Session                *session)
{
  load_model (session);
}

static void
engine_state_cb (KestrelEngine *engine,
                 GParamSpec    *pspec,
                 Session       *session)
{
  KestrelEngineState state = kestrel_engine_get_state (engine);

  if (state == KESTREL_ENGINE_READY)
    {
      kestrel_window_show_chat (session->window, TRUE);
      if (kestrel_engine_get_notice (engine) != NULL)
        toast (session, kestrel_engine_get_notice (engine));
    }
  else if (state == KESTREL_ENGINE_EMPTY)
    kestrel_window_show_chat (session->window, FALSE);
}

/* ---- settings → the conversation ---------------------------------------------------- */

static void
apply_settings (Session *session)
{
  KestrelSamplingSettings sampling;
  g_autofree char *system_prompt = g_settings_get_string (session->settings, "system-prompt");

  kestrel_sampling_settings_init (&sampling);
  sampling.temperature = g_settings_get_double (session->settings, "temperature");
  sampling.top_p = g_settings_get_double (session->settings, "top-p");
  sampling.top_k = g_settings_get_int (session->settings, "top-k");
  sampling.max_tokens = (guint) MAX (g_settings_get_int (session->settings, "max-tokens"), 0);
  kestrel_chat_controller_set_sampling (session->controller, &sampling);
  kestrel_chat_controller_set_system_prompt (session->controller, system_prompt);
  kestrel_chat_controller_set_tools (session->controller,
                                     g_settings_get_boolean (session->settings, "tools-enabled")
                                     ? session->tools : NULL);
}

static void
settings_changed_cb (GSettings  *settings,
                     const char *key,
                     Session    *session)
{
  apply_settings (session);
}

/* ---- the open conversation ---------------------------------------------------------- */

static void
send_cb (KestrelComposer *composer,
         const char      *text,
         GPtrArray       *images,
         Session         *session)
{
  kestrel_chat_controller_send (session->controller, text, images);
}

static void
cancel_cb (KestrelComposer *composer,
           Session         *session)
{
  kestrel_chat_controller_cancel (session->controller);
}

static void
busy_cb (KestrelChatController *controller,
         GParamSpec            *pspec,
         KestrelComposer       *composer)
{
  kestrel_composer_set_busy (composer, kestrel_chat_controller_get_busy (controller));
}

static void
regenerate_cb (KestrelChatView    *view,
               KestrelChatMessage *message,
               Session            *session)
{
  kestrel_chat_controller_regenerate (session->controller, message);
}

static void
delete_cb (KestrelChatView    *view,
           KestrelChatMessage *message,
           Session            *session)
{
  kestrel_chat_controller_delete (session->controller, message);
}

static void
edit_cb (KestrelChatView    *view,
         KestrelChatMessage *message,
         const char         *text,
         Session            *session)
{
  kestrel_chat_controller_edit (session->controller, message, text);
}

static void
switch_branch_cb (KestrelChatView    *view,
                  KestrelChatMessage *message,
                  int                 delta,
                  Session            *session)
{
  kestrel_chat_controller_switch_branch (session->controller, message, delta);
}

static void
controller_error_cb (KestrelChatController *controller,
                     const char            *message,
                     Session               *session)
{
  toast (session, message);
}

/* ---- sidebar ------------------------------------------------------------------------ */

static GtkWidget *
create_conversation_row (gpointer item,
                         gpointer user_data)
{
  KestrelConversation *conversation = item;
  const char *title = kestrel_conversation_get_title (conversation);
  GtkWidget *label = gtk_label_new (title && title[0] ? title : _("New Conversation"));
  GtkWidget *row = gtk_list_box_row_new ();

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_margin_top (label, 6);
  gtk_widget_set_margin_bottom (label, 6);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), label);
  g_object_set_data_full (G_OBJECT (row), "conversation", g_object_ref (conversation), g_object_unref);
  return row;
}

static void
conversation_activated_cb (GtkListBox    *box,
                           GtkListBoxRow *row,
                           Session       *session)
{
  KestrelConversation *conversation = g_object_get_data (G_OBJECT (row), "conversation");

  if (conversation == NULL)
    return;
  kestrel_chat_controller_open (session->controller, kestrel_conversation_get_id (conversation));
  kestrel_window_show_content (session->window);
}

static void
new_conversation_action_cb (GtkWidget  *widget,
                            const char *action_name,
                            GVariant   *parameter)
{
  Session *session = g_object_get_data (G_OBJECT (widget), "kestrel-session");

  if (session == NULL)
    return;
  kestrel_chat_controller_new_conversation (session->controller);
  gtk_list_box_unselect_all (kestrel_window_get_conversation_list (session->window));
  kestrel_window_show_content (session->window);
}

void
_kestrel_window_class_add_session_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.new-conversation", NULL,
                                   new_conversation_action_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK,
                                       "win.new-conversation", NULL);
}

KestrelChatController *
kestrel_window_get_chat_controller (KestrelWindow *self)
{
  Session *session = g_object_get_data (G_OBJECT (self), "kestrel-session");

  return session ? session->controller : NULL;
}

void
kestrel_window_attach_session (KestrelWindow *self,
                               KestrelEngine *engine,
                               KestrelStore  *store,
                               GSettings     *settings)
{
  Session *session = g_new0 (Session, 1);
  KestrelChatPage *page = kestrel_window_get_chat_page (self);
  KestrelComposer *composer = kestrel_chat_page_get_composer (page);
  KestrelChatView *view = kestrel_chat_page_get_chat_view (page);

  g_return_if_fail (KESTREL_IS_WINDOW (self));

  session->window = self;
  session->engine = g_object_ref (engine);
  session->store = g_object_ref (store);
  session->settings = g_object_ref (settings);
  session->controller = kestrel_chat_controller_new (store, engine);
  {
    g_autofree char *external = NULL;
    g_autoptr(GError) error = NULL;

    if (g_settings_get_boolean (settings, "external-tools-enabled"))
      external = kestrel_app_tools_dup_external_path ();
    session->tools = kestrel_app_tools_new (store, external, &error);
    if (error != NULL)
      {
        g_autofree char *message = g_strdup_printf (_("The command tools in %s were not loaded: %s"),
                                                    external, error->message);
        toast (session, message);
      }
  }
  session->conversations = kestrel_conversation_list_new (store, FALSE);
  g_object_set_data_full (G_OBJECT (self), "kestrel-session", session, (GDestroyNotify) session_free);

  apply_settings (session);
  g_signal_connect (settings, "changed", G_CALLBACK (settings_changed_cb), session);

  kestrel_chat_view_set_model (view, kestrel_chat_controller_get_messages (session->controller));
  g_signal_connect (composer, "send", G_CALLBACK (send_cb), session);
  g_signal_connect (composer, "cancel", G_CALLBACK (cancel_cb), session);
  g_signal_connect_object (session->controller, "notify::busy", G_CALLBACK (busy_cb), composer, 0);
  g_signal_connect (session->controller, "error", G_CALLBACK (controller_error_cb), session);
  g_signal_connect (view, "regenerate", G_CALLBACK (regenerate_cb), session);
  g_signal_connect (view, "delete", G_CALLBACK (delete_cb), session);
  g_signal_connect (view, "edit", G_CALLBACK (edit_cb), session);
  g_signal_connect (view, "switch-branch", G_CALLBACK (switch_branch_cb), session);

  gtk_list_box_bind_model (kestrel_window_get_conversation_list (self),
                           G_LIST_MODEL (session->conversations),
                           create_conversation_row, NULL, NULL);
  g_signal_connect (kestrel_window_get_conversation_list (self), "row-activated",
                    G_CALLBACK (conversation_activated_cb), session);

  kestrel_engine_indicator_set_engine (kestrel_window_get_engine_indicator (self), engine);
  g_signal_connect (kestrel_window_get_engine_indicator (self), "retry", G_CALLBACK (retry_cb), session);
  g_signal_connect (kestrel_window_get_model_status_page (self), "folder-chosen",
                    G_CALLBACK (folder_chosen_cb), session);
  g_signal_connect (engine, "notify::state", G_CALLBACK (engine_state_cb), session);

  switch (kestrel_engine_get_state (engine))
    {
    case KESTREL_ENGINE_READY:
      kestrel_window_show_chat (self, TRUE);
      break;
    case KESTREL_ENGINE_EMPTY:
      load_model (session);
      break;
    case KESTREL_ENGINE_LOADING:
    case KESTREL_ENGINE_FAILED:
    default:
      break;
    }
}
