#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run ON THE GPU MACHINE (torch + transformers 5.x + safetensors + Pillow + tokenizers, no
# internet), from the repository root, with .device/ carried (tests/gpu/prepare-device-kit.sh):
#
#   bash tests/gpu/run-compare-transformers.sh [--goldens] [--skip-act-quant] [--quick]
#                                              [--backend cpu|cuda] [--bound X]
#
# Builds the engine-only kestrel-cli (-Dui=false, release), generates two checkpoints
#   tiny:  gen-checkpoint --shape tiny --seed 1
#   4b-l6: gen-checkpoint --shape 4b --layers 6 --vision-layers 2 --seed 1  (full width)
# and compares the CPU (default) or CUDA backend's logits with transformers'
# (compare_transformers.py):
# text only, one image, two images, ≥ 1500 tokens, ≥ 1500 tokens + image, each in W8A8 and
# W8A16 (--skip-act-quant: W8A16 only).  --quick does the
# tiny checkpoint only.  --goldens also records tests/engine/cpu/golden/tiny-seed1.txt
# (record_goldens.py).  Results go to $OUT (default /tmp/kestrel-compare-out): compare.txt
# with the table, golden/tiny-seed1.txt.
set -uo pipefail
goldens=0
w8a16=()
quick=0
backend=cpu
bound=()
while [ $# -gt 0 ]; do
  case "$1" in
    --goldens) goldens=1; shift ;;
    --skip-act-quant) w8a16=(--skip-act-quant); shift ;;
    --quick) quick=1; shift ;;
    --backend) backend="$2"; shift 2 ;;
    --bound) bound=(--bound "$2"); shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${OUT:-/tmp/kestrel-compare-out}"
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
if [ -d "$kit/shared" ]; then
  export KESTREL_SHARED_DIR="$kit/shared"
else
  export KESTREL_SHARED_DIR="${KESTREL_SHARED_DIR:-$root/../shared}"
fi
tokenizer="$KESTREL_SHARED_DIR/tokenizer-fixture/tokenizer.json"
[ -f "$tokenizer" ] || { echo "no tokenizer fixture at $tokenizer (carry .device/)" >&2; exit 1; }

cuda="${CUDA_PATH:-/usr/local/cuda}"
export PATH="$cuda/bin:$PATH"
MESON=(meson)
command -v meson >/dev/null || MESON=(python3 -m mesonbuild.mesonmain)
build=/tmp/kestrel-build-compare
if [ ! -f "$build/build.ninja" ]; then
  "${MESON[@]}" setup "$build" -Dui=false -Dgpu_archs=90a -Dbuildtype=release \
    >"$out/meson-setup.log" 2>&1 || { tail -30 "$out/meson-setup.log"; exit 1; }
fi
ninja -C "$build" app/cli/kestrel-cli >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
cli="$build/app/cli/kestrel-cli"

work=/tmp/kestrel-compare-work
mkdir -p "$work"
gen() { # DIR ARGS…
  local dir="$1"; shift
  [ -f "$dir/config.json" ] || "$cli" gen-checkpoint "$dir" --tokenizer "$tokenizer" --quiet "$@" \
    || { echo "gen-checkpoint $* failed" >&2; exit 1; }
}
gen "$work/tiny" --shape tiny --seed 1
models=(--model "$work/tiny")
if [ "$quick" = 0 ]; then
  gen "$work/4b-l6" --shape 4b --layers 6 --vision-layers 2 --seed 1
  models+=(--model "$work/4b-l6")
fi
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'

rc=0
python3 tests/gpu/compare_transformers.py --cli "$cli" --backend "$backend" "${bound[@]}" "${models[@]}" "${w8a16[@]}" \
  --work "$work/cases" 2>&1 | tee "$out/compare.txt"
rc=${PIPESTATUS[0]}
if [ "$goldens" = 1 ]; then
  python3 tests/gpu/record_goldens.py --model "$work/tiny" --out "$out/golden" 2>&1 \
    | tee "$out/goldens.txt" || rc=1
fi
exit $rc
