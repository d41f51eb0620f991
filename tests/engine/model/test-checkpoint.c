/* test-checkpoint.c — generated checkpoints of every layout and format load into the
 * same validated weights.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <math.h>

#include "ckpt-test-util.h"
#include "ke-numeric.h"
#include "ke-tap.h"
#include "ke-weights.h"
#include "ke-checkpoint-private.h"

static char *root;

static const char *
sub (const char *name)
{
  static char buf[4096];
  size_t dl = strlen (root), nl = strlen (name);
  if (dl + nl + 2 > sizeof buf)
    return "";
  memcpy (buf, root, dl);
  buf[dl] = '/';
  memcpy (buf + dl + 1, name, nl + 1);
  return buf;
}

static ke_checkpoint *
open_dir (const char *dir, bool quantize, ke_error **error)
{
  ke_checkpoint_options o;
  ke_checkpoint_options_init (&o);
  o.quantize_bf16 = quantize;
  return ke_checkpoint_open (dir, &o, NULL, NULL, error);
}

static bool
shape_is (const ke_tensor *t, uint32_t ndim, int64_t a, int64_t b)
{
  return t->data != NULL && t->ndim == ndim && t->shape[0] == a && (ndim < 2 || t->shape[1] == b);
}

/* Everything the backends rely on, for the tiny shape. */
static void
check_tiny (const ke_checkpoint *cp, const char *what, bool fp8)
{
  const ke_config *c = ke_checkpoint_config (cp);
  const ke_weights *w = ke_checkpoint_weights (cp);
  const ke_text_config *t = &c->text;
  KE_CHECK (c->has_vision && t->hidden_size == 128 && t->intermediate_size == 256 &&
            t->num_hidden_layers == 6 && t->num_attention_heads == 4 &&
            t->num_key_value_heads == 2 && t->head_dim == 32 &&
            t->query_pre_attn_scalar == 32.0f && t->sliding_window == 16 &&
            t->vocab_size == 16448 && t->rope_scaling_factor == 8.0f &&
            t->rope_local_base_freq == 10000.0f && t->rope_theta == 1e6f, "%s: text config", what);
  for (int l = 0; l < 6; l++)
    KE_CHECK (t->layer_kind[l] == (l == 5 ? KE_LAYER_GLOBAL : KE_LAYER_SLIDING), "%s: layer %d", what, l);
  KE_CHECK (c->vision.hidden_size == 64 && c->vision.intermediate_size == 128 &&
            c->vision.num_hidden_layers == 2 && c->vision.num_attention_heads == 4 &&
            c->vision.patch_size == 4 && c->vision.image_size == 32 && c->mm_tokens_per_image == 16,
            "%s: vision config", what);
  /* Ids from the fixture tokenizer's added_tokens. */
  KE_CHECK (c->boi_token_id == 105 && c->eoi_token_id == 106 && c->image_token_id == 16384 &&
            c->n_eos == 2 && c->eos_token_ids[0] == 1 && c->eos_token_ids[1] == 5 &&
            c->bos_token_id == 2 && c->pad_token_id == 0, "%s: token ids", what);
  KE_CHECK (ke_checkpoint_quant_scheme (cp) == (fp8 ? KE_QUANT_FP8_DYNAMIC : KE_QUANT_NONE),
            "%s: scheme", what);
  KE_CHECK (shape_is (&w->embed_tokens, 2, 16448, 128) && w->embed_tokens.dtype == KE_DTYPE_BF16,
            "%s: embed", what);
  KE_CHECK (w->lm_head.weight.data == w->embed_tokens.data, "%s: tied lm_head", what);
  KE_CHECK (shape_is (&w->norm, 1, 128, 0), "%s: norm", what);
  for (int l = 0; l < 6; l++) {
    const ke_text_layer *L = &w->layers[l];
    const ke_linear *lins[7] = { &L->q_proj, &L->k_proj, &L->v_proj, &L->o_proj,
                                 &L->gate_proj, &L->up_proj, &L->down_proj };
    const int64_t outs[7] = { 128, 64, 64, 128, 256, 256, 128 };
    const int64_t ins[7] = { 128, 128, 128, 128, 128, 128, 256 };
    for (int k = 0; k < 7; k++) {
      const ke_linear *lin = lins[k];
      KE_CHECK (shape_is (&lin->weight, 2, outs[k], ins[k]), "%s: layer %d linear %d shape", what, l, k);
      KE_CHECK (lin->bias.data == NULL, "%s: no text bias", what);
      if (fp8) {
        KE_CHECK (lin->weight.dtype == KE_DTYPE_F8_E4M3 && lin->scale.dtype == KE_DTYPE_F32 &&
                  shape_is (&lin->scale, 1, outs[k], 0) &&
                  ((uintptr_t) lin->scale.data % 4) == 0, "%s: layer %d linear %d fp8", what, l, k);
        const float *s = lin->scale.data;
        for (int64_t r = 0; r < outs[k]; r++)
          KE_CHECK (isfinite (s[r]) && s[r] > 0, "%s: scale", what);
      } else {
        KE_CHECK (lin->weight.dtype == KE_DTYPE_BF16 && lin->scale.data == NULL, "%s: bf16", what);
      }
    }
    KE_CHECK (shape_is (&L->q_norm, 1, 32, 0) && shape_is (&L->k_norm, 1, 32, 0) &&
              shape_is (&L->input_layernorm, 1, 128, 0) &&
              shape_is (&L->post_attention_layernorm, 1, 128, 0) &&
              shape_is (&L->pre_feedforward_layernorm, 1, 128, 0) &&
              shape_is (&L->post_feedforward_layernorm, 1, 128, 0), "%s: norms", what);
  }
  KE_CHECK (w->patch_embedding_weight.ndim == 4 && w->patch_embedding_weight.shape[0] == 64 &&
            w->patch_embedding_weight.shape[1] == 3 && w->patch_embedding_weight.shape[3] == 4,
            "%s: patch embedding", what);
  KE_CHECK (shape_is (&w->position_embedding, 2, 64, 64), "%s: position embedding", what);
  for (int l = 0; l < 2; l++) {
    const ke_vision_layer *V = &w->vision_layers[l];
    KE_CHECK (shape_is (&V->q_proj.weight, 2, 64, 64) && shape_is (&V->q_proj.bias, 1, 64, 0) &&
              V->q_proj.weight.dtype == KE_DTYPE_BF16 && V->q_proj.scale.data == NULL &&
              shape_is (&V->fc1.weight, 2, 128, 64) && shape_is (&V->fc2.weight, 2, 64, 128) &&
              shape_is (&V->fc2.bias, 1, 64, 0) && shape_is (&V->layer_norm2_bias, 1, 64, 0),
              "%s: vision layer %d", what, l);
  }
  KE_CHECK (shape_is (&w->mm_input_projection_weight, 2, 64, 128) &&
            shape_is (&w->mm_soft_emb_norm, 1, 64, 0) && shape_is (&w->post_layernorm_bias, 1, 64, 0),
            "%s: projector", what);
  KE_CHECK (ke_checkpoint_n_warnings (cp) == 0, "%s: %zu warnings, first: %s", what,
            ke_checkpoint_n_warnings (cp), ke_checkpoint_warning (cp, 0));
  /* 3,076,224 parameters: counted by hand from the shapes above. */
  KE_CHECK (ke_checkpoint_n_params (cp) == 3076224, "%s: %llu params", what,
            (unsigned long long) ke_checkpoint_n_params (cp));
}

