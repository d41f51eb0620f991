/* kestrel-cli-logits.c — `kestrel-cli logits` (a prompt's logits to a file) and
 * `kestrel-cli generate` (stream a reply).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Prompts: --prompt TEXT is wrapped by the chat prompt builder as one user turn (images
 * first, then the text, with the generation prompt); with --raw the text is tokenized as
 * is; --ids "2 …" gives token ids directly.  With --raw and --ids, each run of image soft
 * token ids takes the next --image in order.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kestrel-cli.h"
#include "kestrel-cli-image.h"
#include "ke-internal.h"

#define MAX_IMAGES 64

typedef struct {
  const char *model_dir;
  const char *prompt;
  const char *ids;
  const char *system;
  const char *out;
  const char *images[MAX_IMAGES];
  size_t n_images;
  bool raw, all_positions, skip_act_quant, quiet;
  ke_backend_kind backend;
  int threads;
  kcli_parallel parallel;
  uint32_t context;
  /* generate */
  long max_tokens;
  double temperature;
  bool have_temperature;
  uint64_t seed;
} run_options;

static void
usage (FILE *out, const char *cmd)
{
  if (strcmp (cmd, "logits") == 0)
    fprintf (out,
             "Usage: kestrel-cli logits --model DIR (--prompt TEXT | --ids \"2 …\") --out FILE\n"
             "                          [--image FILE …] [--raw] [--all-positions] [OPTIONS]\n\n"
             "Writes little-endian float32 logits of the last position ([vocab]) or, with\n"
             "--all-positions, of every position ([positions, vocab], row-major).\n\n");
  else
    fprintf (out,
             "Usage: kestrel-cli generate --model DIR --prompt TEXT [--image FILE …] [--system TEXT]\n"
             "                            [--max-tokens N] [--temperature T] [--seed S] [OPTIONS]\n\n"
             "Streams the model's reply to stdout; statistics go to stderr.  Sampling defaults\n"
             "come from the model's generation_config.json; --temperature 0 is greedy.\n\n");
  fprintf (out,
           "  --model DIR          a Hugging Face model folder\n"
           "  --prompt TEXT        one user turn, wrapped with the chat template\n"
           "  --raw                tokenize --prompt as is (no chat template)\n"
           "  --ids \"ID …\"         token ids (logits only)\n"
           "  --image FILE         an image (PPM P6%s); repeat for several\n"
           "  --backend cpu|cuda|auto (default auto)\n"
           "  --threads N          CPU backend threads (default: all cores)\n"
           "  --context N          context length (default: the model's, capped)\n"
           "  --skip-act-quant     W8A16: do not quantize activations of FP8 linears\n"
           KCLI_PARALLEL_HELP,
#if KE_HAVE_UI
           ", PNG, JPEG, …"
#else
           ""
#endif
  );
}

static bool
parse_long (const char *s, long min, long max, long *out)
{
  char *end = NULL;
  errno = 0;
  long v = strtol (s, &end, 10);
  if (errno || !end || *end || end == s || v < min || v > max)
    return false;
  *out = v;
  return true;
}

