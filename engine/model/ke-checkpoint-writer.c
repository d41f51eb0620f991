/* ke-checkpoint-writer.c — the tensors of a generated checkpoint and the safetensors
 * files that hold them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Linear layers are drawn as llm-compressor's output would look: per output row a bf16
 * scale s (absmax / 448 of the row) and FP8 codes uniform over ±448 with one ±448 code
 * per row, so that w = code × s is uniform with std ≈ 1/sqrt(in_features).  The fp8
 * format writes the codes and s; the bf16 format writes bf16(code × s).  Other tensors
 * are bf16 uniform around a centre (norm weights near 0 as Gemma's RMSNorm multiplies by
 * 1 + w, SigLIP LayerNorm weights near 1, embeddings with std 1, small biases).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ke-gen-private.h"
#include "ke-numeric.h"
#include "ke-quant-config.h"
#include "ke-rng.h"

#define GEN_NAME_LEN 256
#define CHUNK_BYTES (64u << 20)

typedef enum {
  GEN_CODES,   /* F8_E4M3 [out, in] */
  GEN_SCALES,  /* BF16 [out, 1] */
  GEN_DEQUANT, /* BF16 [out, in] = codes × scales */
  GEN_UNIFORM, /* BF16, centre + bound × U(-1, 1) */
} gen_kind;

typedef struct gen_tensor {
  char name[GEN_NAME_LEN];
  uint64_t key;             /* stream id: hash of the layout-independent role */
  gen_kind kind;
  ke_dtype dtype;
  uint32_t ndim;
  int64_t shape[KE_MAX_DIMS];
  size_t rows, cols;        /* generation is row by row */
  float centre, bound;      /* GEN_UNIFORM; bound = std·√3 for linears */
  size_t nbytes;
  uint32_t shard;
} gen_tensor;

typedef struct gen_list {
  gen_tensor *t;
  size_t n, cap;
} gen_list;

/* f32 → f16, round to nearest even (finite inputs; overflow saturates to ±inf). */
static uint16_t
ke_f32_to_f16 (float f)
{
  uint32_t u;
  memcpy (&u, &f, sizeof u);
  uint16_t sign = (uint16_t) ((u >> 16) & 0x8000u);
  float a = fabsf (f);
  if (a >= 65520.0f)
    return sign | 0x7c00u;
  if (a < 0x1p-14f) { /* subnormal: quantum 2^-24 */
    float q = nearbyintf (a * 0x1p24f);
    return sign | (uint16_t) q;
  }
  int e;
  float m = frexpf (a, &e); /* a = m·2^e, m in [0.5, 1) */
  float q = nearbyintf (m * 2048.0f); /* 11 significant bits */
  if (q >= 2048.0f) {
    q /= 2.0f;
    e++;
  }
  return sign | (uint16_t) (((uint32_t) (e + 14) << 10) | ((uint32_t) q - 1024u));
}

/* bf16 bit pattern → FP8 code, built once. */
static uint8_t bf16_to_fp8[65536];
static float fp8_to_f32[256];
static pthread_once_t lut_once = PTHREAD_ONCE_INIT;

static void
build_lut (void)
{
  for (uint32_t i = 0; i < 65536; i++)
    bf16_to_fp8[i] = ke_f32_to_fp8e4m3 (ke_bf16_to_f32 ((uint16_t) i));
  for (uint32_t i = 0; i < 256; i++)
    fp8_to_f32[i] = ke_fp8e4m3_to_f32 ((uint8_t) i);
}

