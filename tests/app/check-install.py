#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Installs the build into a temporary DESTDIR and checks what lands there (prints TAP).

usage: check-install.py MESON BUILD_ROOT PREFIX BINDIR DATADIR LOCALEDIR APP_ID LINGUAS_FILE

Checks that `meson install` places kestrel, kestrel-cli, the desktop file, the metainfo,
the scalable and symbolic icons, the GSettings schema and one .mo per language in LINGUAS;
and that they agree with each other (desktop Icon= names an installed icon, metainfo
launchable names the installed desktop file, the installed schema compiles with --strict).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


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


def rel(path, prefix):
    """PREFIX-relative option values (meson allows absolute ones inside the prefix)."""
    return os.path.relpath(path, prefix) if os.path.isabs(path) else path


def main():
    if len(sys.argv) != 9:
        print(__doc__, file=sys.stderr)
        return 2
    meson, build_root, prefix, bindir, datadir, localedir, app_id, linguas_file = sys.argv[1:]
    bindir, datadir, localedir = (rel(d, prefix) for d in (bindir, datadir, localedir))
    tap = Tap()

    with tempfile.TemporaryDirectory(prefix='kestrel-install-') as destdir:
        env = dict(os.environ)
        env.pop('DESTDIR', None)
        r = subprocess.run([meson, 'install', '-C', build_root, '--no-rebuild', '--quiet',
                            '--destdir', destdir],
                           capture_output=True, text=True, env=env, timeout=300)
        if not tap.ok(r.returncode == 0, 'meson install --destdir succeeds',
                      r.stdout + r.stderr):
            print(f'1..{tap.n}')
            return 1

        root = os.path.join(destdir, prefix.lstrip('/'))
        bin_dir = os.path.join(root, bindir)
        share = os.path.join(root, datadir)

        for exe in ('kestrel', 'kestrel-cli'):
            path = os.path.join(bin_dir, exe)
            tap.ok(os.path.isfile(path) and os.access(path, os.X_OK),
                   f'{bindir}/{exe} is installed and executable', path)

        # The installed CLI runs from its installed location (RUNPATH, no build-tree paths).
        cli = os.path.join(bin_dir, 'kestrel-cli')
        if os.access(cli, os.X_OK):
            r = subprocess.run([cli, '--version'], capture_output=True, text=True, timeout=60)
            tap.ok(r.returncode == 0 and r.stdout.startswith('kestrel-cli '),
                   'installed kestrel-cli --version runs', r.stdout + r.stderr)

        desktop = os.path.join(share, 'applications', f'{app_id}.desktop')
        metainfo = os.path.join(share, 'metainfo', f'{app_id}.metainfo.xml')
        icon = os.path.join(share, 'icons/hicolor/scalable/apps', f'{app_id}.svg')
        symbolic = os.path.join(share, 'icons/hicolor/symbolic/apps', f'{app_id}-symbolic.svg')
        schema_dir = os.path.join(share, 'glib-2.0/schemas')
        schema = os.path.join(schema_dir, 'io.github.kestrelchat.Kestrel.gschema.xml')
        for path in (desktop, metainfo, icon, symbolic, schema):
            tap.ok(os.path.isfile(path), f'{os.path.relpath(path, root)} is installed')

        # GNOME icon grid: the app icon is drawn on 128×128, the symbolic one on 16×16.
        for path, size in ((icon, '128'), (symbolic, '16')):
            try:
                svg = ET.parse(path).getroot()
            except (OSError, ET.ParseError) as e:
                tap.ok(False, f'{os.path.basename(path)} parses as SVG', e)
                continue
            tap.ok(svg.get('viewBox') == f'0 0 {size} {size}',
                   f'{os.path.basename(path)} is drawn on a {size}×{size} canvas',
                   f'viewBox={svg.get("viewBox")!r}')

        # The desktop file launches the installed binary and names the installed icon.
        fields = {}
        if os.path.isfile(desktop):
            with open(desktop, encoding='utf-8') as f:
                for line in f:
                    key, sep, value = line.rstrip('\n').partition('=')
                    if sep and key not in fields:
                        fields[key] = value
        tap.ok(fields.get('Icon') == app_id, f'desktop Icon= is {app_id}',
               f'Icon={fields.get("Icon")!r}')
        tap.ok(fields.get('Exec', '').split(' ')[0] == 'kestrel', 'desktop Exec= runs kestrel',
               f'Exec={fields.get("Exec")!r}')
        tap.ok(any(k.startswith('Name[de]') for k in fields) or
               any(k == 'Comment[de]' for k in fields),
               'desktop file carries the German translation', sorted(fields))

        # The metainfo names this app ID and this desktop file.
        try:
            component = ET.parse(metainfo).getroot()
        except (OSError, ET.ParseError) as e:
            component = ET.Element('component')
            tap.ok(False, 'metainfo parses as XML', e)
        tap.ok(component.findtext('id') == app_id, f'metainfo <id> is {app_id}',
               f'got {component.findtext("id")!r}')
        launchable = component.find("launchable[@type='desktop-id']")
        tap.ok(launchable is not None and launchable.text == f'{app_id}.desktop',
               'metainfo launchable names the installed desktop file')
        tap.ok(component.find(f"description/p[@{{http://www.w3.org/XML/1998/namespace}}lang='de']")
               is not None, 'metainfo carries the German translation')

        # The installed schema compiles on its own, strictly.
        compile_schemas = shutil.which('glib-compile-schemas')
        if compile_schemas and os.path.isdir(schema_dir):
            r = subprocess.run([compile_schemas, '--strict', '--dry-run', schema_dir],
                               capture_output=True, text=True)
            tap.ok(r.returncode == 0, 'installed schemas compile with --strict', r.stderr)

        with open(linguas_file, encoding='utf-8') as f:
            langs = [w for line in f for w in re.split(r'\s+', line.split('#')[0]) if w]
        tap.ok(len(langs) >= 1, 'LINGUAS lists at least one language')
        for lang in langs:
            mo = os.path.join(root, localedir, lang, 'LC_MESSAGES', 'kestrel.mo')
            tap.ok(os.path.isfile(mo), f'{localedir}/{lang}/LC_MESSAGES/kestrel.mo is installed')

    print(f'1..{tap.n}')
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main())
