/* kestrel-tool-call.h — one parsed tool call, and the tool error domain.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define KESTREL_TOOL_ERROR (kestrel_tool_error_quark ())

typedef enum
{
  KESTREL_TOOL_ERROR_PARSE,              /* model output is not a well-formed call */
  KESTREL_TOOL_ERROR_UNKNOWN_TOOL,       /* no enabled tool of that name */
  KESTREL_TOOL_ERROR_INVALID_ARGUMENTS,  /* arguments fail the tool's schema */
  KESTREL_TOOL_ERROR_DISABLED,           /* tool exists but is switched off */
  KESTREL_TOOL_ERROR_TIMED_OUT,          /* the tool ran past its time limit */
  KESTREL_TOOL_ERROR_RESULT_TOO_LARGE,   /* the result exceeds the size cap */
  KESTREL_TOOL_ERROR_TOO_MANY_ROUNDS,    /* tool rounds per reply exhausted */
  KESTREL_TOOL_ERROR_TOO_MANY_CALLS,     /* too many calls in one list */
  KESTREL_TOOL_ERROR_FAILED,             /* the tool ran and reported a failure */
  KESTREL_TOOL_ERROR_BAD_OUTPUT,         /* an external tool wrote invalid JSON */
  KESTREL_TOOL_ERROR_NO_FILE,            /* no file was picked for the read-file tool */
  KESTREL_TOOL_ERROR_NOT_APPROVED,       /* the tool needs approval and the call has none */
} KestrelToolError;

GQuark kestrel_tool_error_quark (void);

#define KESTREL_TYPE_TOOL_CALL (kestrel_tool_call_get_type ())

typedef struct _KestrelToolCall KestrelToolCall;

struct _KestrelToolCall
{
  /*< private >*/
  gatomicrefcount ref_count;
  /*< public >*/
  char       *name;
  JsonObject *arguments;  /* never NULL; an empty object for f() */
  GFile      *user_file;  /* set by the UI at approval (file chooser); NULL otherwise */
  gboolean    approved;   /* set by the UI when the user approved this call */
};

GType            kestrel_tool_call_get_type      (void) G_GNUC_CONST;
KestrelToolCall *kestrel_tool_call_new           (const char      *name,
                                                  JsonObject      *arguments);
KestrelToolCall *kestrel_tool_call_ref           (KestrelToolCall *call);
void             kestrel_tool_call_unref         (KestrelToolCall *call);
void             kestrel_tool_call_set_user_file (KestrelToolCall *call,
                                                  GFile           *file);
void             kestrel_tool_call_set_approved  (KestrelToolCall *call,
                                                  gboolean         approved);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KestrelToolCall, kestrel_tool_call_unref)

G_END_DECLS
