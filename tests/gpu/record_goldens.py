#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Record the golden ids of tests/engine/cpu/test-cpu-e2e.c from transformers.

Runs ON THE GPU MACHINE (torch + transformers + tokenizers + Pillow), normally through
tests/gpu/run-compare-transformers.sh --goldens.  Input: a checkpoint made by
`kestrel-cli gen-checkpoint DIR --shape tiny --seed 1` (it holds the tokenizer fixture's
tokenizer.json).  Output: golden/tiny-seed1.txt, to be committed as
tests/engine/cpu/golden/tiny-seed1.txt.

The case (keep in sync with test-cpu-e2e.c): one user turn = the image, then the text
"Describe the image.", with the Gemma 3 chat template and the generation prompt; the
image is 40×30 RGB with pixel (x, y, c) = (7x + 13y + 50c) mod 256; greedy decoding of up
to 16 new tokens (stopping at an eos id), each step a full float32 forward pass of the
reference (kestrel_hf_reference.py) — no KV cache, so nothing but the model decides — once with
the FP8 activation quantization (W8A8, what Kestrel runs) and once without (W8A16).
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kestrel_hf_reference as ref  # noqa: E402

PROMPT_TEXT = "Describe the image."
MAX_NEW = 16


def pattern_image():
    w, h = 40, 30
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(7 * x + 13 * y + 50 * c) % 256 for c in range(3)], axis=-1).astype(np.uint8)


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="gen-checkpoint --shape tiny --seed 1 folder")
    ap.add_argument("--out", default="golden", help="folder for tiny-seed1.txt")
    args = ap.parse_args()

    from tokenizers import Tokenizer
    import transformers
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ref_proc, procs = ref.image_processors(args.model)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    runs = {}
    for mode, act_quant in (("w8a8", True), ("w8a16", False)):
        model, config = ref.build_model(args.model, device, act_quant=act_quant)
        mm = config.mm_tokens_per_image
        # Gemma 3 chat template, one user turn with [image, text], add_generation_prompt; the
        # processor expands <start_of_image> to "\n\n<start_of_image>" + mm soft tokens +
        # "<end_of_image>\n\n".
        text = ("<bos><start_of_turn>user\n"
                + "\n\n<start_of_image>" + "<image_soft_token>" * mm + "<end_of_image>\n\n"
                + PROMPT_TEXT + "<end_of_turn>\n<start_of_turn>model\n")
        prompt_ids = tok.encode(text, add_special_tokens=False).ids
        n_img = sum(1 for i in prompt_ids if i == config.image_token_id)
        if n_img != mm:
            raise SystemExit(f"the prompt has {n_img} image tokens, expected {mm}")
        pix = procs[ref_proc]([pattern_image()])
        eos = set()
        for e in (getattr(config.text_config, "eos_token_id", None), config.eos_token_id):
            eos |= set(e if isinstance(e, list) else [e])
        eos.discard(None)
        ids, generated, margins = list(prompt_ids), [], []
        for _ in range(MAX_NEW):
            logits = ref.last_logits(model, config, ids, pix, device)
            top2 = torch.topk(logits, 2)
            margins.append(float(top2.values[0] - top2.values[1]))
            t = int(top2.indices[0])
            generated.append(t)
            if t in eos:
                break
            ids.append(t)
        runs[mode] = (generated, margins, tok.decode(generated, skip_special_tokens=True))
        del model
    reply = runs["w8a8"][2]

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "tiny-seed1.txt")
    with open(path, "w") as f:
        f.write("# Golden ids for tests/engine/cpu/test-cpu-e2e.c, recorded by tests/gpu/record_goldens.py\n")
        f.write(f"# torch {torch.__version__}, transformers {transformers.__version__}, {device}"
                f"{' ' + torch.cuda.get_device_name(0) if device == 'cuda' else ''};"
                f" image processor {ref_proc}\n")
        f.write("# margins: top-1 minus top-2 logit at each step; where it is small the two\n"
                "# implementations may legitimately pick different tokens (test-cpu-e2e.c stops\n"
                "# comparing there)\n")
        f.write("checkpoint tiny seed 1\n")
        f.write(f"prompt_text {PROMPT_TEXT}\n")
        f.write(f"max_new_tokens {MAX_NEW}\n")
        f.write("prompt_ids " + " ".join(map(str, prompt_ids)) + "\n")
        for mode in ("w8a8", "w8a16"):
            generated, margins, _ = runs[mode]
            f.write(f"generated_ids_{mode} " + " ".join(map(str, generated)) + "\n")
            f.write(f"margins_{mode} " + " ".join(f"{m:.6g}" for m in margins) + "\n")
        f.write("generated_text " + escape(reply) + "\n")
    print(open(path).read())
    print(f"wrote {path}: commit it as tests/engine/cpu/golden/tiny-seed1.txt")


if __name__ == "__main__":
    main()
