"""Audio-to-motion (GeneFace++ style): a conditional VAE from 50 Hz speech features to per-frame
landmark motion in MediaPipe's 478-point topology.

- audio branch: 50 Hz features -> convs -> a stride-2 conv to the 25 fps video rate -> ``cond_dim``;
- posterior q(z | motion, audio): gated dilated convs, two stride-2 convs (latent at 6.25 Hz);
- decoder p(motion | z, audio): z upsampled x4, gated dilated convs conditioned on audio -> 478×2.
The prior is a standard normal (GeneFace++ adds a flow prior; not needed for the interface).
Motion is the offset of every landmark from a neutral, upright reference, in units of face height
(``portraittalk.face.mesh.face_height``), so it is independent of photo size and identity.
"""
from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ..config import RenderConfig
from ..errors import AudioError, MissingWeightsError
from ..weights import Weights
from .features import FEATURE_DIMS, SAMPLE_RATE, audio_features

NUM_POINTS = 478
STRIDE = 4  # video frames per latent step


@dataclass(frozen=True)
class Audio2MotionConfig:
    """Architecture (saved as config.json beside the weights); sizes follow GeneFace++."""

    features: str = "mel"  # "mel" (80-d) | "hubert" (1024-d)
    fps: float = 25.0  # the rate the model was trained at
    hidden: int = 256
    cond_dim: int = 64
    latent: int = 16
    kernel: int = 5
    encoder_layers: int = 8
    decoder_layers: int = 4

    @classmethod
    def tiny(cls) -> "Audio2MotionConfig":
        return cls(hidden=32, cond_dim=16, latent=4, encoder_layers=2, decoder_layers=2)


class GatedConv(nn.Module):
    """WaveNet-style residual block: ``x + W·(tanh(a) ⊙ σ(b))`` with ``[a, b] = conv(x) + cond``."""

    def __init__(self, channels: int, cond: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, 2 * channels, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation)
        self.cond = nn.Conv1d(cond, 2 * channels, 1)
        self.out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        a, b = (self.conv(x) + self.cond(c)).chunk(2, dim=1)
        return x + self.out(torch.tanh(a) * torch.sigmoid(b))


def _stack(n: int, cfg: Audio2MotionConfig) -> nn.ModuleList:
    return nn.ModuleList(GatedConv(cfg.hidden, cfg.cond_dim, cfg.kernel, 2 ** (i % 4)) for i in range(n))


