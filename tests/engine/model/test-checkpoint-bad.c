/* test-checkpoint-bad.c — every kind of bad checkpoint gives one clear error naming the
 * file and the tensor; never a crash (the suite also runs under ASan/UBSan).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each case copies a generated checkpoint, corrupts it the way the case says, and expects
 * ke_checkpoint_open() to fail with a message containing the given words.
 */
#include <math.h>

#include "ckpt-test-util.h"
#include "ke-tap.h"
#include "ke-weights.h"

static char *root;
static char base_single[4096], base_sharded[4096], base_bf16[4096];

#define L50 "language_model.model.layers."
#define L52 "model.language_model.layers."
#define ST "model.safetensors"
#define SHARD2 "model-00002-of-00003.safetensors"

/* ---- header edits ---------------------------------------------------------------- */

static yyjson_mut_val *
entry (yyjson_mut_val *root_obj, const char *name)
{
  return yyjson_mut_obj_get (root_obj, name);
}

static void
set_offsets (yyjson_mut_doc *doc, yyjson_mut_val *e, uint64_t a, uint64_t b)
{
  yyjson_mut_val *o = yyjson_mut_arr (doc);
  yyjson_mut_arr_add_uint (doc, o, a);
  yyjson_mut_arr_add_uint (doc, o, b);
  yyjson_mut_obj_put (e, yyjson_mut_str (doc, "data_offsets"), o);
}

static uint64_t
offset_of (yyjson_mut_val *e, size_t i)
{
  return yyjson_mut_get_uint (yyjson_mut_arr_get (yyjson_mut_obj_get (e, "data_offsets"), i));
}

/* The second tensor's range made to overlap the first's (its size kept). */
static void
edit_overlap (yyjson_mut_doc *doc, yyjson_mut_val *r, size_t data_len, void *u)
{
  yyjson_mut_val *e = entry (r, L50 "0.input_layernorm.weight");
  uint64_t a = offset_of (e, 0), b = offset_of (e, 1);
  set_offsets (doc, e, a - 64, b - 64);
}

static void
edit_out_of_range (yyjson_mut_doc *doc, yyjson_mut_val *r, size_t data_len, void *u)
{
  yyjson_mut_val *e = entry (r, L50 "0.input_layernorm.weight");
  uint64_t n = offset_of (e, 1) - offset_of (e, 0);
  set_offsets (doc, e, data_len + 1000, data_len + 1000 + n);
}

static void
edit_dtype (yyjson_mut_doc *doc, yyjson_mut_val *r, size_t data_len, void *u)
{
  yyjson_mut_obj_put (entry (r, L50 "1.post_attention_layernorm.weight"), yyjson_mut_str (doc, "dtype"),
                      yyjson_mut_str (doc, "F32"));
}

static void
edit_shape_overflow (yyjson_mut_doc *doc, yyjson_mut_val *r, size_t data_len, void *u)
{
  yyjson_mut_val *s = yyjson_mut_arr (doc);
  yyjson_mut_arr_add_uint (doc, s, 1ull << 62);
  yyjson_mut_arr_add_uint (doc, s, 1ull << 62);
  yyjson_mut_obj_put (entry (r, L50 "2.self_attn.k_norm.weight"), yyjson_mut_str (doc, "shape"), s);
}

/* The shape changed consistently with the bytes: [128] → [2, 64]. */
static void
edit_shape_for_config (yyjson_mut_doc *doc, yyjson_mut_val *r, size_t data_len, void *u)
{
  yyjson_mut_val *s = yyjson_mut_arr (doc);
  yyjson_mut_arr_add_uint (doc, s, 2);
  yyjson_mut_arr_add_uint (doc, s, 64);
  yyjson_mut_obj_put (entry (r, L50 "3.pre_feedforward_layernorm.weight"), yyjson_mut_str (doc, "shape"), s);
}

static void
rename_tensor (yyjson_mut_doc *doc, yyjson_mut_val *r, const char *from, const char *to)
{
  yyjson_mut_val *e = yyjson_mut_obj_remove_key (r, from);
  if (e)
    yyjson_mut_obj_add (r, yyjson_mut_strcpy (doc, to), e);
}

