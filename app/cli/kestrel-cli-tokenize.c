/* kestrel-cli-tokenize.c — placeholder until its issue lands; replaced there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "kestrel-cli.h"

int
kcli_tokenize (int argc, char **argv)
{
  fprintf (stderr, "kestrel-cli tokenize: not built yet\n");
  return 1;
}

int
kcli_detokenize (int argc, char **argv)
{
  fprintf (stderr, "kestrel-cli detokenize: not built yet (issue 4)\n");
  return 1;
}
