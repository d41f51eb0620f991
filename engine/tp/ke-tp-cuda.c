/* ke-tp-cuda.c — checks of a GPU list for tensor parallelism (CUDA builds).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <string.h>

#include "ke-internal.h"
#include "ke-cuda.h"
#include "ke-tp-cuda.h"

bool
ke_tp_cuda_check (const ke_config *config, const int *devices, size_t n_devices,
                  ke_tp_plan *plan, ke_tp_device *infos, ke_error **error)
{
  if (!devices || n_devices == 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "No GPU was selected.");
  if (n_devices > KE_TP_MAX_RANKS)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "At most %d GPUs can share a model, not %zu.", KE_TP_MAX_RANKS,
                         n_devices);
  if (!ke_tp_plan_init (plan, &config->text, (uint32_t) n_devices, error))
    return false;
  int count = ke_cuda_device_count ();
  if (count <= 0)
    return ke_set_error (error, KE_ERROR_NO_DEVICE,
                         "No usable CUDA GPU was found (no device, or the NVIDIA driver is "
                         "missing).");
  for (size_t i = 0; i < n_devices; i++) {
    ke_tp_device *d = &infos[i];
    memset (d, 0, sizeof *d);
    d->index = devices[i];
    if (devices[i] < 0 || devices[i] >= count)
      return ke_set_error (error, KE_ERROR_NO_DEVICE, "GPU %d does not exist (%d found).",
                           devices[i], count);
    if (!ke_cuda_device_info (devices[i], d->name, sizeof d->name, &d->cc_major, &d->cc_minor,
                              NULL, error))
      return false;
  }
  return ke_tp_check_devices (infos, n_devices, error);
}
