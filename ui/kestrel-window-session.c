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
#include "kestrel-download-page.h"
#include "kestrel-hub-client.h"
#include "kestrel-model-library-page.h"
#include "kestrel-secret-token-store.h"
#include "kestrel-window-private.h"

typedef struct
{
  KestrelWindow           *window;      /* unowned: the session lives as window data */
  KestrelEngine           *engine;
  KestrelStore            *store;
  GSettings               *settings;
  KestrelChatController   *controller;
  KestrelTokenStore       *token_store;   /* created on first use: the keyring */
  KestrelModelLibrary     *library;
  AdwDialog               *download_page; /* weak: while it is open */
  AdwDialog               *library_page;  /* weak: while it is open */
  KestrelToolRegistry     *tools;
} Session;

static void
session_free (Session *session)
{
  g_signal_handlers_disconnect_by_data (session->engine, session);
  g_signal_handlers_disconnect_by_data (session->settings, session);
  if (session->download_page != NULL)
    {
      g_signal_handlers_disconnect_by_data (session->download_page, session);
      g_object_remove_weak_pointer (G_OBJECT (session->download_page), (gpointer *) &session->download_page);
    }
  if (session->library_page != NULL)
    {
      g_signal_handlers_disconnect_by_data (session->library_page, session);
      g_object_remove_weak_pointer (G_OBJECT (session->library_page), (gpointer *) &session->library_page);
    }
  g_clear_object (&session->token_store);
  g_clear_object (&session->library);
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

  g_autoptr(GVariant) gpus = g_settings_get_value (session->settings, "gpu-indices");
  gsize n_gpus = 0;
  const gint32 *gpu_list = g_variant_get_fixed_array (gpus, &n_gpus, sizeof (gint32));

  if (folder[0] == '\0')
    return;
  /* Several GPUs share the model (tensor parallelism); none listed: gpu-index alone. */
  kestrel_engine_set_gpus (session->engine, gpu_list, n_gpus);
  kestrel_engine_load_async (session->engine, folder, KESTREL_BACKEND_AUTO,
                             g_settings_get_int (session->settings, "gpu-index"),
                             (guint) MAX (g_settings_get_int (session->settings, "context-length"), 0),
                             NULL, load_done_cb, NULL);
}

/* What the status page's folder chooser, the library's Use and a finished download do. */
static void
use_model_folder (Session *session,
                  GFile   *folder)
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
folder_chosen_cb (KestrelModelStatusPage *page,
                  GFile                  *folder,
                  Session                *session)
{
  use_model_folder (session, folder);
}

/* ---- the download page and the library ---------------------------------------------- */

static KestrelTokenStore *
get_token_store (Session *session)
{
  if (session->token_store == NULL)
    {
      g_autofree char *endpoint = kestrel_hub_default_endpoint ();

      session->token_store = kestrel_secret_token_store_new (endpoint);
    }
  return session->token_store;
}

static void
download_finished_cb (KestrelDownloadPage *page,
                      GFile               *folder,
                      Session             *session)
{
  toast (session, _("The model is downloaded"));
  use_model_folder (session, folder);
  adw_dialog_close (ADW_DIALOG (page));
}

static void
show_download_page (Session *session)
{
  if (session->library_page != NULL)
    adw_dialog_close (session->library_page);
  if (session->download_page == NULL)
    {
      session->download_page = kestrel_download_page_new (get_token_store (session));
      g_object_add_weak_pointer (G_OBJECT (session->download_page), (gpointer *) &session->download_page);
      g_signal_connect (session->download_page, "finished", G_CALLBACK (download_finished_cb), session);
    }
  adw_dialog_present (session->download_page, GTK_WIDGET (session->window));
}

static void
download_requested_cb (GObject *page,
                       Session *session)
{
  show_download_page (session);
}

static void
library_use_cb (KestrelModelLibraryPage *page,
                KestrelModelEntry       *entry,
                Session                 *session)
{
  use_model_folder (session, kestrel_model_entry_get_folder (entry));
  adw_dialog_close (ADW_DIALOG (page));
}

/* The model folder of the settings is gone: the next start shows the status page instead
 * of failing to load it.  (The engine keeps what it has loaded until then.) */
static void
library_removed_cb (KestrelModelLibraryPage *page,
                    KestrelModelEntry       *entry,
                    Session                 *session)
{
  g_autofree char *current = g_settings_get_string (session->settings, "model-folder");
  g_autoptr(GFile) current_file = NULL;

  if (current[0] == '\0')
    return;
  current_file = g_file_new_for_path (current);
  if (g_file_equal (current_file, kestrel_model_entry_get_folder (entry)))
    g_settings_set_string (session->settings, "model-folder", "");
}

