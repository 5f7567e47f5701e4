"""The three diffusion stages (paper Sec. IV-B) as one task: models, data, loss, export.

Stage 1 (identity) trains IdentityNet (UNet + face projection + face K/V) with the mask
reconstruction loss (Eq. 1); stage 2 (animate) trains AnimateNet without its temporal attention
with the denoising loss (Eq. 3), IdentityNet frozen; stage 3 (joint) trains both. The VAE and the
text encoder are frozen throughout. Training starts from the base weights' ``portraittalk``
adapters when it has them (imported public checkpoints or an earlier run), else from fresh
adapters on the base UNet.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..engines.diffusion.checkpoints.load import DiffusionModels, load_base, load_models, save_adapters
from ..engines.diffusion.models.denoiser import Denoiser
from ..weights import Weights
from .clips import TalkingHeadData
from .config import STAGE_NUMBER, TrainConfig
from .data import FrameDataset, FramePairDataset, loss_generator
from .losses import masked_diffusion_target
from .stages import STAGE_CONDITION_SCALES, configure_stage

log = logging.getLogger(__name__)


class StageModel(nn.Module):
    """What the optimiser trains: the face projection feeding the :class:`Denoiser`. One module, so
    accelerate wraps (DDP, autocast) everything that has gradients in one forward."""

    def __init__(self, denoiser: Denoiser, condition_scales: Sequence[float]) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.condition_scales = tuple(condition_scales)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor, face: torch.Tensor,
                structure: Optional[torch.Tensor] = None, contour: Optional[torch.Tensor] = None,
                previous: Optional[torch.Tensor] = None) -> torch.Tensor:  # fmt: skip
        """Predicted noise for ``face`` (B, D) embeddings (zeros = dropped) and AnimateNet's conditions."""
        tokens = self.denoiser.identitynet.face_projection(face)
        return self.denoiser(sample, timestep, text, tokens, 1.0, structure, contour, previous, self.condition_scales)


