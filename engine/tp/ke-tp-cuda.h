/* ke-tp-cuda.h — checks of a GPU list for tensor parallelism (CUDA builds only).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "ke-config.h"
#include "ke-tp-plan.h"

/* Plans n_devices ranks for config (ke_tp_plan_init's errors) and checks that every GPU
 * exists (KE_ERROR_NO_DEVICE) and that they share one compute capability
 * (ke_tp_check_devices).  infos receives n_devices entries. */
bool ke_tp_cuda_check (const ke_config *config, const int *devices, size_t n_devices,
                       ke_tp_plan *plan, ke_tp_device *infos, ke_error **error);
