/* kestrel-external-tool.c — a user-defined tool that runs a command.
 *
 * The command is an argv list from the user's configuration, started directly with
 * GSubprocess — never through a shell, so nothing in the arguments or in the model's input is
 * ever interpreted as shell syntax.  argv[0] must be an absolute path.  The call's arguments
 * go to the command's stdin as one JSON object (and a newline); the command writes one JSON
 * value to stdout and exits 0.  Anything else is an error with a clear message: non-zero exit
 * (with the end of stderr), output that is not JSON, output over the cap (the command is
 * killed).  The registry's timeout cancels the call, which kills the command.  These tools
 * always need approval and start disabled unless the configuration enables them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-tools"

#include "config.h"

#include <signal.h>

#include "kestrel-external-tool.h"
#include "kestrel-tool-prompt.h"

#define STDERR_KEEP 2048
#define READ_CHUNK  8192

struct _KestrelExternalTool
{
  KestrelTool   parent_instance;

  GStrv         argv;
  gsize         max_output;
};

G_DEFINE_FINAL_TYPE (KestrelExternalTool, kestrel_external_tool, KESTREL_TYPE_TOOL)

typedef struct _RunState RunState;

typedef struct
{
  RunState     *state;
  GInputStream *stream;
  GByteArray   *data;
  gsize         keep;      /* bytes to keep */
  gboolean      overflow;  /* more than keep arrived */
  gboolean      is_stdout;
} Reader;

struct _RunState
{
  GTask        *task;
  GSubprocess  *process;
  GCancellable *cancellable;
  gulong        cancel_handler;
  Reader        out;
  Reader        err;
  guint         pending;
  GError       *error;      /* first I/O error */
};

static void
run_state_free (RunState *state)
{
  if (state->cancel_handler != 0)
    g_cancellable_disconnect (state->cancellable, state->cancel_handler);
  g_clear_object (&state->cancellable);
  g_clear_object (&state->process);
  g_clear_pointer (&state->out.data, g_byte_array_unref);
  g_clear_pointer (&state->err.data, g_byte_array_unref);
  g_clear_error (&state->error);
  g_free (state);
}

static void
kestrel_external_tool_finalize (GObject *object)
{
  KestrelExternalTool *self = KESTREL_EXTERNAL_TOOL (object);

  g_clear_pointer (&self->argv, g_strfreev);

  G_OBJECT_CLASS (kestrel_external_tool_parent_class)->finalize (object);
}

static char *
stderr_tail (Reader *err)
{
  g_autofree char *text = NULL;

  if (err->data->len == 0)
    return g_strdup ("");
  text = g_utf8_make_valid ((const char *) err->data->data, err->data->len);
  g_strstrip (text);
  return g_strdup_printf (": %s%s", text, err->overflow ? " …" : "");
}

static void
finish_run (RunState *state)
{
  g_autoptr(GTask) task = state->task;
  KestrelExternalTool *self = g_task_get_source_object (task);
  const char *name = kestrel_tool_get_name (KESTREL_TOOL (self));
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) parse_error = NULL;
  g_autofree char *tail = NULL;

  if (g_cancellable_is_cancelled (state->cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "The command of “%s” was stopped", name);
      return;
    }
  if (state->out.overflow)
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_RESULT_TOO_LARGE,
                               "The command of “%s” wrote more than %zu bytes and was stopped",
                               name, self->max_output);
      return;
    }
  if (state->error != NULL)
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                               "Could not talk to the command of “%s”: %s", name, state->error->message);
      return;
    }

  tail = stderr_tail (&state->err);
  if (!g_subprocess_get_if_exited (state->process))
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                               "The command of “%s” was killed by signal %d%s", name,
                               g_subprocess_get_term_sig (state->process), tail);
      return;
    }
  if (g_subprocess_get_exit_status (state->process) != 0)
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                               "The command of “%s” failed with exit status %d%s", name,
                               g_subprocess_get_exit_status (state->process), tail);
      return;
    }

  parser = json_parser_new ();
  if (state->out.data->len == 0 ||
      !g_utf8_validate_len ((const char *) state->out.data->data, state->out.data->len, NULL) ||
      !json_parser_load_from_data (parser, (const char *) state->out.data->data,
                                   (gssize) state->out.data->len, &parse_error) ||
      json_parser_get_root (parser) == NULL)
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_BAD_OUTPUT,
                               "The command of “%s” did not write JSON%s%s", name,
                               parse_error != NULL ? ": " : "",
                               parse_error != NULL ? parse_error->message : "");
      return;
    }
  g_task_return_pointer (task, json_node_copy (json_parser_get_root (parser)),
                         (GDestroyNotify) json_node_unref);
}

