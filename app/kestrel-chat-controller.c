/* kestrel-chat-controller.c — one open conversation: its messages, the store, the engine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The view shows `messages` (KestrelChatMessage), which the controller keeps in step with
 * the store and the engine.  Nothing here blocks a frame: store writes go through the
 * store's _async calls (its own thread), images are encoded and decoded in GTask threads,
 * and the reply streams from the engine thread, coalesced to frame rate.  Each message's
 * store id travels on the KestrelChatMessage as object data ("kestrel-store-id", and
 * "kestrel-parent-id" for the message it answers).  The other parts are in
 * kestrel-chat-controller-{thread,reply,tools}.c (see kestrel-chat-controller-internal.h).
 */
#define G_LOG_DOMAIN "kestrel-chat"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-chat-controller-internal.h"
#include "kestrel-message.h"

G_DEFINE_FINAL_TYPE (KestrelChatController, kestrel_chat_controller, G_TYPE_OBJECT)

enum { PROP_0, PROP_BUSY, N_PROPS };
enum { ERROR, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

gint64
_kestrel_chat_controller_message_store_id (KestrelChatMessage *message)
{
  return GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (message), STORE_ID));
}

void
_kestrel_chat_controller_set_message_store_id (KestrelChatMessage *message,
                      const char         *key,
                      gint64              id)
{
  g_object_set_data (G_OBJECT (message), key, GSIZE_TO_POINTER ((gsize) id));
}

void
_kestrel_chat_controller_report_error (KestrelChatController *self,
              const char            *what,
              const GError          *error)
{
  g_autofree char *message = g_strdup_printf ("%s: %s", what, error->message);

  g_warning ("%s", message);
  g_signal_emit (self, signals[ERROR], 0, message);
}

void
_kestrel_chat_controller_notify_busy (KestrelChatController *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

/* ---- opening ----------------------------------------------------------------------- */

typedef struct
{
  KestrelChatController *self;   /* strong */
  guint                  serial;
} OpenData;

static void
open_converted_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  OpenData *od = user_data;
  KestrelChatController *self = od->self;
  g_autoptr(GPtrArray) chat = g_task_propagate_pointer (G_TASK (result), NULL);

  if (od->serial == self->open_serial && chat != NULL)
    g_list_store_splice (self->messages, 0, g_list_model_get_n_items (G_LIST_MODEL (self->messages)),
                         chat->pdata, chat->len);
  g_object_unref (od->self);
  g_free (od);
}

static void
open_loaded_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  OpenData *od = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) thread = kestrel_store_load_thread_finish (KESTREL_STORE (source), result, &error);
  GTask *task;

  if (thread == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _kestrel_chat_controller_report_error (od->self, _("The conversation could not be opened"), error);
      g_object_unref (od->self);
      g_free (od);
      return;
    }

  task = g_task_new (NULL, od->self->cancellable, open_converted_cb, od);
  g_task_set_task_data (task, g_ptr_array_ref (thread), (GDestroyNotify) g_ptr_array_unref);
  g_task_run_in_thread (task, _kestrel_chat_controller_thread_to_chat_thread);
  g_object_unref (task);
}

void
kestrel_chat_controller_open (KestrelChatController *self,
                              gint64                 conversation_id)
{
  OpenData *od;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  kestrel_chat_controller_cancel (self);
  self->conversation_id = conversation_id;
  self->open_serial++;
  g_list_store_remove_all (self->messages);

  od = g_new0 (OpenData, 1);
  od->self = g_object_ref (self);
  od->serial = self->open_serial;
  kestrel_store_load_thread_async (self->store, conversation_id, self->cancellable, open_loaded_cb, od);
}

void
kestrel_chat_controller_new_conversation (KestrelChatController *self)
{
  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  kestrel_chat_controller_cancel (self);
  self->open_serial++;
  self->conversation_id = 0;
  g_list_store_remove_all (self->messages);
}

/* ---- send -------------------------------------------------------------------------- */

typedef struct
{
  KestrelChatController *self;
  KestrelChatMessage    *user;
  ReplyRow              *row;
  gint64                 parent_id;
} SendData;

static void
send_data_free (SendData *sd)
{
  g_object_unref (sd->self);
  g_object_unref (sd->user);
  g_free (sd);
}

