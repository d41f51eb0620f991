#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run ON THE GPU MACHINE, from the repository root (the kit of tests/gpu/prepare-device-kit.sh
# at $KESTREL_DEVICE_KIT or .device): the decode work of issue 6 in one call —
#   1. engine-only release build (-Dgpu_archs=90a) in its own build folder;
#   2. the gpu test suite (every CUDA kernel against the CPU reference, the device sampler
#      against the CPU sampler, sessions with device vs host sampling);
#   3. `kestrel-cli bench` on a random Gemma 3 4b with the default settings (JSON + table);
#   4. compute-sanitizer memcheck over full prefills + decodes: the session tests on a
#      4b-wide 2-layer checkpoint (W8A8 prefill through cuBLASLt, the decode graph, device
#      sampling) and on the tiny one (batch path), and the device sampler test;
#   5. (--sweep) context 512 only, twice each: programmatic dependent launch off / on.
# Logs go to --out (default $OUT); a short table is printed last.
#
#   bash tests/gpu/run-decode-device.sh [--out DIR] [--sweep] [--no-tests]
set -uo pipefail
out="${OUT:-/tmp/kestrel-device-out}"
sweep=0
tests=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --sweep) sweep=1; shift ;;
    --no-tests) tests=0; shift ;;
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
build=/tmp/kb-wt-decode
t0=$(date +%s)
"${MESON[@]}" setup "$build" -Dui=false -Dgpu_archs=90a -Dbuildtype=release \
  -Dshared_dir="$KESTREL_SHARED_DIR" >/tmp/kb-meson-setup.log 2>&1 ||
  { tail -30 /tmp/kb-meson-setup.log; exit 1; }
ninja -C "$build" >/tmp/kb-build.log 2>&1 || { grep -B2 -A12 "error" /tmp/kb-build.log | head -60; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"

test_rc=0
if [ "$tests" = 1 ]; then
  "${MESON[@]}" test -C "$build" --suite gpu --print-errorlogs --num-processes 2 >"$out/test.log" 2>&1
  test_rc=$?
  grep -E "^# |^not ok" "$build/meson-logs/testlog.txt" | grep -vE "^# (Subtest|Start)" \
    >"$out/test-diag.txt"
  grep -E "sampl|device vs host|FAILED|not ok" "$out/test-diag.txt" | head -30
  echo "tests: $(( $(date +%s) - t0 )) s"
fi

cli="$build/app/cli/kestrel-cli"
ckpt=/tmp/kestrel-4b-random
[ -f "$ckpt/config.json" ] || "$cli" gen-checkpoint "$ckpt" --shape 4b --vision-layers 1 --seed 1 --quiet
bench () { # label env...
  local label="$1"; shift
  echo "== $label ($*)" >>"$out/bench.txt"
  env "$@" "$cli" bench --model "$ckpt" --backend cuda --json "$out/bench-$label.json" \
    >>"$out/bench.txt" 2>&1 || echo "bench $label failed" >>"$out/bench.txt"
}
: >"$out/bench.txt"
bench default
echo "benches: $(( $(date +%s) - t0 )) s"

san="$cuda/bin/compute-sanitizer"
: >"$out/memcheck.txt"
if [ -x "$san" ]; then
  for t in "test-gpu-cuda-backend session_device_sampling_wide" \
           "test-gpu-cuda-backend session_device_sampling" "test-gpu-sampler sampler_small_vocab"; do
    set -- $t
    echo "== memcheck $*" >>"$out/memcheck.txt"
    (cd "$build/tests/gpu" && timeout 240 "$san" --tool memcheck --error-exitcode 9 "./$1" "$2") \
      >>"$out/memcheck.txt" 2>&1
    echo "exit $?" >>"$out/memcheck.txt"
  done
else
  echo "no compute-sanitizer at $san" >>"$out/memcheck.txt"
fi
echo "memcheck: $(( $(date +%s) - t0 )) s"

if [ "$sweep" = 1 ]; then # context 512 only: programmatic dependent launch off / on, twice
  for v in "KESTREL_CUDA_PDL=0" "KESTREL_CUDA_PDL=1" "KESTREL_CUDA_PDL=0" "KESTREL_CUDA_PDL=1"; do
    echo "== quick $v" >>"$out/bench.txt"
    env $v "$cli" bench --model "$ckpt" --backend cuda --quick 2>&1 | grep -E "^  context" \
      >>"$out/bench.txt"
  done
fi
echo "all: $(( $(date +%s) - t0 )) s"

echo
echo "== summary ($(cat "$out/gpu.txt")) =="
grep -E "^ *[0-9]+/[0-9]+ " "$out/test.log" 2>/dev/null | sed 's/^ *//' | awk '{printf "%-40s %s\n", $2" "$3" "$4, $5}'
grep -E "^== |context|memory|bandwidth|prompt" "$out/bench.txt"
grep -E "^== |ERROR SUMMARY|exit " "$out/memcheck.txt"
exit $test_rc