static void
step_done (RunState *state)
{
  g_assert (state->pending > 0);
  if (--state->pending == 0)
    finish_run (state);
}

static void
read_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Reader *reader = user_data;
  RunState *state = reader->state;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;

  bytes = g_input_stream_read_bytes_finish (reader->stream, result, &error);
  if (bytes == NULL)
    {
      if (state->error == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        state->error = g_steal_pointer (&error);
      step_done (state);
      return;
    }
  len = g_bytes_get_size (bytes);
  if (len == 0)
    {
      step_done (state);
      return;
    }
  if (reader->data->len + len > reader->keep)
    {
      reader->overflow = TRUE;
      if (reader->is_stdout)
        {
          /* Output past the cap is never going to be used: stop the command now. */
          g_subprocess_force_exit (state->process);
          step_done (state);
          return;
        }
      len = reader->keep - reader->data->len;
    }
  g_byte_array_append (reader->data, g_bytes_get_data (bytes, NULL), len);
  g_input_stream_read_bytes_async (reader->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   state->cancellable, read_cb, reader);
}

static void
wait_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  RunState *state = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (object), result, &error) &&
      state->error == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    state->error = g_steal_pointer (&error);
  step_done (state);
}

static void
write_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  GOutputStream *stream = G_OUTPUT_STREAM (object);

  /* A command that exits without reading its input is not an error in itself; its exit
   * status and output decide. */
  g_output_stream_write_all_finish (stream, result, NULL, NULL);
  g_output_stream_close (stream, NULL, NULL);
  g_free (user_data);
}

static void
cancelled_cb (GCancellable *cancellable,
              GSubprocess  *process)
{
  g_subprocess_force_exit (process);
}

static void
kestrel_external_tool_run_async (KestrelTool         *tool,
                                 KestrelToolCall     *call,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  KestrelExternalTool *self = KESTREL_EXTERNAL_TOOL (tool);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(JsonNode) args = NULL;
  g_autoptr(GError) error = NULL;
  GTask *task;
  RunState *state;
  char *input;
  GOutputStream *stdin_pipe;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, kestrel_external_tool_run_async);
  g_task_set_check_cancellable (task, FALSE);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  state = g_new0 (RunState, 1);
  state->task = task;
  state->cancellable = cancellable != NULL ? g_object_ref (cancellable) : g_cancellable_new ();
  state->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) self->argv, &error);
  g_task_set_task_data (task, state, (GDestroyNotify) run_state_free);
  if (state->process == NULL)
    {
      g_task_return_new_error (task, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                               "Could not start the command of “%s”: %s",
                               kestrel_tool_get_name (tool), error->message);
      g_object_unref (task);
      return;
    }

  state->out = (Reader) { state, g_subprocess_get_stdout_pipe (state->process),
                          g_byte_array_new (), self->max_output, FALSE, TRUE };
  state->err = (Reader) { state, g_subprocess_get_stderr_pipe (state->process),
                          g_byte_array_new (), STDERR_KEEP, FALSE, FALSE };
  state->pending = 3;
  state->cancel_handler = g_cancellable_connect (state->cancellable, G_CALLBACK (cancelled_cb),
                                                 state->process, NULL);

  args = json_node_init_object (json_node_alloc (), call->arguments);
  input = kestrel_tool_prompt_json_dumps (args, FALSE);
  input = g_realloc (input, strlen (input) + 2);
  strcat (input, "\n");
  stdin_pipe = g_subprocess_get_stdin_pipe (state->process);
  g_output_stream_write_all_async (stdin_pipe, input, strlen (input), G_PRIORITY_DEFAULT,
                                   NULL, write_cb, input);

  g_input_stream_read_bytes_async (state->out.stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   state->cancellable, read_cb, &state->out);
  g_input_stream_read_bytes_async (state->err.stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   state->cancellable, read_cb, &state->err);
  g_subprocess_wait_async (state->process, state->cancellable, wait_cb, state);
}