static gen_tensor *
push (gen_list *l, const char *name, const char *role, gen_kind kind, uint32_t ndim,
      const int64_t *shape)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    gen_tensor *grown = ke_realloc_array (l->t, cap, sizeof *grown);
    if (grown == NULL)
      return NULL;
    l->t = grown;
    l->cap = cap;
  }
  gen_tensor *t = &l->t[l->n++];
  memset (t, 0, sizeof *t);
  ke_name_join (t->name, sizeof t->name, name, NULL, NULL);
  t->key = ke_hash_str (role);
  t->kind = kind;
  t->dtype = kind == GEN_CODES ? KE_DTYPE_F8_E4M3 : KE_DTYPE_BF16;
  t->ndim = ndim;
  memcpy (t->shape, shape, ndim * sizeof *shape);
  t->rows = ndim ? (size_t) shape[0] : 1;
  t->cols = 1;
  for (uint32_t i = 1; i < ndim; i++)
    t->cols *= (size_t) shape[i];
  t->nbytes = t->rows * t->cols * ke_dtype_size (t->dtype);
  return t;
}

static bool
add_uniform (gen_list *l, const char *prefix, const char *suffix, const char *role_prefix,
             uint32_t ndim, const int64_t *shape, float centre, float bound)
{
  char name[GEN_NAME_LEN], role[GEN_NAME_LEN];
  ke_name_join (name, sizeof name, prefix, suffix, NULL);
  ke_name_join (role, sizeof role, role_prefix, suffix, NULL);
  gen_tensor *t = push (l, name, role, GEN_UNIFORM, ndim, shape);
  if (t == NULL)
    return false;
  t->centre = centre;
  t->bound = bound;
  return true;
}

/* A Linear: FP8 codes + scales when the quantization config does not ignore it. */
static bool
add_linear (gen_list *l, const ke_gen_options *o, const ke_quant_config *quant,
            const char *prefix, const char *module, const char *role_prefix, int64_t out_f,
            int64_t in_f, bool bias)
{
  char name[GEN_NAME_LEN], role[GEN_NAME_LEN], mod[GEN_NAME_LEN];
  ke_name_join (mod, sizeof mod, prefix, module, NULL);
  ke_name_join (role, sizeof role, role_prefix, module, NULL);
  bool fp8 = quant->scheme == KE_QUANT_FP8_DYNAMIC && !ke_quant_config_ignores (quant, mod);
  float bound = sqrtf (3.0f / (float) in_f);
  const int64_t w[2] = { out_f, in_f }, s[2] = { out_f, 1 }, b[1] = { out_f };
  ke_name_join (name, sizeof name, mod, ".weight", NULL);
  gen_tensor *t = push (l, name, role, fp8 ? GEN_CODES : GEN_DEQUANT, 2, w);
  if (t == NULL)
    return false;
  t->bound = bound;
  if (fp8) {
    ke_name_join (name, sizeof name, mod, ".weight_scale", NULL);
    if ((t = push (l, name, role, GEN_SCALES, o->scale_1d ? 1 : 2, s)) == NULL)
      return false;
    t->bound = bound;
    t->dtype = o->scale_dtype;
    t->nbytes = t->rows * ke_dtype_size (t->dtype);
  }
  if (bias) {
    ke_name_join (name, sizeof name, mod, ".bias", NULL);
    ke_name_join (role, sizeof role, role_prefix, module, ".bias");
    if ((t = push (l, name, role, GEN_UNIFORM, 1, b)) == NULL)
      return false;
    t->bound = 0.02f;
  }
  return true;
}

