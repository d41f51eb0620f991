/* test-tp-comm.c — the in-process communicator: N threads, one per rank.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ke-tap.h"
#include "ke-internal.h"
#include "ke-numeric.h"
#include "ke-comm.h"

#define COUNT 1037 /* not a multiple of any rank count: the last block is longer */
#define ROUNDS 20

typedef struct {
  ke_comm *comm;
  int rank, n;
  bool ok;
  int failures;
  char message[256];
} rank_ctx;

/* The value rank r contributes at element i in round k. */
static float
value (int r, size_t i, int k)
{
  return (float) ((r + 1) * 0.37 + (double) i * 0.001 - k * 0.25) * (r % 2 ? -1.0f : 1.0f);
}

static void
fail (rank_ctx *c, const char *what, ke_error *error)
{
  c->ok = false;
  c->failures++;
  snprintf (c->message, sizeof c->message, "rank %d: %s%s%s", c->rank, what,
            error ? ": " : "", error ? error->message : "");
  ke_error_free (error);
}

static void *
collectives (void *data)
{
  rank_ctx *c = data;
  float *send = malloc (COUNT * sizeof (float)), *recv = malloc (COUNT * sizeof (float));
  uint16_t *bsend = malloc (COUNT * 2), *brecv = malloc (COUNT * 2);
  float *gathered = malloc ((size_t) c->n * COUNT * sizeof (float));
  c->ok = true;
  for (int k = 0; k < ROUNDS && c->ok; k++) {
    ke_error *error = NULL;
    for (size_t i = 0; i < COUNT; i++) {
      send[i] = value (c->rank, i, k);
      recv[i] = NAN; /* poisoned */
      bsend[i] = ke_f32_to_bf16 (send[i]);
    }
    /* out of place, f32: the exact sum in rank order on every rank */
    if (!ke_comm_all_reduce_sum (c->comm, c->rank, send, recv, COUNT, KE_COMM_F32, NULL, &error)) {
      fail (c, "all-reduce", error);
      break;
    }
    for (size_t i = 0; i < COUNT; i++) {
      float want = value (0, i, k);
      for (int r = 1; r < c->n; r++)
        want += value (r, i, k);
      if (memcmp (&recv[i], &want, sizeof want) != 0) {
        fail (c, "all-reduce sum differs", NULL);
        break;
      }
    }
    /* in place, bf16 (summed in float, rounded once) */
    memcpy (brecv, bsend, COUNT * 2);
    if (!ke_comm_all_reduce_sum (c->comm, c->rank, brecv, brecv, COUNT, KE_COMM_BF16, NULL,
                                 &error)) {
      fail (c, "bf16 all-reduce", error);
      break;
    }
    for (size_t i = 0; i < COUNT; i++) {
      float want = ke_bf16_to_f32 (ke_f32_to_bf16 (value (0, i, k)));
      for (int r = 1; r < c->n; r++)
        want += ke_bf16_to_f32 (ke_f32_to_bf16 (value (r, i, k)));
      if (brecv[i] != ke_f32_to_bf16 (want)) {
        fail (c, "bf16 all-reduce sum differs", NULL);
        break;
      }
    }
    /* all-gather: block r is rank r's */
    for (size_t i = 0; i < (size_t) c->n * COUNT; i++)
      gathered[i] = NAN;
    if (!ke_comm_all_gather (c->comm, c->rank, send, gathered, COUNT, KE_COMM_F32, NULL, &error)) {
      fail (c, "all-gather", error);
      break;
    }
    for (int r = 0; r < c->n && c->ok; r++)
      for (size_t i = 0; i < COUNT; i++)
        if (gathered[(size_t) r * COUNT + i] != value (r, i, k)) {
          fail (c, "all-gather block differs", NULL);
          break;
        }
    if (c->ok && !ke_comm_barrier (c->comm, c->rank, NULL, &error))
      fail (c, "barrier", error);
  }
  free (send);
  free (recv);
  free (bsend);
  free (brecv);
  free (gathered);
  return NULL;
}

