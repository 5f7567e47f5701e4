"""Tiny checkpoints written in the exact layouts of the public files the importers read.

- IP-Adapter-FaceID (h94/IP-Adapter-FaceID): ``{"image_proj": {proj.0, proj.2, norm}, "ip_adapter":
  {"<i>.to_k_ip.weight", ...}}`` with ``i`` counting every entry of ``unet.attn_processors``; the
  ``faceid`` variant adds ``<i>.to_{q,k,v,out}_lora.{down,up}.weight`` (rank 128) on every layer.
  ``.bin`` = ``torch.save`` of that nested dict; ``.safetensors`` = the same, flattened with
  ``image_proj.`` / ``ip_adapter.`` prefixes (what diffusers' ``load_ip_adapter`` reads).
- ControlNetMediaPipeFace's ``diffusion_sd15/``: a diffusers ``ControlNetModel.save_pretrained`` folder.
Random values, real shapes for the tiny base; nothing here is a trained model.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import torch

LORA = ("to_q_lora", "to_k_lora", "to_v_lora", "to_out_lora")


def faceid_state(unet, variant: str = "faceid-portrait", tokens: int = 16, width: int | None = None,
                 rank: int = 128, seed: int = 0) -> dict:  # fmt: skip
    """The nested state dict of an IP-Adapter-FaceID checkpoint for ``unet`` (``width``: its text width)."""
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape, s=0.05: (torch.randn(*shape, generator=g) * s)  # noqa: E731
    width = width or unet.config.cross_attention_dim
    image_proj = {"proj.0.weight": rand(1024, 512), "proj.0.bias": rand(1024), "proj.2.weight": rand(width * tokens, 1024),
                  "proj.2.bias": rand(width * tokens), "norm.weight": 1 + rand(width), "norm.bias": rand(width)}  # fmt: skip
    ip_adapter = {}
    for i, name in enumerate(unet.attn_processors):
        attn = unet.get_submodule(name.rsplit(".processor", 1)[0])
        hidden, cross = attn.to_q.out_features, attn.to_k.in_features
        if name.endswith("attn2.processor"):
            ip_adapter[f"{i}.to_k_ip.weight"] = rand(hidden, width, s=0.3)
            ip_adapter[f"{i}.to_v_ip.weight"] = rand(hidden, width, s=0.3)
        if variant == "faceid":
            for lora, (n_in, n_out) in zip(LORA, ((hidden, hidden), (cross, hidden), (cross, hidden), (hidden, hidden))):
                ip_adapter[f"{i}.{lora}.down.weight"] = rand(rank, n_in, s=0.03)
                ip_adapter[f"{i}.{lora}.up.weight"] = rand(n_out, rank, s=0.03)
    return {"image_proj": image_proj, "ip_adapter": ip_adapter}


def save_faceid(state: dict, path: Path) -> Path:
    """``.bin`` (a plain-tensor pickle) or ``.safetensors`` (flat, prefixed keys), by the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({f"{part}.{k}": v.contiguous() for part, d in state.items() for k, v in d.items()}, str(path))
    else:
        torch.save(state, path)
    return path


def write_controlnet(folder: Path, unet, seed: int = 0, variant: str | None = None, **config) -> Path:
    """A diffusers ControlNet folder for ``unet`` with every weight (zero convs too) non-zero;
    ``config`` overrides (e.g. another text width) make one for another base; ``variant="fp16"``
    saves only ``diffusion_pytorch_model.fp16.safetensors`` in half precision."""
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    if config:
        accepted = inspect.signature(ControlNetModel.__init__).parameters
        controlnet = ControlNetModel(**{k: v for k, v in {**dict(unet.config), **config}.items() if k in accepted})
    else:
        controlnet = ControlNetModel.from_unet(unet)
    with torch.no_grad():
        for p in controlnet.parameters():
            p.add_(torch.randn(p.shape) * 0.02)
    if variant == "fp16":
        controlnet = controlnet.half()
    controlnet.save_pretrained(folder, safe_serialization=True, variant=variant)
    return folder
