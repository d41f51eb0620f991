/* kestrel-cli-gen-checkpoint.c — write a random-weight Gemma 3 checkpoint.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel-cli.h"
#include "ke-checkpoint-writer.h"
#include "ke-internal.h"

static const char *const cmd = "gen-checkpoint";

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: kestrel-cli gen-checkpoint OUT_DIR [OPTIONS]\n\n"
           "Writes a random-weight Gemma 3 checkpoint in the Hugging Face format.\n\n"
           "  --shape tiny|tiny-text|1b|4b|12b|27b  model shape (default tiny)\n"
           "  --layers N                   text decoder layers (default: the shape's)\n"
           "  --vision-layers N            vision encoder layers (default: the shape's)\n"
           "  --format fp8|bf16            compressed-tensors FP8-dynamic or unquantized (default fp8)\n"
           "  --layout 4.50|4.52|5         tensor names as that transformers version writes them (default 4.50)\n"
           "  --shards N                   split into N safetensors files + index (default 1)\n"
           "  --seed S                     random seed (default 0)\n"
           "  --tokenizer PATH             tokenizer.json to copy (default: $KESTREL_SHARED_DIR/tokenizer-fixture/tokenizer.json)\n"
           "  --untied-lm-head             write a separate lm_head (tie_word_embeddings false)\n"
           "  --scale-dtype bf16|f16|f32   fp8 weight_scale dtype (default bf16, as llm-compressor)\n"
           "  --scale-1d                   weight_scale [out] instead of [out, 1]\n"
           "  --threads N                  generator threads (default: all cores)\n"
           "  --quiet                      no progress output\n");
}

static bool
parse_u64 (const char *s, uint64_t max, uint64_t *out)
{
  char *end = NULL;
  errno = 0;
  if (s == NULL || *s == '\0' || *s == '-')
    return false;
  unsigned long long v = strtoull (s, &end, 0);
  if (errno != 0 || *end != '\0' || v > max)
    return false;
  *out = v;
  return true;
}

static bool
progress_cb (double fraction, const char *stage, void *user_data)
{
  int *last = user_data;
  int pct = (int) (fraction * 100.0);
  if (pct != *last) {
    *last = pct;
    fprintf (stderr, "\r%s: %3d%%", stage, pct);
    if (pct >= 100)
      fputc ('\n', stderr);
  }
  return true;
}

int
kcli_gen_checkpoint (int argc, char **argv)
{
  ke_gen_options o;
  ke_gen_options_init (&o);
  const char *out_dir = NULL;
  bool quiet = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n = 0;
    if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0) {
      usage (stdout);
      return 0;
    } else if (strcmp (a, "--quiet") == 0) {
      quiet = true;
    } else if (strcmp (a, "--untied-lm-head") == 0) {
      o.untied_lm_head = true;
    } else if (strcmp (a, "--scale-1d") == 0) {
      o.scale_1d = true;
    } else if (strcmp (a, "--scale-dtype") == 0 && v) {
      if (strcmp (v, "bf16") == 0)
        o.scale_dtype = KE_DTYPE_BF16;
      else if (strcmp (v, "f16") == 0)
        o.scale_dtype = KE_DTYPE_F16;
      else if (strcmp (v, "f32") == 0)
        o.scale_dtype = KE_DTYPE_F32;
      else
        return kcli_usage_error (cmd, "--scale-dtype is bf16, f16 or f32, not '%s'", v);
      i++;
    } else if (strcmp (a, "--shape") == 0 && v) {
      o.shape = v, i++;
    } else if (strcmp (a, "--tokenizer") == 0 && v) {
      o.tokenizer_path = v, i++;
    } else if (strcmp (a, "--layers") == 0 && v) {
      if (!parse_u64 (v, 256, &n) || n == 0)
        return kcli_usage_error (cmd, "--layers takes 1..256, not '%s'", v);
      o.layers = (int32_t) n, i++;
    } else if (strcmp (a, "--vision-layers") == 0 && v) {
      if (!parse_u64 (v, 256, &n) || n == 0)
        return kcli_usage_error (cmd, "--vision-layers takes 1..256, not '%s'", v);
      o.vision_layers = (int32_t) n, i++;
    } else if (strcmp (a, "--shards") == 0 && v) {
      if (!parse_u64 (v, 99999, &n) || n == 0)
        return kcli_usage_error (cmd, "--shards takes 1..99999, not '%s'", v);
      o.n_shards = (uint32_t) n, i++;
    } else if (strcmp (a, "--threads") == 0 && v) {
      if (!parse_u64 (v, 1024, &n) || n == 0)
        return kcli_usage_error (cmd, "--threads takes 1..1024, not '%s'", v);
      o.n_threads = (int) n, i++;
    } else if (strcmp (a, "--seed") == 0 && v) {
      if (!parse_u64 (v, UINT64_MAX, &n))
        return kcli_usage_error (cmd, "--seed takes a non-negative integer, not '%s'", v);
      o.seed = n, i++;
    } else if (strcmp (a, "--format") == 0 && v) {
      if (strcmp (v, "fp8") == 0)
        o.format = KE_GEN_FP8;
      else if (strcmp (v, "bf16") == 0)
        o.format = KE_GEN_BF16;
      else
        return kcli_usage_error (cmd, "--format is fp8 or bf16, not '%s'", v);
      i++;
    } else if (strcmp (a, "--layout") == 0 && v) {
      if (strcmp (v, "4.50") == 0)
        o.layout = KE_LAYOUT_4_50;
      else if (strcmp (v, "4.52") == 0)
        o.layout = KE_LAYOUT_4_52;
      else if (strcmp (v, "5") == 0)
        o.layout = KE_LAYOUT_5;
      else
        return kcli_usage_error (cmd, "--layout is 4.50, 4.52 or 5, not '%s'", v);
      i++;
    } else if (a[0] == '-') {
      return kcli_usage_error (cmd, "unknown option or missing value: %s", a);
    } else if (out_dir == NULL) {
      out_dir = a;
    } else {
      return kcli_usage_error (cmd, "one output folder only ('%s' and '%s')", out_dir, a);
    }
  }
  if (out_dir == NULL)
    return kcli_usage_error (cmd, "no output folder given");
  int last = -1;
  ke_error *error = NULL;
  double t0 = ke_now ();
  if (!ke_gen_checkpoint (out_dir, &o, quiet ? NULL : progress_cb, &last, &error))
    return kcli_fail (cmd, error);
  if (!quiet)
    fprintf (stderr, "Wrote %s (%s, %s) in %.1f s\n", out_dir, o.shape,
             o.format == KE_GEN_FP8 ? "fp8" : "bf16", ke_now () - t0);
  return 0;
}