static bool
same_tensor (const ke_tensor *a, const ke_tensor *b)
{
  return a->dtype == b->dtype && a->nbytes == b->nbytes && memcmp (a->data, b->data, a->nbytes) == 0;
}

KE_TEST (test_layouts_and_formats)
{
  static const char *labels[] = { "transformers 4.50-4.51", "transformers 4.52-4.57", "transformers 5" };
  ke_checkpoint *ref = NULL;
  for (int layout = 0; layout < KE_LAYOUT_COUNT; layout++)
    for (int format = 0; format < 2; format++)
      for (uint32_t shards = 1; shards <= 3; shards += 2) {
        char name[64], what[96];
        snprintf (name, sizeof name, "l%d-f%d-s%u", layout, format, shards);
        snprintf (what, sizeof what, "layout %s, %s, %u shard(s)", labels[layout],
                  format == KE_GEN_FP8 ? "fp8" : "bf16", shards);
        ke_error *error = NULL;
        bool ok = gen (sub (name), "tiny", format, layout, shards, 7, &error);
        KE_REQUIRE (ok, "%s: %s", what, error->message);
        ke_checkpoint *cp = open_dir (sub (name), false, &error);
        KE_REQUIRE (cp != NULL, "%s: %s", what, error->message);
        check_tiny (cp, what, format == KE_GEN_FP8);
        const ke_checkpoint_stats *st = ke_checkpoint_get_stats (cp);
        KE_CHECK (strcmp (st->layout, labels[layout]) == 0, "%s: layout %s", what, st->layout);
        KE_CHECK (st->n_files == shards, "%s: %zu files", what, st->n_files);
        KE_CHECK (access (in_dir (sub (name), "model.safetensors.index.json"), F_OK) == (shards > 1 ? 0 : -1),
                  "%s: index presence", what);
        if (format == KE_GEN_FP8) {
          /* Weights do not depend on the layout or the sharding. */
          if (ref == NULL) {
            ref = cp;
            cp = NULL;
          } else {
            const ke_weights *a = ke_checkpoint_weights (ref), *b = ke_checkpoint_weights (cp);
            KE_CHECK (same_tensor (&a->embed_tokens, &b->embed_tokens) &&
                      same_tensor (&a->layers[3].down_proj.weight, &b->layers[3].down_proj.weight) &&
                      same_tensor (&a->layers[3].down_proj.scale, &b->layers[3].down_proj.scale) &&
                      same_tensor (&a->vision_layers[1].fc1.weight, &b->vision_layers[1].fc1.weight) &&
                      same_tensor (&a->mm_input_projection_weight, &b->mm_input_projection_weight),
                      "%s: weights differ from the first layout's", what);
          }
        }
        ke_checkpoint_free (cp);
      }
  ke_checkpoint_free (ref);
}

