/* ke-tp-plan.c — tensor-parallel shards of a Gemma 3 decoder, and views of its weights.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-tp-plan.h"

static ke_tp_range
even_block (uint32_t total, uint32_t n, uint32_t r)
{
  ke_tp_range range = { r * (total / n), total / n };
  return range;
}

/* Balanced blocks for a total N need not divide: the first total mod n get one more. */
static ke_tp_range
balanced_block (uint32_t total, uint32_t n, uint32_t r)
{
  uint32_t base = total / n, extra = total % n;
  ke_tp_range range = { r * base + (r < extra ? r : extra), base + (r < extra ? 1 : 0) };
  return range;
}

bool
ke_tp_plan_init (ke_tp_plan *plan, const ke_text_config *text, uint32_t n_ranks,
                 ke_error **error)
{
  memset (plan, 0, sizeof *plan);
  if (n_ranks < 1 || n_ranks > KE_TP_MAX_RANKS)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Tensor parallelism takes 1 to %d ranks, not %u.", KE_TP_MAX_RANKS,
                         n_ranks);
  uint32_t heads = text->num_attention_heads, kv = text->num_key_value_heads;
  uint32_t inter = text->intermediate_size, vocab = text->vocab_size;
  if (!heads || !kv || !inter || !vocab || !text->head_dim || heads % kv)
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "The text configuration is not usable for tensor parallelism.");
  if (heads % n_ranks || kv % n_ranks)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "The model cannot be split %u ways: the number of GPUs must divide its "
                         "%u query heads and %u key/value heads.", n_ranks, heads, kv);
  if (inter % n_ranks)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "The model cannot be split %u ways: the number of GPUs must divide its "
                         "MLP width %u.", n_ranks, inter);
  if (vocab < n_ranks)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "A vocabulary of %u cannot be split over %u ranks.", vocab, n_ranks);
  plan->n_ranks = n_ranks;
  plan->head_dim = text->head_dim;
  plan->vocab_size = vocab;
  plan->vocab_stride = vocab / n_ranks + (vocab % n_ranks ? 1 : 0);
  for (uint32_t r = 0; r < n_ranks; r++) {
    ke_tp_shard *s = &plan->shards[r];
    s->rank = r;
    s->q_heads = even_block (heads, n_ranks, r);
    s->kv_heads = even_block (kv, n_ranks, r);
    s->mlp = even_block (inter, n_ranks, r);
    s->vocab = balanced_block (vocab, n_ranks, r);
  }
  return true;
}

bool
ke_tp_check_devices (const ke_tp_device *devices, size_t n, ke_error **error)
{
  if (n == 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No GPU was selected.");
  if (n > KE_TP_MAX_RANKS)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "At most %d GPUs can share a model, not %zu.", KE_TP_MAX_RANKS, n);
  for (size_t i = 0; i < n; i++) {
    if (devices[i].index < 0)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "GPU index %d is not valid.",
                           devices[i].index);
    for (size_t j = 0; j < i; j++)
      if (devices[j].index == devices[i].index)
        return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                             "GPU %d is selected twice; each GPU can hold one share of the "
                             "model.", devices[i].index);
    if (devices[i].cc_major != devices[0].cc_major ||
        devices[i].cc_minor != devices[0].cc_minor)
      return ke_set_error (error, KE_ERROR_UNSUPPORTED,
                           "The selected GPUs differ: GPU %d (%s) has compute capability %d.%d "
                           "but GPU %d (%s) has %d.%d; tensor parallelism needs GPUs of one "
                           "kind.", devices[0].index, devices[0].name, devices[0].cc_major,
                           devices[0].cc_minor, devices[i].index, devices[i].name,
                           devices[i].cc_major, devices[i].cc_minor);
  }
  return true;
}

