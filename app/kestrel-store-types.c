/* kestrel-store-types.c — enum GTypes and their stable string forms.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-store"

#include "config.h"

#include <string.h>

#include "kestrel-store-types.h"

G_DEFINE_ENUM_TYPE (KestrelMessageRole, kestrel_message_role,
  G_DEFINE_ENUM_VALUE (KESTREL_MESSAGE_ROLE_USER, "user"),
  G_DEFINE_ENUM_VALUE (KESTREL_MESSAGE_ROLE_MODEL, "model"),
  G_DEFINE_ENUM_VALUE (KESTREL_MESSAGE_ROLE_TOOL, "tool"))

G_DEFINE_ENUM_TYPE (KestrelMessageStatus, kestrel_message_status,
  G_DEFINE_ENUM_VALUE (KESTREL_MESSAGE_STATUS_COMPLETE, "complete"),
  G_DEFINE_ENUM_VALUE (KESTREL_MESSAGE_STATUS_STREAMING, "streaming"),
  G_DEFINE_ENUM_VALUE (KESTREL_MESSAGE_STATUS_CANCELLED, "cancelled"),
  G_DEFINE_ENUM_VALUE (KESTREL_MESSAGE_STATUS_ERROR, "error"),
  G_DEFINE_ENUM_VALUE (KESTREL_MESSAGE_STATUS_INTERRUPTED, "interrupted"))

G_DEFINE_ENUM_TYPE (KestrelToolCallStatus, kestrel_tool_call_status,
  G_DEFINE_ENUM_VALUE (KESTREL_TOOL_CALL_STATUS_PENDING, "pending"),
  G_DEFINE_ENUM_VALUE (KESTREL_TOOL_CALL_STATUS_RUNNING, "running"),
  G_DEFINE_ENUM_VALUE (KESTREL_TOOL_CALL_STATUS_COMPLETE, "complete"),
  G_DEFINE_ENUM_VALUE (KESTREL_TOOL_CALL_STATUS_ERROR, "error"))

G_DEFINE_ENUM_TYPE (KestrelToolApproval, kestrel_tool_approval,
  G_DEFINE_ENUM_VALUE (KESTREL_TOOL_APPROVAL_PENDING, "pending"),
  G_DEFINE_ENUM_VALUE (KESTREL_TOOL_APPROVAL_APPROVED, "approved"),
  G_DEFINE_ENUM_VALUE (KESTREL_TOOL_APPROVAL_DENIED, "denied"),
  G_DEFINE_ENUM_VALUE (KESTREL_TOOL_APPROVAL_AUTOMATIC, "automatic"))

G_DEFINE_ENUM_TYPE (KestrelTitleSource, kestrel_title_source,
  G_DEFINE_ENUM_VALUE (KESTREL_TITLE_SOURCE_NONE, "none"),
  G_DEFINE_ENUM_VALUE (KESTREL_TITLE_SOURCE_FIRST_MESSAGE, "first-message"),
  G_DEFINE_ENUM_VALUE (KESTREL_TITLE_SOURCE_MODEL, "model"),
  G_DEFINE_ENUM_VALUE (KESTREL_TITLE_SOURCE_USER, "user"))

/* The nick of each enum value is its database string. */
static const char *
enum_to_string (GType type,
                int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *ev = g_enum_get_value (klass, value);

  return ev != NULL ? ev->value_nick : NULL;
}

static gboolean
enum_from_string (GType       type,
                  const char *str,
                  int        *value)
{
  g_autoptr(GEnumClass) klass = NULL;
  GEnumValue *ev;

  if (str == NULL)
    return FALSE;

  klass = g_type_class_ref (type);
  ev = g_enum_get_value_by_nick (klass, str);
  if (ev == NULL)
    return FALSE;

  *value = ev->value;
  return TRUE;
}

#define DEFINE_STRING_CONVERSIONS(TypeName, type_name, TYPE)                    \
  const char *                                                                  \
  type_name##_to_string (TypeName value)                                        \
  {                                                                             \
    return enum_to_string (TYPE, value);                                        \
  }                                                                             \
                                                                                \
  gboolean                                                                      \
  type_name##_from_string (const char *str,                                     \
                           TypeName   *value)                                   \
  {                                                                             \
    int v;                                                                      \
                                                                                \
    if (!enum_from_string (TYPE, str, &v))                                      \
      return FALSE;                                                             \
    *value = (TypeName) v;                                                      \
    return TRUE;                                                                \
  }

DEFINE_STRING_CONVERSIONS (KestrelMessageRole, kestrel_message_role, KESTREL_TYPE_MESSAGE_ROLE)
DEFINE_STRING_CONVERSIONS (KestrelMessageStatus, kestrel_message_status, KESTREL_TYPE_MESSAGE_STATUS)
DEFINE_STRING_CONVERSIONS (KestrelToolCallStatus, kestrel_tool_call_status, KESTREL_TYPE_TOOL_CALL_STATUS)
DEFINE_STRING_CONVERSIONS (KestrelToolApproval, kestrel_tool_approval, KESTREL_TYPE_TOOL_APPROVAL)
