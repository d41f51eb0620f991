#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prints one closing line from meson's testlog.json: 'tests: N passed, N failed, N skipped'.

Skipped tests (the gpu suite on machines without a GPU) are listed by name so that they
are visible, and never counted as passes."""
import json
import sys

counts = {"passed": 0, "failed": 0, "skipped": 0}
skipped = []
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            r = t.get("result")
            if r in ("OK", "EXPECTEDFAIL"):
                counts["passed"] += 1
            elif r == "SKIP":
                counts["skipped"] += 1
                skipped.append(t.get("name", "?"))
            else:
                counts["failed"] += 1
except FileNotFoundError:
    print("tests: 0 passed, 1 failed (no meson test log)")
    sys.exit(1)

if skipped:
    print("skipped (visible, not passes): " + ", ".join(skipped))
print("tests: {passed} passed, {failed} failed, {skipped} skipped".format(**counts))
