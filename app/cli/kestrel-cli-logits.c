/* kestrel-cli-logits.c — placeholder until its issue lands; replaced there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "kestrel-cli.h"

int
kcli_logits (int argc, char **argv)
{
  fprintf (stderr, "kestrel-cli logits: not built yet\n");
  return 1;
}

int
kcli_generate (int argc, char **argv)
{
  fprintf (stderr, "kestrel-cli generate: not built yet (issue 5)\n");
  return 1;
}