/* A bf16 checkpoint holds exactly the dequantized fp8 checkpoint of the same seed, and
 * quantizing it at load gives back (nearly) the same codes and scales. */
KE_TEST (test_bf16_is_dequantized_fp8)
{
  ke_error *error = NULL;
  bool ok = gen (sub ("q-fp8"), "tiny", KE_GEN_FP8, KE_LAYOUT_4_52, 1, 11, &error) &&
            gen (sub ("q-bf16"), "tiny", KE_GEN_BF16, KE_LAYOUT_4_52, 2, 11, &error);
  KE_REQUIRE (ok, "%s", error->message);
  ke_checkpoint *f8 = open_dir (sub ("q-fp8"), true, &error);
  ke_checkpoint *raw = f8 ? open_dir (sub ("q-bf16"), false, &error) : NULL;
  ke_checkpoint *qal = raw ? open_dir (sub ("q-bf16"), true, &error) : NULL;
  KE_REQUIRE (qal != NULL, "%s", error->message);
  KE_CHECK (ke_checkpoint_get_stats (qal)->quantized_at_load &&
            ke_checkpoint_quant_scheme (qal) == KE_QUANT_FP8_DYNAMIC, "quantized at load");
  check_tiny (qal, "bf16 quantized at load", true);
  size_t total = 0, same = 0, exact_bad = 0;
  double worst_scale = 0;
  for (int l = 0; l < 6; l++) {
    const ke_linear *a[7], *b[7], *c[7];
    const ke_text_layer *La = &ke_checkpoint_weights (f8)->layers[l];
    const ke_text_layer *Lb = &ke_checkpoint_weights (raw)->layers[l];
    const ke_text_layer *Lc = &ke_checkpoint_weights (qal)->layers[l];
#define SET(arr, L) arr[0] = &L->q_proj, arr[1] = &L->k_proj, arr[2] = &L->v_proj, arr[3] = &L->o_proj, \
  arr[4] = &L->gate_proj, arr[5] = &L->up_proj, arr[6] = &L->down_proj
    SET (a, La);
    SET (b, Lb);
    SET (c, Lc);
#undef SET
    for (int k = 0; k < 7; k++) {
      size_t rows = (size_t) a[k]->weight.shape[0], cols = (size_t) a[k]->weight.shape[1];
      const uint8_t *qa = a[k]->weight.data, *qc = c[k]->weight.data;
      const uint16_t *wb = b[k]->weight.data;
      const float *sa = a[k]->scale.data, *sc = c[k]->scale.data;
      for (size_t r = 0; r < rows; r++) {
        double rel = fabs (sc[r] - sa[r]) / sa[r];
        if (rel > worst_scale)
          worst_scale = rel;
        for (size_t col = 0; col < cols; col++) {
          size_t i = r * cols + col;
          /* bf16 file value == bf16(code × scale) exactly */
          if (wb[i] != ke_f32_to_bf16 (ke_fp8e4m3_to_f32 (qa[i]) * sa[r]))
            exact_bad++;
          same += qa[i] == qc[i];
          total++;
        }
      }
    }
  }
  KE_CHECK (exact_bad == 0, "%zu bf16 values differ from the dequantized fp8 ones", exact_bad);
  KE_CHECK (worst_scale < 0.01, "scales differ by up to %.4f", worst_scale);
  KE_CHECK ((double) same / (double) total > 0.98, "only %zu of %zu codes equal", same, total);
  ke_tap_diag ("requantized codes equal: %zu / %zu; worst scale difference %.5f", same, total,
               worst_scale);
  ke_checkpoint_free (f8);
  ke_checkpoint_free (raw);
  ke_checkpoint_free (qal);
}

