/* kestrel-cli-bench.c — `kestrel-cli bench`: decode and prefill speed of a backend.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Measures, on the chosen backend (default auto):
 *  - the device's read bandwidth (CUDA: a read-only kernel over 2 GiB), the decode roofline;
 *  - decode tok/s at contexts 512, 8K and 32K: one token per forward at position ctx − 1
 *    (the cache holds whatever was there: attention reads ctx keys either way), 64 timed
 *    steps after warm-up, three ways: sampled on the device where the backend can
 *    (forward_sample: only the token id comes back — what a session pays), greedy and with
 *    Gemma 3's sampling defaults (T 1, top-k 64, top-p 0.95); and with the logits copied to
 *    the host every step (the path without device sampling);
 *  - prefill tok/s and time to first token for prompts of 512, 4096 and 16K random ids
 *    (chunks of the backend's max batch, logits of the last position);
 *  - the device memory in use at its highest observed point (device-wide, cudaMemGetInfo),
 *    and (CUDA, not --quick) with one context alone: an 8K cache after an 8K prefill and
 *    decode steps, and a 128K cache after decode steps at position 128K − 1 (also timed);
 *  - decode as a fraction of the roofline: bytes each token must read (FP8 linears,
 *    the bf16 lm_head, the KV cache at that context) / measured bandwidth;
 *  - images (vision models): one image through preprocessing + tower + projector
 *    (encode_image until the embeddings are on the device; 896×896 RGB, and 1280×960
 *    which needs the resize), median of 9; multimodal time to first token: a fresh session
 *    prefilling [user: image, a 20-token question] to its logits (hash, cache miss,
 *    tower, prefill), a new image each time, median of 7.
 * Output: one JSON object (stdout or --json FILE), then a short table.
 *
 * --random generates a Gemma 3 4b checkpoint with random weights (the full 27-layer vision
 * tower) in a temporary folder first and removes it at the end.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kestrel-cli.h"
#include "ke-internal.h"
#include "ke-backend.h"
#include "ke-checkpoint-writer.h"
#if KE_HAVE_CUDA
#include "ke-cuda.h"
#endif

#define N_CTX 3
#define N_PROMPT 3
#define DECODE_STEPS 64

static const uint32_t decode_ctx[N_CTX] = { 512, 8192, 32768 };
static const uint32_t prompt_len[N_PROMPT] = { 512, 4096, 16384 };

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double peak_used_gib = 0;

static void
sample_memory (void)
{
#if KE_HAVE_CUDA
  size_t free_b = 0, total_b = 0;
  if (ke_cuda_device_count () > 0 && ke_cuda_mem_info (&free_b, &total_b, NULL)) {
    double used = (double) (total_b - free_b) / (1024.0 * 1024.0 * 1024.0);
    if (used > peak_used_gib)
      peak_used_gib = used;
  }
#endif
}

static bool
forward_chunks (ke_backend *b, ke_kv_cache *kv, const ke_token *ids, uint32_t n, uint32_t pos0,
                float *logits, ke_error **error)
{
  for (uint32_t done = 0; done < n;) {
    uint32_t m = n - done < b->max_batch ? n - done : b->max_batch;
    ke_batch batch = { ids + done, m, pos0 + done, NULL, 0, done + m == n ? logits : NULL, false };
    if (!b->ops->forward (b, kv, &batch, error))
      return false;
    done += m;
  }
  return true;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static bool
backend_sync (const ke_model_info *info, ke_error **error)
{
#if KE_HAVE_CUDA
  if (strcmp (info->backend, "cuda") == 0)
    return ke_cuda_synchronize (error);
#endif
  (void) info;
  (void) error;
  return true;
}

typedef struct {
  double encode_ms, encode_resize_ms, ttft_ms;
  double first_ms;   /* the first encode of the run: includes making the GPU tower */
  double tower_gib;  /* device memory the first image added (the tower, its buffers) */
  uint32_t prompt_tokens;
} image_bench;

