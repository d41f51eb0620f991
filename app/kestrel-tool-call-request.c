/* kestrel-tool-call-request.c — one tool call of a reply, as the UI shows and answers it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The chat controller creates one per call the model made and puts it on the reply's
 * KestrelChatMessage ("tool-calls"); the tool-call card shows it and, while its approval
 * is PENDING, answers it (kestrel_tool_call_request_answer → "answered").  Every state
 * change is notified, so a card bound to it follows along.
 */
#define G_LOG_DOMAIN "kestrel-chat"

#include "config.h"

#include <json-glib/json-glib.h>

#include "kestrel-tool-call-request.h"
#include "kestrel-tool-prompt.h"

struct _KestrelToolCallRequest
{
  GObject                parent_instance;

  char                  *name;
  char                  *arguments;
  gboolean               needs_file;
  GFile                 *file;
  KestrelToolCallStatus  status;
  KestrelToolApproval    approval;
  char                  *result;
  char                  *error_message;
  gint64                 store_id;
  gboolean               has_answer;   /* answered, maybe before anyone listened */
  KestrelToolCallAnswer  answer;
};

G_DEFINE_FINAL_TYPE (KestrelToolCallRequest, kestrel_tool_call_request, G_TYPE_OBJECT)

enum { PROP_0, PROP_NAME, PROP_STATUS, PROP_APPROVAL, PROP_RESULT, PROP_ERROR_MESSAGE, N_PROPS };
enum { ANSWERED, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

KestrelToolCallRequest *
kestrel_tool_call_request_new (const char *name,
                               const char *arguments_json,
                               gboolean    needs_file)
{
  KestrelToolCallRequest *self;

  g_return_val_if_fail (name != NULL, NULL);

  self = g_object_new (KESTREL_TYPE_TOOL_CALL_REQUEST, NULL);
  self->name = g_strdup (name);
  self->arguments = g_strdup (arguments_json != NULL ? arguments_json : "{}");
  self->needs_file = needs_file;
  return self;
}

const char *
kestrel_tool_call_request_get_name (KestrelToolCallRequest *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), NULL);
  return self->name;
}

const char *
kestrel_tool_call_request_get_arguments (KestrelToolCallRequest *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), NULL);
  return self->arguments;
}

char *
kestrel_tool_call_request_pretty_json (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_return_val_if_fail (json != NULL, NULL);

  if (!json_parser_load_from_data (parser, json, -1, NULL) || json_parser_get_root (parser) == NULL)
    return g_strdup (json);
  /* json.dumps(indent=4), the form the model itself reads */
  return kestrel_tool_prompt_json_dumps (json_parser_get_root (parser), TRUE);
}

char *
kestrel_tool_call_request_dup_arguments_pretty (KestrelToolCallRequest *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), NULL);

  return kestrel_tool_call_request_pretty_json (self->arguments);
}

gboolean
kestrel_tool_call_request_get_needs_file (KestrelToolCallRequest *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), FALSE);
  return self->needs_file;
}

GFile *
kestrel_tool_call_request_get_file (KestrelToolCallRequest *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), NULL);
  return self->file;
}

KestrelToolCallStatus
kestrel_tool_call_request_get_status (KestrelToolCallRequest *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), KESTREL_TOOL_CALL_STATUS_PENDING);
  return self->status;
}

KestrelToolApproval
kestrel_tool_call_request_get_approval (KestrelToolCallRequest *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), KESTREL_TOOL_APPROVAL_PENDING);
  return self->approval;
}

const char *
kestrel_tool_call_request_get_result (KestrelToolCallRequest *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), NULL);
  return self->result;
}

const char *
kestrel_tool_call_request_get_error_message (KestrelToolCallRequest *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), NULL);
  return self->error_message;
}

gint64
kestrel_tool_call_request_get_store_id (KestrelToolCallRequest *self)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), 0);
  return self->store_id;
}

void
kestrel_tool_call_request_set_store_id (KestrelToolCallRequest *self,
                                        gint64                  id)
{
  g_return_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self));
  self->store_id = id;
}

void
kestrel_tool_call_request_answer (KestrelToolCallRequest *self,
                                  KestrelToolCallAnswer   answer,
                                  GFile                  *file)
{
  g_return_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self));
  g_return_if_fail (file == NULL || G_IS_FILE (file));

  if (self->approval != KESTREL_TOOL_APPROVAL_PENDING || self->has_answer)
    return;
  if (answer != KESTREL_TOOL_CALL_ANSWER_DENY && self->needs_file)
    g_set_object (&self->file, file);
  /* Kept: a click can come before the controller starts waiting for it (the card shows as
   * soon as the call is parsed, the round starts once the reply is saved). */
  self->has_answer = TRUE;
  self->answer = answer;
  g_signal_emit (self, signals[ANSWERED], 0, answer);
}

gboolean
kestrel_tool_call_request_get_answer (KestrelToolCallRequest *self,
                                      KestrelToolCallAnswer  *answer)
{
  g_return_val_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self), FALSE);

  if (self->has_answer && answer != NULL)
    *answer = self->answer;
  return self->has_answer;
}