static void
user_saved_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  SendData *sd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(KestrelMessage) stored = kestrel_store_append_message_finish (KESTREL_STORE (source), result, &error);

  if (stored == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _kestrel_chat_controller_report_error (sd->self, _("The message could not be saved"), error);
      sd->row->store_id = -1;
      if (sd->row->finished)
        _kestrel_chat_controller_reply_row_free (sd->row);
      send_data_free (sd);
      return;
    }

  _kestrel_chat_controller_set_message_store_id (sd->user, STORE_ID, kestrel_message_get_id (stored));
  _kestrel_chat_controller_save_reply_row (sd->self, sd->row, kestrel_message_get_id (stored));
  send_data_free (sd);
}

static void
images_encoded_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  SendData *sd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) attachments = g_task_propagate_pointer (G_TASK (result), &error);

  if (attachments == NULL)
    {
      _kestrel_chat_controller_report_error (sd->self, _("The images could not be saved"), error);
      attachments = g_ptr_array_new ();
    }

  kestrel_store_append_message_async (sd->self->store, sd->self->conversation_id, sd->parent_id,
                                      KESTREL_MESSAGE_ROLE_USER, KESTREL_MESSAGE_STATUS_COMPLETE,
                                      kestrel_chat_message_get_text (sd->user), attachments,
                                      sd->self->cancellable, user_saved_cb, sd);
}

static void send_user_message (KestrelChatController *self,
                               KestrelChatMessage    *user,
                               gint64                 parent_id);

void
kestrel_chat_controller_send (KestrelChatController *self,
                              const char            *text,
                              GPtrArray             *images)
{
  g_autoptr(KestrelChatMessage) user = NULL;
  g_autoptr(GError) error = NULL;
  gint64 parent_id;
  guint n;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));
  g_return_if_fail (text != NULL);

  if (kestrel_chat_controller_get_busy (self))
    return;

  if (self->conversation_id == 0)
    {
      g_autoptr(KestrelConversation) conversation =
        kestrel_store_create_conversation (self->store, self->system_prompt, NULL, &error);

      if (conversation == NULL)
        {
          _kestrel_chat_controller_report_error (self, _("The conversation could not be saved"), error);
          return;
        }
      self->conversation_id = kestrel_conversation_get_id (conversation);
    }

  n = g_list_model_get_n_items (G_LIST_MODEL (self->messages));
  user = kestrel_chat_message_new (KESTREL_ROLE_USER, text);
  for (guint i = 0; images != NULL && i < images->len; i++)
    kestrel_chat_message_add_image (user, g_ptr_array_index (images, i));

  parent_id = 0;
  if (n > 0)
    {
      g_autoptr(KestrelChatMessage) last = g_list_model_get_item (G_LIST_MODEL (self->messages), n - 1);
      parent_id = _kestrel_chat_controller_message_store_id (last);
    }
  send_user_message (self, user, parent_id);
}

/* Appends `user` to the view, starts the reply, and saves both (user under parent_id). */
static void
send_user_message (KestrelChatController *self,
                   KestrelChatMessage    *user,
                   gint64                 parent_id)
{
  g_autoptr(KestrelChatMessage) reply = kestrel_chat_message_new (KESTREL_ROLE_MODEL, "");
  GPtrArray *user_images = kestrel_chat_message_get_images (user);
  GPtrArray *image_copy = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_image_unref);
  SendData *sd;
  GTask *task;

  for (guint i = 0; user_images != NULL && i < user_images->len; i++)
    g_ptr_array_add (image_copy, kestrel_image_ref (g_ptr_array_index (user_images, i)));
  kestrel_chat_message_set_status (reply, KESTREL_CHAT_MESSAGE_PENDING);
  _kestrel_chat_controller_set_message_store_id (user, PARENT_ID, parent_id);

  sd = g_new0 (SendData, 1);
  sd->self = g_object_ref (self);
  sd->user = g_object_ref (user);
  sd->parent_id = parent_id;

  g_list_store_append (self->messages, user);
  g_list_store_append (self->messages, reply);
  sd->row = _kestrel_chat_controller_start_reply (self, reply, g_list_model_get_n_items (G_LIST_MODEL (self->messages)) - 1);

  task = g_task_new (NULL, NULL, images_encoded_cb, sd);
  g_task_set_task_data (task, image_copy, (GDestroyNotify) g_ptr_array_unref);
  g_task_run_in_thread (task, _kestrel_chat_controller_encode_images_thread);
  g_object_unref (task);
}

void
kestrel_chat_controller_cancel (KestrelChatController *self)
{
  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  if (self->generation != NULL)
    {
      self->stop_requested = TRUE;
      kestrel_generation_cancel (self->generation);
    }
  if (self->round_cancellable != NULL)
    g_cancellable_cancel (self->round_cancellable);
}