/* Median time of encode_image (until the embeddings exist) for a w×h RGB image. */
static bool
bench_encode (ke_model *model, uint32_t w, uint32_t h, int reps, double *median_ms,
              double *first_ms, ke_error **error)
{
  ke_backend *b = ke_model_backend (model);
  const ke_model_info *info = ke_model_get_info (model);
  uint8_t *px = malloc ((size_t) w * h * 3);
  double t[16];
  if (!px)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
  for (size_t i = 0; i < (size_t) w * h * 3; i++)
    px[i] = (uint8_t) ((i * 2654435761u) >> 24);
  ke_image image = { w, h, 3, (size_t) w * 3, px };
  bool ok = true;
  for (int r = -2; ok && r < reps; r++) { /* two warm-up runs */
    double t0 = now ();
    ke_image_embeds *e = b->ops->encode_image (b, &image, error);
    ok = e && backend_sync (info, error);
    if (ok && r >= 0)
      t[r] = (now () - t0) * 1e3;
    if (ok && r == -2 && first_ms)
      *first_ms = (now () - t0) * 1e3;
    if (e)
      b->ops->embeds_free (b, e);
  }
  free (px);
  if (!ok)
    return false;
  qsort (t, (size_t) reps, sizeof t[0], cmp_double);
  *median_ms = t[reps / 2];
  return true;
}

static bool
bench_images (ke_model *model, image_bench *ib, ke_error **error)
{
  const ke_model_info *info = ke_model_get_info (model);
  uint32_t S = info->image_size;
  if (!bench_encode (model, S, S, 9, &ib->encode_ms, &ib->first_ms, error) ||
      !bench_encode (model, 1280, 960, 9, &ib->encode_resize_ms, NULL, error))
    return false;
  /* multimodal TTFT: a fresh session, [user: image, question], a new image every run so
   * that the model's image cache misses */
  const char *question = "What is shown in this picture, and what colours and shapes can "
                         "you see in it?";
  uint8_t *px = malloc ((size_t) S * S * 3);
  if (!px)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
  for (size_t i = 0; i < (size_t) S * S * 3; i++)
    px[i] = (uint8_t) ((i * 40503u) >> 8);
  ke_image image = { S, S, 3, (size_t) S * 3, px };
  ke_chat_part parts[2] = {
    { .kind = KE_PART_IMAGE, .image = &image },
    { .kind = KE_PART_TEXT, .text = question, .text_len = strlen (question) },
  };
  ke_chat_message msg = { .role = KE_ROLE_USER, .parts = parts, .n_parts = 2 };
  ke_prompt prompt = { 0 };
  ke_session_options so;
  ke_session_options_init (&so);
  so.context_length = 1024;
  double t[8];
  const int reps = 7;
  bool ok = ke_chat_build (ke_model_get_tokenizer (model), &msg, 1, NULL,
                           info->mm_tokens_per_image, &prompt, error);
  for (int r = -2; ok && r < reps; r++) {
    ke_session *s = ke_session_new (model, &so, error);
    if (!s) {
      ok = false;
      break;
    }
    px[0] = (uint8_t) (r + 2); /* a new image */
    ke_stats st = { 0 };
    ok = ke_session_prefill (s, &prompt, NULL, &st, error);
    if (ok && st.images_encoded != 1)
      ok = ke_set_error (error, KE_ERROR_FAILED, "the image was not encoded (cache hit?)");
    if (ok && r >= 0)
      t[r] = st.prefill_seconds * 1e3;
    ke_session_free (s);
  }
  ib->prompt_tokens = (uint32_t) prompt.n_ids;
  ke_prompt_clear (&prompt);
  free (px);
  if (!ok)
    return false;
  qsort (t, (size_t) reps, sizeof t[0], cmp_double);
  ib->ttft_ms = t[reps / 2];
  return true;
}

static double
device_used_gib (void)
{
#if KE_HAVE_CUDA
  size_t free_b = 0, total_b = 0;
  if (ke_cuda_device_count () > 0 && ke_cuda_mem_info (&free_b, &total_b, NULL))
    return (double) (total_b - free_b) / (1024.0 * 1024.0 * 1024.0);
#endif
  return 0;
}

/* Seconds per decode step at position pos: logits to the host (sampling NULL) or sampled
 * in the backend. */