static void
edit_missing (yyjson_mut_doc *doc, yyjson_mut_val *r, size_t data_len, void *u)
{
  rename_tensor (doc, r, L50 "4.mlp.up_proj.weight", L50 "4.mlp.up_proj.weightx");
}

static void
edit_missing_scale (yyjson_mut_doc *doc, yyjson_mut_val *r, size_t data_len, void *u)
{
  rename_tensor (doc, r, L50 "4.mlp.down_proj.weight_scale", L50 "4.mlp.down_proj.scale");
}

static void
edit_missing_vision (yyjson_mut_doc *doc, yyjson_mut_val *r, size_t data_len, void *u)
{
  rename_tensor (doc, r, "vision_tower.vision_model.encoder.layers.1.mlp.fc2.bias",
                 "vision_tower.vision_model.encoder.layers.1.mlp.fc2.b");
}

static void
edit_extra (yyjson_mut_doc *doc, yyjson_mut_val *r, size_t data_len, void *u)
{
  yyjson_mut_val *e = yyjson_mut_obj (doc);
  yyjson_mut_obj_add_str (doc, e, "dtype", "BF16");
  yyjson_mut_val *s = yyjson_mut_arr (doc);
  yyjson_mut_arr_add_uint (doc, s, 4);
  yyjson_mut_obj_add_val (doc, e, "shape", s);
  set_offsets (doc, e, data_len, data_len + 8);
  yyjson_mut_obj_add (r, yyjson_mut_str (doc, "extra.unused.weight"), e);
}

static void
edit_scale_shape (yyjson_mut_doc *doc, yyjson_mut_val *r, size_t data_len, void *u)
{
  yyjson_mut_val *s = yyjson_mut_arr (doc);
  yyjson_mut_arr_add_uint (doc, s, 1);
  yyjson_mut_arr_add_uint (doc, s, 128);
  yyjson_mut_obj_put (entry (r, L50 "0.self_attn.q_proj.weight_scale"), yyjson_mut_str (doc, "shape"), s);
}

/* ---- cases ----------------------------------------------------------------------- */

typedef struct bad_case bad_case;
struct bad_case {
  const char *name;
  const char *base;        /* base_single, base_sharded or base_bf16 */
  bool (*mutate) (const char *dir, const bad_case *c);
  const char *file;        /* edited file, for mutate */
  const char *arg1, *arg2; /* mutation arguments */
  header_edit_fn edit;
  const char *needles[3];  /* all in the message */
};

static bool
m_truncate (const char *dir, const bad_case *c)
{
  struct stat st;
  const char *p = in_dir (dir, c->file);
  return stat (p, &st) == 0 && truncate (p, st.st_size - atol (c->arg1)) == 0;
}

static bool
m_header_len (const char *dir, const bad_case *c)
{
  uint8_t len8[8] = { 0xf0, 0xff, 0xff, 0x00, 0, 0, 0, 0 };
  return patch_file (in_dir (dir, c->file), 0, len8, 8);
}

static bool
m_header (const char *dir, const bad_case *c)
{
  return rewrite_header (in_dir (dir, c->file), c->edit, NULL, c->edit == edit_extra ? 8 : 0);
}

static bool
m_replace (const char *dir, const bad_case *c)
{
  return replace_in_file (in_dir (dir, c->file), c->arg1, c->arg2);
}

static bool
m_delete (const char *dir, const bad_case *c)
{
  return unlink (in_dir (dir, c->file)) == 0;
}

/* Overwrites row 3 of a bf16 tensor (scale or weight) with the bf16 value in arg2. */
static bool
m_poke_bf16 (const char *dir, const bad_case *c)
{
  char path[4096];
  snprintf (path, sizeof path, "%s", in_dir (dir, c->file));
  size_t off = tensor_offset (path, c->arg1);
  uint16_t v = (uint16_t) strtoul (c->arg2, NULL, 16);
  return off != (size_t) -1 && patch_file (path, off + 3 * 2, &v, 2);
}

