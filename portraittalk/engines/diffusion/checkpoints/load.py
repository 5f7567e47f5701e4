"""Loading and saving the diffusion engine's weights in the registry's layout.

``sd15/``         a diffusers Stable Diffusion 1.5 folder (unet, vae, text_encoder, tokenizer, scheduler)
``portraittalk/`` ``config.json`` (face projection; what was imported, if anything),
                  ``identitynet.safetensors`` (projection + face K/V, optionally a fine-tuned UNet or a
                  LoRA of it), ``animatenet/`` (``AnimateNet.save_pretrained``; optional: without it the
                  frames follow the warp engine's, see ``stability.py``)
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from ....errors import MissingWeightsError
from .adapter_config import ADAPTER_FORMAT, read_adapter_config
from ..models.animatenet import AnimateNet
from ..models.face_projection import FaceProjection
from ..models.identitynet import IdentityNet

@dataclass
class DiffusionModels:
    """Everything one render needs, loaded."""

    tokenizer: CLIPTokenizer
    text_encoder: CLIPTextModel
    vae: AutoencoderKL
    identitynet: IdentityNet
    animatenet: Optional[AnimateNet]
    scheduler_config: dict
    imported: dict = field(default_factory=dict)  # config.json's "imported": what came from public checkpoints

    @property
    def modules(self) -> list[torch.nn.Module]:
        return [m for m in (self.text_encoder, self.vae, self.identitynet, self.animatenet) if m is not None]

    def to(self, device: torch.device | str, dtype: torch.dtype) -> "DiffusionModels":
        for m in self.modules:
            cast(m, device, dtype)
        return self

    def eval(self) -> "DiffusionModels":
        for m in self.modules:
            m.eval().requires_grad_(False)
        return self


def cast(module: torch.nn.Module, device: torch.device | str, dtype: torch.dtype) -> torch.nn.Module:
    """``nn.Module.to``: diffusers 0.42's ``ModelMixin.to`` warns on every dtype cast, even with nothing to keep in fp32."""
    return torch.nn.Module.to(module, device=device, dtype=dtype)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No per-file progress bars from transformers while loading or saving (the caller shows progress)."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def load_base(sd15: Path) -> tuple[CLIPTokenizer, CLIPTextModel, AutoencoderKL, UNet2DConditionModel, dict]:
    """The SD1.5 parts from a local diffusers folder (never from a hub)."""
    scheduler_config = json.loads((sd15 / "scheduler" / "scheduler_config.json").read_text())
    with quiet_transformers():
        text_encoder = CLIPTextModel.from_pretrained(sd15 / "text_encoder", local_files_only=True)
    return (CLIPTokenizer.from_pretrained(sd15 / "tokenizer", local_files_only=True), text_encoder,
            AutoencoderKL.from_pretrained(sd15 / "vae", local_files_only=True),
            UNet2DConditionModel.from_pretrained(sd15 / "unet", local_files_only=True),
            scheduler_config)  # fmt: skip


def load_models(sd15: Path, adapters: Path) -> DiffusionModels:
    """Base + PortraitTalk adapters, on the CPU in fp32 (``animatenet/`` when there is one)."""
    tokenizer, text_encoder, vae, unet, scheduler_config = load_base(sd15)
    config = read_adapter_config(adapters)
    if "face_projection" not in config:
        raise MissingWeightsError(f"{adapters} has no IdentityNet yet; import one with `portraittalk weights import "
                                  "ip-adapter-faceid FILE` (or train it).")  # fmt: skip
    identitynet = IdentityNet(unet, FaceProjection(**config["face_projection"]))
    identitynet.load_adapters(adapters / "identitynet.safetensors")
    animatenet = None
    if (adapters / "animatenet" / "config.json").is_file():
        animatenet = AnimateNet.from_pretrained(adapters / "animatenet", local_files_only=True)
    return DiffusionModels(tokenizer, text_encoder, vae, identitynet, animatenet, scheduler_config,
                           config.get("imported", {})).eval()  # fmt: skip


def save_adapters(folder: Path, identitynet: IdentityNet, animatenet: AnimateNet, include_unet: bool = False) -> Path:
    """Write ``config.json``, ``identitynet.safetensors`` and ``animatenet/`` (the ``portraittalk`` component)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"format": ADAPTER_FORMAT, "face_projection": identitynet.face_projection.config,
              "identitynet_includes_unet": include_unet}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    identitynet.save_adapters(folder / "identitynet.safetensors", include_unet)
    animatenet.save_pretrained(folder / "animatenet", safe_serialization=True)
    return folder