static void
show_library_page (Session *session)
{
  g_autofree char *current = g_settings_get_string (session->settings, "model-folder");

  if (session->library == NULL)
    {
      session->library = kestrel_model_library_new ();
      kestrel_model_library_add_default_roots (session->library);
    }
  if (session->library_page == NULL)
    {
      session->library_page = kestrel_model_library_page_new (session->library);
      g_object_add_weak_pointer (G_OBJECT (session->library_page), (gpointer *) &session->library_page);
      g_signal_connect (session->library_page, "use-requested", G_CALLBACK (library_use_cb), session);
      g_signal_connect (session->library_page, "download-requested", G_CALLBACK (download_requested_cb), session);
      g_signal_connect (session->library_page, "removed", G_CALLBACK (library_removed_cb), session);
    }
  kestrel_model_library_page_set_current_folder (KESTREL_MODEL_LIBRARY_PAGE (session->library_page), current);
  adw_dialog_present (session->library_page, GTK_WIDGET (session->window));
}

static void
show_models_action_cb (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  Session *session = g_object_get_data (G_OBJECT (widget), "kestrel-session");

  if (session != NULL)
    show_library_page (session);
}

static void
download_model_action_cb (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  Session *session = g_object_get_data (G_OBJECT (widget), "kestrel-session");

  if (session != NULL)
    show_download_page (session);
}

void
_kestrel_window_set_token_store (KestrelWindow     *self,
                                 KestrelTokenStore *token_store)
{
  Session *session = g_object_get_data (G_OBJECT (self), "kestrel-session");

  g_return_if_fail (session != NULL);
  g_set_object (&session->token_store, token_store);
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

/* Selecting and then activating a row reports it twice; reopening the open conversation
 * would also stop its reply. */
static void
conversation_activated_cb (KestrelSidebar *sidebar,
                           gint64          conversation_id,
                           Session        *session)
{
  if (kestrel_chat_controller_get_conversation_id (session->controller) != conversation_id)
    kestrel_chat_controller_open (session->controller, conversation_id);
  kestrel_window_show_content (session->window);
}

/* The user deleted the open conversation (undo may still bring the row back): leave it. */
static void
conversation_removed_cb (KestrelSidebar *sidebar,
                         gint64          conversation_id,
                         Session        *session)
{
  if (kestrel_chat_controller_get_conversation_id (session->controller) == conversation_id)
    kestrel_chat_controller_new_conversation (session->controller);
}

/* A new conversation gets its id (and its row) with the first message: mark it. */
static void
sidebar_items_changed_cb (GListModel *model,
                          guint       position,
                          guint       removed,
                          guint       added,
                          Session    *session)
{
  KestrelSidebar *sidebar = kestrel_window_get_sidebar (session->window);
  gint64 open_id = kestrel_chat_controller_get_conversation_id (session->controller);

  if (added > 0 && open_id != 0 && kestrel_sidebar_get_selected_id (sidebar) != open_id)
    kestrel_sidebar_select_conversation (sidebar, open_id);
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
  kestrel_sidebar_select_conversation (kestrel_window_get_sidebar (session->window), 0);
  kestrel_window_show_content (session->window);
}

void
_kestrel_window_class_add_session_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.new-conversation", NULL,
                                   new_conversation_action_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK,
                                       "win.new-conversation", NULL);
  gtk_widget_class_install_action (widget_class, "win.show-models", NULL, show_models_action_cb);
  gtk_widget_class_install_action (widget_class, "win.download-model", NULL, download_model_action_cb);
}

static void
history_cleared_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(KestrelWindow) window = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (kestrel_store_delete_all_conversations_finish (KESTREL_STORE (source), result, &error))
    message = g_strdup (_("History cleared"));
  else
    message = g_strdup_printf (_("The history could not be cleared: %s"), error->message);
  adw_toast_overlay_add_toast (kestrel_window_get_toast_overlay (window), adw_toast_new (message));
}

static void
clear_history_cb (AdwDialog *dialog,
                  Session   *session)
{
  kestrel_chat_controller_new_conversation (session->controller);
  kestrel_store_delete_all_conversations_async (session->store, NULL, history_cleared_cb,
                                                g_object_ref (session->window));
}

void
_kestrel_window_session_connect_preferences (KestrelWindow *self,
                                             AdwDialog     *dialog)
{
  Session *session = g_object_get_data (G_OBJECT (self), "kestrel-session");

  if (session == NULL)
    return;
  g_signal_connect (dialog, "clear-history", G_CALLBACK (clear_history_cb), session);
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
  KestrelSidebar *sidebar = kestrel_window_get_sidebar (self);

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

  kestrel_sidebar_set_store (sidebar, store);
  g_signal_connect (sidebar, "conversation-activated", G_CALLBACK (conversation_activated_cb), session);
  g_signal_connect (sidebar, "conversation-removed", G_CALLBACK (conversation_removed_cb), session);
  g_signal_connect (kestrel_sidebar_get_conversations (sidebar), "items-changed",
                    G_CALLBACK (sidebar_items_changed_cb), session);

  kestrel_engine_indicator_set_engine (kestrel_window_get_engine_indicator (self), engine);
  g_signal_connect (kestrel_window_get_engine_indicator (self), "retry", G_CALLBACK (retry_cb), session);
  g_signal_connect (kestrel_window_get_model_status_page (self), "folder-chosen",
                    G_CALLBACK (folder_chosen_cb), session);
  g_signal_connect (kestrel_window_get_model_status_page (self), "download-requested",
                    G_CALLBACK (download_requested_cb), session);
  kestrel_model_status_page_set_can_download (kestrel_window_get_model_status_page (self), TRUE);
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