size_t
ke_parse_device_list (const char *text, int *devices, size_t max_devices, ke_error **error)
{
  if (!text || !*text) {
    ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "The GPU list is empty.");
    return 0;
  }
  size_t n = 0;
  const char *p = text;
  for (;;) {
    while (*p == ' ')
      p++;
    if (*p < '0' || *p > '9') {
      ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                    "\"%s\" is not a GPU list: write indices separated by commas, e.g. 0,1.",
                    text);
      return 0;
    }
    int value = 0;
    while (*p >= '0' && *p <= '9') {
      value = value * 10 + (*p - '0');
      if (value > 63) {
        ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                      "GPU indices run from 0 to 63 (in \"%s\").", text);
        return 0;
      }
      p++;
    }
    for (size_t j = 0; j < n; j++)
      if (devices[j] == value) {
        ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "GPU %d is listed twice in \"%s\".",
                      value, text);
        return 0;
      }
    if (n == max_devices) {
      ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "At most %zu GPUs can be listed, not more "
                    "(in \"%s\").", max_devices, text);
      return 0;
    }
    devices[n++] = value;
    while (*p == ' ')
      p++;
    if (*p == '\0')
      return n;
    if (*p != ',') {
      ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                    "\"%s\" is not a GPU list: write indices separated by commas, e.g. 0,1.",
                    text);
      return 0;
    }
    p++;
  }
}

/* ---- views ---------------------------------------------------------------------------- */

static bool
check_2d (const ke_tensor *w, ke_error **error)
{
  if (!w->data || w->ndim != 2 || w->shape[0] <= 0 || w->shape[1] <= 0)
    return ke_set_error (error, KE_ERROR_FORMAT, "Linear weight %s is missing or not 2-D.",
                         w->name ? w->name : "(unnamed)");
  return true;
}

bool
ke_tp_view_rows (const ke_linear *linear, uint32_t first, uint32_t count, ke_linear *view,
                 ke_error **error)
{
  const ke_tensor *w = &linear->weight;
  if (!check_2d (w, error))
    return false;
  size_t out = (size_t) w->shape[0], in = (size_t) w->shape[1], es = ke_dtype_size (w->dtype);
  if (count == 0 || (size_t) first + count > out)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Rows %u..%u are outside %s's %zu rows.", first, first + count,
                         w->name ? w->name : "(unnamed)", out);
  *view = *linear;
  view->weight.shape[0] = count;
  view->weight.data = (const uint8_t *) w->data + (size_t) first * in * es;
  view->weight.nbytes = (size_t) count * in * es;
  const ke_tensor *per_row[2] = { &linear->scale, &linear->bias };
  ke_tensor *per_row_view[2] = { &view->scale, &view->bias };
  for (int i = 0; i < 2; i++) {
    const ke_tensor *t = per_row[i];
    if (!t->data)
      continue;
    size_t tes = ke_dtype_size (t->dtype);
    if (t->ndim < 1 || (size_t) t->shape[0] != out || t->nbytes < out * tes)
      return ke_set_error (error, KE_ERROR_FORMAT, "%s of %s does not have one value per row.",
                           i == 0 ? "The scale" : "The bias", w->name ? w->name : "(unnamed)");
    per_row_view[i]->shape[0] = count;
    per_row_view[i]->data = (const uint8_t *) t->data + (size_t) first * tes;
    per_row_view[i]->nbytes = (size_t) count * (t->nbytes / out);
  }
  return true;
}

bool
ke_tp_view_cols (const ke_linear *linear, uint32_t first, uint32_t count, bool keep_bias,
                 ke_linear *view, ke_error **error)
{
  const ke_tensor *w = &linear->weight;
  if (!check_2d (w, error))
    return false;
  size_t out = (size_t) w->shape[0], in = (size_t) w->shape[1], es = ke_dtype_size (w->dtype);
  if (count == 0 || (size_t) first + count > in)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Columns %u..%u are outside %s's %zu columns.", first, first + count,
                         w->name ? w->name : "(unnamed)", in);
  *view = *linear;
  view->weight.shape[1] = count;
  view->weight.data = (const uint8_t *) w->data + (size_t) first * es;
  /* The bytes the view spans: from its first element to the last row's last one. */
  view->weight.nbytes = ((out - 1) * in + count) * es;
  if (!keep_bias)
    memset (&view->bias, 0, sizeof view->bias);
  return true;
}