static JsonNode *
kestrel_external_tool_run_finish (KestrelTool   *tool,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
kestrel_external_tool_class_init (KestrelExternalToolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  KestrelToolClass *tool_class = KESTREL_TOOL_CLASS (klass);
  struct sigaction action;

  object_class->finalize = kestrel_external_tool_finalize;
  tool_class->run_async = kestrel_external_tool_run_async;
  tool_class->run_finish = kestrel_external_tool_run_finish;

  /* Writing to a command that already exited must be an EPIPE error, not a SIGPIPE that
   * kills the app.  Only the default disposition is changed; a handler someone set stays. */
  if (sigaction (SIGPIPE, NULL, &action) == 0 && action.sa_handler == SIG_DFL)
    signal (SIGPIPE, SIG_IGN);
}

static void
kestrel_external_tool_init (KestrelExternalTool *self)
{
  self->max_output = KESTREL_EXTERNAL_TOOL_DEFAULT_MAX_OUTPUT;
}

/**
 * kestrel_external_tool_new:
 * @argv: the command and its fixed arguments; argv[0] must be an absolute path
 * @timeout_seconds: 0 for the registry's default
 *
 * Returns: (transfer full): a disabled tool that requires approval, or %NULL.
 */
KestrelExternalTool *
kestrel_external_tool_new (const char          *name,
                           const char          *description,
                           JsonObject          *parameters,
                           const char * const  *argv,
                           guint                timeout_seconds,
                           GError             **error)
{
  KestrelExternalTool *self;

  g_return_val_if_fail (name != NULL, NULL);

  if (argv == NULL || argv[0] == NULL || !g_path_is_absolute (argv[0]))
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "The command of “%s” must start with an absolute path", name);
      return NULL;
    }
  if (timeout_seconds > 3600)
    {
      g_set_error (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                   "The timeout of “%s” is over an hour", name);
      return NULL;
    }

  self = g_object_new (KESTREL_TYPE_EXTERNAL_TOOL,
                       "name", name,
                       "description", description,
                       "parameters", parameters,
                       "requires-approval", TRUE,
                       "enabled", FALSE,
                       "timeout-seconds", timeout_seconds,
                       NULL);
  self->argv = g_strdupv ((char **) argv);
  return self;
}

/**
 * kestrel_external_tool_new_from_json:
 * @object: `{"name", "description", "parameters", "argv": [...], "timeout_seconds", "enabled"}`
 */
KestrelExternalTool *
kestrel_external_tool_new_from_json (JsonObject  *object,
                                     GError     **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  KestrelExternalTool *self;
  JsonNode *node;
  const char *name;
  JsonNode *parameters;
  gint64 timeout = 0;

  name = json_object_get_string_member_with_default (object, "name", NULL);
  if (name == NULL)
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED, "no \"name\"");
      return NULL;
    }
  parameters = json_object_get_member (object, "parameters");
  if (parameters != NULL && !JSON_NODE_HOLDS_OBJECT (parameters))
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                           "\"parameters\" must be a JSON schema object");
      return NULL;
    }
  node = json_object_get_member (object, "argv");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node) || json_array_get_length (json_node_get_array (node)) == 0)
    {
      g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                           "\"argv\" must be a non-empty list of strings");
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (json_node_get_array (node)); i++)
    {
      JsonNode *arg = json_array_get_element (json_node_get_array (node), i);

      if (!JSON_NODE_HOLDS_VALUE (arg) || json_node_get_value_type (arg) != G_TYPE_STRING)
        {
          g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                               "\"argv\" must be a non-empty list of strings");
          return NULL;
        }
      g_ptr_array_add (argv, g_strdup (json_node_get_string (arg)));
    }
  g_ptr_array_add (argv, NULL);

  node = json_object_get_member (object, "timeout_seconds");
  if (node != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
          (timeout = json_node_get_int (node)) < 1 || timeout > 3600)
        {
          g_set_error_literal (error, KESTREL_TOOL_ERROR, KESTREL_TOOL_ERROR_FAILED,
                               "\"timeout_seconds\" must be a whole number from 1 to 3600");
          return NULL;
        }
    }

  self = kestrel_external_tool_new (name,
                                    json_object_get_string_member_with_default (object, "description", ""),
                                    parameters != NULL ? json_node_get_object (parameters) : NULL,
                                    (const char * const *) argv->pdata, (guint) timeout, error);
  if (self != NULL)
    kestrel_tool_set_enabled (KESTREL_TOOL (self),
                              json_object_get_boolean_member_with_default (object, "enabled", FALSE));
  return self;
}

const char * const *
kestrel_external_tool_get_argv (KestrelExternalTool *self)
{
  g_return_val_if_fail (KESTREL_IS_EXTERNAL_TOOL (self), NULL);
  return (const char * const *) self->argv;
}

void
kestrel_external_tool_set_max_output (KestrelExternalTool *self,
                                      gsize                max_bytes)
{
  g_return_if_fail (KESTREL_IS_EXTERNAL_TOOL (self));
  g_return_if_fail (max_bytes > 0);
  self->max_output = max_bytes;
}
