/* kestrel-store-types.h — enums shared by the conversation store and its model objects.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Values are stored in the database as the strings returned by the *_to_string () functions,
 * never as the numbers, so reordering these enums does not change what a file means. */

typedef enum
{
  KESTREL_MESSAGE_ROLE_USER,
  KESTREL_MESSAGE_ROLE_MODEL,
  KESTREL_MESSAGE_ROLE_TOOL,
} KestrelMessageRole;

typedef enum
{
  KESTREL_MESSAGE_STATUS_COMPLETE,
  KESTREL_MESSAGE_STATUS_STREAMING,
  KESTREL_MESSAGE_STATUS_CANCELLED,
  KESTREL_MESSAGE_STATUS_ERROR,
  KESTREL_MESSAGE_STATUS_INTERRUPTED,
} KestrelMessageStatus;

typedef enum
{
  KESTREL_TOOL_CALL_STATUS_PENDING,
  KESTREL_TOOL_CALL_STATUS_RUNNING,
  KESTREL_TOOL_CALL_STATUS_COMPLETE,
  KESTREL_TOOL_CALL_STATUS_ERROR,
} KestrelToolCallStatus;

typedef enum
{
  KESTREL_TOOL_APPROVAL_PENDING,
  KESTREL_TOOL_APPROVAL_APPROVED,
  KESTREL_TOOL_APPROVAL_DENIED,
  KESTREL_TOOL_APPROVAL_AUTOMATIC,
} KestrelToolApproval;

/* Who chose a conversation's title; a title is only replaced by one of equal or higher rank,
 * so a late model-generated title never overwrites one the user typed. */
typedef enum
{
  KESTREL_TITLE_SOURCE_NONE,
  KESTREL_TITLE_SOURCE_FIRST_MESSAGE,
  KESTREL_TITLE_SOURCE_MODEL,
  KESTREL_TITLE_SOURCE_USER,
} KestrelTitleSource;

#define KESTREL_TYPE_MESSAGE_ROLE     (kestrel_message_role_get_type ())
#define KESTREL_TYPE_MESSAGE_STATUS   (kestrel_message_status_get_type ())
#define KESTREL_TYPE_TOOL_CALL_STATUS (kestrel_tool_call_status_get_type ())
#define KESTREL_TYPE_TOOL_APPROVAL    (kestrel_tool_approval_get_type ())
#define KESTREL_TYPE_TITLE_SOURCE     (kestrel_title_source_get_type ())

GType       kestrel_message_role_get_type        (void) G_GNUC_CONST;
GType       kestrel_message_status_get_type      (void) G_GNUC_CONST;
GType       kestrel_tool_call_status_get_type    (void) G_GNUC_CONST;
GType       kestrel_tool_approval_get_type       (void) G_GNUC_CONST;
GType       kestrel_title_source_get_type        (void) G_GNUC_CONST;

const char *kestrel_message_role_to_string       (KestrelMessageRole     role);
gboolean    kestrel_message_role_from_string     (const char            *str,
                                                  KestrelMessageRole    *role);
const char *kestrel_message_status_to_string     (KestrelMessageStatus   status);
gboolean    kestrel_message_status_from_string   (const char            *str,
                                                  KestrelMessageStatus  *status);
const char *kestrel_tool_call_status_to_string   (KestrelToolCallStatus  status);
gboolean    kestrel_tool_call_status_from_string (const char            *str,
                                                  KestrelToolCallStatus *status);
const char *kestrel_tool_approval_to_string      (KestrelToolApproval    approval);
gboolean    kestrel_tool_approval_from_string    (const char            *str,
                                                  KestrelToolApproval   *approval);

G_END_DECLS