/* ---- regenerate / delete ----------------------------------------------------------- */

static guint
position_of (KestrelChatController *self,
             KestrelChatMessage    *message,
             gboolean              *found)
{
  guint position = 0;

  *found = g_list_store_find (self->messages, message, &position);
  return position;
}

void
kestrel_chat_controller_regenerate (KestrelChatController *self,
                                    KestrelChatMessage    *message)
{
  g_autoptr(KestrelChatMessage) reply = NULL;
  gboolean found;
  guint position;
  gint64 parent_id;
  ReplyRow *row;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  if (kestrel_chat_controller_get_busy (self) || kestrel_chat_message_get_role (message) != KESTREL_ROLE_MODEL)
    return;
  position = position_of (self, message, &found);
  parent_id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (message), PARENT_ID));
  if (!found || parent_id == 0)
    return;

  /* The new reply is a sibling of the old one; what followed the old one is not shown. */
  g_list_store_splice (self->messages, position,
                       g_list_model_get_n_items (G_LIST_MODEL (self->messages)) - position, NULL, 0);
  reply = kestrel_chat_message_new (KESTREL_ROLE_MODEL, "");
  kestrel_chat_message_set_status (reply, KESTREL_CHAT_MESSAGE_PENDING);
  g_list_store_append (self->messages, reply);
  row = _kestrel_chat_controller_start_reply (self, reply, position);
  _kestrel_chat_controller_save_reply_row (self, row, parent_id);
}

void
kestrel_chat_controller_delete (KestrelChatController *self,
                                KestrelChatMessage    *message)
{
  g_autoptr(GError) error = NULL;
  gboolean found;
  guint position;
  gint64 id;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  position = position_of (self, message, &found);
  if (!found)
    return;
  if (self->reply != NULL)
    kestrel_chat_controller_cancel (self);

  id = _kestrel_chat_controller_message_store_id (message);
  /* The store deletes the message with everything that follows it (its subtree). */
  if (id > 0 && !kestrel_store_delete_message (self->store, id, &error))
    {
      _kestrel_chat_controller_report_error (self, _("The message could not be deleted"), error);
      return;
    }
  g_list_store_splice (self->messages, position,
                       g_list_model_get_n_items (G_LIST_MODEL (self->messages)) - position, NULL, 0);
}

void
kestrel_chat_controller_edit (KestrelChatController *self,
                              KestrelChatMessage    *message,
                              const char            *text)
{
  g_autoptr(KestrelChatMessage) edited = NULL;
  GPtrArray *images;
  gboolean found;
  guint position;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  if (kestrel_chat_controller_get_busy (self) || kestrel_chat_message_get_role (message) != KESTREL_ROLE_USER)
    return;
  position = position_of (self, message, &found);
  if (!found)
    return;

  /* The edited text is a new alternative of the message (a sibling in the store); the
   * old message and its replies stay there as the other branch. */
  edited = kestrel_chat_message_new (KESTREL_ROLE_USER, text);
  images = kestrel_chat_message_get_images (message);
  for (guint i = 0; images != NULL && i < images->len; i++)
    kestrel_chat_message_add_image (edited, g_ptr_array_index (images, i));
  g_list_store_splice (self->messages, position,
                       g_list_model_get_n_items (G_LIST_MODEL (self->messages)) - position, NULL, 0);
  send_user_message (self, edited,
                     GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (message), PARENT_ID)));
}

void
kestrel_chat_controller_switch_branch (KestrelChatController *self,
                                       KestrelChatMessage    *message,
                                       int                    delta)
{
  g_autoptr(GPtrArray) siblings = NULL;
  g_autoptr(GError) error = NULL;
  gint64 id = _kestrel_chat_controller_message_store_id (message);
  int index = -1, target;

  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));

  if (kestrel_chat_controller_get_busy (self) || id <= 0)
    return;
  siblings = kestrel_store_list_siblings (self->store, id, &error);
  if (siblings == NULL)
    {
      _kestrel_chat_controller_report_error (self, _("The alternatives could not be read"), error);
      return;
    }
  for (guint i = 0; i < siblings->len; i++)
    if (kestrel_message_get_id (g_ptr_array_index (siblings, i)) == id)
      index = (int) i;
  target = index + delta;
  if (index < 0 || target < 0 || target >= (int) siblings->len)
    return;
  if (!kestrel_store_select_message (self->store,
                                     kestrel_message_get_id (g_ptr_array_index (siblings, target)),
                                     &error))
    {
      _kestrel_chat_controller_report_error (self, _("The alternative could not be shown"), error);
      return;
    }
  /* the shown thread follows the selection */
  kestrel_chat_controller_open (self, self->conversation_id);
}

