#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Renders prompt-cases.json with vLLM's tool_chat_template_gemma3_pythonic.jinja in the
# environment of Hugging Face transformers' apply_chat_template (which vLLM uses): jinja2
# ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, and transformers'
# own `tojson` (json.dumps with ensure_ascii=False, keys in insertion order, no HTML escaping).
# Writes prompt-goldens/<name>.txt (UTF-8, byte-exact).  Run once (needs python3-jinja2):
#
#   KESTREL_SHARED_DIR=../shared python3 tests/app/tools/gen-prompt-goldens.py
import json
import os
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

here = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get("KESTREL_SHARED_DIR", os.path.join(here, "..", "..", "..", "..", "shared"))
template_path = os.path.join(shared, "gemma3", "tool_chat_template_gemma3_pythonic.jinja")


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
with open(template_path, encoding="utf-8", newline="") as f:
    template = env.from_string(f.read())

with open(os.path.join(here, "prompt-cases.json"), encoding="utf-8") as f:
    cases = json.load(f)

out_dir = os.path.join(here, "prompt-goldens")
os.makedirs(out_dir, exist_ok=True)
for case in cases:
    text = template.render(bos_token="<bos>", messages=case["messages"], tools=case["tools"],
                           add_generation_prompt=True)
    with open(os.path.join(out_dir, case["name"] + ".txt"), "w", encoding="utf-8", newline="") as f:
        f.write(text)
    print(case["name"], len(text.encode("utf-8")), "bytes", file=sys.stderr)
