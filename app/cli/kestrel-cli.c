/* kestrel-cli.c — command dispatch for kestrel-cli.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel-cli.h"
#include "ke-tp-plan.h"

static const kcli_command commands[] = {
  { "inspect", "Describe a model folder: architecture, parameters, quantization, bytes", kcli_inspect },
  { "tokenize", "Text on stdin → token ids", kcli_tokenize },
  { "detokenize", "Token ids on stdin → text", kcli_detokenize },
  { "logits", "Write the logits of a prompt as little-endian float32", kcli_logits },
  { "generate", "Stream a reply to a prompt", kcli_generate },
  { "bench", "Measure decode/prefill speed, bandwidth and memory", kcli_bench },
  { "gen-checkpoint", "Write a random-weight Gemma 3 checkpoint (for tests)", kcli_gen_checkpoint },
#if KE_HAVE_UI
  { "download", "Download a model from the Hugging Face Hub (resumable)", kcli_download },
#endif
};

int
kcli_fail (const char *command, ke_error *error)
{
  fprintf (stderr, "kestrel-cli %s: %s\n", command,
           error && error->message ? error->message : "failed");
  ke_error_free (error);
  return 1;
}

int
kcli_usage_error (const char *command, const char *fmt, ...)
{
  va_list ap;
  fprintf (stderr, "kestrel-cli %s: ", command);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\nTry 'kestrel-cli %s --help'.\n", command);
  return 2;
}

int
kcli_parse_parallel (const char *cmd, int argc, char **argv, int *i, kcli_parallel *p)
{
  const char *a = argv[*i];
  bool gpus = !strcmp (a, "--gpus"), tp = !strcmp (a, "--tp");
  if (!gpus && !tp)
    return 0;
  if (*i + 1 >= argc)
    return kcli_usage_error (cmd, "%s needs a value", a);
  const char *v = argv[++*i];
  if (gpus) {
    ke_error *error = NULL;
    p->n_gpus = ke_parse_device_list (v, p->gpus, sizeof p->gpus / sizeof p->gpus[0], &error);
    if (p->n_gpus == 0) {
      int rc = kcli_usage_error (cmd, "--gpus: %s", error ? error->message : "bad list");
      ke_error_free (error);
      return rc;
    }
    return 1;
  }
  char *end = NULL;
  long n = strtol (v, &end, 10);
  if (!end || *end || end == v || n < 1 || n > KE_TP_MAX_RANKS)
    return kcli_usage_error (cmd, "--tp takes a number of ranks from 1 to %d, not '%s'",
                             KE_TP_MAX_RANKS, v);
  p->tp = (uint32_t) n;
  return 1;
}

int
kcli_apply_parallel (const char *cmd, const kcli_parallel *p, ke_model_options *mo)
{
  if (p->n_gpus && p->tp)
    return kcli_usage_error (cmd, "give --gpus (GPUs) or --tp (CPU ranks), not both");
  if (p->n_gpus && mo->backend == KE_BACKEND_CPU)
    return kcli_usage_error (cmd, "--gpus chooses GPUs; with --backend cpu use --tp N");
  if (p->tp && mo->backend != KE_BACKEND_CPU)
    return kcli_usage_error (cmd, "--tp N runs ranks on the CPU backend: add --backend cpu "
                                  "(on GPUs, list them with --gpus)");
  mo->devices = p->n_gpus ? p->gpus : NULL;
  mo->n_devices = p->n_gpus;
  mo->tensor_parallel = p->tp;
  return 0;
}

static void
usage (FILE *out)
{
  fprintf (out, "Usage: kestrel-cli COMMAND [OPTIONS…]\n\nCommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf (out, "  %-16s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nkestrel-cli COMMAND --help describes each command.\n");
}

int
main (int argc, char **argv)
{
  if (argc < 2) {
    usage (stderr);
    return 2;
  }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
    usage (stdout);
    return 0;
  }
  if (strcmp (argv[1], "--version") == 0) {
    printf ("kestrel-cli %s\n", PACKAGE_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);
  fprintf (stderr, "kestrel-cli: unknown command '%s'\n\n", argv[1]);
  usage (stderr);
  return 2;
}
