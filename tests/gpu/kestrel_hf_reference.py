# SPDX-License-Identifier: GPL-3.0-or-later
"""transformers' Gemma3ForConditionalGeneration as the reference for Kestrel's CPU backend.

Used by compare_transformers.py and record_goldens.py on the GPU machine (torch 2.11,
transformers 5.17, safetensors; no internet).  It builds the model from a checkpoint
written by `kestrel-cli gen-checkpoint` and runs it in float32 with the exact numerics
the CPU backend implements (docs/cpu-backend.md):

* weights: FP8 e4m3 × per-channel scale dequantized to float32; BF16 tensors as float32;
* FP8 linears of the text decoder quantize their input per token as vLLM's dynamic
  scheme does: scale = max(absmax / 448, 1 / (448 · 512)), q = e4m3(x / scale)
  (round to nearest even, saturating), y = (q @ Wᵀ) · scale — unless W8A16 is asked;
* the embedding scale sqrt(hidden) rounded to bfloat16 (what the bf16 model — and vLLM —
  multiply by; transformers would use the float32 value in a float32 run);
* no TF32 anywhere.
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

FP8_MAX = 448.0
FP8_MIN_SCALE = 1.0 / (448.0 * 512.0)


def safetensors_files(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            return sorted({os.path.join(model_dir, v) for v in json.load(f)["weight_map"].values()})
    return [os.path.join(model_dir, "model.safetensors")]


def hf_name(name):
    """Checkpoint name (any layout transformers wrote) → transformers 5 module name."""
    for old, new in (("language_model.model.", "model.language_model."),
                     ("language_model.lm_head.", "lm_head."),
                     ("model.vision_tower.vision_model.", "model.vision_tower.vision_model."),
                     ("vision_tower.vision_model.", "model.vision_tower.vision_model."),
                     ("vision_tower.", "model.vision_tower.vision_model."),
                     ("model.multi_modal_projector.", "model.multi_modal_projector."),
                     ("multi_modal_projector.", "model.multi_modal_projector.")):
        if name.startswith(old):
            return new + name[len(old):]
    return name


def load_state(model_dir, dtype=torch.float32):
    """Returns (state dict of `dtype` tensors by transformers 5 name, set of FP8 module names)."""
    from safetensors.torch import load_file
    raw = {}
    for path in safetensors_files(model_dir):
        raw.update(load_file(path, device="cpu"))
    state, fp8 = {}, set()
    for name, t in raw.items():
        if name.endswith(".weight_scale") or name.endswith(".input_scale"):
            continue
        if t.dtype == torch.float8_e4m3fn:
            scale = raw[name[: -len("weight")] + "weight_scale"].to(dtype).reshape(-1, 1)
            t = t.to(dtype) * scale  # exact in float64; one rounding in float32
            fp8.add(hf_name(name)[: -len(".weight")])
        state[hf_name(name)] = t.to(dtype)
    return state, fp8


def quantize_act(x):
    xf = x if x.dtype == torch.float64 else x.float()
    scale = (xf.abs().amax(dim=-1, keepdim=True) / FP8_MAX).clamp(min=FP8_MIN_SCALE)
    q = (xf / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn).to(xf.dtype)
    return q, scale


def build_model(model_dir, device, act_quant=True, dtype=torch.float32):
    """dtype float64 gives the same function computed far more exactly: the measure of how
    close a float32 implementation can get in W8A8 (see compare_transformers.py)."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    cfg.pop("quantization_config", None)
    cfg["torch_dtype"] = "float32"
    config = Gemma3Config.from_dict(cfg)
    for c in (config, config.text_config, config.vision_config):
        try:
            c._attn_implementation = "eager"  # plain softmax(QKᵀ·s + mask)·V in float32
        except Exception:  # noqa: BLE001 — sdpa computes the same in float32
            pass
    model = Gemma3ForConditionalGeneration(config).to(dtype)
    state, fp8 = load_state(model_dir, dtype)
    # transformers versions differ in whether SiglipVisionModel's "vision_model." level shows
    # in module names: follow what this model has.
    have = set(model.state_dict().keys())

    def fit(name):
        if name in have:
            return name
        for a, b in (("vision_tower.vision_model.", "vision_tower."), ("vision_tower.", "vision_tower.vision_model.")):
            alt = name.replace(a, b, 1)
            if alt in have:
                return alt
        return name
    state = {fit(k): v for k, v in state.items()}
    fp8 = {fit(k + ".weight")[: -len(".weight")] for k in fp8}
    if config.text_config.tie_word_embeddings or "lm_head.weight" not in state:
        state["lm_head.weight"] = state["model.language_model.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    params = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    missing = [m for m in missing if m in params]  # buffers (embed_scale, position_ids) are not weights
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing[:8]}, unexpected {unexpected[:8]}")
    model.tie_weights()
    emb = model.model.language_model.embed_tokens
    scale = torch.tensor(math.sqrt(config.text_config.hidden_size)).to(torch.bfloat16).to(dtype)
    emb.embed_scale = scale  # the bf16-rounded factor (50.5 for hidden 2560)
    if act_quant:
        modules = dict(model.named_modules())
        for name in fp8:
            lin = modules[name]

            def forward(x, lin=lin):
                q, s = quantize_act(x)
                return F.linear(q, lin.weight) * s
            lin.forward = forward
    return model.to(device).eval(), config