/* Quantize-at-load against a reference computed here: per-row absmax / 448, RNE. */
KE_TEST (test_quantize_reference)
{
  ke_error *error = NULL;
  bool ok = gen (sub ("r-bf16"), "tiny", KE_GEN_BF16, KE_LAYOUT_4_50, 1, 3, &error);
  KE_REQUIRE (ok, "%s", error->message);
  ke_checkpoint *raw = open_dir (sub ("r-bf16"), false, &error);
  ke_checkpoint *qal = raw ? open_dir (sub ("r-bf16"), true, &error) : NULL;
  KE_REQUIRE (qal != NULL, "%s", error->message);
  const ke_linear *b = &ke_checkpoint_weights (raw)->layers[2].gate_proj;
  const ke_linear *q = &ke_checkpoint_weights (qal)->layers[2].gate_proj;
  size_t rows = (size_t) b->weight.shape[0], cols = (size_t) b->weight.shape[1], bad = 0;
  for (size_t r = 0; r < rows; r++) {
    const uint16_t *w = (const uint16_t *) b->weight.data + r * cols;
    float absmax = 0;
    for (size_t c = 0; c < cols; c++)
      absmax = fmaxf (absmax, fabsf (ke_bf16_to_f32 (w[c])));
    float scale = absmax / 448.0f;
    bad += ((const float *) q->scale.data)[r] != scale;
    for (size_t c = 0; c < cols; c++)
      bad += ((const uint8_t *) q->weight.data)[r * cols + c] !=
             ke_f32_to_fp8e4m3 (ke_bf16_to_f32 (w[c]) * (1.0f / scale));
  }
  KE_CHECK (bad == 0, "%zu values differ from the reference quantization", bad);
  ke_checkpoint_free (raw);
  ke_checkpoint_free (qal);
}

/* The loader's fast f32 → FP8 conversion equals the shared reference on every float whose
 * low 8 bits are 0x00, 0x80 or 0xff (covering each bf16-like value, ties and near-ties). */
KE_TEST (test_fast_fp8_conversion)
{
  size_t bad = 0, n = 0;
  for (uint64_t hi = 0; hi < (1u << 24); hi++) {
    const uint32_t lows[3] = { 0x00, 0x80, 0xff };
    for (int k = 0; k < 3; k++) {
      uint32_t u = (uint32_t) (hi << 8) | lows[k];
      float f;
      memcpy (&f, &u, sizeof f);
      bad += ke_fp8e4m3_from_f32_fast (f) != ke_f32_to_fp8e4m3 (f);
      n++;
    }
  }
  KE_CHECK (bad == 0, "%zu of %zu conversions differ", bad, n);
}

