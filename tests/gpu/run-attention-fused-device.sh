#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run ON THE GPU MACHINE, from the repository root (kit of tests/gpu/prepare-device-kit.sh at
# $KESTREL_DEVICE_KIT or .device): the fused decode attention work (issue 6) in one call —
#   1. engine-only release build (-Dgpu_archs=90a) in /tmp/kb-attn-fused;
#   2. the tests of what it changes: attention (split-K and fused) and QK-norm/RoPE against
#      the CPU reference, the CUDA backend (greedy identical to the CPU);
#   3. tests/gpu/bench-kernels --attention (3-kernel vs fused attention, decode steps);
#   4. `kestrel-cli bench --quick` A/B: KESTREL_CUDA_FUSED_ATTN=0 / 1, twice each;
#   5. with FULL_BENCH=1: `kestrel-cli bench` with the defaults (512 / 8K / 32K, JSON).
#
#   bash tests/gpu/run-attention-fused-device.sh [--out DIR]
set -uo pipefail
out="${OUT:-/tmp/kestrel-device-out}"
[ "${1:-}" = "--out" ] && out="$2"
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
build=/tmp/kb-attn-fused
t0=$(date +%s)
"${MESON[@]}" setup "$build" -Dui=false -Dgpu_archs=90a -Dbuildtype=release \
  -Dshared_dir="$KESTREL_SHARED_DIR" >/tmp/kb-attn-fused-setup.log 2>&1 ||
  { tail -30 /tmp/kb-attn-fused-setup.log; exit 1; }
ninja -C "$build" tests/gpu/test-gpu-attention-decode tests/gpu/test-gpu-cuda-backend \
  tests/gpu/test-gpu-norm-rope tests/gpu/bench-kernels app/cli/kestrel-cli \
  >/tmp/kb-attn-fused-build.log 2>&1 ||
  { grep -B2 -A12 "error" /tmp/kb-attn-fused-build.log | head -60; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"

"${MESON[@]}" test -C "$build" --no-rebuild --print-errorlogs --num-processes 3 \
  gpu-attention-decode gpu-cuda-backend gpu-norm-rope >"$out/test.log" 2>&1
test_rc=$?
grep -E "^# |^not ok" "$build/meson-logs/testlog.txt" | grep -vE "^# (Subtest|Start)" \
  >"$out/test-diag.txt"
echo "tests (rc $test_rc): $(( $(date +%s) - t0 )) s"

timeout 90 "$build/tests/gpu/bench-kernels" --attention >"$out/bench-kernels.txt" 2>&1
echo "bench-kernels (rc $?): $(( $(date +%s) - t0 )) s"

cli="$build/app/cli/kestrel-cli"
ckpt=/tmp/kestrel-4b-random
[ -f "$ckpt/config.json" ] || "$cli" gen-checkpoint "$ckpt" --shape 4b --vision-layers 1 --seed 1 --quiet
: >"$out/bench.txt"
for v in ${AB_RUNS:-0 1 0 1}; do
  echo "== quick KESTREL_CUDA_FUSED_ATTN=$v" >>"$out/bench.txt"
  KESTREL_CUDA_FUSED_ATTN=$v timeout 60 "$cli" bench --model "$ckpt" --backend cuda --quick 2>&1 |
    grep -E "^  context" >>"$out/bench.txt"
done
if [ "${FULL_BENCH:-0}" = 1 ]; then
  echo "== default (fused on)" >>"$out/bench.txt"
  timeout 120 "$cli" bench --model "$ckpt" --backend cuda --json "$out/bench-default.json" \
    >>"$out/bench.txt" 2>&1 || echo "bench failed" >>"$out/bench.txt"
fi
echo "all: $(( $(date +%s) - t0 )) s"

echo
echo "== summary ($(cat "$out/gpu.txt")) =="
grep -E "^ *[0-9]+/[0-9]+ " "$out/test.log" | sed 's/^ *//' | awk '{printf "%-40s %s\n", $2" "$3" "$4, $5}'
grep -E "fused|FAILED|not ok" "$out/test-diag.txt" | head -30
grep -E "attn|rope|DECODE|roofline|read" "$out/bench-kernels.txt"
grep -E "^== |context|memory|prompt" "$out/bench.txt"
exit $test_rc