def image_processors(model_dir):
    """The image processors this transformers has for Gemma 3, by class name, plus
    "PIL direct" (Image.resize(BILINEAR), /255, (x - 0.5) / 0.5 — what the CPU backend
    implements).  Returns (reference name, {name: processor(list of uint8 HxWx3) → tensor}).

    The reference is the PIL-based processor: Gemma3ImageProcessorPil (transformers 5), else
    Gemma3ImageProcessor when a separate ...Fast class exists (4.x naming: the slow one is
    PIL), else PIL direct.  The others are reported side by side."""
    import transformers
    from PIL import Image
    found = {}
    for cls_name in ("Gemma3ImageProcessorPil", "Gemma3ImageProcessor", "Gemma3ImageProcessorFast"):
        cls = getattr(transformers, cls_name, None)
        if cls is None:
            continue
        try:
            proc = cls.from_pretrained(model_dir)
        except Exception as e:  # noqa: BLE001 — report and go on with what exists
            print(f"# {cls_name} unavailable: {e}")
            continue
        found[cls_name] = (lambda images, proc=proc: proc(
            images=[Image.fromarray(a, "RGB") for a in images], return_tensors="pt")["pixel_values"].float())
    with open(os.path.join(model_dir, "preprocessor_config.json")) as f:
        size = json.load(f)["size"]

    def pil_direct(images):
        out = []
        for a in images:
            r = Image.fromarray(a, "RGB").resize((size["width"], size["height"]), Image.BILINEAR)
            x = np.asarray(r, dtype=np.float64) * (1.0 / 255.0)
            x = ((x.astype(np.float32) - np.float32(0.5)) / np.float32(0.5)).transpose(2, 0, 1)
            out.append(torch.from_numpy(np.ascontiguousarray(x)))
        return torch.stack(out)
    found["PIL direct"] = pil_direct
    if "Gemma3ImageProcessorPil" in found:
        reference = "Gemma3ImageProcessorPil"
    elif "Gemma3ImageProcessor" in found and "Gemma3ImageProcessorFast" in found:
        reference = "Gemma3ImageProcessor"
    else:
        reference = "PIL direct"
    return reference, found


def write_ppm(path, array):
    h, w, _ = array.shape
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def token_type_ids(ids, image_token_id):
    return (torch.tensor(ids) == image_token_id).long().unsqueeze(0)


@torch.no_grad()
def last_logits(model, config, ids, pix, device):
    input_ids = torch.tensor([ids], device=device)
    kwargs = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                  token_type_ids=token_type_ids(ids, config.image_token_id).to(device),
                  use_cache=False)
    if pix is not None:
        kwargs["pixel_values"] = pix.to(device=device, dtype=next(model.parameters()).dtype)
    out = model(**kwargs)
    return out.logits[0, -1].double().cpu()


def read_f32(path, n):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != 4 * n:
        raise SystemExit(f"{path}: {len(data)} bytes, expected {4 * n}")
    return torch.tensor(struct.unpack(f"<{n}f", data))
