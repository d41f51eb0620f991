#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run ON THE GPU MACHINE from the repository root (kit as for run-on-device.sh): builds only
# what the vision work needs (release, -Dgpu_archs=90a) and runs the given gpu tests and,
# with --bench, `kestrel-cli bench --random` (image encode and multimodal TTFT included).
#
#   bash tests/gpu/run-vision-on-device.sh --out DIR [--bench] [test names, e.g. vision cuda-backend]
set -uo pipefail
out="${OUT:-/tmp/kestrel-vision-out}"
bench=0
tests=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --bench) bench=1; shift ;;
    *) tests+=("$1"); shift ;;
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
export PATH="${CUDA_PATH:-/usr/local/cuda}/bin:$PATH"
MESON=(meson)
command -v meson >/dev/null || MESON=(python3 -m mesonbuild.mesonmain)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
build=/tmp/kb-wt-vision
start=$(date +%s)
[ -f "$build/build.ninja" ] || "${MESON[@]}" setup "$build" -Dui=false -Dgpu_archs=90a \
  -Dbuildtype=release -Dshared_dir="$KESTREL_SHARED_DIR" >"$out/meson-setup.log" 2>&1 || {
  tail -30 "$out/meson-setup.log"; exit 1; }
targets=()
for t in "${tests[@]}"; do targets+=("tests/gpu/test-gpu-$t"); done
[ "$bench" = 1 ] && targets+=(app/cli/kestrel-cli)
ninja -C "$build" "${targets[@]}" >"$out/build.log" 2>&1 || { grep -E "error|FAILED" -A5 "$out/build.log" | head -60; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
rc=0
for t in "${tests[@]}"; do
  ( cd "$build" && KESTREL_SOURCE_DIR="$root" KESTREL_BUILD_DIR="$build" \
      timeout 300 "tests/gpu/test-gpu-$t" ) >"$out/test-$t.log" 2>&1 || rc=1
  grep -E "^(ok|not ok|# )" "$out/test-$t.log" | grep -v "SKIP not selected"
done
if [ "$bench" = 1 ]; then
  timeout 400 "$build/app/cli/kestrel-cli" bench --random --json "$out/backend-bench.json" \
    >"$out/backend-bench.txt" 2>&1 || rc=1
  tail -25 "$out/backend-bench.txt"
fi
exit $rc