class Audio2Motion(nn.Module):
    def __init__(self, config: Audio2MotionConfig = Audio2MotionConfig()) -> None:
        super().__init__()
        self.config = config
        h, d = config.hidden, NUM_POINTS * 2
        self.audio = nn.Sequential(
            nn.Conv1d(FEATURE_DIMS[config.features], h, config.kernel, padding=config.kernel // 2), nn.GELU(),
            nn.Conv1d(h, h, 4, stride=2, padding=1), nn.GELU(),  # 50 Hz -> 25 fps
            nn.Conv1d(h, config.cond_dim, 1))  # fmt: skip
        self.enc_in = nn.Conv1d(d, h, 1)
        self.encoder = _stack(config.encoder_layers, config)
        self.enc_down = nn.Sequential(nn.Conv1d(h, h, 4, stride=2, padding=1), nn.GELU(),
                                      nn.Conv1d(h, h, 4, stride=2, padding=1))  # fmt: skip
        self.enc_out = nn.Conv1d(h, 2 * config.latent, 1)
        self.dec_in = nn.Conv1d(config.latent, h, 1)
        self.decoder = _stack(config.decoder_layers, config)
        self.dec_out = nn.Conv1d(h, d, 1)
        nn.init.zeros_(self.dec_out.weight)  # an untrained model predicts the rest pose, not noise
        nn.init.zeros_(self.dec_out.bias)

    def condition(self, features: torch.Tensor) -> torch.Tensor:
        """(B, 2T, D) features -> (B, cond_dim, T)."""
        return self.audio(features.transpose(1, 2))

    def encode(self, motion: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, 478, 2) motion, T a multiple of 4 -> posterior (mean, log-variance), (B, latent, T/4)."""
        x = self.enc_in(motion.flatten(2).transpose(1, 2))
        for block in self.encoder:
            x = block(x, cond)
        return self.enc_out(self.enc_down(x)).chunk(2, dim=1)

    def decode(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, latent, T/4) latent + (B, cond_dim, T) -> (B, T, 478, 2) motion."""
        x = F.interpolate(self.dec_in(z), scale_factor=STRIDE, mode="nearest")
        for block in self.decoder:
            x = block(x, cond)
        return self.dec_out(x).transpose(1, 2).reshape(z.shape[0], -1, NUM_POINTS, 2)

    def forward(self, features: torch.Tensor, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: (reconstruction, mean, log-variance)."""
        cond = self.condition(features)
        mean, logvar = self.encode(motion, cond)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        return self.decode(z, cond), mean, logvar

    @torch.no_grad()
    def sample(self, features: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """(B, 2T, D) features, T a multiple of 4 -> (B, T, 478, 2) motion with z drawn from the prior."""
        cond = self.condition(features)
        z = torch.randn((cond.shape[0], self.config.latent, cond.shape[2] // STRIDE), generator=generator)
        return self.decode(z.to(cond), cond)

    def save_pretrained(self, folder: Union[str, Path]) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / "model.safetensors"))
        return folder

    @classmethod
    def from_pretrained(cls, folder: Union[str, Path]) -> "Audio2Motion":
        folder = Path(folder)
        model = cls(Audio2MotionConfig(**json.loads((folder / "config.json").read_text())))
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        return model.eval()


@functools.lru_cache(maxsize=2)
def _load(folder: str) -> Audio2Motion:
    return Audio2Motion.from_pretrained(folder)


def load_audio2motion(weights: Weights) -> Audio2Motion:
    """The ``audio2motion`` component (cached), or :class:`MissingWeightsError`."""
    return _load(str(weights.require("audio2motion")))


def _roll(landmarks: np.ndarray) -> float:
    """Angle (radians) of the line between the iris centres: the reference's in-plane head roll."""
    from ..face import mesh

    d = landmarks[mesh.LEFT_IRIS_CENTER] - landmarks[mesh.RIGHT_IRIS_CENTER]
    return float(np.arctan2(d[1], d[0]))


def predict_motion(audio, reference_landmarks: np.ndarray, fps: float = RenderConfig.fps, seed: int = 0,
                   weights: Optional[Weights] = None, model: Optional[Audio2Motion] = None) -> np.ndarray:  # fmt: skip
    """(T, 478, 2) float32 landmark offsets from ``reference_landmarks``, in units of its face height.

    ``audio``: a :class:`portraittalk.media.audio.Audio` or a 16 kHz mono float array. T covers the
    audio at ``fps``. The model works upright at its own frame rate; offsets are rotated into the
    reference's head roll and resampled in time to ``fps``. Multiply by
    ``face_height(reference_landmarks)`` for pixels.
    """
    samples, rate = (audio.samples, audio.sample_rate) if hasattr(audio, "samples") else (audio, SAMPLE_RATE)
    if rate != SAMPLE_RATE:
        raise AudioError(f"audio-to-motion needs 16 kHz audio (got {rate} Hz); load it with load_audio().")
    if model is None:
        if weights is None:
            raise MissingWeightsError("the learned audio-to-motion model needs a weights folder with 'audio2motion'.")
        model = load_audio2motion(weights)
    duration = len(samples) / SAMPLE_RATE
    native = max(1, round(duration * model.config.fps))
    padded = -(-native // STRIDE) * STRIDE
    feats = audio_features(samples, model.config.features, padded, weights)
    generator = torch.Generator("cpu").manual_seed(seed)
    param = next(model.parameters())
    motion = model.sample(torch.from_numpy(feats)[None].to(param), generator)[0, :native].float().numpy()
    angle = _roll(np.asarray(reference_landmarks, np.float32))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    motion = motion @ rot.T
    frames = max(1, round(duration * fps))
    if frames != native:
        src = np.linspace(0.0, 1.0, native) if native > 1 else np.zeros(1)
        dst = np.linspace(0.0, 1.0, frames)
        flat = motion.reshape(native, -1)
        motion = np.stack([np.interp(dst, src, flat[:, j]) for j in range(flat.shape[1])], axis=1)
        motion = motion.reshape(frames, NUM_POINTS, 2)
    return motion.astype(np.float32)
