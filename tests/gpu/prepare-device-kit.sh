#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run HERE (the development machine) before sending work to the GPU machine: fills the
# git-ignored folder .device/ with what that machine lacks and cannot download (it has no
# internet and no GLib):
#   .device/debs/     Debian's yyjson packages (the engine's JSON parser), unpacked there
#   .device/shared/   the tokenizer fixture and Gemma 3 reference data from ../shared
# Then name `.device` in the device tool's `carry` and run tests/gpu/run-on-device.sh there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
kit="$root/.device"
mkdir -p "$kit/debs" "$kit/shared"
if ! ls "$kit"/debs/libyyjson0_*.deb >/dev/null 2>&1; then
  (cd "$kit/debs" && apt-get download libyyjson0 libyyjson-dev)
fi
shared="${KESTREL_SHARED_DIR:-$root/../shared}"
cp -r "$shared/tokenizer-fixture" "$shared/gemma3" "$kit/shared/"
du -sh "$kit"