static void
run_group (int n, void *(*fn) (void *), rank_ctx *ctx)
{
  ke_error *error = NULL;
  ke_comm *comm = ke_comm_cpu_new (n, &error);
  KE_REQUIRE (comm, "group of %d: %s", n, error ? error->message : "");
  KE_CHECK (ke_comm_n_ranks (comm) == n && strcmp (comm->ops->name, "cpu") == 0, "group size");
  pthread_t threads[8];
  for (int r = 0; r < n; r++) {
    ctx[r] = (rank_ctx) { .comm = comm, .rank = r, .n = n };
    pthread_create (&threads[r], NULL, fn, &ctx[r]);
  }
  for (int r = 0; r < n; r++)
    pthread_join (threads[r], NULL);
  ke_comm_free (comm);
}

KE_TEST (collectives_1_2_3_4_8_ranks)
{
  static const int sizes[] = { 1, 2, 3, 4, 8 };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    rank_ctx ctx[8];
    run_group (sizes[s], collectives, ctx);
    for (int r = 0; r < sizes[s]; r++)
      KE_CHECK (ctx[r].ok, "N=%d: %s", sizes[s], ctx[r].message);
  }
}

/* Rank 0 aborts instead of joining the all-reduce; the others must come back with an
 * error rather than wait forever. */
static void *
abort_or_wait (void *data)
{
  rank_ctx *c = data;
  float x = 1.0f;
  ke_error *error = NULL;
  if (c->rank == 0) {
    ke_comm_abort (c->comm);
    c->ok = true;
    return NULL;
  }
  c->ok = !ke_comm_all_reduce_sum (c->comm, c->rank, &x, &x, 1, KE_COMM_F32, NULL, &error) &&
          error && error->code == KE_ERROR_CANCELLED;
  if (error)
    snprintf (c->message, sizeof c->message, "%s", error->message);
  ke_error_free (error);
  return NULL;
}

KE_TEST (abort_releases_waiters)
{
  rank_ctx ctx[4];
  run_group (4, abort_or_wait, ctx);
  for (int r = 1; r < 4; r++)
    KE_CHECK (ctx[r].ok, "rank %d returned with KE_ERROR_CANCELLED (%s)", r, ctx[r].message);
}

KE_TEST (bad_arguments)
{
  ke_error *error = NULL;
  KE_CHECK (!ke_comm_cpu_new (0, &error) && error, "0 ranks refused");
  ke_error_free (error);
  error = NULL;
  KE_CHECK (!ke_comm_cpu_new (65, &error) && error, "65 ranks refused");
  ke_error_free (error);
  error = NULL;
  ke_comm *comm = ke_comm_cpu_new (1, &error);
  KE_REQUIRE (comm, "one rank");
  float x = 2.0f, y = 0.0f;
  KE_CHECK (!ke_comm_all_reduce_sum (comm, 1, &x, &y, 1, KE_COMM_F32, NULL, &error) && error &&
            error->code == KE_ERROR_INVALID_ARGUMENT, "rank 1 of 1 refused");
  ke_error_free (error);
  error = NULL;
  KE_CHECK (ke_comm_all_reduce_sum (comm, 0, &x, &y, 1, KE_COMM_F32, NULL, &error) && y == 2.0f,
            "one rank: the sum is the input");
  /* after an abort, a reset makes the group usable again */
  ke_comm_abort (comm);
  KE_CHECK (!ke_comm_barrier (comm, 0, NULL, &error) && error, "aborted group refuses");
  ke_error_free (error);
  error = NULL;
  ke_comm_cpu_reset (comm);
  KE_CHECK (ke_comm_barrier (comm, 0, NULL, &error), "reset group works");
  ke_comm_free (comm);
}

KE_TAP_MAIN (KE_TAP_ENTRY (collectives_1_2_3_4_8_ranks), KE_TAP_ENTRY (abort_releases_waiters),
             KE_TAP_ENTRY (bad_arguments))