static bool
build_list (const ke_gen_shape *s, const ke_gen_options *o, const ke_quant_config *quant,
            gen_list *l)
{
  const ke_layout_names *L = &ke_layouts[o->layout];
  const char *tp = s->vision ? L->text : KE_CAUSAL_TEXT_PREFIX;
  const int64_t h = s->hidden, hd = s->head_dim, q = (int64_t) s->heads * hd;
  const int64_t kv = (int64_t) s->kv_heads * hd, inter = s->intermediate;
  const int64_t emb[2] = { s->vocab, h }, vh[1] = { h }, vd[1] = { hd };
  char p[GEN_NAME_LEN], r[GEN_NAME_LEN];
  bool ok = add_uniform (l, tp, "embed_tokens.weight", "text.", 2, emb, 0.0f, sqrtf (3.0f));
  for (uint32_t i = 0; ok && i < s->layers; i++) {
    snprintf (p, sizeof p, "%slayers.%u.", tp, i);
    snprintf (r, sizeof r, "text.layers.%u.", i);
    ok = add_uniform (l, p, "input_layernorm.weight", r, 1, vh, 0.0f, 0.1f) &&
         add_linear (l, o, quant, p, "self_attn.q_proj", r, q, h, false) &&
         add_linear (l, o, quant, p, "self_attn.k_proj", r, kv, h, false) &&
         add_linear (l, o, quant, p, "self_attn.v_proj", r, kv, h, false) &&
         add_linear (l, o, quant, p, "self_attn.o_proj", r, h, q, false) &&
         add_uniform (l, p, "self_attn.q_norm.weight", r, 1, vd, 0.0f, 0.1f) &&
         add_uniform (l, p, "self_attn.k_norm.weight", r, 1, vd, 0.0f, 0.1f) &&
         add_uniform (l, p, "post_attention_layernorm.weight", r, 1, vh, 0.0f, 0.1f) &&
         add_uniform (l, p, "pre_feedforward_layernorm.weight", r, 1, vh, 0.0f, 0.1f) &&
         add_linear (l, o, quant, p, "mlp.gate_proj", r, inter, h, false) &&
         add_linear (l, o, quant, p, "mlp.up_proj", r, inter, h, false) &&
         add_linear (l, o, quant, p, "mlp.down_proj", r, h, inter, false) &&
         add_uniform (l, p, "post_feedforward_layernorm.weight", r, 1, vh, 0.0f, 0.1f);
  }
  ok = ok && add_uniform (l, tp, "norm.weight", "text.", 1, vh, 0.0f, 0.1f);
  if (ok && o->untied_lm_head) {
    const char *lm = s->vision ? L->lm_head : KE_CAUSAL_LM_HEAD;
    char mod[GEN_NAME_LEN];
    snprintf (mod, sizeof mod, "%.*s", (int) (strlen (lm) - strlen (".weight")), lm);
    ok = add_linear (l, o, quant, "", mod, "text.lm_head/", s->vocab, h, false);
  }
  if (!ok || !s->vision)
    return ok;

  const char *vp = L->vision;
  const int64_t v = s->v_hidden, vi = s->v_intermediate, side = s->image / s->patch;
  const int64_t patch[4] = { v, 3, s->patch, s->patch }, vv[1] = { v };
  const int64_t pos[2] = { side * side, v }, proj[2] = { v, h };
  ok = add_uniform (l, vp, "embeddings.patch_embedding.weight", "vision.", 4, patch, 0.0f,
                    sqrtf (3.0f / (float) (3 * s->patch * s->patch))) &&
       add_uniform (l, vp, "embeddings.patch_embedding.bias", "vision.", 1, vv, 0.0f, 0.02f) &&
       add_uniform (l, vp, "embeddings.position_embedding.weight", "vision.", 2, pos, 0.0f, 0.2f);
  for (uint32_t i = 0; ok && i < s->v_layers; i++) {
    snprintf (p, sizeof p, "%sencoder.layers.%u.", vp, i);
    snprintf (r, sizeof r, "vision.layers.%u.", i);
    ok = add_uniform (l, p, "layer_norm1.weight", r, 1, vv, 1.0f, 0.1f) &&
         add_uniform (l, p, "layer_norm1.bias", r, 1, vv, 0.0f, 0.02f) &&
         add_linear (l, o, quant, p, "self_attn.q_proj", r, v, v, true) &&
         add_linear (l, o, quant, p, "self_attn.k_proj", r, v, v, true) &&
         add_linear (l, o, quant, p, "self_attn.v_proj", r, v, v, true) &&
         add_linear (l, o, quant, p, "self_attn.out_proj", r, v, v, true) &&
         add_uniform (l, p, "layer_norm2.weight", r, 1, vv, 1.0f, 0.1f) &&
         add_uniform (l, p, "layer_norm2.bias", r, 1, vv, 0.0f, 0.02f) &&
         add_linear (l, o, quant, p, "mlp.fc1", r, vi, v, true) &&
         add_linear (l, o, quant, p, "mlp.fc2", r, v, vi, true);
  }
  return ok && add_uniform (l, vp, "post_layernorm.weight", "vision.", 1, vv, 1.0f, 0.1f) &&
         add_uniform (l, vp, "post_layernorm.bias", "vision.", 1, vv, 0.0f, 0.02f) &&
         add_uniform (l, L->projector, "mm_input_projection_weight", "projector.", 2, proj, 0.0f,
                      sqrtf (3.0f / (float) v)) &&
         add_uniform (l, L->projector, "mm_soft_emb_norm.weight", "projector.", 1, vv, 0.0f, 0.1f);
}

