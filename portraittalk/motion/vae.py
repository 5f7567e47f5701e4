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

    def forward(self, features: torch.Tensor, motion: torch.Tensor, noise: Optional[torch.Tensor] = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """Training pass: (reconstruction, mean, log-variance). ``noise`` (B, latent, T/4) is the
        reparameterisation draw (default: fresh), so a trainer can make it a function of the sample."""
        cond = self.condition(features)
        mean, logvar = self.encode(motion, cond)
        eps = torch.randn_like(mean) if noise is None else noise.to(mean)
        z = mean + eps * torch.exp(0.5 * logvar)
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
def _load(folder: str, version: int) -> Audio2Motion:
    return Audio2Motion.from_pretrained(folder)


def load_audio2motion(weights: Weights) -> Audio2Motion:
    """The ``audio2motion`` component (cached until its file changes, e.g. a training run's new
    export), or :class:`MissingWeightsError`."""
    folder = weights.require("audio2motion")
    return _load(str(folder), (folder / "model.safetensors").stat().st_mtime_ns)


# The stable points that carry the head pose but not the speech: eye corners, nose bridge, forehead.
_RIGID = np.array([33, 133, 263, 362, 6, 168, 197, 195, 5, 4, 1, 10, 151, 9, 8])


def similarity_to(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(..., 2, 3) least-squares similarity transforms (Umeyama) taking (..., N, 2) ``source`` onto ``target``."""
    mu_s, mu_t = source.mean(axis=-2, keepdims=True), target.mean(axis=-2, keepdims=True)
    s, t = source - mu_s, target - mu_t
    cov = np.swapaxes(t, -1, -2) @ s / source.shape[-2]
    u, sig, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    flip = np.stack([np.ones_like(d), d], axis=-1)
    rot = u @ (flip[..., :, None] * vt)
    scale = (sig * flip).sum(axis=-1) / np.maximum((s**2).sum(axis=(-1, -2)) / source.shape[-2], 1e-12)
    lin = scale[..., None, None] * rot
    shift = mu_t[..., 0, :] - (lin @ mu_s[..., 0, :, None])[..., 0]
    return np.concatenate([lin, shift[..., None]], axis=-1)


def landmarks_to_motion(landmarks: np.ndarray, found: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """The model's training target from a tracked clip: ((T, 478, 2) motion, (478, 2) rest pose).

    Every frame is aligned onto the clip's median face by a similarity fitted on points that do
    not move with speech (eyes, nose, forehead), in an upright frame with unit face height; the
    rest pose is the mean of the 10 % of frames with the most closed mouth. Motion = aligned
    frame − rest pose, in face heights: what :func:`predict_motion` returns (before the roll).
    Frames where ``found`` is false come out as NaN.
    """
    from ..motion.geometry import FaceFrame, apply_affines

    points = np.asarray(landmarks, np.float64)
    found = ~np.isnan(points[:, 0, 0]) if found is None else np.asarray(found, bool)
    if not found.any():
        raise ValueError("no frame of the clip has landmarks")
    median = np.median(points[found], axis=0)
    canon = FaceFrame.of(median).local(median)
    mats = similarity_to(points[found][:, _RIGID], np.broadcast_to(canon[_RIGID], (int(found.sum()), len(_RIGID), 2)))
    aligned = apply_affines(mats, points[found])
    from ..face.mesh import mouth_aperture

    aperture = mouth_aperture(aligned)
    closed = aperture <= np.quantile(aperture, 0.1)
    rest = aligned[closed].mean(axis=0)
    motion = np.full(points.shape, np.nan)
    motion[found] = aligned - rest
    return motion.astype(np.float32), rest.astype(np.float32)


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