KE_TEST (test_reproducible)
{
  ke_error *error = NULL;
  bool ok = gen (sub ("a"), "tiny", KE_GEN_FP8, KE_LAYOUT_5, 2, 42, &error) &&
            gen (sub ("b"), "tiny", KE_GEN_FP8, KE_LAYOUT_5, 2, 42, &error) &&
            gen (sub ("c"), "tiny", KE_GEN_FP8, KE_LAYOUT_5, 2, 43, &error);
  KE_REQUIRE (ok, "%s", error->message);
  const char *files[] = { "config.json", "model-00001-of-00002.safetensors",
                          "model-00002-of-00002.safetensors", "model.safetensors.index.json" };
  for (size_t i = 0; i < 4; i++) {
    size_t la, lb, lc;
    char *a = read_all (in_dir (sub ("a"), files[i]), &la);
    char *b = read_all (in_dir (sub ("b"), files[i]), &lb);
    char *c = read_all (in_dir (sub ("c"), files[i]), &lc);
    KE_CHECK (a && b && la == lb && memcmp (a, b, la) == 0, "%s differs for the same seed", files[i]);
    if (i == 1 || i == 2)
      KE_CHECK (c && la == lc && memcmp (a, c, la) != 0, "%s equal for another seed", files[i]);
    free (a);
    free (b);
    free (c);
  }
}

KE_TEST (test_causal_and_untied)
{
  ke_error *error = NULL;
  bool ok = gen (sub ("causal"), "tiny-text", KE_GEN_FP8, KE_LAYOUT_4_50, 1, 5, &error);
  KE_REQUIRE (ok, "%s", error->message);
  ke_checkpoint *cp = open_dir (sub ("causal"), true, &error);
  KE_REQUIRE (cp != NULL, "%s", error->message);
  const ke_config *c = ke_checkpoint_config (cp);
  KE_CHECK (!c->has_vision && strcmp (c->architecture, "Gemma3ForCausalLM") == 0, "causal");
  KE_CHECK (ke_checkpoint_weights (cp)->layers[5].q_proj.weight.dtype == KE_DTYPE_F8_E4M3, "fp8");
  KE_CHECK (strstr (ke_checkpoint_get_stats (cp)->layout, "model.") != NULL, "layout %s",
            ke_checkpoint_get_stats (cp)->layout);
  KE_CHECK (ke_checkpoint_n_warnings (cp) == 0, "warnings");
  ke_checkpoint_free (cp);

  ke_gen_options o;
  ke_gen_options_init (&o);
  o.layout = KE_LAYOUT_4_52;
  o.untied_lm_head = true;
  ok = ke_gen_checkpoint (sub ("untied"), &o, NULL, NULL, &error);
  KE_REQUIRE (ok, "%s", error->message);
  cp = open_dir (sub ("untied"), true, &error);
  KE_REQUIRE (cp != NULL, "%s", error->message);
  const ke_weights *w = ke_checkpoint_weights (cp);
  KE_CHECK (!ke_checkpoint_config (cp)->text.tie_word_embeddings, "untied");
  KE_CHECK (w->lm_head.weight.data != w->embed_tokens.data && shape_is (&w->lm_head.weight, 2, 16448, 128) &&
            w->lm_head.weight.dtype == KE_DTYPE_BF16, "lm_head (in the ignore list: bf16)");
  KE_CHECK (ke_checkpoint_n_params (cp) == 3076224 + 16448 * 128, "params");
  ke_checkpoint_free (cp);
  /* The same file with tie_word_embeddings true: the lm_head tensor is ignored, with a
   * warning, and the embedding is used. */
  int edits = 0;
  while (replace_in_file (in_dir (sub ("untied"), "config.json"), "\"tie_word_embeddings\": false",
                          "\"tie_word_embeddings\": true"))
    edits++;
  KE_REQUIRE (edits == 2, "%d edits", edits);
  cp = open_dir (sub ("untied"), true, &error);
  KE_REQUIRE (cp != NULL, "%s", error->message);
  KE_CHECK (ke_checkpoint_weights (cp)->lm_head.weight.data == ke_checkpoint_weights (cp)->embed_tokens.data,
            "tied");
  KE_CHECK (ke_checkpoint_n_warnings (cp) == 1 && strstr (ke_checkpoint_warning (cp, 0), "lm_head.weight"),
            "warning: %s", ke_checkpoint_warning (cp, 0));
  ke_checkpoint_free (cp);
}

