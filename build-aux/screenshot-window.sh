#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# screenshot-window.sh OUT.png PROGRAM [ARGS…] — runs PROGRAM on the current (X)
# display, waits until it has drawn, saves a screenshot of the whole screen, quits it.
set -u
out="$1"; shift
"$@" &
pid=$!
sleep "${KESTREL_SCREENSHOT_DELAY:-6}"
if command -v import >/dev/null; then
  import -window root "$out"
elif command -v xwd >/dev/null; then
  xwd -root -silent > "${out%.png}.xwd"
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
echo "screenshot: $out"
