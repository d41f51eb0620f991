#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks a Flatpak manifest of Kestrel (stdlib only; prints TAP).

usage: check-flatpak-manifest.py MANIFEST EXPECTED_APP_ID EXPECTED_PROFILE

Checks: the manifest (and every module file it includes by name) parses as JSON; app ID,
GNOME runtime >= 47, SDK and command; finish-args are exactly the justified set (see
docs/flatpak.md); the modules not in the GNOME runtime are there; every remote source is
pinned (archive/file: https url + 64-hex sha256; git: 40-hex commit); the CUDA archives come
from NVIDIA's redist tree; the app module builds the expected profile.  When flatpak-builder
is installed, `flatpak-builder --show-manifest` must accept the manifest without warnings;
without it that check is reported as a TAP SKIP.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Every permission the app has, and why (docs/flatpak.md says the same at more length).
# Anything else in finish-args fails the test.
JUSTIFIED_FINISH_ARGS = {
    '--share=ipc': 'X11 shared memory (MIT-SHM), needed with fallback-x11',
    '--socket=wayland': 'the window',
    '--socket=fallback-x11': 'the window on X11 sessions only',
    '--device=all': 'CUDA opens /dev/nvidia0, /dev/nvidiactl and /dev/nvidia-uvm; '
                    '--device=dri does not reliably expose /dev/nvidia-uvm',
    '--share=network': 'the model downloader only; inference is local',
}

REQUIRED_MODULES = ('yyjson', 'md4c', 'cuda', 'kestrel')  # not in the GNOME runtime
MIN_RUNTIME = 47
NVIDIA_REDIST = 'https://developer.download.nvidia.com/compute/cuda/redist/'
HEX64 = re.compile(r'^[0-9a-f]{64}$')
HEX40 = re.compile(r'^[0-9a-f]{40}$')


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, what, diag=''):
        self.n += 1
        print(f'{"ok" if cond else "not ok"} {self.n} - {what}')
        if not cond:
            self.failed += 1
            for line in str(diag).splitlines():
                print(f'# {line}')
        return cond

    def skip(self, what, why):
        self.n += 1
        print(f'ok {self.n} - {what} # SKIP {why}')


def load_module(entry, base_dir, tap):
    """Returns (module dict or None, directory its own sub-module files are relative to)."""
    if not isinstance(entry, str):
        return entry, base_dir
    path = os.path.normpath(os.path.join(base_dir, entry))
    try:
        with open(path, encoding='utf-8') as f:
            module = json.load(f)
    except (OSError, ValueError) as e:
        tap.ok(False, f'module file {entry} loads as JSON', e)
        return None, base_dir
    tap.ok(isinstance(module, dict), f'module file {entry} loads as a JSON object')
    return module, os.path.dirname(path)


def all_modules(entries, base_dir, tap):
    """Flattens the module tree; returns (top-level names, every module)."""
    top, flat = [], []
    for entry in entries:
        module, sub_dir = load_module(entry, base_dir, tap)
        if not isinstance(module, dict):
            continue
        top.append(module.get('name'))
        flat.append(module)
        flat.extend(all_modules(module.get('modules', []), sub_dir, tap)[1])
    return top, flat


def check_source(tap, module_name, src):
    if not isinstance(src, dict):
        tap.ok(False, f'{module_name}: sources are inline objects', repr(src))
        return
    kind = src.get('type')
    label = f'{module_name}: {kind} source {src.get("url") or src.get("path") or ""}'.rstrip()
    if kind in ('archive', 'file') and 'url' in src:
        url = src['url']
        tap.ok(url.startswith('https://'), f'{label} has an https url', url)
        tap.ok(bool(HEX64.match(src.get('sha256', ''))),
               f'{label} has a sha256 of 64 hex digits', f'sha256: {src.get("sha256")!r}')
    elif kind == 'git':
        tap.ok(bool(HEX40.match(src.get('commit', ''))), f'{label} is pinned to a commit',
               f'commit: {src.get("commit")!r}')
    elif kind in ('archive', 'file', 'dir', 'patch', 'shell', 'script', 'inline'):
        tap.ok('url' not in src, f'{label} is local')
    else:
        tap.ok(False, f'{label} has a known source type')


