#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run ON THE GPU MACHINE from the repository root (kit as for run-on-device.sh): builds the
# engine-only targets of tensor parallelism and runs
#   1. tests/gpu test-nccl on the system library path (without NCCL there the engine runs
#      and the NCCL cases SKIP naming libnccl.so.2; the lent H100 has a system NCCL 2.28.3),
#   2. the same with PyTorch's NCCL (site-packages/nvidia/nccl/lib) on LD_LIBRARY_PATH,
#   3. the engine suite's tensor-parallel tests (plans, CPU collectives, CPU ranks, CLI).
#
#   bash tests/gpu/run-nccl-on-device.sh [--out DIR] [--build DIR]
set -uo pipefail
out="${OUT:-/tmp/kestrel-device-out}"
build=/tmp/kb-tp
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
mkdir -p "$out"
kit="${KESTREL_DEVICE_KIT:-$root/.device}"
deps=/tmp/kestrel-deps
if [ -d "$kit/debs" ]; then
  mkdir -p "$deps"
  for d in "$kit"/debs/*.deb; do dpkg-deb -x "$d" "$deps"; done
  export CPATH="$deps/usr/include${CPATH:+:$CPATH}"
  export LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG_PATH="$deps/usr/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  sed -i "s|^prefix=.*|prefix=$deps/usr|" "$deps"/usr/lib/x86_64-linux-gnu/pkgconfig/yyjson.pc 2>/dev/null || true
fi
export KESTREL_SHARED_DIR="$kit/shared"
cuda="${CUDA_PATH:-/usr/local/cuda}"
export PATH="$cuda/bin:$PATH"
MESON=(meson)
command -v meson >/dev/null || MESON=(python3 -m mesonbuild.mesonmain)

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
start=$(date +%s)
"${MESON[@]}" setup "$build" -Dui=false -Dgpu_archs=90a -Dbuildtype=release \
  -Dshared_dir="$KESTREL_SHARED_DIR" >"$out/meson-setup.log" 2>&1 || {
  tail -30 "$out/meson-setup.log"; exit 1; }
ninja -C "$build" tests/gpu/test-gpu-nccl tests/engine/tp/test-tp-plan tests/engine/tp/test-tp-comm \
  tests/engine/tp/test-tp-cpu app/cli/kestrel-cli >"$out/build.log" 2>&1 || {
  tail -40 "$out/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s"

echo "== 1. the system library path only (a system NCCL, if any, is found) =="
(env -u NCCL_NVLS_ENABLE "$build/tests/gpu/test-gpu-nccl" 2>&1) | tee "$out/nccl-absent.txt"
rc_absent=${PIPESTATUS[0]}

nccl_dir=$(python3 -c "import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], 'lib'))" 2>/dev/null)
if [ -z "$nccl_dir" ] || [ ! -e "$nccl_dir/libnccl.so.2" ]; then
  nccl_dir=$(dirname "$(find / -xdev -name libnccl.so.2 2>/dev/null | head -1)" 2>/dev/null)
fi
echo "== 2. with NCCL from: ${nccl_dir:-(none found)} =="
rc_nccl=0
if [ -n "$nccl_dir" ] && [ -e "$nccl_dir/libnccl.so.2" ]; then
  ls -l "$nccl_dir"/libnccl.so* | tee -a "$out/nccl.txt"
  (LD_LIBRARY_PATH="$nccl_dir:${LD_LIBRARY_PATH:-}" NCCL_DEBUG=WARN "$build/tests/gpu/test-gpu-nccl" 2>&1) \
    | tee -a "$out/nccl.txt"
  rc_nccl=${PIPESTATUS[0]}
else
  echo "no libnccl.so.2 on this machine: the NCCL cases were skipped" | tee -a "$out/nccl.txt"
fi

echo "== 3. tensor-parallel engine tests =="
"${MESON[@]}" test -C "$build" --no-rebuild tp-plan tp-comm tp-cpu --print-errorlogs \
  >"$out/tp-tests.txt" 2>&1
rc_tp=$?
grep -E "^ *[0-9]+/[0-9]+ |^(Ok|Fail):" "$out/tp-tests.txt"
echo "rc: absent=$rc_absent nccl=$rc_nccl tp=$rc_tp"
[ "$rc_absent" = 0 ] && [ "$rc_nccl" = 0 ] && [ "$rc_tp" = 0 ]