/* 0 ok, 1 help printed, 2 usage error reported */
static int
parse (int argc, char **argv, run_options *o)
{
  const char *cmd = argv[0];
  memset (o, 0, sizeof *o);
  o->backend = KE_BACKEND_AUTO;
  o->max_tokens = 512;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
    int parallel = kcli_parse_parallel (cmd, argc, argv, &i, &o->parallel);
    if (parallel == 1)
      continue;
    if (parallel == 2)
      return 2;
    if (!strcmp (a, "--help") || !strcmp (a, "-h")) {
      usage (stdout, cmd);
      return 1;
    } else if (!strcmp (a, "--raw")) {
      o->raw = true;
    } else if (!strcmp (a, "--all-positions")) {
      o->all_positions = true;
    } else if (!strcmp (a, "--skip-act-quant")) {
      o->skip_act_quant = true;
    } else if (!strcmp (a, "--quiet")) {
      o->quiet = true;
    } else if (!v) {
      return kcli_usage_error (cmd, "unknown option or missing value: %s", a);
    } else if (!strcmp (a, "--model")) {
      o->model_dir = argv[++i];
    } else if (!strcmp (a, "--prompt")) {
      o->prompt = argv[++i];
    } else if (!strcmp (a, "--ids")) {
      o->ids = argv[++i];
    } else if (!strcmp (a, "--system")) {
      o->system = argv[++i];
    } else if (!strcmp (a, "--out")) {
      o->out = argv[++i];
    } else if (!strcmp (a, "--image")) {
      if (o->n_images == MAX_IMAGES)
        return kcli_usage_error (cmd, "at most %d images", MAX_IMAGES);
      o->images[o->n_images++] = argv[++i];
    } else if (!strcmp (a, "--backend")) {
      i++;
      if (!strcmp (v, "cpu"))
        o->backend = KE_BACKEND_CPU;
      else if (!strcmp (v, "cuda"))
        o->backend = KE_BACKEND_CUDA;
      else if (!strcmp (v, "auto"))
        o->backend = KE_BACKEND_AUTO;
      else
        return kcli_usage_error (cmd, "--backend takes cpu, cuda or auto, not '%s'", v);
    } else if (!strcmp (a, "--threads")) {
      i++;
      if (!parse_long (v, 0, 1024, &n))
        return kcli_usage_error (cmd, "--threads takes 0..1024");
      o->threads = (int) n;
    } else if (!strcmp (a, "--context")) {
      i++;
      if (!parse_long (v, 1, 1 << 22, &n))
        return kcli_usage_error (cmd, "--context takes 1..%d", 1 << 22);
      o->context = (uint32_t) n;
    } else if (!strcmp (a, "--max-tokens")) {
      i++;
      if (!parse_long (v, 0, 1 << 22, &n))
        return kcli_usage_error (cmd, "--max-tokens takes 0..%d", 1 << 22);
      o->max_tokens = n;
    } else if (!strcmp (a, "--temperature")) {
      i++;
      char *end = NULL;
      errno = 0;
      o->temperature = strtod (v, &end);
      if (errno || !end || *end || !(o->temperature >= 0.0) || o->temperature > 100.0)
        return kcli_usage_error (cmd, "--temperature takes a number in [0, 100]");
      o->have_temperature = true;
    } else if (!strcmp (a, "--seed")) {
      i++;
      char *end = NULL;
      errno = 0;
      o->seed = strtoull (v, &end, 0);
      if (errno || !end || *end || *v == '-')
        return kcli_usage_error (cmd, "--seed takes a non-negative integer");
    } else {
      return kcli_usage_error (cmd, "unknown option: %s", a);
    }
  }
  if (!o->model_dir)
    return kcli_usage_error (cmd, "--model DIR is required");
  bool logits = strcmp (cmd, "logits") == 0;
  if (logits && !o->out)
    return kcli_usage_error (cmd, "--out FILE is required");
  if (logits ? (!o->prompt == !o->ids) : !o->prompt)
    return kcli_usage_error (cmd, logits ? "give exactly one of --prompt and --ids"
                                         : "--prompt TEXT is required");
  if (o->ids && o->raw)
    return kcli_usage_error (cmd, "--raw applies to --prompt only");
  ke_model_options check;
  ke_model_options_init (&check);
  check.backend = o->backend;
  return kcli_apply_parallel (cmd, &o->parallel, &check);
}

static bool
parse_ids (const char *text, ke_token **ids, size_t *n, ke_error **error)
{
  size_t cap = 64, len = 0;
  ke_token *out = malloc (cap * sizeof *out);
  const char *p = text;
  while (out) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',')
      p++;
    if (!*p)
      break;
    char *end = NULL;
    errno = 0;
    long v = strtol (p, &end, 10);
    if (errno || end == p || v < 0 || v > INT32_MAX) {
      free (out);
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "--ids: not a token id at \"%.20s\"", p);
    }
    if (len == cap) {
      ke_token *grown = ke_realloc_array (out, cap *= 2, sizeof *out);
      if (!grown)
        break;
      out = grown;
    }
    out[len++] = (ke_token) v;
    p = end;
  }
  if (!out)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
  if (len == 0) {
    free (out);
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "--ids: no token ids given.");
  }
  *ids = out;
  *n = len;
  return true;
}

