/* test-tp-plan.c — tensor-parallel shard plans, weight views, device checks and lists.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ke-tap.h"
#include "ke-internal.h"
#include "ke-tp-plan.h"

static ke_text_config
gemma3_4b (void)
{
  ke_text_config t;
  memset (&t, 0, sizeof t);
  t.vocab_size = 262208;
  t.hidden_size = 2560;
  t.intermediate_size = 10240;
  t.num_hidden_layers = 34;
  t.num_attention_heads = 8;
  t.num_key_value_heads = 4;
  t.head_dim = 256;
  return t;
}

static bool
plan_fails (const ke_text_config *t, uint32_t n, ke_error_code code, const char *needle)
{
  ke_tp_plan plan;
  ke_error *error = NULL;
  bool ok = ke_tp_plan_init (&plan, t, n, &error);
  bool as_expected = !ok && error && error->code == code && strstr (error->message, needle);
  if (!as_expected)
    ke_tap_diag ("N=%u: %s", n, error ? error->message : "(accepted)");
  else
    ke_tap_diag ("N=%u refused: %s", n, error->message);
  ke_error_free (error);
  return as_expected;
}

KE_TEST (plan_4b_ranks)
{
  ke_text_config t = gemma3_4b ();
  for (uint32_t n = 1; n <= 4; n *= 2) {
    ke_tp_plan plan;
    ke_error *error = NULL;
    KE_REQUIRE (ke_tp_plan_init (&plan, &t, n, &error), "N=%u: %s", n,
                error ? error->message : "");
    KE_CHECK (plan.n_ranks == n && plan.vocab_stride == (262208 + n - 1) / n, "N=%u header", n);
    uint32_t q = 0, kv = 0, mlp = 0, vocab = 0;
    for (uint32_t r = 0; r < n; r++) {
      const ke_tp_shard *s = &plan.shards[r];
      /* contiguous, in rank order, covering everything exactly once */
      KE_CHECK (s->q_heads.first == q && s->kv_heads.first == kv && s->mlp.first == mlp &&
                s->vocab.first == vocab, "N=%u rank %u starts", n, r);
      KE_CHECK (s->q_heads.count == 8 / n && s->kv_heads.count == 4 / n &&
                s->mlp.count == 10240 / n, "N=%u rank %u sizes", n, r);
      /* GQA: the rank's query heads use only its own KV heads (group = 2) */
      KE_CHECK (s->q_heads.first / 2 == s->kv_heads.first &&
                (s->q_heads.first + s->q_heads.count - 1) / 2 ==
                  s->kv_heads.first + s->kv_heads.count - 1, "N=%u rank %u GQA groups", n, r);
      q += s->q_heads.count;
      kv += s->kv_heads.count;
      mlp += s->mlp.count;
      vocab += s->vocab.count;
    }
    KE_CHECK (q == 8 && kv == 4 && mlp == 10240 && vocab == 262208, "N=%u covers all", n);
  }
  KE_CHECK (plan_fails (&t, 3, KE_ERROR_INVALID_ARGUMENT, "must divide its 8 query heads"),
            "N=3 refused naming the heads");
  KE_CHECK (plan_fails (&t, 8, KE_ERROR_INVALID_ARGUMENT, "4 key/value heads"),
            "N=8 refused naming the KV heads");
  KE_CHECK (plan_fails (&t, 0, KE_ERROR_INVALID_ARGUMENT, "1 to 8"), "N=0 refused");
  KE_CHECK (plan_fails (&t, 16, KE_ERROR_INVALID_ARGUMENT, "1 to 8"), "N=16 refused");
  t.intermediate_size = 10241;
  KE_CHECK (plan_fails (&t, 2, KE_ERROR_INVALID_ARGUMENT, "MLP width 10241"),
            "odd MLP width refused for N=2");
}

KE_TEST (plan_uneven_vocab)
{
  ke_text_config t = gemma3_4b ();
  t.vocab_size = 301;
  ke_tp_plan plan;
  ke_error *error = NULL;
  KE_REQUIRE (ke_tp_plan_init (&plan, &t, 4, &error), "plan");
  /* 301 = 4·75 + 1: the first rank holds one more. */
  KE_CHECK (plan.vocab_stride == 76, "stride %u", plan.vocab_stride);
  KE_CHECK (plan.shards[0].vocab.count == 76 && plan.shards[1].vocab.count == 75 &&
            plan.shards[2].vocab.count == 75 && plan.shards[3].vocab.count == 75,
            "counts %u %u %u %u", plan.shards[0].vocab.count, plan.shards[1].vocab.count,
            plan.shards[2].vocab.count, plan.shards[3].vocab.count);
  KE_CHECK (plan.shards[1].vocab.first == 76 && plan.shards[2].vocab.first == 151 &&
            plan.shards[3].vocab.first == 226, "firsts");
  t.vocab_size = 3;
  KE_CHECK (plan_fails (&t, 4, KE_ERROR_INVALID_ARGUMENT, "vocabulary of 3"), "tiny vocab");
}

static ke_tp_device
dev (int index, const char *name, int major, int minor)
{
  ke_tp_device d = { .index = index, .cc_major = major, .cc_minor = minor };
  snprintf (d.name, sizeof d.name, "%s", name);
  return d;
}