/* ---- object ------------------------------------------------------------------------ */

KestrelChatController *
kestrel_chat_controller_new (KestrelStore  *store,
                             KestrelEngine *engine)
{
  KestrelChatController *self;

  g_return_val_if_fail (KESTREL_IS_STORE (store), NULL);
  g_return_val_if_fail (KESTREL_IS_ENGINE (engine), NULL);

  self = g_object_new (KESTREL_TYPE_CHAT_CONTROLLER, NULL);
  self->store = g_object_ref (store);
  self->engine = g_object_ref (engine);
  return self;
}

GListModel *
kestrel_chat_controller_get_messages (KestrelChatController *self)
{
  return G_LIST_MODEL (self->messages);
}

gint64
kestrel_chat_controller_get_conversation_id (KestrelChatController *self)
{
  return self->conversation_id;
}

gboolean
kestrel_chat_controller_get_busy (KestrelChatController *self)
{
  return self->generation != NULL || self->round_cancellable != NULL;
}

guint
kestrel_chat_controller_get_n_pending_saves (KestrelChatController *self)
{
  return self->n_pending_saves;
}

void
kestrel_chat_controller_set_system_prompt (KestrelChatController *self,
                                           const char            *system_prompt)
{
  g_free (self->system_prompt);
  self->system_prompt = g_strdup (system_prompt);
}

void
kestrel_chat_controller_set_tools (KestrelChatController *self,
                                   KestrelToolRegistry   *tools)
{
  g_return_if_fail (KESTREL_IS_CHAT_CONTROLLER (self));
  g_return_if_fail (tools == NULL || KESTREL_IS_TOOL_REGISTRY (tools));

  g_set_object (&self->tools, tools);
}

KestrelToolRegistry *
kestrel_chat_controller_get_tools (KestrelChatController *self)
{
  g_return_val_if_fail (KESTREL_IS_CHAT_CONTROLLER (self), NULL);
  return self->tools;
}

void
_kestrel_chat_controller_set_generate_func (KestrelChatController   *self,
                                            KestrelChatGenerateFunc  func,
                                            gpointer                 user_data)
{
  self->generate_func = func;
  self->generate_data = user_data;
}

void
kestrel_chat_controller_set_sampling (KestrelChatController         *self,
                                      const KestrelSamplingSettings *settings)
{
  self->sampling = *settings;
}

static void
kestrel_chat_controller_dispose (GObject *object)
{
  KestrelChatController *self = (KestrelChatController *) object;

  g_cancellable_cancel (self->cancellable);
  if (self->generation != NULL)
    kestrel_generation_cancel (self->generation);
  if (self->round_cancellable != NULL)
    g_cancellable_cancel (self->round_cancellable);

  G_OBJECT_CLASS (kestrel_chat_controller_parent_class)->dispose (object);
}

static void
kestrel_chat_controller_finalize (GObject *object)
{
  KestrelChatController *self = (KestrelChatController *) object;

  g_clear_object (&self->generation);
  g_clear_object (&self->reply);
  g_clear_object (&self->messages);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->store);
  g_clear_object (&self->engine);
  g_clear_object (&self->tools);
  g_clear_object (&self->round_cancellable);
  g_clear_pointer (&self->always_allowed, g_hash_table_unref);
  g_free (self->system_prompt);

  G_OBJECT_CLASS (kestrel_chat_controller_parent_class)->finalize (object);
}

static void
kestrel_chat_controller_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  KestrelChatController *self = KESTREL_CHAT_CONTROLLER (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, kestrel_chat_controller_get_busy (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_chat_controller_class_init (KestrelChatControllerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = kestrel_chat_controller_dispose;
  object_class->finalize = kestrel_chat_controller_finalize;
  object_class->get_property = kestrel_chat_controller_get_property;

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* A sentence for a toast when saving or loading failed. */
  signals[ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
kestrel_chat_controller_init (KestrelChatController *self)
{
  self->messages = g_list_store_new (KESTREL_TYPE_CHAT_MESSAGE);
  self->cancellable = g_cancellable_new ();
  self->always_allowed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  kestrel_sampling_settings_init (&self->sampling);
}