class DiffusionTask:
    component = "portraittalk"

    def __init__(self, stage: str, config: TrainConfig, models: DiffusionModels, embed_dim: int,
                 includes_unet: bool = False, source: str = "fresh adapters") -> None:  # fmt: skip
        from diffusers import DDPMScheduler

        self.stage = stage
        self.config = config
        self.settings = config.diffusion
        self.models = models
        self.source = source
        number = STAGE_NUMBER[stage]
        self.includes_unet = includes_unet or number in (1, 3)  # the backbone was fine-tuned, now or before
        identitynet, animatenet = models.identitynet, models.animatenet
        configure_stage(number, identitynet, animatenet, frozen=(models.vae, models.text_encoder))
        projection = identitynet.face_projection
        if str(embed_dim) not in projection.inputs:
            from ..errors import InputError

            raise InputError(f"the data's {embed_dim}-d face embeddings do not fit these adapters "
                             f"({'/'.join(map(str, projection.embed_dims))}-d); preprocess with the matching backend.")  # fmt: skip
        for width, layer in projection.inputs.items():  # the other width's input layer sees no data
            if width != str(embed_dim):
                layer.requires_grad_(False)
        denoiser = Denoiser(identitynet, animatenet if number > 1 else None)
        self.model = StageModel(denoiser, STAGE_CONDITION_SCALES[number]).train()
        if self.settings.gradient_checkpointing:
            identitynet.unet.enable_gradient_checkpointing()
            if number > 1:
                animatenet.controlnet.enable_gradient_checkpointing()
        self.alphas = DDPMScheduler.from_config(models.scheduler_config).alphas_cumprod
        self.objective = self.settings.objective(stage)
        self.device = torch.device("cpu")
        self.weight_dtype = torch.float32
        self._text_cache: dict[str, torch.Tensor] = {}

    @classmethod
    def load(cls, stage: str, config: TrainConfig, weights: Weights, data: TalkingHeadData) -> "DiffusionTask":
        """Base SD1.5 + the ``portraittalk`` adapters of ``weights`` when present, else fresh ones."""
        from ..engines.diffusion.tiny import build_adapters

        sd15 = weights.require("sd15")
        if weights.present("portraittalk"):
            adapters = weights.path("portraittalk")
            models = load_models(sd15, adapters)
            includes = bool(json.loads((adapters / "config.json").read_text()).get("identitynet_includes_unet"))
            source = str(adapters.resolve())
        else:
            tokenizer, text_encoder, vae, unet, scheduler_config = load_base(sd15)
            torch.manual_seed(config.seed)
            identitynet, animatenet = build_adapters(unet, config.diffusion.adapters)
            models = DiffusionModels(tokenizer, text_encoder, vae, identitynet, animatenet, scheduler_config).eval()
            includes, source = False, f"fresh {config.diffusion.adapters} adapters on {sd15.resolve()}"
        return cls(stage, config, models, data.identity_dim(), includes, source)

    @property
    def epochs(self) -> int:
        return self.settings.epochs(self.stage)

    def dataset(self, data: TalkingHeadData) -> FrameDataset:
        kind = FrameDataset if self.stage == "identity" else FramePairDataset
        s = self.settings
        return kind(data, s.resolution, self.config.seed, s.mask_regions, s.mask_max_fraction)

    def place(self, device: torch.device, weight_dtype: torch.dtype) -> None:
        """Move the frozen helpers (VAE, text encoder) to ``device`` in ``weight_dtype``; the trained
        model is placed by accelerate."""
        self.device, self.weight_dtype = device, weight_dtype
        for module in (self.models.vae, self.models.text_encoder):
            nn.Module.to(module, device=device, dtype=weight_dtype)
        self._text_cache.clear()

    @torch.no_grad()
    def _text(self, prompts: Sequence[str]) -> torch.Tensor:
        missing = sorted({p for p in prompts if p not in self._text_cache})
        if missing:
            tok = self.models.tokenizer
            ids = tok(missing, padding="max_length", max_length=tok.model_max_length, truncation=True,
                      return_tensors="pt").input_ids  # fmt: skip
            states = self.models.text_encoder(ids.to(self.device))[0].float()
            self._text_cache.update(zip(missing, states))
        return torch.stack([self._text_cache[p] for p in prompts])

    @torch.no_grad()
    def _encode(self, images: torch.Tensor) -> torch.Tensor:
        vae = self.models.vae
        latent = vae.encode(images.to(self.device, self.weight_dtype)).latent_dist.mean
        return latent.float() * vae.config.scaling_factor

    def draws(self, seed: int, latent_shape: Sequence[int]) -> tuple[float, int, torch.Tensor]:
        """A sample's random draws from its seed: (dropout uniform, timestep, noise)."""
        g = loss_generator(seed)
        u = float(torch.rand((), generator=g))
        t = int(torch.randint(len(self.alphas), (), generator=g))
        return u, t, torch.randn(tuple(latent_shape), generator=g)

    def inputs(self, batch: dict) -> tuple[dict, torch.Tensor]:
        """(the model's keyword inputs, the regression target) for one micro-batch: Eq. (1) on the
        corrupted frame (``mask``) or Eq. (3) (``eps``), with CFG condition dropout."""
        s = self.settings
        clean = self._encode(batch["image"])
        masked = self._encode(batch["masked"]) if self.objective == "mask" else clean
        u, t, noise = zip(*(self.draws(seed, clean.shape[1:]) for seed in batch["seed"].tolist()))
        u, t = torch.tensor(u), torch.tensor(t, device=self.device)
        both = (u >= s.drop_text + s.drop_face) & (u < s.drop_text + s.drop_face + s.drop_both)
        drop_text = (u < s.drop_text) | both
        drop_face = ((u >= s.drop_text) & (u < s.drop_text + s.drop_face)) | both
        text = self._text(["" if d else p for p, d in zip(batch["prompt"], drop_text.tolist())])
        face = batch["face"].float() * (~drop_face).to(self.device, torch.float32)[:, None]
        noisy, target = masked_diffusion_target(clean, masked, self.alphas, t, noise=torch.stack(noise))
        kwargs = {"sample": noisy, "timestep": t, "text": text, "face": face}
        if self.model.denoiser.animatenet is not None:
            kwargs.update(structure=batch["structure"], contour=batch["contour"], previous=self._encode(batch["previous"]))
        return kwargs, target

    def loss(self, model: nn.Module, batch: dict, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        kwargs, target = self.inputs(batch)
        return F.mse_loss(model(**kwargs).float(), target.float()), {}

    def export(self, folder: Path) -> None:
        """Write the ``portraittalk`` component (the registry layout ``load_models`` reads)."""
        save_adapters(folder, self.models.identitynet, self.models.animatenet, include_unet=self.includes_unet)

    def describe(self) -> dict:
        return {"initialised_from": self.source, "objective": self.objective,
                "identitynet_includes_unet": self.includes_unet}  # fmt: skip
