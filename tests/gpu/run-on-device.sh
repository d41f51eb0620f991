#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run ON THE GPU MACHINE (Ubuntu 24.04 + CUDA toolkit, no GLib, no internet), from the
# repository root, with .device/ carried (tests/gpu/prepare-device-kit.sh makes it):
#
#   bash tests/gpu/run-on-device.sh [--archs 90a] [--no-bench] [--out DIR]
#
# Builds only the engine (+ kestrel-cli and engine tests: -Dui=false), runs the `engine`
# and `gpu` test suites and the engine benchmarks, and prints a short table last.
set -uo pipefail
archs=90a
bench=1
out="${OUT:-/tmp/kestrel-device-out}"
while [ $# -gt 0 ]; do
  case "$1" in
    --archs) archs="$2"; shift 2 ;;
    --no-bench) bench=0; shift ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
mkdir -p "$out"

# yyjson from the carried Debian packages (the engine's only non-CUDA dependency).
# KESTREL_DEVICE_KIT points at the kit when this tree is not the one that carried it.
kit="${KESTREL_DEVICE_KIT:-$root/.device}"
deps=/tmp/kestrel-deps
if [ -d "$kit/debs" ]; then
  mkdir -p "$deps"
  for d in "$kit"/debs/*.deb; do dpkg-deb -x "$d" "$deps"; done
  export CPATH="$deps/usr/include${CPATH:+:$CPATH}"
  export LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG_PATH="$deps/usr/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  # the .pc file says prefix=/usr; point it at the unpacked tree
  sed -i "s|^prefix=.*|prefix=$deps/usr|" "$deps"/usr/lib/x86_64-linux-gnu/pkgconfig/yyjson.pc 2>/dev/null || true
fi
export KESTREL_SHARED_DIR="$kit/shared"

cuda="${CUDA_PATH:-/usr/local/cuda}"
export PATH="$cuda/bin:$PATH"
MESON=(meson)
command -v meson >/dev/null || MESON=(python3 -m mesonbuild.mesonmain)

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
build=/tmp/kestrel-build
start=$(date +%s)
"${MESON[@]}" setup "$build" -Dui=false -Dgpu_archs="$archs" -Dbuildtype=release -Dshared_dir="$KESTREL_SHARED_DIR" --wipe \
  >"$out/meson-setup.log" 2>&1 || "${MESON[@]}" setup "$build" -Dui=false \
  -Dgpu_archs="$archs" -Dbuildtype=release -Dshared_dir="$KESTREL_SHARED_DIR" >"$out/meson-setup.log" 2>&1 || {
  tail -30 "$out/meson-setup.log"; exit 1; }
ninja -C "$build" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s"

"${MESON[@]}" test -C "$build" --suite engine --suite gpu --print-errorlogs --num-processes 4 \
  >"$out/test.log" 2>&1
test_rc=$?
cp "$build/meson-logs/testlog.txt" "$out/testlog.txt" 2>/dev/null
# The TAP diagnostics of the gpu suite carry the numbers; show them.
grep -E "^# " "$build/meson-logs/testlog.txt" | grep -vE "^# (Subtest|Start)" | head -60

if [ "$bench" = 1 ]; then
  "${MESON[@]}" test -C "$build" --benchmark --print-errorlogs >"$out/bench.log" 2>&1 || true
  # The CUDA backend end to end on a random Gemma 3 4b (JSON + table).
  "$build/app/cli/kestrel-cli" bench --random --json "$out/backend-bench.json" \
    >"$out/backend-bench.txt" 2>&1 || true
  tail -12 "$out/backend-bench.txt"
fi

echo
echo "== summary ($(cat "$out/gpu.txt")) =="
grep -E "^ *[0-9]+/[0-9]+ " "$out/test.log" | sed 's/^ *//' | awk '{printf "%-44s %s\n", $2" "$3" "$4, $5}'
grep -E "^(Ok|Fail|Skipped|Timeout):" "$out/test.log"
exit $test_rc