/* ---- generation ------------------------------------------------------------------ */

typedef struct {
  const gen_tensor *t;
  uint64_t seed;
  size_t row_begin, row_end, first_row;
  uint8_t *out;             /* bytes of rows [first_row, …) */
} gen_job;

static void
row_stream (const gen_tensor *t, uint64_t seed, size_t row, ke_rng *rng)
{
  ke_rng_seed (rng, seed ^ t->key ^ ((uint64_t) row * 0xd1342543de82ef95ull));
}

/* The scale of a Linear row and the column that holds its ±448 code. */
static float
row_scale (const gen_tensor *t, ke_rng *rng, size_t *peak_col)
{
  float u = ke_rng_uniform (rng);
  float absmax = t->bound * (0.75f + 0.25f * fabsf (u));
  *peak_col = (size_t) (ke_rng_next (rng) % t->cols);
  return ke_round_bf16 (absmax / KE_FP8_E4M3_MAX);
}

static void *
gen_rows (void *data)
{
  gen_job *job = data;
  const gen_tensor *t = job->t;
  size_t esize = ke_dtype_size (t->dtype);
  for (size_t r = job->row_begin; r < job->row_end; r++) {
    uint8_t *row = job->out + (r - job->first_row) * t->cols * esize;
    ke_rng rng;
    row_stream (t, job->seed, r, &rng);
    if (t->kind == GEN_UNIFORM) {
      for (size_t c = 0; c < t->cols; c++) {
        uint16_t v = ke_f32_to_bf16 (t->centre + t->bound * ke_rng_uniform (&rng));
        memcpy (row + 2 * c, &v, sizeof v);
      }
      continue;
    }
    size_t peak;
    float scale = row_scale (t, &rng, &peak);
    if (t->kind == GEN_SCALES) {
      /* The bf16-rounded scale, stored in the tensor's dtype. */
      if (t->dtype == KE_DTYPE_F32) {
        memcpy (row, &scale, sizeof scale);
      } else {
        uint16_t v = t->dtype == KE_DTYPE_F16 ? ke_f32_to_f16 (scale) : ke_f32_to_bf16 (scale);
        memcpy (row, &v, sizeof v);
      }
      continue;
    }
    for (size_t c = 0; c < t->cols; c++) {
      float u = ke_rng_uniform (&rng) * KE_FP8_E4M3_MAX;
      uint32_t bits;
      memcpy (&bits, &u, sizeof bits);
      uint8_t code = c == peak ? (uint8_t) ((bits >> 24 & 0x80u) | 0x7eu) : bf16_to_fp8[bits >> 16];
      if (t->kind == GEN_CODES) {
        row[c] = code;
      } else {
        uint16_t v = ke_f32_to_bf16 (fp8_to_f32[code] * scale);
        memcpy (row + 2 * c, &v, sizeof v);
      }
    }
  }
  return NULL;
}