/* Builds the prompt from the options; images[] are the loaded files. */
static bool
build_prompt (const run_options *o, ke_model *model, const kcli_image *images, ke_prompt *prompt,
              ke_error **error)
{
  memset (prompt, 0, sizeof *prompt);
  const ke_tokenizer *tok = ke_model_get_tokenizer (model);
  const ke_model_info *info = ke_model_get_info (model);
  if (o->prompt && !o->raw) {
    if (!tok)
      return ke_set_error (error, KE_ERROR_FORMAT, "%s has no tokenizer.json.", o->model_dir);
    ke_chat_part parts[MAX_IMAGES + 1];
    size_t n = 0;
    for (size_t i = 0; i < o->n_images; i++)
      parts[n++] = (ke_chat_part) { .kind = KE_PART_IMAGE, .image = &images[i].image };
    parts[n++] = (ke_chat_part) { .kind = KE_PART_TEXT, .text = o->prompt,
                                  .text_len = strlen (o->prompt) };
    ke_chat_part sys = { .kind = KE_PART_TEXT, .text = o->system,
                         .text_len = o->system ? strlen (o->system) : 0 };
    ke_chat_message msgs[2];
    size_t n_msgs = 0;
    if (o->system)
      msgs[n_msgs++] = (ke_chat_message) { .role = KE_ROLE_SYSTEM, .parts = &sys, .n_parts = 1 };
    msgs[n_msgs++] = (ke_chat_message) { .role = KE_ROLE_USER, .parts = parts, .n_parts = n };
    ke_chat_options copts;
    ke_chat_options_init (&copts);
    return ke_chat_build (tok, msgs, n_msgs, &copts, info->mm_tokens_per_image, prompt, error);
  }
  if (o->raw) {
    if (!tok)
      return ke_set_error (error, KE_ERROR_FORMAT, "%s has no tokenizer.json.", o->model_dir);
    if (!ke_tokenizer_encode (tok, o->prompt, strlen (o->prompt), &prompt->ids, &prompt->n_ids,
                              error))
      return false;
  } else if (!parse_ids (o->ids, &prompt->ids, &prompt->n_ids, error)) {
    return false;
  }
  if (o->n_images) {
    const ke_image **list = ke_calloc_array (o->n_images, sizeof *list);
    if (!list) {
      ke_prompt_clear (prompt);
      return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
    }
    for (size_t i = 0; i < o->n_images; i++)
      list[i] = &images[i].image;
    prompt->images = list;
    prompt->n_images = o->n_images;
  }
  return true;
}

static bool
progress_cb (double fraction, const char *stage, void *user_data)
{
  (void) user_data;
  fprintf (stderr, "\r%-24s %3d%%", stage, (int) (fraction * 100.0));
  if (fraction >= 1.0)
    fputc ('\n', stderr);
  return true;
}

typedef struct {
  run_options opt;
  kcli_image images[MAX_IMAGES];
  ke_model *model;
  ke_session *session;
  ke_prompt prompt;
} run_state;

static void
run_state_clear (run_state *st)
{
  ke_prompt_clear (&st->prompt);
  ke_session_free (st->session);
  ke_model_free (st->model);
  for (size_t i = 0; i < st->opt.n_images; i++)
    kcli_image_clear (&st->images[i]);
}

/* Loads images and model, builds the prompt, makes the session. */
static bool
setup (run_state *st, ke_error **error)
{
  for (size_t i = 0; i < st->opt.n_images; i++)
    if (!kcli_image_load (st->opt.images[i], &st->images[i], error))
      return false;
  ke_model_options mo;
  ke_model_options_init (&mo);
  mo.backend = st->opt.backend;
  mo.n_threads = st->opt.threads;
  /* checked against the backend by parse() */
  mo.devices = st->opt.parallel.n_gpus ? st->opt.parallel.gpus : NULL;
  mo.n_devices = st->opt.parallel.n_gpus;
  mo.tensor_parallel = st->opt.parallel.tp;
  mo.skip_act_quant = st->opt.skip_act_quant;
  if (st->opt.context)
    mo.max_context = st->opt.context;
  st->model = ke_model_open (st->opt.model_dir, &mo, st->opt.quiet ? NULL : progress_cb, NULL,
                             error);
  if (!st->model)
    return false;
  if (!build_prompt (&st->opt, st->model, st->images, &st->prompt, error))
    return false;
  ke_session_options so;
  ke_session_options_init (&so);
  const ke_model_info *info = ke_model_get_info (st->model);
  size_t want = st->prompt.n_ids + (size_t) st->opt.max_tokens;
  so.context_length = want < info->max_context ? (uint32_t) want : info->max_context;
  st->session = ke_session_new (st->model, &so, error);
  return st->session != NULL;
}

