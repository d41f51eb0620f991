/* ke-cpu-backend-private.h — what the CPU backend's two forms share: the plain backend
 * (ke-cpu-backend.c) and the tensor-parallel one (ke-cpu-tp.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "ke-backend.h"
#include "ke-cpu.h"

#define KE_CPU_MAX_BATCH 512

struct ke_image_embeds {
  uint32_t rows, width;
  float data[]; /* [rows, width] */
};

/* Preprocessing + vision tower + projector on `pool`; free with ke_cpu_embeds_free. */
ke_image_embeds *ke_cpu_encode_image (ke_cpu_pool *pool, const ke_config *config,
                                      const ke_weights *weights, const ke_image *image,
                                      ke_error **error);
void ke_cpu_embeds_free (ke_backend *backend, ke_image_embeds *embeds);

/* Checks the batch's size and images and fills image_rows/group [max_batch] for
 * ke_cpu_text_forward. */
bool ke_cpu_batch_rows (const ke_backend *backend, const ke_batch *batch,
                        const float **image_rows, int32_t *group, ke_error **error);

/* "model name" of /proc/cpuinfo, or "CPU". */
void ke_cpu_model_name (char *buf, size_t len);

/* options->tensor_parallel ranks (1 .. KE_TP_MAX_RANKS), each a thread with its own share
 * of the CPU threads, talking through ke_comm_cpu. */
ke_backend *ke_cpu_tp_backend_new (const ke_config *config, const ke_weights *weights,
                                   const ke_model_options *options, ke_error **error);