/* weight_scale as F32 [out] and F16 [out, 1] (all forms llm-compressor may write) give
 * the same f32 scales as the default BF16 [out, 1]. */
KE_TEST (test_scale_forms)
{
  ke_gen_options o;
  ke_gen_options_init (&o);
  o.seed = 21;
  ke_error *error = NULL;
  bool ok = ke_gen_checkpoint (sub ("s-bf16"), &o, NULL, NULL, &error);
  o.scale_dtype = KE_DTYPE_F32;
  o.scale_1d = true;
  ok = ok && ke_gen_checkpoint (sub ("s-f32"), &o, NULL, NULL, &error);
  o.scale_dtype = KE_DTYPE_F16;
  o.scale_1d = false;
  ok = ok && ke_gen_checkpoint (sub ("s-f16"), &o, NULL, NULL, &error);
  KE_REQUIRE (ok, "%s", error->message);
  ke_checkpoint *a = open_dir (sub ("s-bf16"), true, &error);
  ke_checkpoint *b = a ? open_dir (sub ("s-f32"), true, &error) : NULL;
  ke_checkpoint *c = b ? open_dir (sub ("s-f16"), true, &error) : NULL;
  KE_REQUIRE (c != NULL, "%s", error->message);
  check_tiny (b, "f32 [out] scales", true);
  check_tiny (c, "f16 [out, 1] scales", true);
  for (int l = 0; l < 6; l++) {
    const ke_linear *la = &ke_checkpoint_weights (a)->layers[l].up_proj;
    const ke_linear *lb = &ke_checkpoint_weights (b)->layers[l].up_proj;
    const ke_linear *lc = &ke_checkpoint_weights (c)->layers[l].up_proj;
    KE_CHECK (same_tensor (&la->scale, &lb->scale), "layer %d: f32 scales differ", l);
    KE_CHECK (same_tensor (&la->weight, &lc->weight), "layer %d: codes differ", l);
    const float *sa = la->scale.data, *sc = lc->scale.data;
    for (int r = 0; r < 256; r++)
      KE_CHECK (fabsf (sa[r] - sc[r]) <= 1e-3f * sa[r], "layer %d row %d: %g vs %g", l, r,
                (double) sa[r], (double) sc[r]);
  }
  ke_checkpoint_free (a);
  ke_checkpoint_free (b);
  ke_checkpoint_free (c);
}

/* Data not aligned to the element size (header padded to an odd length) is copied into
 * aligned buffers; the values are the same. */
