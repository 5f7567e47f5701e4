"""Audio-to-motion training: the conditional VAE of :mod:`portraittalk.motion.vae` on speech-feature
windows and the landmark motion of the same frames (GeneFace++'s recipe).

Loss per video frame: the landmark error (summed over the 478 points, plus ``lip_weight`` times
the lips' error again: they carry the speech), the KL term with a weight rising linearly from 0
to ``kl_max`` (annealing keeps the posterior informative early on) and a penalty on the
prediction's second time difference (jitter).
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..motion.vae import STRIDE, Audio2Motion, Audio2MotionConfig
from ..weights import Weights
from .clips import TalkingHeadData
from .config import TrainConfig
from .data import MotionWindowDataset, loss_generator

log = logging.getLogger(__name__)


def lip_points() -> np.ndarray:
    from ..face.mesh import lips_inner_loop, lips_outer_loop

    return np.concatenate([lips_inner_loop(), lips_outer_loop()])


def choose_features(requested: str, available: set[str], base: "Audio2Motion | None") -> str:
    """The feature kind to train on: the base model's, else the requested one, else HuBERT when
    every clip has it, else log-mel."""
    if base is not None:
        kind = base.config.features
        if requested not in ("auto", kind):
            raise InputError(f"the audio2motion model in the base weights uses {kind} features, not {requested}; "
                             "train from a weights folder without audio2motion to change them.")  # fmt: skip
    elif requested != "auto":
        kind = requested
    else:
        kind = "hubert" if "hubert" in available else "mel"
    if kind not in available:
        raise InputError(f"the data has no {kind} features for every clip with audio (has: "
                         f"{', '.join(sorted(available)) or 'none'}); preprocess again with them available.")  # fmt: skip
    return kind


class MotionTask:
    stage = "audio2motion"
    component = "audio2motion"

    def __init__(self, config: TrainConfig, model: Audio2Motion, source: str = "a fresh model") -> None:
        self.config = config
        self.settings = config.motion
        self.model = model.train()
        self.kind = model.config.features
        self.source = source
        self.lips = torch.from_numpy(lip_points()).long()
        self.device = torch.device("cpu")

    @classmethod
    def load(cls, config: TrainConfig, weights: Weights, data: TalkingHeadData) -> "MotionTask":
        """The base weights' ``audio2motion`` model when present (fine-tuned), else a fresh one."""
        base = Audio2Motion.from_pretrained(weights.path("audio2motion")) if weights.present("audio2motion") else None
        kind = choose_features(config.motion.features, data.feature_kinds(), base)
        if base is not None:
            return cls(config, base, str(weights.path("audio2motion").resolve()))
        arch = Audio2MotionConfig.tiny() if config.motion.architecture == "tiny" else Audio2MotionConfig()
        torch.manual_seed(config.seed)
        return cls(config, Audio2Motion(dataclasses.replace(arch, features=kind)),
                   f"a fresh {config.motion.architecture} model")  # fmt: skip

    @property
    def epochs(self) -> int:
        return self.settings.epochs

    def dataset(self, data: TalkingHeadData) -> MotionWindowDataset:
        s = self.settings
        return MotionWindowDataset(data, self.kind, s.window, s.window_stride, self.config.seed)

    def place(self, device: torch.device, weight_dtype: torch.dtype) -> None:
        self.device = device

    def kl_weight(self, step: int) -> float:
        s = self.settings
        return s.kl_max * (min(1.0, step / s.kl_anneal_steps) if s.kl_anneal_steps else 1.0)

    def loss(self, model: nn.Module, batch: dict, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        s = self.settings
        features, motion = batch["features"].float(), batch["motion"].float()
        b, frames = motion.shape[:2]
        latent = self.model.config.latent
        noise = torch.stack([torch.randn((latent, frames // STRIDE), generator=loss_generator(seed))
                             for seed in batch["seed"].tolist()])  # fmt: skip
        recon, mean, logvar = model(features, motion, noise.to(self.device))
        err = (recon.float() - motion) ** 2
        landmark = err.sum(dim=(2, 3)).mean() + s.lip_weight * err[:, :, self.lips.to(err.device)].sum(dim=(2, 3)).mean()
        kl = (-0.5 * (1 + logvar - mean**2 - logvar.exp())).float().sum(dim=(1, 2)).mean() / frames
        jerk = recon[:, 2:] - 2 * recon[:, 1:-1] + recon[:, :-2]
        smooth = jerk.float().pow(2).sum(dim=(2, 3)).mean()
        total = landmark + self.kl_weight(step) * kl + s.smooth_weight * smooth
        return total, {"landmark": float(landmark.detach()), "kl": float(kl.detach()), "smooth": float(smooth.detach())}

    def export(self, folder: Path) -> None:
        self.model.save_pretrained(folder)

    def describe(self) -> dict:
        return {"initialised_from": self.source, "features": self.kind}