def check_flatpak_builder(tap, manifest_path, want_id, top_names):
    builder = shutil.which('flatpak-builder')
    if builder is None:
        tap.skip('flatpak-builder --show-manifest accepts the manifest',
                 'flatpak-builder is not installed')
        return
    # In a scratch directory: flatpak-builder creates its .flatpak-builder state dir in $PWD.
    with tempfile.TemporaryDirectory(prefix='kestrel-fpb-') as scratch:
        r = subprocess.run([builder, '--show-manifest', os.path.abspath(manifest_path)],
                           capture_output=True, text=True, timeout=120, cwd=scratch)
    tap.ok(r.returncode == 0, 'flatpak-builder --show-manifest accepts the manifest', r.stderr)
    # flatpak-builder only warns about unknown keys (a typo in a key name is silently dropped).
    tap.ok('WARNING' not in r.stderr and 'Unknown property' not in r.stderr,
           'flatpak-builder warns about nothing', r.stderr)
    try:
        shown = json.loads(r.stdout)
    except ValueError as e:
        tap.ok(False, 'flatpak-builder prints the manifest as JSON', e)
        return
    shown_names = [m.get('name') for m in shown.get('modules', []) if isinstance(m, dict)]
    tap.ok(shown.get('id') == want_id and shown_names == top_names,
           'flatpak-builder sees the same app ID and modules',
           f'id {shown.get("id")!r}, modules {shown_names}, expected {top_names}')


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    manifest_path, want_id, want_profile = sys.argv[1:]
    tap = Tap()

    try:
        with open(manifest_path, encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        tap.ok(False, 'manifest parses as JSON', e)
        print(f'1..{tap.n}')
        return 1
    if not tap.ok(isinstance(manifest, dict), 'manifest parses as a JSON object'):
        print(f'1..{tap.n}')
        return 1

    app_id = manifest.get('app-id', manifest.get('id'))
    tap.ok(app_id == want_id, f'app-id is {want_id}', f'got {app_id!r}')
    tap.ok(manifest.get('runtime') == 'org.gnome.Platform', 'runtime is org.gnome.Platform',
           f'got {manifest.get("runtime")!r}')
    tap.ok(manifest.get('sdk') == 'org.gnome.Sdk', 'sdk is org.gnome.Sdk',
           f'got {manifest.get("sdk")!r}')
    version = str(manifest.get('runtime-version', ''))
    tap.ok(version.isdigit() and int(version) >= MIN_RUNTIME,
           f'runtime-version is a GNOME release >= {MIN_RUNTIME}', f'got {version!r}')
    tap.ok(manifest.get('command') == 'kestrel', 'command is kestrel',
           f'got {manifest.get("command")!r}')

    finish_args = manifest.get('finish-args', [])
    unjustified = [a for a in finish_args if a not in JUSTIFIED_FINISH_ARGS]
    tap.ok(not unjustified, 'every finish-arg is a justified one',
           'not justified: ' + ', '.join(map(str, unjustified)))
    missing = sorted(set(JUSTIFIED_FINISH_ARGS) - set(finish_args))
    tap.ok(not missing, 'finish-args has wayland, fallback-x11, ipc, GPU devices, network',
           'missing: ' + ', '.join(missing))
    tap.ok(len(finish_args) == len(set(finish_args)), 'finish-args has no duplicates')

    base_dir = os.path.dirname(os.path.abspath(manifest_path))
    top_names, modules = all_modules(manifest.get('modules', []), base_dir, tap)
    names = [m.get('name') for m in modules]
    for name in REQUIRED_MODULES:
        tap.ok(name in names, f'module {name} is built', f'modules: {names}')
    tap.ok(bool(top_names) and top_names[-1] == 'kestrel', 'kestrel is the last module',
           f'modules: {top_names}')

    n_remote = 0
    for m in modules:
        for src in m.get('sources', []):
            check_source(tap, m.get('name'), src)
            n_remote += isinstance(src, dict) and 'url' in src
    tap.ok(n_remote >= 8, 'the remote sources (yyjson, md4c, CUDA) are all there',
           f'{n_remote} remote sources')

    cuda = next((m for m in modules if m.get('name') == 'cuda'), {})
    cuda_urls = [s.get('url', '') for s in cuda.get('sources', []) if isinstance(s, dict)]
    for comp in ('cuda_cudart', 'libcublas', 'cuda_nvcc'):
        tap.ok(any(u.startswith(f'{NVIDIA_REDIST}{comp}/linux-x86_64/') for u in cuda_urls),
               f'cuda module fetches {comp} from NVIDIA\'s redist tree')

    app = next((m for m in modules if m.get('name') == 'kestrel'), {})
    opts = app.get('config-opts', [])
    tap.ok(app.get('buildsystem') == 'meson', 'kestrel builds with meson')
    tap.ok(f'-Dprofile={want_profile}' in opts, f'kestrel builds the {want_profile} profile',
           f'config-opts: {opts}')
    tap.ok('-Dcuda=enabled' in opts, 'kestrel requires the CUDA backend',
           f'config-opts: {opts}')

    check_flatpak_builder(tap, manifest_path, want_id, top_names)

    print(f'1..{tap.n}')
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main())
