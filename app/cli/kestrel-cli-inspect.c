/* kestrel-cli-inspect.c — describe a model folder: architecture, parameters per part,
 * quantization, dtypes, bytes on disk and on the device, warnings.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Opens the folder with the same loader the engine uses (every check runs), without
 * creating a backend, so it works on machines without a GPU.
 */
#include <stdlib.h>
#include <string.h>

#include "kestrel-cli.h"
#include "ke-internal.h"
#include "ke-weights.h"

static const char *const cmd = "inspect";

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: kestrel-cli inspect DIR [--timing] [--no-quantize]\n\n"
           "Checks a Hugging Face Gemma 3 folder as the engine loads it and describes it.\n\n"
           "  --timing        print the load time and the resident memory after loading\n"
           "  --no-quantize   keep an unquantized checkpoint's linears in bf16 (default:\n"
           "                  quantize them to FP8 at load, as the engine does)\n");
}

static void
print_bytes (const char *label, uint64_t bytes)
{
  double mib = (double) bytes / (1024.0 * 1024.0);
  if (mib >= 1024.0)
    printf ("%-22s %llu bytes (%.2f GiB)\n", label, (unsigned long long) bytes, mib / 1024.0);
  else
    printf ("%-22s %llu bytes (%.2f MiB)\n", label, (unsigned long long) bytes, mib);
}

static void
print_count (const char *label, uint64_t n)
{
  if (n >= 100000000ull)
    printf ("%-22s %llu (%.2f B)\n", label, (unsigned long long) n, (double) n / 1e9);
  else
    printf ("%-22s %llu (%.2f M)\n", label, (unsigned long long) n, (double) n / 1e6);
}

/* VmRSS / VmHWM of this process in bytes, from /proc (0 when unavailable). */
static void
read_rss (uint64_t *rss, uint64_t *hwm)
{
  *rss = *hwm = 0;
  FILE *f = fopen ("/proc/self/status", "r");
  if (f == NULL)
    return;
  char line[256];
  while (fgets (line, sizeof line, f)) {
    unsigned long long kb;
    if (sscanf (line, "VmRSS: %llu kB", &kb) == 1)
      *rss = kb * 1024;
    else if (sscanf (line, "VmHWM: %llu kB", &kb) == 1)
      *hwm = kb * 1024;
  }
  fclose (f);
}

static void
print_config (const ke_config *c)
{
  const ke_text_config *t = &c->text;
  uint32_t n_global = 0;
  for (uint32_t i = 0; i < t->num_hidden_layers; i++)
    n_global += t->layer_kind[i] == KE_LAYER_GLOBAL;
  printf ("%-22s %s\n", "Architecture:", c->architecture);
  printf ("%-22s %u layers (%u sliding-window %u, %u global), hidden %u, intermediate %u\n",
          "Text decoder:", t->num_hidden_layers, t->num_hidden_layers - n_global,
          t->sliding_window, n_global, t->hidden_size, t->intermediate_size);
  printf ("%-22s %u heads, %u kv heads, head_dim %u, query_pre_attn_scalar %g, vocab %u\n", "",
          t->num_attention_heads, t->num_key_value_heads, t->head_dim,
          (double) t->query_pre_attn_scalar, t->vocab_size);
  printf ("%-22s rope local %g, global %g × linear %g; rms_norm_eps %g; max positions %u\n", "",
          (double) t->rope_local_base_freq, (double) t->rope_theta,
          (double) t->rope_scaling_factor, (double) t->rms_norm_eps, t->max_position_embeddings);
  if (c->has_vision) {
    const ke_vision_config *v = &c->vision;
    printf ("%-22s SigLIP %u layers, hidden %u, intermediate %u, %u heads, %u px, patch %u, "
            "%u tokens per image\n",
            "Vision tower:", v->num_hidden_layers, v->hidden_size, v->intermediate_size,
            v->num_attention_heads, v->image_size, v->patch_size, c->mm_tokens_per_image);
    printf ("%-22s boi %d, eoi %d, image %d\n", "Image tokens:", c->boi_token_id,
            c->eoi_token_id, c->image_token_id);
  }
  printf ("%-22s bos %d, pad %d, eos", "Special tokens:", c->bos_token_id, c->pad_token_id);
  for (uint32_t i = 0; i < c->n_eos; i++)
    printf ("%s%d", i ? ", " : " ", c->eos_token_ids[i]);
  printf ("\n%-22s do_sample %s, temperature %g, top_k %d, top_p %g, min_p %g, "
          "repetition_penalty %g\n",
          "Generation defaults:", c->generation.do_sample ? "true" : "false",
          (double) c->generation.temperature, c->generation.top_k, (double) c->generation.top_p,
          (double) c->generation.min_p, (double) c->generation.repetition_penalty);
  if (c->has_vision) {
    const ke_preprocess_config *p = &c->preprocess;
    printf ("%-22s %u×%u, resample %d, mean %g/%g/%g, std %g/%g/%g, pan-and-scan %s\n",
            "Image preprocessing:", p->width, p->height, p->resample, (double) p->image_mean[0],
            (double) p->image_mean[1], (double) p->image_mean[2], (double) p->image_std[0],
            (double) p->image_std[1], (double) p->image_std[2],
            p->do_pan_and_scan ? "on" : "off");
  }
}