KE_TEST (device_checks)
{
  ke_error *error = NULL;
  ke_tp_device two_h200[2] = { dev (0, "NVIDIA H200", 9, 0), dev (1, "NVIDIA H200", 9, 0) };
  KE_CHECK (ke_tp_check_devices (two_h200, 2, &error), "two H200 accepted");
  ke_error_free (error);
  error = NULL;

  ke_tp_device mixed[2] = { dev (0, "NVIDIA H100", 9, 0), dev (1, "NVIDIA L40S", 8, 9) };
  KE_CHECK (!ke_tp_check_devices (mixed, 2, &error) && error &&
            error->code == KE_ERROR_UNSUPPORTED && strstr (error->message, "8.9") &&
            strstr (error->message, "9.0") && strstr (error->message, "L40S"),
            "mixed capabilities refused: %s", error ? error->message : "(accepted)");
  ke_error_free (error);
  error = NULL;

  ke_tp_device twice[2] = { dev (1, "NVIDIA H200", 9, 0), dev (1, "NVIDIA H200", 9, 0) };
  KE_CHECK (!ke_tp_check_devices (twice, 2, &error) && error &&
            strstr (error->message, "GPU 1 is selected twice"), "duplicate refused: %s",
            error ? error->message : "(accepted)");
  ke_error_free (error);
  error = NULL;
  KE_CHECK (!ke_tp_check_devices (twice, 0, &error), "empty refused");
  ke_error_free (error);
}

KE_TEST (device_lists)
{
  int d[8];
  ke_error *error = NULL;
  KE_CHECK (ke_parse_device_list ("0,1", d, 8, &error) == 2 && d[0] == 0 && d[1] == 1, "0,1");
  KE_CHECK (ke_parse_device_list (" 3, 2 ,7", d, 8, &error) == 3 && d[0] == 3 && d[1] == 2 &&
            d[2] == 7, "spaces");
  KE_CHECK (ke_parse_device_list ("5", d, 8, &error) == 1 && d[0] == 5, "one");
  KE_CHECK (!error, "no error so far");
  static const char *const bad[] = { "", "0,", ",1", "0,,1", "a", "0,1,0", "64", "1-2",
                                     "0,1,2,3,4,5,6,7,8", "-1", "99999999999" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t n = ke_parse_device_list (bad[i], d, 8, &error);
    KE_CHECK (n == 0 && error && error->code == KE_ERROR_INVALID_ARGUMENT, "\"%s\" refused",
              bad[i]);
    if (error)
      ke_tap_diag ("\"%s\": %s", bad[i], error->message);
    ke_error_free (error);
    error = NULL;
  }
  KE_CHECK (ke_parse_device_list (NULL, d, 8, &error) == 0, "NULL refused");
  ke_error_free (error);
}

KE_TEST (weight_views)
{
  /* An FP8 linear [6, 10] with per-row scales and a bias. */
  uint8_t w[60];
  float scale[6], bias[6];
  for (int i = 0; i < 60; i++)
    w[i] = (uint8_t) i;
  for (int i = 0; i < 6; i++) {
    scale[i] = 1.0f + (float) i;
    bias[i] = -(float) i;
  }
  ke_linear lin = {
    .weight = { .name = "w", .dtype = KE_DTYPE_F8_E4M3, .ndim = 2, .shape = { 6, 10 },
                .data = w, .nbytes = 60 },
    .scale = { .name = "s", .dtype = KE_DTYPE_F32, .ndim = 1, .shape = { 6 }, .data = scale,
               .nbytes = sizeof scale },
    .bias = { .name = "b", .dtype = KE_DTYPE_F32, .ndim = 1, .shape = { 6 }, .data = bias,
              .nbytes = sizeof bias },
  };
  ke_linear v;
  ke_error *error = NULL;
  KE_REQUIRE (ke_tp_view_rows (&lin, 2, 3, &v, &error), "rows view");
  KE_CHECK (v.weight.data == w + 20 && v.weight.shape[0] == 3 && v.weight.shape[1] == 10 &&
            v.weight.nbytes == 30, "rows: weight is a view of rows 2..4");
  KE_CHECK (v.scale.data == scale + 2 && v.scale.shape[0] == 3 && v.scale.nbytes == 12,
            "rows: scales sharded with their rows");
  KE_CHECK (v.bias.data == bias + 2 && v.bias.shape[0] == 3, "rows: bias sharded");

  KE_REQUIRE (ke_tp_view_cols (&lin, 4, 5, false, &v, &error), "cols view");
  KE_CHECK (v.weight.data == w + 4 && v.weight.shape[0] == 6 && v.weight.shape[1] == 5 &&
            v.weight.nbytes == 5 * 10 + 5, "cols: weight is a view from column 4, %zu bytes",
            v.weight.nbytes);
  KE_CHECK (v.scale.data == scale && v.scale.shape[0] == 6, "cols: scale kept whole");
  KE_CHECK (v.bias.data == NULL, "cols: bias dropped off rank 0");
  KE_REQUIRE (ke_tp_view_cols (&lin, 0, 5, true, &v, &error), "cols view with bias");
  KE_CHECK (v.bias.data == bias, "cols: bias kept on rank 0");

  KE_CHECK (!ke_tp_view_rows (&lin, 4, 3, &v, &error) && error, "rows past the end refused");
  ke_error_free (error);
  error = NULL;
  KE_CHECK (!ke_tp_view_cols (&lin, 8, 3, false, &v, &error) && error,
            "cols past the end refused");
  ke_error_free (error);
  error = NULL;
  lin.scale.shape[0] = 5;
  KE_CHECK (!ke_tp_view_rows (&lin, 0, 3, &v, &error) && error,
            "a scale without one value per row refused");
  ke_error_free (error);
}

KE_TAP_MAIN (KE_TAP_ENTRY (plan_4b_ranks), KE_TAP_ENTRY (plan_uneven_vocab),
             KE_TAP_ENTRY (device_checks), KE_TAP_ENTRY (device_lists),
             KE_TAP_ENTRY (weight_views))