int
kcli_logits (int argc, char **argv)
{
  run_state st = { 0 };
  int rc = parse (argc, argv, &st.opt);
  if (rc)
    return rc == 1 ? 0 : rc;
  st.opt.max_tokens = 0;
  ke_error *error = NULL;
  float *logits = NULL;
  FILE *f = NULL;
  if (!setup (&st, &error))
    goto fail;
  size_t vocab = ke_model_get_info (st.model)->vocab_size;
  size_t rows = st.opt.all_positions ? st.prompt.n_ids : 1;
  logits = ke_malloc_array (rows * vocab, sizeof (float));
  if (!logits) {
    ke_set_error (&error, KE_ERROR_NO_MEMORY, "Out of memory for %zu × %zu logits.", rows, vocab);
    goto fail;
  }
  ke_stats stats = { 0 };
  bool ok = st.opt.all_positions
              ? ke_session_prefill_all (st.session, &st.prompt, logits, &stats, &error)
              : ke_session_prefill (st.session, &st.prompt, logits, &stats, &error);
  if (!ok)
    goto fail;
  f = fopen (st.opt.out, "wb");
  if (!f) {
    ke_set_error (&error, KE_ERROR_IO, "%s: %s", st.opt.out, strerror (errno));
    goto fail;
  }
  /* little-endian float32: the host order on every platform Kestrel builds for */
  _Static_assert (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian hosts only");
  if (fwrite (logits, sizeof (float), rows * vocab, f) != rows * vocab || fclose (f) != 0) {
    f = NULL;
    ke_set_error (&error, KE_ERROR_IO, "%s: write failed.", st.opt.out);
    goto fail;
  }
  if (!st.opt.quiet)
    fprintf (stderr, "%u tokens (%u images) in %.2f s on %s; wrote %zu × %zu logits to %s\n",
             stats.prompt_tokens, stats.images_encoded, stats.prefill_seconds,
             ke_model_get_info (st.model)->backend, rows, vocab, st.opt.out);
  free (logits);
  run_state_clear (&st);
  return 0;
fail:
  if (f)
    fclose (f);
  free (logits);
  run_state_clear (&st);
  return kcli_fail (argv[0], error);
}

typedef struct {
  ke_detokenizer *detok;
} stream;

static bool
on_token (ke_token token, void *data)
{
  stream *s = data;
  size_t len = 0;
  const char *text = ke_detokenizer_push (s->detok, token, &len);
  if (text && len) {
    fwrite (text, 1, len, stdout);
    fflush (stdout);
  }
  return true;
}

int
kcli_generate (int argc, char **argv)
{
  run_state st = { 0 };
  int rc = parse (argc, argv, &st.opt);
  if (rc)
    return rc == 1 ? 0 : rc;
  ke_error *error = NULL;
  stream s = { 0 };
  if (!setup (&st, &error))
    goto fail;
  if (!ke_model_get_tokenizer (st.model)) {
    ke_set_error (&error, KE_ERROR_FORMAT, "%s has no tokenizer.json.", st.opt.model_dir);
    goto fail;
  }
  s.detok = ke_detokenizer_new (ke_model_get_tokenizer (st.model), KE_DECODE_SKIP_SPECIAL);
  if (!s.detok) {
    ke_set_error (&error, KE_ERROR_NO_MEMORY, "Out of memory.");
    goto fail;
  }
  ke_sampling sampling;
  ke_sampling_init (&sampling, st.model);
  if (st.opt.have_temperature)
    sampling.temperature = (float) st.opt.temperature;
  sampling.seed = st.opt.seed;
  sampling.max_tokens = (uint32_t) st.opt.max_tokens;
  ke_stats prefill_stats = { 0 }, gen_stats = { 0 };
  /* process CPU time too: on a shared machine wall time alone says little */
  clock_t c0 = clock ();
  if (!ke_session_prefill (st.session, &st.prompt, NULL, &prefill_stats, &error))
    goto fail;
  clock_t c1 = clock ();
  if (!ke_session_generate (st.session, &sampling, on_token, &s, &gen_stats, &error))
    goto fail;
  clock_t c2 = clock ();
  size_t len = 0;
  const char *tail = ke_detokenizer_flush (s.detok, &len);
  if (tail && len)
    fwrite (tail, 1, len, stdout);
  fputc ('\n', stdout);
  if (!st.opt.quiet) {
    double decode = gen_stats.decode_seconds - gen_stats.time_to_first_token;
    fprintf (stderr,
             "prefill: %u tokens (%u images) in %.2f s (%.1f tok/s, %.2f CPU s); decode: %u tokens"
             " in %.2f s (%.2f tok/s after the first, %.2f CPU s) on %s\n",
             prefill_stats.prompt_tokens, prefill_stats.images_encoded,
             prefill_stats.prefill_seconds,
             prefill_stats.prefill_seconds > 0 ? prefill_stats.prompt_tokens / prefill_stats.prefill_seconds : 0.0,
             (double) (c1 - c0) / CLOCKS_PER_SEC, gen_stats.generated_tokens, gen_stats.decode_seconds,
             gen_stats.generated_tokens > 1 && decode > 0 ? (gen_stats.generated_tokens - 1) / decode : 0.0,
             (double) (c2 - c1) / CLOCKS_PER_SEC,
             ke_model_get_info (st.model)->backend);
  }
  ke_detokenizer_free (s.detok);
  run_state_clear (&st);
  return 0;
fail:
  ke_detokenizer_free (s.detok);
  run_state_clear (&st);
  return kcli_fail (argv[0], error);
}