static bool
check_linear_shape (const ke_linear *l, size_t out, size_t in, ke_error **error)
{
  const ke_tensor *w = &l->weight;
  if (!w->data || w->ndim != 2 || (size_t) w->shape[0] != out || (size_t) w->shape[1] != in)
    return ke_set_error (error, KE_ERROR_FORMAT, "Linear weight %s is missing or not [%zu, %zu].",
                         w->name ? w->name : "(unnamed)", out, in);
  return true;
}

bool
ke_tp_rank_weights_init (ke_tp_rank_weights *out, const ke_tp_plan *plan, uint32_t rank,
                         const ke_config *config, const ke_weights *weights, ke_error **error)
{
  memset (out, 0, sizeof *out);
  const ke_text_config *tc = &config->text;
  if (rank >= plan->n_ranks || plan->head_dim != tc->head_dim ||
      plan->vocab_size != tc->vocab_size)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Rank %u does not belong to this tensor-parallel plan.", rank);
  const ke_tp_shard *s = &plan->shards[rank];
  size_t H = tc->hidden_size, hd = tc->head_dim, I = tc->intermediate_size;
  size_t qd = (size_t) tc->num_attention_heads * hd, kvd = (size_t) tc->num_key_value_heads * hd;
  uint32_t q0 = s->q_heads.first * (uint32_t) hd, qn = s->q_heads.count * (uint32_t) hd;
  uint32_t k0 = s->kv_heads.first * (uint32_t) hd, kn = s->kv_heads.count * (uint32_t) hd;

  if (!check_linear_shape (&weights->lm_head, tc->vocab_size, H, error))
    return false;
  ke_text_layer *layers = ke_calloc_array (tc->num_hidden_layers ? tc->num_hidden_layers : 1,
                                           sizeof *layers);
  if (!layers)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory.");
  out->weights = *weights;
  out->weights.layers = layers;
  out->o_row_stride = qd;
  out->down_row_stride = I;
  for (uint32_t l = 0; l < tc->num_hidden_layers; l++) {
    const ke_text_layer *L = &weights->layers[l];
    ke_text_layer *R = &layers[l];
    *R = *L;
    bool ok = check_linear_shape (&L->q_proj, qd, H, error) &&
              check_linear_shape (&L->k_proj, kvd, H, error) &&
              check_linear_shape (&L->v_proj, kvd, H, error) &&
              check_linear_shape (&L->o_proj, H, qd, error) &&
              check_linear_shape (&L->gate_proj, I, H, error) &&
              check_linear_shape (&L->up_proj, I, H, error) &&
              check_linear_shape (&L->down_proj, H, I, error) &&
              ke_tp_view_rows (&L->q_proj, q0, qn, &R->q_proj, error) &&
              ke_tp_view_rows (&L->k_proj, k0, kn, &R->k_proj, error) &&
              ke_tp_view_rows (&L->v_proj, k0, kn, &R->v_proj, error) &&
              ke_tp_view_cols (&L->o_proj, q0, qn, rank == 0, &R->o_proj, error) &&
              ke_tp_view_rows (&L->gate_proj, s->mlp.first, s->mlp.count, &R->gate_proj, error) &&
              ke_tp_view_rows (&L->up_proj, s->mlp.first, s->mlp.count, &R->up_proj, error) &&
              ke_tp_view_cols (&L->down_proj, s->mlp.first, s->mlp.count, rank == 0,
                               &R->down_proj, error);
    if (!ok) {
      ke_tp_rank_weights_clear (out);
      return false;
    }
  }
  if (!ke_tp_view_rows (&weights->lm_head, s->vocab.first, s->vocab.count,
                        &out->weights.lm_head, error)) {
    ke_tp_rank_weights_clear (out);
    return false;
  }
  return true;
}

void
ke_tp_rank_weights_clear (ke_tp_rank_weights *rank_weights)
{
  if (!rank_weights)
    return;
  free (rank_weights->weights.layers);
  memset (rank_weights, 0, sizeof *rank_weights);
}
