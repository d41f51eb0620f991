/* ke-cuda-launch.cu — the programmatic-dependent-launch switch used by ke_launch()
 * (ke-cuda-common.cuh).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ke-cuda-common.cuh"
#include "ke-cuda-kernels.h"

static int pdl_mode = -1; /* -1 not yet asked, 0 unsupported, 1 supported */
static bool pdl_allowed = true;

bool
ke_pdl_enabled (void)
{
  if (pdl_mode < 0) {
    int dev = 0, major = 0;
    if (cudaGetDevice (&dev) != cudaSuccess ||
        cudaDeviceGetAttribute (&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
      cudaGetLastError (); /* clear it: no device means no PDL, not an error here */
      major = 0;
    }
    pdl_mode = major >= 9 ? 1 : 0;
  }
  return pdl_allowed && pdl_mode == 1;
}

extern "C" void
ke_cuda_set_pdl (bool allowed)
{
  pdl_allowed = allowed;
}