/* Drops arg1 from the index's weight_map. */
static bool
m_index_drop (const char *dir, const bad_case *c)
{
  char path[4096];
  snprintf (path, sizeof path, "%s", in_dir (dir, c->file));
  yyjson_doc *doc = yyjson_read_file (path, 0, NULL, NULL);
  yyjson_mut_doc *m = yyjson_doc_mut_copy (doc, NULL);
  yyjson_doc_free (doc);
  yyjson_mut_val *map = yyjson_mut_obj_get (yyjson_mut_doc_get_root (m), "weight_map");
  bool ok = yyjson_mut_obj_remove_key (map, c->arg1) != NULL &&
            yyjson_mut_write_file (path, m, 0, NULL, NULL);
  yyjson_mut_doc_free (m);
  return ok;
}

static bool
m_deep_json (const char *dir, const bad_case *c)
{
  size_t depth = 10000;
  char *s = malloc (2 * depth + 8);
  size_t n = 0;
  for (size_t i = 0; i < depth; i++)
    s[n++] = '[';
  for (size_t i = 0; i < depth; i++)
    s[n++] = ']';
  s[n] = '\0';
  char *to = ke_strdup_printf ("\"deep\": %s, \"model_type\"", s);
  bool ok = replace_in_file (in_dir (dir, c->file), "\"model_type\"", to);
  free (to);
  free (s);
  return ok;
}