static bool
time_decode (ke_backend *b, ke_kv_cache *kv, const ke_token *ids, uint32_t pos,
             const ke_sampling *sampling, float *logits, double *seconds, ke_error **error)
{
  unsigned long long draw = 7;
  for (int s = -4; s < DECODE_STEPS; s++) { /* 4 warm-up steps: graph capture */
    if (s == 0)
      *seconds = now ();
    ke_batch batch = { &ids[(s + 4) % 64], 1, pos, NULL, 0, sampling ? NULL : logits, false };
    if (sampling) {
      draw = draw * 6364136223846793005ull + 1442695040888963407ull;
      ke_sample_request req = { sampling, (double) (draw >> 11) * 0x1.0p-53, s == -4, NULL, 0,
                                NULL, 0 };
      ke_token t;
      if (!b->ops->forward_sample (b, kv, &batch, &req, &t, error))
        return false;
    } else if (!b->ops->forward (b, kv, &batch, error)) {
      return false;
    }
  }
  *seconds = (now () - *seconds) / DECODE_STEPS;
  return true;
}

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: kestrel-cli bench (--model DIR | --random) [--backend cuda|cpu|auto]\n"
           "                         [--json FILE] [--quick] [--skip-act-quant]\n\n"
           "  --model DIR       a Hugging Face model folder\n"
           "  --random          a generated Gemma 3 4b checkpoint with random weights\n"
           "  --json FILE       write the JSON there instead of stdout\n"
           "  --quick           context 512 and a 512-token prompt only\n"
           "  --skip-act-quant  W8A16 prefill (per-token GEMVs) instead of FP8 GEMMs\n"
           KCLI_PARALLEL_HELP);
}

