#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Installs what Kestrel needs to build and test on Debian.
#
# On Debian 12 (bookworm) this UPGRADES THE WHOLE SYSTEM TO DEBIAN 13 (trixie):
# bookworm ships GTK 4.8 / libadwaita 1.2, and Kestrel needs GTK >= 4.14 and
# libadwaita >= 1.5.  It rewrites the suites in /etc/apt/sources.list.d/debian.sources
# (keeping a copy as debian.sources.bookworm), runs apt-get full-upgrade and then installs
# the -dev packages listed below.  On Debian 13 or later it only installs packages.
# A second run is a no-op apart from apt-get's own checks.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

say() { printf '\033[1m[kestrel setup]\033[0m %s\n' "$*" >&2; }

PACKAGES=(
  # toolchain
  build-essential meson ninja-build pkg-config gettext git
  # engine
  libyyjson-dev
  # app and ui
  libglib2.0-dev libglib2.0-bin libgtk-4-dev libadwaita-1-dev libsqlite3-dev libjson-glib-dev
  libgdk-pixbuf-2.0-dev libgtksourceview-5-dev libmd4c-dev libsoup-3.0-dev libsecret-1-dev
  # tests: headless display, session bus, validators, sanitizer/fuzzer runtime
  xvfb xauth dbus dbus-daemon desktop-file-utils appstream clang libclang-rt-dev
  # packaging checks: flatpak-builder --show-manifest, xmllint (also used by glib-compile-resources)
  flatpak-builder libxml2-utils
)

stamp=/var/lib/kestrel-setup.stamp
want_stamp="$(printf '%s\n' "${PACKAGES[@]}" | sha256sum | cut -c1-16)"

. /etc/os-release
if [ "${ID:-}" != debian ]; then
  say "This script is for Debian; see README.md for the packages on ${PRETTY_NAME:-your system}."
  exit 1
fi

if [ "${VERSION_ID:-}" = 12 ]; then
  say "Debian 12 detected: upgrading the system to Debian 13 (trixie) for GTK >= 4.14 (about 2 minutes)."
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ]; then
    [ -f "$src.bookworm" ] || $SUDO cp "$src" "$src.bookworm"
    $SUDO sed -i -e 's/\bbookworm\b/trixie/g' -e 's/\bbookworm-updates\b/trixie-updates/g' \
      -e 's/\bbookworm-security\b/trixie-security/g' "$src"
  fi
  if [ -f /etc/apt/sources.list ]; then
    $SUDO sed -i -e 's/\bbookworm\b/trixie/g' /etc/apt/sources.list
  fi
  $SUDO apt-get update -q
  $SUDO apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold full-upgrade
  $SUDO rm -f "$stamp"
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ]; then
  say "Packages already installed."
  exit 0
fi

say "Installing packages: ${PACKAGES[*]}"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
echo "$want_stamp" | $SUDO tee "$stamp" >/dev/null
say "Done."
