#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Prefill measurements ON THE GPU MACHINE (see run-on-device.sh for the kit): builds the
# engine (release, -Dgpu_archs=90a) in its own build dir, runs the gpu suite (kernel tests
# with their timings: test-flash-prefill, test-fp8-gemm's speed table), bench-prefill-layer
# (per-kernel time of one layer) and `kestrel-cli bench --random` (TTFT at 512 / 4096 / 16K).
# Logs under --out.
#
#   bash tests/gpu/run-prefill-on-device.sh --out DIR [--build DIR] [--no-bench]
set -uo pipefail
out="${OUT:-/tmp/kestrel-device-out}"
build=/tmp/kb-prefill
bench=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --no-bench) bench=0; shift ;;
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
  -Dshared_dir="$KESTREL_SHARED_DIR" --wipe >"$out/meson-setup.log" 2>&1 ||
  "${MESON[@]}" setup "$build" -Dui=false -Dgpu_archs=90a -Dbuildtype=release \
    -Dshared_dir="$KESTREL_SHARED_DIR" >"$out/meson-setup.log" 2>&1 || {
  tail -30 "$out/meson-setup.log"; exit 1; }
ninja -C "$build" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s"

"${MESON[@]}" test -C "$build" --suite gpu --print-errorlogs --num-processes 4 >"$out/test.log" 2>&1
test_rc=$?
cp "$build/meson-logs/testlog.txt" "$out/testlog.txt" 2>/dev/null
grep -E "^# |^not ok" "$build/meson-logs/testlog.txt" | grep -vE "^# (Subtest|Start)|device:" | head -120
if [ "$bench" = 1 ]; then
  "$build/tests/gpu/bench-prefill-layer" >"$out/bench-prefill-layer.txt" 2>&1 || true
  cat "$out/bench-prefill-layer.txt"
  "$build/app/cli/kestrel-cli" bench --random --json "$out/backend-bench.json" \
    >"$out/backend-bench.txt" 2>&1 || true
  tail -14 "$out/backend-bench.txt"
fi
grep -E "^(Ok|Fail|Skipped|Timeout):" "$out/test.log"
exit $test_rc
