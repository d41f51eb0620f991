#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes seed corpora for the fuzz targets: OUT/safetensors/* and OUT/config/*.

Usage: make-seeds.py OUT_DIR [GENERATED_CHECKPOINT_DIR]
The config seeds include the generated checkpoint's JSON files when a folder is given.
Plain stdlib (CI has no numpy)."""
import json
import os
import struct
import sys


def safetensors(tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, size in tensors:
        nbytes = size
        for d in shape:
            nbytes *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + nbytes]}
        blobs.append(bytes((i * 37 + 11) & 0xFF for i in range(nbytes)))
        off += nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "safetensors"), exist_ok=True)
    os.makedirs(os.path.join(out, "config"), exist_ok=True)
    seeds = {
        "two": safetensors([("a.weight", "BF16", [4, 3], 2), ("a.weight_scale", "F32", [4, 1], 4)],
                           {"format": "pt"}),
        "fp8": safetensors([("m.layers.0.q_proj.weight", "F8_E4M3", [8, 8], 1),
                            ("m.layers.0.q_proj.weight_scale", "BF16", [8, 1], 2),
                            ("m.norm.weight", "F16", [8], 2), ("s", "F32", [], 4)]),
        "other": safetensors([("i", "I64", [2], 8), ("b", "BOOL", [3], 1), ("z", "BF16", [0, 5], 2)]),
        "empty": safetensors([]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, "safetensors", name), "wb") as f:
            f.write(data)
    gemma_4b = {"architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": 255999,
                "eoi_token_index": 256000, "eos_token_id": [1, 106], "image_token_index": 262144,
                "initializer_range": 0.02, "mm_tokens_per_image": 256, "model_type": "gemma3",
                "text_config": {"hidden_size": 2560, "intermediate_size": 10240,
                                "model_type": "gemma3_text", "num_hidden_layers": 34,
                                "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                                "sliding_window": 1024},
                "torch_dtype": "bfloat16", "transformers_version": "4.50.0.dev0",
                "vision_config": {"hidden_size": 1152, "image_size": 896, "intermediate_size": 4304,
                                  "model_type": "siglip_vision_model", "num_attention_heads": 16,
                                  "num_hidden_layers": 27, "patch_size": 14, "vision_use_head": False}}
    causal = {"architectures": ["Gemma3ForCausalLM"], "hidden_size": 1152, "intermediate_size": 6912,
              "num_hidden_layers": 26, "num_attention_heads": 4, "num_key_value_heads": 1,
              "sliding_window": 512, "rope_scaling": None, "max_position_embeddings": 32768,
              "layer_types": ["sliding_attention"] * 5 + ["full_attention"] + ["sliding_attention"] * 20,
              "rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                                  "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}}
    configs = {"4b.json": gemma_4b, "1b.json": causal}
    if len(sys.argv) > 2:
        for fn in ("config.json", "generation_config.json", "preprocessor_config.json"):
            p = os.path.join(sys.argv[2], fn)
            if os.path.exists(p):
                with open(p) as f:
                    configs["gen-" + fn] = json.load(f)
    for name, obj in configs.items():
        with open(os.path.join(out, "config", name), "w") as f:
            json.dump(obj, f, indent=1)


if __name__ == "__main__":
    main()