static const bad_case cases[] = {
  /* files */
  { "truncated file", NULL, m_truncate, ST, "1000", NULL, NULL, { ST, "outside", "truncated" } },
  { "truncated shard", NULL, m_truncate, SHARD2, "1", NULL, NULL, { SHARD2, "outside", NULL } },
  { "file shorter than its length", NULL, m_truncate, ST, "5300226", NULL, NULL, { ST, "too short", NULL } },
  { "header length past the end", NULL, m_header_len, ST, NULL, NULL, NULL, { ST, "past the end", NULL } },
  { "missing shard", NULL, m_delete, SHARD2, NULL, NULL, NULL, { SHARD2, "missing", "index" } },
  { "no weights", NULL, m_delete, ST, NULL, NULL, NULL, { "neither", "model.safetensors", NULL } },
  { "no config", NULL, m_delete, "config.json", NULL, NULL, NULL, { "config.json", NULL, NULL } },
  /* headers */
  { "overlapping offsets", NULL, m_header, ST, NULL, NULL, edit_overlap, { ST, "overlaps", L50 "0.input_layernorm.weight" } },
  { "out-of-range offsets", NULL, m_header, ST, NULL, NULL, edit_out_of_range, { ST, "outside", L50 "0.input_layernorm.weight" } },
  { "dtype vs byte count", NULL, m_header, ST, NULL, NULL, edit_dtype, { ST, "needs", L50 "1.post_attention_layernorm.weight" } },
  { "shape product overflow", NULL, m_header, ST, NULL, NULL, edit_shape_overflow, { ST, "overflows", L50 "2.self_attn.k_norm.weight" } },
  /* tensors vs config */
  { "wrong shape for the config", NULL, m_header, ST, NULL, NULL, edit_shape_for_config, { ST, "[2, 64]", "[128]" } },
  { "config disagrees with shapes", NULL, m_replace, "config.json", "\"intermediate_size\": 256", "\"intermediate_size\": 512",
    NULL, { ST, "mlp.gate_proj.weight", "[512, 128]" } },
  { "missing tensor", NULL, m_header, ST, NULL, NULL, edit_missing, { ST, L50 "4.mlp.up_proj.weight", "missing" } },
  { "missing weight_scale", NULL, m_header, ST, NULL, NULL, edit_missing_scale, { L50 "4.mlp.down_proj.weight_scale", "missing", NULL } },
  { "missing vision tensor", NULL, m_header, ST, NULL, NULL, edit_missing_vision, { "encoder.layers.1.mlp.fc2.bias", "missing", NULL } },
  { "scale of the wrong shape", NULL, m_header, ST, NULL, NULL, edit_scale_shape, { ST, "q_proj.weight_scale", "[128, 1]" } },
  { "missing from the index", NULL, m_replace, "model.safetensors.index.json", "\"" L52 "0.mlp.down_proj.weight\"",
    "\"" L52 "0.mlp.down_proj.weightx\"", NULL, { "index.json", L52 "0.mlp.down_proj.weightx", NULL } },
  { "tensor left out of the index", NULL, m_index_drop, "model.safetensors.index.json", L52 "5.self_attn.v_proj.weight", NULL,
    NULL, { "index.json", L52 "5.self_attn.v_proj.weight", "missing" } },
  { "index points at the wrong shard", NULL, m_replace, "model.safetensors.index.json", "model-00001-of-00003.safetensors",
    SHARD2, NULL, { "index.json", SHARD2, "does not contain" } },
  { "index shard outside the folder", NULL, m_replace, "model.safetensors.index.json", "model-00001-of-00003.safetensors",
    "../x.safetensors", NULL, { "index.json", "file name in the folder", NULL } },
  /* scales */
  { "NaN scale", NULL, m_poke_bf16, ST, L50 "2.self_attn.o_proj.weight_scale", "7fc0", NULL, { ST, "o_proj.weight_scale", "row 3 is nan" } },
  { "Inf scale", NULL, m_poke_bf16, ST, L50 "2.self_attn.o_proj.weight_scale", "7f80", NULL, { ST, "o_proj.weight_scale", "row 3 is inf" } },
  { "zero scale", NULL, m_poke_bf16, ST, L50 "2.self_attn.o_proj.weight_scale", "0000", NULL, { ST, "o_proj.weight_scale", "row 3 is 0" } },
  { "negative scale", NULL, m_poke_bf16, ST, L50 "2.self_attn.o_proj.weight_scale", "bf80", NULL, { ST, "o_proj.weight_scale", "row 3 is -1" } },
  { "NaN weight quantized at load", "bf16", m_poke_bf16, ST, L50 "1.mlp.up_proj.weight", "7fc0", NULL, { ST, L50 "1.mlp.up_proj.weight", "row 0 has non-finite values" } },
  /* quantization config */
  { "unknown scheme", NULL, m_replace, "config.json", "\"num_bits\": 8,\n          \"observer\": \"minmax\"",
    "\"num_bits\": 4,\n          \"observer\": \"minmax\"", NULL, { "config.json", "unsupported quantization scheme", "num_bits=4" } },
  { "unknown method", NULL, m_replace, "config.json", "\"compressed-tensors\"", "\"awq\"", NULL, { "config.json", "\"awq\"", NULL } },
  { "fp8 module in the ignore list", NULL, m_replace, "config.json", "\"lm_head\",", "\"lm_head\", \"re:.*mlp.*\",", NULL,
    { ST, "mlp.gate_proj.weight", "ignore list" } },
  { "bf16 where fp8 is expected", NULL, m_replace, "config.json", "\"re:vision_tower.*\",", "", NULL,
    { ST, "vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight", "expected F8_E4M3" } },
  { "fp8 weights without quantization_config", NULL, m_replace, "config.json", "\"quantization_config\"", "\"no_quantization\"",
    NULL, { ST, "F8_E4M3", "no compressed-tensors" } },
  /* JSON */
  { "invalid UTF-8 in config.json", NULL, m_replace, "config.json", "\"gemma3\"", "\"gemma3\xff\"", NULL, { "config.json", "UTF-8", NULL } },
  { "deeply nested config.json", NULL, m_deep_json, "config.json", NULL, NULL, NULL, { "config.json", "nested", NULL } },
  { "invalid UTF-8 in the index", NULL, m_replace, "model.safetensors.index.json", "\"metadata\"", "\"meta\xc0\xaf" "data\"", NULL,
    { "index.json", "UTF-8", NULL } },
  { "invalid generation_config.json", NULL, m_replace, "generation_config.json", "\"top_k\": 64", "\"top_k\": \"many\"", NULL,
    { "generation_config.json", "top_k", NULL } },
  { "preprocessor size vs image_size", NULL, m_replace, "preprocessor_config.json", "\"height\": 32", "\"height\": 64", NULL,
    { "preprocessor_config.json", "image_size", NULL } },
};

