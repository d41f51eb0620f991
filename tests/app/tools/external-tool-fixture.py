#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A command for test-external-tool.c.  argv[1] picks the behaviour; the call's arguments
# arrive as JSON on stdin.
import json
import os
import sys
import time

mode = sys.argv[1]
if mode == "echo":
    args = json.loads(sys.stdin.readline())
    json.dump({"args": args, "argv": sys.argv[2:], "ppid_comm": open(f"/proc/{os.getppid()}/comm").read().strip()},
              sys.stdout, ensure_ascii=False)
elif mode == "sleep":
    with open(sys.argv[2], "w") as f:
        f.write(str(os.getpid()))
    sys.stdout.flush()
    time.sleep(60)
    print("{}")
elif mode == "badjson":
    sys.stdout.write("this is not {json")
elif mode == "fail":
    sys.stderr.write("something went wrong\n")
    sys.exit(3)
elif mode == "big":
    sys.stdout.write("[" + ",".join(["1"] * 1_000_000) + "]")
elif mode == "noread":
    print('{"ok": true}')
else:
    sys.exit(99)
