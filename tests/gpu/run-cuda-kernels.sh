#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run ON THE GPU MACHINE, from the repository root: builds the engine (through
# run-on-device.sh, which also runs the engine and gpu test suites), then the kernel
# microbenchmark, and prints a short table last.  Full logs go to --out (default $OUT).
#
#   bash tests/gpu/run-cuda-kernels.sh [--archs 90a] [--quick] [--out DIR]
set -uo pipefail
archs=90a
quick=
out="${OUT:-/tmp/kestrel-device-out}"
while [ $# -gt 0 ]; do
  case "$1" in
    --archs) archs="$2"; shift 2 ;;
    --quick) quick=--quick; shift ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
mkdir -p "$out"

bash tests/gpu/run-on-device.sh --archs "$archs" --no-bench --out "$out" >"$out/tests.txt" 2>&1
test_rc=$?
build=/tmp/kestrel-build
if [ ! -x "$build/tests/gpu/bench-kernels" ]; then
  cat "$out/tests.txt"
  exit 1
fi
"$build/tests/gpu/bench-kernels" $quick >"$out/bench-kernels.txt" 2>&1
bench_rc=$?

echo "== gpu test diagnostics =="
grep -E "^# (N=|pos|rope|embed|residual|rmsnorm|geglu|FAILED|  \[|[0-9]+ dependent)|^not ok" \
  "$build/meson-logs/testlog.txt" | sort | uniq | head -70
echo
echo "== tests =="
grep -E "gpu-|engine|^(Ok|Fail|Skipped|Timeout):" "$out/tests.txt" | tail -20
echo
echo "== kernels (bench rc $bench_rc) =="
cat "$out/bench-kernels.txt"
exit $(( test_rc != 0 || bench_rc != 0 ))