int
kcli_inspect (int argc, char **argv)
{
  const char *dir = NULL;
  bool timing = false;
  ke_checkpoint_options options;
  ke_checkpoint_options_init (&options);
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0) {
      usage (stdout);
      return 0;
    } else if (strcmp (argv[i], "--timing") == 0) {
      timing = true;
    } else if (strcmp (argv[i], "--no-quantize") == 0) {
      options.quantize_bf16 = false;
    } else if (argv[i][0] == '-') {
      return kcli_usage_error (cmd, "unknown option %s", argv[i]);
    } else if (dir == NULL) {
      dir = argv[i];
    } else {
      return kcli_usage_error (cmd, "one folder only");
    }
  }
  if (dir == NULL)
    return kcli_usage_error (cmd, "no model folder given");

  ke_error *error = NULL;
  double t0 = ke_now ();
  ke_checkpoint *cp = ke_checkpoint_open (dir, &options, NULL, NULL, &error);
  double load_s = ke_now () - t0;
  if (cp == NULL)
    return kcli_fail (cmd, error);
  uint64_t rss, hwm;
  read_rss (&rss, &hwm);

  const ke_config *c = ke_checkpoint_config (cp);
  const ke_checkpoint_stats *st = ke_checkpoint_get_stats (cp);
  printf ("%-22s %s\n", "Folder:", dir);
  print_config (c);
  printf ("%-22s %s\n", "Tensor names:", st->layout);
  const char *q;
  if (ke_checkpoint_quant_scheme (cp) == KE_QUANT_NONE)
    q = "none (bf16 linears)";
  else if (st->quantized_at_load)
    q = "fp8-dynamic, quantized at load from the unquantized checkpoint (per-channel absmax/448)";
  else if (st->act_dynamic)
    q = "fp8-dynamic (compressed-tensors float-quantized: FP8 e4m3 weights, per-channel scales, "
        "dynamic per-token FP8 activations)";
  else
    q = "fp8 weight-only (compressed-tensors float-quantized, per-channel scales)";
  printf ("%-22s %s\n", "Quantization:", q);
  printf ("%-22s %u FP8, %u BF16/F16/F32; lm_head %s\n", "Linear layers:", st->n_fp8_linears,
          st->n_float_linears, st->lm_head_tied ? "tied to the embedding" : "separate");
  print_count ("Parameters:", ke_checkpoint_n_params (cp));
  print_count ("  text:", st->params_text);
  if (c->has_vision) {
    print_count ("  vision tower:", st->params_vision);
    print_count ("  projector:", st->params_projector);
  }
  printf ("%-22s %zu safetensors file%s\n", "Files:", st->n_files, st->n_files == 1 ? "" : "s");
  print_bytes ("Bytes on disk:", st->file_bytes);
  for (int d = 0; d < 4; d++)
    if (st->file_bytes_by_dtype[d]) {
      char label[32];
      snprintf (label, sizeof label, "  %s:", ke_dtype_name ((ke_dtype) d));
      print_bytes (label, st->file_bytes_by_dtype[d]);
    }
  print_bytes ("Bytes on the GPU:", st->device_bytes);
  printf ("%-22s weights as handed to the backend (FP8 + f32 scales; KV cache and activations "
          "not included)\n", "");
  size_t nw = ke_checkpoint_n_warnings (cp);
  printf ("%-22s %zu\n", "Warnings:", nw + st->n_warnings_dropped);
  for (size_t i = 0; i < nw; i++)
    printf ("  warning: %s\n", ke_checkpoint_warning (cp, i));
  if (st->n_warnings_dropped)
    printf ("  … and %zu more warnings\n", st->n_warnings_dropped);
  if (timing) {
    printf ("%-22s %.3f s (config, mmap, validation%s)\n", "Load time:", load_s,
            st->quantized_at_load ? ", quantization" : "");
    print_bytes ("Resident (VmRSS):", rss);
    print_bytes ("Peak resident (VmHWM):", hwm);
    print_bytes ("Loader-owned host:", st->owned_bytes);
  }
  ke_checkpoint_free (cp);
  return 0;
}
