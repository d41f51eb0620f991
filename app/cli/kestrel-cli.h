/* kestrel-cli.h — the subcommands of kestrel-cli, each in its own file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * kestrel-cli is plain C + the engine so that it builds in the engine-only configuration
 * (the GPU machine has no GLib).  Each command gets argv without the program name
 * (argv[0] is the command name) and returns the process exit status.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "ke-engine.h"

typedef struct {
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv);
} kcli_command;

int kcli_inspect (int argc, char **argv);
int kcli_tokenize (int argc, char **argv);
int kcli_detokenize (int argc, char **argv);
int kcli_logits (int argc, char **argv);
int kcli_generate (int argc, char **argv);
int kcli_bench (int argc, char **argv);
int kcli_gen_checkpoint (int argc, char **argv);
/* Needs GLib/libsoup: built and registered only when KE_HAVE_UI (meson -Dui=true). */
int kcli_download (int argc, char **argv);

/* Tensor parallelism options shared by logits, generate and bench (docs/tensor-parallel.md):
 * --gpus 0,1 (CUDA: the GPUs that share the model) and --tp N (CPU backend: N ranks). */
typedef struct {
  int gpus[8];
  size_t n_gpus;
  uint32_t tp;
} kcli_parallel;

/* When argv[*i] is --gpus or --tp, consumes it and its value and returns 1; returns 0 for
 * any other option, 2 after reporting a usage error. */
int kcli_parse_parallel (const char *cmd, int argc, char **argv, int *i, kcli_parallel *p);
/* Checks the options against the backend (usage error 2, else 0) and sets them in mo. */
int kcli_apply_parallel (const char *cmd, const kcli_parallel *p, ke_model_options *mo);
#define KCLI_PARALLEL_HELP \
  "  --gpus 0,1           CUDA: the GPUs that share the model (tensor parallelism)\n" \
  "  --tp N               CPU backend: run N tensor-parallel ranks (tests the rank logic)\n"

/* Prints "kestrel-cli CMD: message" to stderr and returns 1 (or 2 for usage errors). */
int kcli_fail (const char *command, ke_error *error);
int kcli_usage_error (const char *command, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
