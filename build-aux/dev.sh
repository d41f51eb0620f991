#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The two commands of the README:
#
#   build-aux/dev.sh run    install what is needed, build, start Kestrel
#   build-aux/dev.sh test   install what is needed, build, run the whole test suite
#
# Both first run build-aux/setup-debian.sh, which on Debian 12 UPGRADES THE SYSTEM TO
# DEBIAN 13 (see that script's header for exactly what it changes), then configure the
# build in _build/ (CUDA is used when the toolkit is found; -Dgpu_archs=90a keeps the
# CUDA build short — set KESTREL_GPU_ARCHS to change it).
set -euo pipefail
cmd="${1:-}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${KESTREL_BUILD_DIR:-$root/_build}"
archs="${KESTREL_GPU_ARCHS:-90a}"

say() { printf '\033[1m[kestrel]\033[0m %s\n' "$*" >&2; }

case "$cmd" in
  run|test) ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

if [ "${KESTREL_SKIP_SETUP:-0}" != 1 ]; then
  bash "$root/build-aux/setup-debian.sh"
fi

# CUDA: /usr/local/cuda, $CUDA_PATH, or nvcc on PATH (meson finds nvcc through $NVCC).
if [ -z "${NVCC:-}" ]; then
  for cand in "${CUDA_PATH:-}/bin/nvcc" /usr/local/cuda/bin/nvcc "$(command -v nvcc || true)"; do
    if [ -x "$cand" ]; then export NVCC="$cand"; break; fi
  done
fi
[ -n "${NVCC:-}" ] && say "CUDA compiler: $NVCC" || say "No CUDA toolkit found: building without the CUDA backend."

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" -Dgpu_archs="$archs"
fi
ninja -C "$build"

if [ "$cmd" = run ]; then
  export GSETTINGS_SCHEMA_DIR="$build/data"
  if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    shot="$build/kestrel-window.png"
    say "No display: starting Kestrel under Xvfb for 8 seconds; a screenshot goes to $shot"
    exec xvfb-run -a -s "-screen 0 1100x760x24" dbus-run-session -- \
      bash "$root/build-aux/screenshot-window.sh" "$shot" "$build/ui/kestrel"
  fi
  exec "$build/ui/kestrel"
fi

# test: every suite; UI tests start their own Xvfb through tests/ui/run-headless.sh.
set +e
meson test -C "$build" --print-errorlogs --num-processes 2
rc=$?
set -e
python3 "$root/build-aux/test-summary.py" "$build/meson-logs/testlog.json"
exit $rc