void
kestrel_tool_call_request_set_approval (KestrelToolCallRequest *self,
                                        KestrelToolApproval     approval)
{
  g_return_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self));

  if (self->approval == approval)
    return;
  self->approval = approval;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_APPROVAL]);
}

static void
set_status (KestrelToolCallRequest *self,
            KestrelToolCallStatus   status)
{
  if (self->status == status)
    return;
  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

void
kestrel_tool_call_request_set_running (KestrelToolCallRequest *self)
{
  g_return_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self));
  set_status (self, KESTREL_TOOL_CALL_STATUS_RUNNING);
}

void
kestrel_tool_call_request_set_result (KestrelToolCallRequest *self,
                                      const char             *result)
{
  g_return_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self));

  g_free (self->result);
  self->result = g_strdup (result);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RESULT]);
  set_status (self, KESTREL_TOOL_CALL_STATUS_COMPLETE);
}

void
kestrel_tool_call_request_set_error (KestrelToolCallRequest *self,
                                     const char             *message,
                                     const char             *result)
{
  g_return_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self));

  g_free (self->error_message);
  self->error_message = g_strdup (message);
  g_free (self->result);
  self->result = g_strdup (result);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR_MESSAGE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RESULT]);
  set_status (self, KESTREL_TOOL_CALL_STATUS_ERROR);
}

/* {"error": "…"} → "…"; anything else → the text itself. */
static char *
error_message_from_result (const char *result)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (result == NULL)
    return NULL;
  if (json_parser_load_from_data (parser, result, -1, NULL) &&
      (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root) &&
      json_object_has_member (json_node_get_object (root), "error"))
    {
      JsonNode *e = json_object_get_member (json_node_get_object (root), "error");

      if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
        return g_strdup (json_node_get_string (e));
    }
  return g_strdup (result);
}

void
kestrel_tool_call_request_restore (KestrelToolCallRequest *self,
                                   KestrelToolCallStatus   status,
                                   KestrelToolApproval     approval,
                                   const char             *result)
{
  g_return_if_fail (KESTREL_IS_TOOL_CALL_REQUEST (self));

  /* A call that never finished (the app quit while it waited or ran) is not resumed. */
  if (status == KESTREL_TOOL_CALL_STATUS_PENDING || status == KESTREL_TOOL_CALL_STATUS_RUNNING)
    {
      status = KESTREL_TOOL_CALL_STATUS_ERROR;
      if (approval == KESTREL_TOOL_APPROVAL_PENDING)
        approval = KESTREL_TOOL_APPROVAL_DENIED;
    }
  self->approval = approval;
  g_free (self->result);
  self->result = g_strdup (result);
  g_clear_pointer (&self->error_message, g_free);
  if (status == KESTREL_TOOL_CALL_STATUS_ERROR)
    self->error_message = error_message_from_result (result);
  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_APPROVAL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RESULT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR_MESSAGE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

static void
kestrel_tool_call_request_finalize (GObject *object)
{
  KestrelToolCallRequest *self = (KestrelToolCallRequest *) object;

  g_free (self->name);
  g_free (self->arguments);
  g_clear_object (&self->file);
  g_free (self->result);
  g_free (self->error_message);

  G_OBJECT_CLASS (kestrel_tool_call_request_parent_class)->finalize (object);
}

static void
kestrel_tool_call_request_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  KestrelToolCallRequest *self = KESTREL_TOOL_CALL_REQUEST (object);

  switch (prop_id)
    {
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_STATUS: g_value_set_enum (value, self->status); break;
    case PROP_APPROVAL: g_value_set_enum (value, self->approval); break;
    case PROP_RESULT: g_value_set_string (value, self->result); break;
    case PROP_ERROR_MESSAGE: g_value_set_string (value, self->error_message); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
kestrel_tool_call_request_class_init (KestrelToolCallRequestClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = kestrel_tool_call_request_finalize;
  object_class->get_property = kestrel_tool_call_request_get_property;

  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, ro);
  properties[PROP_STATUS] = g_param_spec_enum ("status", NULL, NULL, KESTREL_TYPE_TOOL_CALL_STATUS,
                                               KESTREL_TOOL_CALL_STATUS_PENDING, ro);
  properties[PROP_APPROVAL] = g_param_spec_enum ("approval", NULL, NULL, KESTREL_TYPE_TOOL_APPROVAL,
                                                 KESTREL_TOOL_APPROVAL_PENDING, ro);
  properties[PROP_RESULT] = g_param_spec_string ("result", NULL, NULL, NULL, ro);
  properties[PROP_ERROR_MESSAGE] = g_param_spec_string ("error-message", NULL, NULL, NULL, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The UI answered (KestrelToolCallAnswer as an int). */
  signals[ANSWERED] = g_signal_new ("answered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
}

static void
kestrel_tool_call_request_init (KestrelToolCallRequest *self)
{
  self->status = KESTREL_TOOL_CALL_STATUS_PENDING;
  self->approval = KESTREL_TOOL_APPROVAL_PENDING;
}