KE_TEST (test_misaligned_data)
{
  ke_gen_options o;
  ke_gen_options_init (&o);
  o.seed = 4;
  o.scale_dtype = KE_DTYPE_F32;
  ke_error *error = NULL;
  bool ok = ke_gen_checkpoint (sub ("m-aligned"), &o, NULL, NULL, &error) &&
            ke_gen_checkpoint (sub ("m-odd"), &o, NULL, NULL, &error);
  KE_REQUIRE (ok, "%s", error->message);
  ok = rewrite_header_ex (in_dir (sub ("m-odd"), "model.safetensors"), NULL, NULL, 0, 1);
  KE_REQUIRE (ok, "rewrite");
  ke_checkpoint *a = open_dir (sub ("m-aligned"), true, &error);
  ke_checkpoint *b = a ? open_dir (sub ("m-odd"), true, &error) : NULL;
  KE_REQUIRE (b != NULL, "%s", error->message);
  const ke_weights *wa = ke_checkpoint_weights (a), *wb = ke_checkpoint_weights (b);
  KE_CHECK (((uintptr_t) wb->embed_tokens.data % 2) == 0 && ((uintptr_t) wb->norm.data % 2) == 0 &&
            ((uintptr_t) wb->vision_layers[0].fc1.bias.data % 2) == 0, "aligned copies");
  KE_CHECK (same_tensor (&wa->embed_tokens, &wb->embed_tokens) &&
            same_tensor (&wa->layers[5].o_proj.weight, &wb->layers[5].o_proj.weight) &&
            same_tensor (&wa->layers[5].o_proj.scale, &wb->layers[5].o_proj.scale) &&
            same_tensor (&wa->vision_layers[1].out_proj.bias, &wb->vision_layers[1].out_proj.bias),
            "values");
  KE_CHECK (ke_checkpoint_get_stats (b)->owned_bytes > ke_checkpoint_get_stats (a)->owned_bytes +
            wa->embed_tokens.nbytes, "the odd file's bf16 tensors were copied");
  ke_checkpoint_free (a);
  ke_checkpoint_free (b);
}

typedef struct {
  int calls;
  double last;
  bool monotonic;
  int cancel_at;
} progress_state;

static bool
progress_cb (double fraction, const char *stage, void *user_data)
{
  progress_state *s = user_data;
  if (fraction < s->last || fraction > 1.0 || stage == NULL || stage[0] == '\0')
    s->monotonic = false;
  s->last = fraction;
  return ++s->calls != s->cancel_at;
}

KE_TEST (test_progress_and_cancel)
{
  ke_error *error = NULL;
  bool ok = gen (sub ("p"), "tiny", KE_GEN_BF16, KE_LAYOUT_4_50, 3, 1, &error);
  KE_REQUIRE (ok, "%s", error->message);
  progress_state s = { 0, 0.0, true, -1 };
  ke_checkpoint *cp = ke_checkpoint_open (sub ("p"), NULL, progress_cb, &s, &error);
  KE_REQUIRE (cp != NULL, "%s", error->message);
  KE_CHECK (s.calls > 8 && s.monotonic && s.last == 1.0, "%d calls, last %g", s.calls, s.last);
  ke_checkpoint_free (cp);
  int total = s.calls;
  for (int at = 1; at <= total; at++) {
    progress_state c = { 0, 0.0, true, at };
    cp = ke_checkpoint_open (sub ("p"), NULL, progress_cb, &c, &error);
    KE_CHECK (cp == NULL && error && error->code == KE_ERROR_CANCELLED, "cancel at %d", at);
    ke_checkpoint_free (cp);
    ke_error_free (error);
    error = NULL;
  }
}

int
main (int argc, char **argv)
{
  static const ke_tap_test tests[] = {
    KE_TAP_ENTRY (test_layouts_and_formats), KE_TAP_ENTRY (test_bf16_is_dequantized_fp8),
    KE_TAP_ENTRY (test_quantize_reference), KE_TAP_ENTRY (test_fast_fp8_conversion),
    KE_TAP_ENTRY (test_reproducible),
    KE_TAP_ENTRY (test_causal_and_untied), KE_TAP_ENTRY (test_scale_forms),
    KE_TAP_ENTRY (test_misaligned_data), KE_TAP_ENTRY (test_progress_and_cancel),
  };
  if (getenv ("KESTREL_SHARED_DIR") == NULL) {
    printf ("1..0 # SKIP KESTREL_SHARED_DIR is not set (the tokenizer fixture is needed)\n");
    return 0;
  }
  root = tmp_dir ();
  if (root == NULL) {
    printf ("Bail out! cannot create a temporary folder\n");
    return 1;
  }
  int rc = ke_tap_run (argc, argv, tests, (int) (sizeof tests / sizeof tests[0]));
  /* Remove the generated folders. */
  DIR *d = opendir (root);
  struct dirent *e;
  while (d && (e = readdir (d)) != NULL)
    if (e->d_name[0] != '.')
      rm_dir (in_dir (root, e->d_name));
  if (d)
    closedir (d);
  rmdir (root);
  free (root);
  return rc;
}
