#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs a UI test program with a display: the current one if there is one, else a private
# Xvfb; always inside its own D-Bus session bus (GTK's accessibility bus needs one).
set -u
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- "$@"
fi
exec dbus-run-session -- "$@"
