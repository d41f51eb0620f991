/* kestrel-cli-gen-checkpoint.c — placeholder until its issue lands; replaced there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "kestrel-cli.h"

int
kcli_gen_checkpoint (int argc, char **argv)
{
  fprintf (stderr, "kestrel-cli gen-checkpoint: not built yet\n");
  return 1;
}