static void
gen_parallel (const gen_tensor *t, uint64_t seed, size_t r0, size_t r1, uint8_t *out,
              int n_threads)
{
  enum { MAX_THREADS = 64 };
  size_t n = (size_t) (n_threads > 0 ? n_threads : 1);
  if (n > MAX_THREADS)
    n = MAX_THREADS;
  if ((r1 - r0) * t->cols < (1u << 18) || n > r1 - r0)
    n = 1;
  gen_job jobs[MAX_THREADS];
  pthread_t threads[MAX_THREADS];
  bool started[MAX_THREADS] = { false };
  for (size_t i = 0; i < n; i++) {
    jobs[i] = (gen_job) { t, seed, r0 + (r1 - r0) * i / n, r0 + (r1 - r0) * (i + 1) / n, r0, out };
    if (i > 0)
      started[i] = pthread_create (&threads[i], NULL, gen_rows, &jobs[i]) == 0;
  }
  gen_rows (&jobs[0]);
  for (size_t i = 1; i < n; i++) {
    if (started[i])
      pthread_join (threads[i], NULL);
    else
      gen_rows (&jobs[i]);
  }
}

/* ---- files ---------------------------------------------------------------------- */

static char *
shard_name (uint32_t i, uint32_t n)
{
  if (n <= 1)
    return ke_strdup ("model.safetensors");
  return ke_strdup_printf ("model-%05u-of-%05u.safetensors", i + 1, n);
}

static bool
write_shard (const char *out_dir, const gen_list *l, uint32_t shard, uint32_t n_shards,
             const ke_gen_options *o, uint8_t *buf, uint64_t *written, uint64_t total,
             ke_progress_fn progress, void *user_data, ke_error **error)
{
  yyjson_mut_doc *doc = yyjson_mut_doc_new (NULL);
  char *name = shard_name (shard, n_shards);
  char *path = name ? ke_path_join (out_dir, name) : NULL;
  char *header = NULL;
  FILE *f = NULL;
  bool ok = false;
  if (doc == NULL || path == NULL) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    goto out;
  }
  yyjson_mut_val *root = yyjson_mut_obj (doc);
  yyjson_mut_doc_set_root (doc, root);
  yyjson_mut_val *meta = yyjson_mut_obj (doc);
  yyjson_mut_obj_add_str (doc, meta, "format", "pt");
  yyjson_mut_obj_add_val (doc, root, "__metadata__", meta);
  uint64_t off = 0;
  for (size_t i = 0; i < l->n; i++) {
    const gen_tensor *t = &l->t[i];
    if (t->shard != shard)
      continue;
    yyjson_mut_val *e = yyjson_mut_obj (doc);
    yyjson_mut_obj_add_str (doc, e, "dtype", ke_dtype_name (t->dtype));
    yyjson_mut_val *shape = yyjson_mut_arr (doc);
    for (uint32_t d = 0; d < t->ndim; d++)
      yyjson_mut_arr_add_sint (doc, shape, t->shape[d]);
    yyjson_mut_obj_add_val (doc, e, "shape", shape);
    yyjson_mut_val *offs = yyjson_mut_arr (doc);
    yyjson_mut_arr_add_uint (doc, offs, off);
    yyjson_mut_arr_add_uint (doc, offs, off + t->nbytes);
    yyjson_mut_obj_add_val (doc, e, "data_offsets", offs);
    yyjson_mut_obj_add (root, yyjson_mut_str (doc, t->name), e);
    off += t->nbytes;
  }
  size_t hlen = 0;
  header = yyjson_mut_write (doc, YYJSON_WRITE_NOFLAG, &hlen);
  if (header == NULL) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    goto out;
  }
  /* Pad the header with spaces to a multiple of 8, as the safetensors library does. */
  size_t padded = (hlen + 7) & ~(size_t) 7;
  f = fopen (path, "wb");
  if (f == NULL) {
    ke_set_error (error, KE_ERROR_IO, "Cannot create %s: %s", path, strerror (errno));
    goto out;
  }
  uint8_t len8[8];
  for (int i = 0; i < 8; i++)
    len8[i] = (uint8_t) ((uint64_t) padded >> (8 * i));
  bool io = fwrite (len8, 1, 8, f) == 8 && fwrite (header, 1, hlen, f) == hlen;
  for (size_t i = hlen; io && i < padded; i++)
    io = fputc (' ', f) != EOF;
  for (size_t i = 0; io && i < l->n; i++) {
    const gen_tensor *t = &l->t[i];
    if (t->shard != shard)
      continue;
    size_t row_bytes = t->cols * ke_dtype_size (t->dtype);
    size_t rows_per_chunk = CHUNK_BYTES / (row_bytes ? row_bytes : 1);
    if (rows_per_chunk == 0)
      rows_per_chunk = 1;
    for (size_t r = 0; io && r < t->rows; r += rows_per_chunk) {
      size_t r1 = r + rows_per_chunk < t->rows ? r + rows_per_chunk : t->rows;
      gen_parallel (t, o->seed, r, r1, buf, o->n_threads);
      size_t bytes = (r1 - r) * row_bytes;
      io = fwrite (buf, 1, bytes, f) == bytes;
      *written += bytes;
      if (io && progress && !progress ((double) *written / (double) (total ? total : 1),
                                       "Writing weights", user_data)) {
        ke_set_error (error, KE_ERROR_CANCELLED, "Writing %s was cancelled", path);
        goto out;
      }
    }
  }
  if (fclose (f) != 0)
    io = false;
  f = NULL;
  if (!io) {
    ke_set_error (error, KE_ERROR_IO, "Cannot write %s: %s", path, strerror (errno));
    goto out;
  }
  ok = true;