static const char *
case_base (const bad_case *c)
{
  if (c->base && strcmp (c->base, "bf16") == 0)
    return base_bf16;
  if (strcmp (c->file, SHARD2) == 0 || strstr (c->file, "index.json"))
    return base_sharded;
  return base_single;
}

KE_TEST (test_bad_checkpoints)
{
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const bad_case *c = &cases[i];
    char dir[4096];
    snprintf (dir, sizeof dir, "%s/case-%zu", root, i);
    bool ready = copy_dir (case_base (c), dir) && c->mutate (dir, c);
    KE_CHECK (ready, "%s: could not prepare the case", c->name);
    if (!ready)
      continue;
    ke_error *error = NULL;
    ke_checkpoint *cp = ke_checkpoint_open (dir, NULL, NULL, NULL, &error);
    KE_CHECK (cp == NULL, "%s: accepted", c->name);
    KE_CHECK (error && error->message, "%s: no error", c->name);
    for (int k = 0; k < 3 && error && c->needles[k]; k++)
      KE_CHECK (strstr (error->message, c->needles[k]) != NULL, "%s: '%s' lacks '%s'", c->name,
                error->message, c->needles[k]);
    if (error && getenv ("KE_TEST_VERBOSE"))
      ke_tap_diag ("%s: %s", c->name, error->message);
    ke_error_free (error);
    ke_checkpoint_free (cp);
    rm_dir (dir);
  }
}

/* Findings that are not errors. */
KE_TEST (test_warnings)
{
  char dir[4096];
  snprintf (dir, sizeof dir, "%s/warn", root);
  KE_REQUIRE (copy_dir (base_single, dir), "copy");
  bool ok = rewrite_header (in_dir (dir, ST), edit_extra, NULL, 8);
  KE_REQUIRE (ok, "edit");
  ke_error *error = NULL;
  ke_checkpoint *cp = ke_checkpoint_open (dir, NULL, NULL, NULL, &error);
  KE_REQUIRE (cp != NULL, "%s", error->message);
  KE_CHECK (ke_checkpoint_n_warnings (cp) == 1 &&
            strstr (ke_checkpoint_warning (cp, 0), "extra.unused.weight") &&
            strstr (ke_checkpoint_warning (cp, 0), ST), "warning: %s", ke_checkpoint_warning (cp, 0));
  ke_checkpoint_free (cp);
  rm_dir (dir);
}

int
main (int argc, char **argv)
{
  static const ke_tap_test tests[] = { KE_TAP_ENTRY (test_bad_checkpoints), KE_TAP_ENTRY (test_warnings) };
  if (getenv ("KESTREL_SHARED_DIR") == NULL) {
    printf ("1..0 # SKIP KESTREL_SHARED_DIR is not set (the tokenizer fixture is needed)\n");
    return 0;
  }
  root = tmp_dir ();
  if (root == NULL) {
    printf ("Bail out! cannot create a temporary folder\n");
    return 1;
  }
  snprintf (base_single, sizeof base_single, "%s/single", root);
  snprintf (base_sharded, sizeof base_sharded, "%s/sharded", root);
  snprintf (base_bf16, sizeof base_bf16, "%s/bf16", root);
  ke_error *error = NULL;
  if (!gen (base_single, "tiny", KE_GEN_FP8, KE_LAYOUT_4_50, 1, 9, &error) ||
      !gen (base_sharded, "tiny", KE_GEN_FP8, KE_LAYOUT_4_52, 3, 9, &error) ||
      !gen (base_bf16, "tiny", KE_GEN_BF16, KE_LAYOUT_4_50, 1, 9, &error)) {
    printf ("Bail out! %s\n", error->message);
    return 1;
  }
  int rc = ke_tap_run (argc, argv, tests, (int) (sizeof tests / sizeof tests[0]));
  rm_dir (base_single);
  rm_dir (base_sharded);
  rm_dir (base_bf16);
  rmdir (root);
  free (root);
  return rc;
}
