/* kestrel-cli-bench.c — placeholder until its issue lands; replaced there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "kestrel-cli.h"

int
kcli_bench (int argc, char **argv)
{
  fprintf (stderr, "kestrel-cli bench: not built yet\n");
  return 1;
}