out:
  if (f)
    fclose (f);
  free (header);
  free (path);
  free (name);
  yyjson_mut_doc_free (doc);
  return ok;
}

static int
cmp_name_ptr (const void *a, const void *b)
{
  return strcmp ((*(const gen_tensor *const *) a)->name, (*(const gen_tensor *const *) b)->name);
}

static bool
write_index (const char *out_dir, const gen_list *l, uint32_t n_shards, ke_error **error)
{
  const gen_tensor **sorted = ke_malloc_array (l->n, sizeof *sorted);
  char **names = ke_calloc_array (n_shards, sizeof *names);
  yyjson_mut_doc *doc = yyjson_mut_doc_new (NULL);
  char *path = ke_path_join (out_dir, "model.safetensors.index.json");
  bool ok = false;
  if (!sorted || !names || !doc || !path) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    goto out;
  }
  uint64_t total = 0;
  for (size_t i = 0; i < l->n; i++) {
    sorted[i] = &l->t[i];
    total += l->t[i].nbytes;
  }
  qsort (sorted, l->n, sizeof *sorted, cmp_name_ptr);
  for (uint32_t s = 0; s < n_shards; s++)
    if ((names[s] = shard_name (s, n_shards)) == NULL) {
      ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
      goto out;
    }
  yyjson_mut_val *root = yyjson_mut_obj (doc);
  yyjson_mut_doc_set_root (doc, root);
  yyjson_mut_val *meta = yyjson_mut_obj (doc);
  yyjson_mut_obj_add_uint (doc, meta, "total_size", total);
  yyjson_mut_obj_add_val (doc, root, "metadata", meta);
  yyjson_mut_val *map = yyjson_mut_obj (doc);
  for (size_t i = 0; i < l->n; i++)
    yyjson_mut_obj_add (map, yyjson_mut_str (doc, sorted[i]->name),
                        yyjson_mut_str (doc, names[sorted[i]->shard]));
  yyjson_mut_obj_add_val (doc, root, "weight_map", map);
  ok = ke_gen_write_json (doc, path, error);
out:
  for (uint32_t s = 0; names && s < n_shards; s++)
    free (names[s]);
  free (names);
  free (sorted);
  free (path);
  yyjson_mut_doc_free (doc);
  return ok;
}

static bool
make_dir (const char *dir, ke_error **error)
{
  if (mkdir (dir, 0755) == 0 || errno == EEXIST) {
    struct stat st;
    if (stat (dir, &st) == 0 && S_ISDIR (st.st_mode))
      return true;
  }
  return ke_set_error (error, KE_ERROR_IO, "Cannot create folder %s: %s", dir, strerror (errno));
}

