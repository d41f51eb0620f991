#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes a synthetic Gemma-form tokenizer.json of Gemma 3's size (262,144 pieces,
~500,000 merges) for the tokenizer benchmark's load-time measurement.

Usage: gen-big-tokenizer.py OUT.json [N_VOCAB] [N_MERGES]
Pieces are built by merging existing pieces (so every merge is valid); extra merges are
other splits of the same pieces, as real BPE vocabularies have.  Deterministic (seeded).
"""
import json
import random
import sys

out = sys.argv[1]
n_vocab = int(sys.argv[2]) if len(sys.argv) > 2 else 262144
n_merges = int(sys.argv[3]) if len(sys.argv) > 3 else 500000
rng = random.Random(20260326)

vocab = {}
def add(piece):
    if piece not in vocab:
        vocab[piece] = len(vocab)

specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
for s in specials:
    add(s)
for b in range(256):
    add("<0x%02X>" % b)
alphabet = ([chr(c) for c in range(ord("a"), ord("z") + 1)] +
            [chr(c) for c in range(ord("A"), ord("Z") + 1)] +
            list("0123456789.,;:!?'\"()-") + ["\u2581"] +
            [chr(0x4E00 + i) for i in range(400)] + [chr(0x0430 + i) for i in range(32)])
for c in alphabet:
    add(c)

merges = []
seen = set()
# Merged pieces are strings over a 20-letter alphabet: every string of length 2 and 3, then
# random longer ones, each created by one merge (prefix, last letter); extra merges are
# their other splits (real vocabularies have ~2 merges per piece, as Gemma 3 does).
letters = [chr(c) for c in range(ord("a"), ord("t") + 1)]
created = []
def create(piece):
    if piece in vocab:
        return
    add(piece)
    created.append(piece)
    pair = (piece[:-1], piece[-1])
    merges.append(pair)
    seen.add(pair)
for a in letters:
    for b in letters:
        create(a + b)
for p2 in list(created):
    for c in letters:
        create(p2 + c)
while len(vocab) < n_vocab - 1:
    n = 4 if rng.random() < 0.7 else 5
    s = "".join(rng.choice(letters) for _ in range(n))
    if s[:-1] in vocab:
        create(s)
for t in created:
    if len(merges) >= n_merges:
        break
    for k in range(1, len(t) - 1):
        pair = (t[:k], t[k:])
        if pair[0] in vocab and pair[1] in vocab and pair not in seen:
            merges.append(pair)
            seen.add(pair)
            if len(merges) >= n_merges:
                break
image = "<image_soft_token>"
added = [{"id": vocab[s], "content": s, "single_word": False, "lstrip": False,
          "rstrip": False, "normalized": False, "special": True} for s in specials]
added.append({"id": len(vocab), "content": image, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True})
doc = {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
    "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    "pre_tokenizer": None, "post_processor": None,
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
              "continuing_subword_prefix": None, "end_of_word_suffix": None,
              "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
              "vocab": vocab, "merges": [list(m) for m in merges]},
}
with open(out, "w", encoding="utf-8") as f:
    json.dump(doc, f, ensure_ascii=False)
print("%s: %d pieces, %d merges" % (out, len(vocab) + 1, len(merges)), file=sys.stderr)