int
kcli_bench (int argc, char **argv)
{
  const char *model_dir = NULL, *json_path = NULL;
  bool random = false, quick = false, skip_act_quant = false;
  ke_backend_kind kind = KE_BACKEND_AUTO;
  kcli_parallel parallel = { 0 };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int parallel_rc = kcli_parse_parallel ("bench", argc, argv, &i, &parallel);
    if (parallel_rc == 1)
      continue;
    if (parallel_rc == 2)
      return 2;
    if (!strcmp (a, "--model") && i + 1 < argc) {
      model_dir = argv[++i];
    } else if (!strcmp (a, "--random")) {
      random = true;
    } else if (!strcmp (a, "--json") && i + 1 < argc) {
      json_path = argv[++i];
    } else if (!strcmp (a, "--quick")) {
      quick = true;
    } else if (!strcmp (a, "--skip-act-quant")) {
      skip_act_quant = true;
    } else if (!strcmp (a, "--backend") && i + 1 < argc) {
      const char *v = argv[++i];
      if (!strcmp (v, "cpu"))
        kind = KE_BACKEND_CPU;
      else if (!strcmp (v, "cuda"))
        kind = KE_BACKEND_CUDA;
      else if (!strcmp (v, "auto"))
        kind = KE_BACKEND_AUTO;
      else
        return kcli_usage_error ("bench", "--backend takes cpu, cuda or auto, not '%s'", v);
    } else if (!strcmp (a, "--help") || !strcmp (a, "-h")) {
      usage (stdout);
      return 0;
    } else {
      usage (stderr);
      return kcli_usage_error ("bench", "unknown or incomplete option '%s'", a);
    }
  }
  if (!!model_dir == random) {
    usage (stderr);
    return kcli_usage_error ("bench", "give exactly one of --model DIR and --random");
  }
  ke_model_options check;
  ke_model_options_init (&check);
  check.backend = kind;
  if (kcli_apply_parallel ("bench", &parallel, &check))
    return 2;

  ke_error *error = NULL;
  char tmp_dir[512] = "";
  double gen_s = 0;
  if (random) {
    const char *tmp = getenv ("TMPDIR");
    snprintf (tmp_dir, sizeof tmp_dir, "%s/kestrel-bench-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp (tmp_dir))
      return kcli_usage_error ("bench", "cannot create a temporary folder in %s", tmp ? tmp : "/tmp");
    ke_gen_options g;
    ke_gen_options_init (&g);
    g.shape = "4b";
    g.seed = 1;
    double t0 = now ();
    char *dir = ke_strdup_printf ("%s/4b", tmp_dir);
    if (!dir || !ke_gen_checkpoint (dir, &g, NULL, NULL, &error)) {
      free (dir);
      return kcli_fail ("bench", error);
    }
    gen_s = now () - t0;
    fprintf (stderr, "generated a random 4b checkpoint in %.1f s\n", gen_s);
    model_dir = dir; /* freed at exit */
  }

  int status = 1;
  ke_model *model = NULL;
  ke_kv_cache *kv = NULL;
  ke_token *ids = NULL;
  float *logits = NULL;
  FILE *out = stdout;
  ke_model_options mo;
  ke_model_options_init (&mo);
  mo.backend = kind;
  mo.skip_act_quant = skip_act_quant;
  kcli_apply_parallel ("bench", &parallel, &mo); /* checked above */
  mo.max_context = 32768;
  double t_open = now ();
  model = ke_model_open (model_dir, &mo, NULL, NULL, &error);
  if (!model) {
    status = kcli_fail ("bench", error);
    goto out;
  }
  t_open = now () - t_open;
  sample_memory ();
  const ke_model_info *info = ke_model_get_info (model);
  const ke_config *config = ke_model_config (model);
  const ke_text_config *tc = &config->text;
  ke_backend *b = ke_model_backend (model);
  double bw = 0;
#if KE_HAVE_CUDA
  if (strcmp (info->backend, "cuda") == 0 && !ke_cuda_read_bandwidth ((size_t) 2 << 30, &bw, &error)) {
    status = kcli_fail ("bench", error);
    goto out;
  }
#endif
  uint32_t n_ctx = quick ? 1 : N_CTX, n_prompt = quick ? 1 : N_PROMPT;
  uint32_t max_ctx = quick ? 512 : 32768, max_prompt = quick ? 512 : 16384;
  kv = b->ops->kv_new (b, max_ctx > max_prompt ? max_ctx : max_prompt, &error);
  ids = calloc (max_prompt, sizeof (ke_token));
  logits = malloc ((size_t) info->vocab_size * sizeof (float));
  if (!kv || !ids || !logits) {
    if (!error)
      ke_set_error (&error, KE_ERROR_NO_MEMORY, "Out of memory.");
    status = kcli_fail ("bench", error);
    goto out;
  }
  sample_memory ();
  unsigned long long seed = 42;
  for (uint32_t i = 0; i < max_prompt; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    ids[i] = (ke_token) (2 + (seed >> 33) % (info->vocab_size - 2));
  }

  /* Bytes one decode step must read: linears (fp8) + lm_head (bf16 when tied) + KV. */
  double H = tc->hidden_size, I = tc->intermediate_size, hd = tc->head_dim;
  double qd = tc->num_attention_heads * hd, kvd = tc->num_key_value_heads * hd;
  double w_bytes = tc->num_hidden_layers * ((qd + 2 * kvd) * H + H * qd + 3 * H * I) +
                   (double) tc->vocab_size * H * 2;

  /* greedy and Gemma 3's generation_config sampling, on the device */
  ke_sampling greedy = { .temperature = 0.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f,
                         .repetition_penalty = 1.0f, .presence_penalty = 0.0f };
  ke_sampling gemma = greedy;
  gemma.temperature = 1.0f;
  gemma.top_k = 64;
  gemma.top_p = 0.95f;
  const bool device_sampling = b->ops->forward_sample != NULL;

  double decode_tps[N_CTX] = { 0 }, decode_roof[N_CTX] = { 0 };
  double decode_sampled_tps[N_CTX] = { 0 }, decode_host_tps[N_CTX] = { 0 };
  double kv_bytes_at[N_CTX] = { 0 };
  for (uint32_t c = 0; c < n_ctx; c++) {
    uint32_t pos = decode_ctx[c] - 1;
    double kv_bytes = 0;
    for (uint32_t l = 0; l < tc->num_hidden_layers; l++) {
      uint32_t keys = decode_ctx[c];
      if (tc->layer_kind[l] == KE_LAYER_SLIDING && tc->sliding_window && keys > tc->sliding_window)
        keys = tc->sliding_window;
      kv_bytes += 2.0 * kvd * keys * 2;
    }
    kv_bytes_at[c] = kv_bytes;
    double dt_host = 0, dt = 0, dt_sampled = 0;
    if (!time_decode (b, kv, ids, pos, NULL, logits, &dt_host, &error) ||
        (device_sampling &&
         (!time_decode (b, kv, ids, pos, &greedy, logits, &dt, &error) ||
          !time_decode (b, kv, ids, pos, &gemma, logits, &dt_sampled, &error)))) {
      status = kcli_fail ("bench", error);
      goto out;
    }
    if (!device_sampling)
      dt = dt_host;
    decode_host_tps[c] = 1.0 / dt_host;
    decode_tps[c] = 1.0 / dt;
    decode_sampled_tps[c] = dt_sampled > 0 ? 1.0 / dt_sampled : 0;
    if (bw > 0)
      decode_roof[c] = ((w_bytes + kv_bytes) / (bw * 1e9)) / dt;
    sample_memory ();
    fprintf (stderr, "decode ctx %u: %.1f tok/s greedy on the device, %.1f sampled (top-k 64, "
             "top-p 0.95), %.1f with logits to the host\n", decode_ctx[c], decode_tps[c],
             decode_sampled_tps[c], decode_host_tps[c]);
  }

  double prefill_tps[N_PROMPT] = { 0 }, ttft[N_PROMPT] = { 0 };
  if (!forward_chunks (b, kv, ids, 512, 0, logits, &error)) { /* warm-up: GEMM plans */
    status = kcli_fail ("bench", error);
    goto out;
  }
  for (uint32_t p = 0; p < n_prompt; p++) {
    double t0 = now ();
    if (!forward_chunks (b, kv, ids, prompt_len[p], 0, logits, &error)) {
      status = kcli_fail ("bench", error);
      goto out;
    }
    ttft[p] = now () - t0;
    prefill_tps[p] = prompt_len[p] / ttft[p];
    sample_memory ();
    fprintf (stderr, "prefill %u: %.0f tok/s, TTFT %.3f s\n", prompt_len[p], prefill_tps[p], ttft[p]);
  }

  /* One context alone: an 8K cache (prefilled, then decode steps), a 128K one (decode
   * steps at its last position).  Device-wide memory in use, so the CUDA context counts. */
  double mem_8k = 0, mem_128k = 0, decode_128k_tps = 0;
  if (!quick && strcmp (info->backend, "cuda") == 0) {
    b->ops->kv_free (b, kv);
    kv = b->ops->kv_new (b, 8192, &error);
    double dt = 0;
    if (!kv || !forward_chunks (b, kv, ids, 8192, 0, logits, &error) ||
        !time_decode (b, kv, ids, 8191, device_sampling ? &gemma : NULL, logits, &dt, &error)) {
      status = kcli_fail ("bench", error);
      goto out;
    }
    mem_8k = device_used_gib ();
    b->ops->kv_free (b, kv);
    kv = b->ops->kv_new (b, 131072, &error);
    if (!kv || !time_decode (b, kv, ids, 131071, device_sampling ? &greedy : NULL, logits, &dt,
                             &error)) {
      status = kcli_fail ("bench", error);
      goto out;
    }
    mem_128k = device_used_gib ();
    decode_128k_tps = 1.0 / dt;
    sample_memory ();
    fprintf (stderr, "memory in use: %.2f GiB with an 8K context, %.2f GiB with 128K (decode "
             "there %.1f tok/s)\n", mem_8k, mem_128k, decode_128k_tps);
  }

  /* Images last: the CUDA backend puts the vision tower on the GPU at the first image, so the
   * memory above is what text-only use costs; the difference here is what the tower adds. */
  image_bench ib = { 0 };
  double mem_before_images = device_used_gib ();
  if (info->has_vision && ke_model_get_tokenizer (model)) {
    if (!bench_images (model, &ib, &error)) {
      status = kcli_fail ("bench", error);
      goto out;
    }
    sample_memory ();
    fprintf (stderr, "image: encode %.2f ms (%ux%u), %.2f ms (1280x960, resized); multimodal "
             "TTFT %.2f ms (%u tokens)\n", ib.encode_ms, info->image_size, info->image_size,
             ib.encode_resize_ms, ib.ttft_ms, ib.prompt_tokens);
    ib.tower_gib = device_used_gib () - mem_before_images;
    fprintf (stderr, "first image (puts the tower on the GPU): %.1f ms; the tower adds %.2f GiB\n",
             ib.first_ms, ib.tower_gib);
  }


  if (json_path) {
    out = fopen (json_path, "w");
    if (!out) {
      ke_set_error (&error, KE_ERROR_IO, "Cannot write %s.", json_path);
      status = kcli_fail ("bench", error);
      out = stdout;
      goto out;
    }
  }
  fprintf (out, "{\n  \"model\": \"%s\",\n  \"random\": %s,\n  \"backend\": \"%s\",\n"
                "  \"device\": \"%s\",\n  \"skip_act_quant\": %s,\n  \"open_seconds\": %.2f,\n"
                "  \"read_bandwidth_gb_s\": %.1f,\n  \"bytes_per_token_weights\": %.0f,\n"
                "  \"peak_device_memory_gib\": %.2f,\n  \"device_memory_context_8k_gib\": %.2f,\n"
                "  \"device_memory_context_128k_gib\": %.2f,\n  \"decode_128k_tok_s\": %.1f,\n"
                "  \"device_sampling\": %s,\n  \"decode\": [",
           random ? "random 4b" : model_dir, random ? "true" : "false", info->backend,
           info->device_name, skip_act_quant ? "true" : "false", t_open, bw, w_bytes,
           peak_used_gib, mem_8k, mem_128k, decode_128k_tps, device_sampling ? "true" : "false");
  for (uint32_t c = 0; c < n_ctx; c++)
    fprintf (out, "%s\n    { \"context\": %u, \"tok_s\": %.1f, \"tok_s_sampled\": %.1f, "
             "\"tok_s_logits_to_host\": %.1f, \"roofline_tok_s\": %.1f, "
             "\"roofline_fraction\": %.3f }",
             c ? "," : "", decode_ctx[c], decode_tps[c], decode_sampled_tps[c],
             decode_host_tps[c], bw > 0 ? bw * 1e9 / (w_bytes + kv_bytes_at[c]) : 0,
             decode_roof[c]);
  fprintf (out, "\n  ],\n  \"prefill\": [");
  for (uint32_t p = 0; p < n_prompt; p++)
    fprintf (out, "%s\n    { \"prompt\": %u, \"tok_s\": %.1f, \"ttft_s\": %.4f }", p ? "," : "",
             prompt_len[p], prefill_tps[p], ttft[p]);
  fprintf (out, "\n  ]");
  if (ib.prompt_tokens)
    fprintf (out, ",\n  \"image\": { \"size\": %u, \"encode_ms\": %.3f, "
                  "\"encode_1280x960_ms\": %.3f, \"multimodal_ttft_ms\": %.3f, "
                  "\"multimodal_prompt_tokens\": %u, \"first_encode_ms\": %.3f, "
                  "\"tower_device_memory_gib\": %.2f }",
             info->image_size, ib.encode_ms, ib.encode_resize_ms, ib.ttft_ms, ib.prompt_tokens,
             ib.first_ms, ib.tower_gib);
  fprintf (out, "\n}\n");
  if (out != stdout)
    fclose (out);

  printf ("\n%s on %s (%s)%s\n", random ? "random Gemma 3 4b" : model_dir, info->device_name,
          info->backend, skip_act_quant ? ", W8A16 prefill" : ", W8A8 prefill");
  printf ("read bandwidth %.0f GB/s; peak device memory in use %.2f GiB\n", bw, peak_used_gib);
  if (mem_8k > 0)
    printf ("device memory in use, one context alone: 8K %.2f GiB, 128K %.2f GiB "
            "(decode at 128K: %.1f tok/s)\n", mem_8k, mem_128k, decode_128k_tps);
  printf ("%-22s %10s %12s %10s %12s\n", "decode", "tok/s", "of roofline", "sampled",
          "logits→host");
  for (uint32_t c = 0; c < n_ctx; c++)
    printf ("  context %-12u %10.1f %11.1f%% %10.1f %12.1f\n", decode_ctx[c], decode_tps[c],
            100 * decode_roof[c], decode_sampled_tps[c], decode_host_tps[c]);
  printf ("%-22s %10s %12s\n", "prefill", "tok/s", "TTFT s");
  for (uint32_t p = 0; p < n_prompt; p++)
    printf ("  prompt %-13u %10.0f %12.3f\n", prompt_len[p], prefill_tps[p], ttft[p]);
  if (ib.prompt_tokens) {
    printf ("%-22s %10s\n", "image", "ms");
    char label[32];
    snprintf (label, sizeof label, "%ux%u", info->image_size, info->image_size);
    printf ("  encode %-13s %10.2f\n", label, ib.encode_ms);
    printf ("  encode %-13s %10.2f\n", "1280x960", ib.encode_resize_ms);
    printf ("  multimodal TTFT      %10.2f   (%u-token prompt: one image + question)\n",
            ib.ttft_ms, ib.prompt_tokens);
    printf ("  first image          %10.2f   (makes the GPU tower: +%.2f GiB in use)\n",
            ib.first_ms, ib.tower_gib);
  }
  status = 0;

out:
  if (kv)
    ke_model_backend (model)->ops->kv_free (ke_model_backend (model), kv);
  ke_model_free (model);
  free (ids);
  free (logits);
  if (random) {
    free ((char *) model_dir);
    char *cmd = ke_strdup_printf ("rm -rf '%s'", tmp_dir);
    if (cmd && system (cmd) != 0)
      fprintf (stderr, "kestrel-cli bench: could not remove %s\n", tmp_dir);
    free (cmd);
  }
  return status;
}