bool
ke_gen_checkpoint (const char *out_dir, const ke_gen_options *options, ke_progress_fn progress,
                   void *user_data, ke_error **error)
{
  ke_gen_options o;
  if (options)
    o = *options;
  else
    ke_gen_options_init (&o);
  ke_gen_shape shape;
  ke_gen_tokens tokens = { 0 };
  ke_quant_config quant = { 0 };
  gen_list list = { 0 };
  uint8_t *buf = NULL;
  char *tok_path = NULL;
  bool ok = false;
  if ((unsigned) o.layout >= KE_LAYOUT_COUNT)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "unknown name layout");
  if (o.scale_dtype != KE_DTYPE_BF16 && o.scale_dtype != KE_DTYPE_F16 && o.scale_dtype != KE_DTYPE_F32)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "weight_scale dtype must be BF16, F16 or F32");
  if (!ke_gen_resolve_shape (&o, &shape, error))
    return false;
  if (o.n_threads <= 0) {
    long n = sysconf (_SC_NPROCESSORS_ONLN);
    o.n_threads = n > 0 ? (int) n : 1;
  }
  if (o.tokenizer_path == NULL) {
    const char *shared = getenv ("KESTREL_SHARED_DIR");
    if (shared == NULL)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "no tokenizer: pass its tokenizer.json or set KESTREL_SHARED_DIR");
    tok_path = ke_strdup_printf ("%s/tokenizer-fixture/tokenizer.json", shared);
    o.tokenizer_path = tok_path;
  }
  pthread_once (&lut_once, build_lut);
  if (!make_dir (out_dir, error))
    goto out;
  /* Every shape takes its special ids (bos, eos, image markers) from the tokenizer it
   * ships with, so that chat prompts with images work on any generated checkpoint. */
  if (!ke_gen_read_tokens (o.tokenizer_path, &tokens, error))
    goto out;
  if (!ke_gen_write_side_files (out_dir, &shape, &tokens, &o, error))
    goto out;
  /* The same quantization_config the loader will read decides which Linear is FP8. */
  yyjson_mut_doc *cfg = ke_gen_config_json (&shape, &tokens, &o);
  yyjson_doc *icfg = cfg ? yyjson_mut_doc_imut_copy (cfg, NULL) : NULL;
  yyjson_mut_doc_free (cfg);
  bool qok = icfg && ke_quant_config_parse (yyjson_obj_get (yyjson_doc_get_root (icfg),
                                                            "quantization_config"),
                                            "config.json", &quant, error);
  yyjson_doc_free (icfg);
  if (!qok) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    goto out;
  }
  if (!build_list (&shape, &o, &quant, &list)) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    goto out;
  }
  uint32_t n_shards = o.n_shards ? o.n_shards : 1;
  if (n_shards > list.n) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "%u shards for %zu tensors", n_shards, list.n);
    goto out;
  }
  uint64_t total = 0, acc = 0;
  for (size_t i = 0; i < list.n; i++)
    total += list.t[i].nbytes;
  /* Consecutive runs of about total / n bytes; every shard gets at least one tensor. */
  size_t in_shard = 0;
  for (size_t i = 0, s = 0; i < list.n; i++) {
    if (s + 1 < n_shards && in_shard > 0 &&
        (acc >= total * (s + 1) / n_shards || list.n - i <= n_shards - 1 - s)) {
      s++;
      in_shard = 0;
    }
    list.t[i].shard = (uint32_t) s;
    acc += list.t[i].nbytes;
    in_shard++;
  }
  buf = malloc (CHUNK_BYTES + 64);
  if (buf == NULL) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    goto out;
  }
  uint64_t written = 0;
  for (uint32_t s = 0; s < n_shards; s++)
    if (!write_shard (out_dir, &list, s, n_shards, &o, buf, &written, total, progress, user_data,
                      error))
      goto out;
  ok = n_shards <= 1 || write_index (out_dir, &list, n_shards, error);
out:
  free (buf);
  free (list.t);
  free (tok_path);
  ke_quant_config_clear (&quant);
  return ok;
}
