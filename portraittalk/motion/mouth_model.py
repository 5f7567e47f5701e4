"""The fitted audio-to-mouth model: log-mel speech -> how far the lips part and how wide they stretch.

Three tiny temporal convolution networks (8 channels, about 2.8 k weights each, fitted from
different seeds by ``portraittalk train --stage mouth`` (:mod:`portraittalk.training.mouth`) on the
real talking-head clips in ``benchmarks/data/clips/fit``; ``mouth_model.npz`` beside this file)
read 80-band log-mel frames at 50 Hz; their mean predicts, per 25 fps video frame, the speaker's inner-lip opening, mouth width and
chin drop as standard scores. They learn the shapes speech makes (lips shut for m/b/p, rounded for
o/u/w, spread for i/e, open vowels open) from how real mouths moved, not from loudness. Inference
is numpy only (no torch on this path) and runs in a few milliseconds per second of speech.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import SAMPLE_RATE, audio_features

MODEL_FILE = Path(__file__).with_name("mouth_model.npz")
MODEL_FPS = 25.0


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh form (as fitted)."""
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int = 1, padding: int = 0,
           dilation: int = 1) -> np.ndarray:  # fmt: skip
    """(C, T) -> (O, T') like ``torch.nn.functional.conv1d`` (weight (O, C, K))."""
    out_c, in_c, k = weight.shape
    x = np.pad(x, ((0, 0), (padding, padding)))
    span = dilation * (k - 1) + 1
    n = (x.shape[1] - span) // stride + 1
    idx = np.arange(n)[:, None] * stride + np.arange(k)[None, :] * dilation  # (n, K)
    cols = x[:, idx]  # (C, n, K)
    return np.einsum("ock,cnk->on", weight, cols, optimize=True) + bias[:, None]


def network_members(d: "np.lib.npyio.NpzFile") -> tuple[dict[str, np.ndarray], ...]:
    """The fitted networks' weights of a saved model, by member (keys ``w.<member>.<name>``), in order."""
    members: dict[str, dict[str, np.ndarray]] = {}
    for key in d.files:
        if key.startswith("w."):
            member, name = key[2:].split(".", 1)
            members.setdefault(member, {})[name] = d[key].astype(np.float32)
    return tuple(members[m] for m in sorted(members, key=int))


@dataclass(frozen=True)
class MouthModel:
    """The fitted networks' weights and what their outputs mean."""

    members: tuple[dict[str, np.ndarray], ...]  # each fitted network's weights by name
    dilations: tuple[int, ...]
    outputs: tuple[str, ...]  # ("opening", "width", "chin")
    prediction_std: np.ndarray  # (3,) spread of its predictions on the fit clips (to rescale to unit variance)
    opening_mean: float  # real inner-lip gap over the fit clips, face heights
    opening_std: float
    width_std: float  # real relative change of the mouth's width

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "MouthModel":
        with np.load(path) as d:
            return cls(network_members(d), tuple(int(v) for v in d["dilations"]),
                       tuple(str(v) for v in d["outputs"]), d["prediction_std"].astype(np.float64),
                       float(d["opening_mean"]), float(d["opening_std"]), float(d["width_std"]))  # fmt: skip

    def forward(self, mel: np.ndarray) -> np.ndarray:
        """(2T, 80) log-mel at 50 Hz -> (T, 3) standard scores at 25 fps: the members' mean."""
        x = mel.T.astype(np.float32)
        return np.mean([self._member(w, x) for w in self.members], axis=0)

    def _member(self, w: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        x = gelu(conv1d(x, w["inp.0.weight"], w["inp.0.bias"], padding=1))
        x = gelu(conv1d(x, w["inp.2.weight"], w["inp.2.bias"], stride=2, padding=1))
        for i, d in enumerate(self.dilations):
            x = x + gelu(conv1d(x, w[f"blocks.{i}.weight"], w[f"blocks.{i}.bias"], padding=d, dilation=d))
        return conv1d(x, w["out.weight"], w["out.bias"]).T

    def predict(self, samples: np.ndarray, frames: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
        """(opening z, width z), each (frames,), rescaled to unit variance, for 16 kHz ``samples``."""
        native = max(1, int(np.ceil(len(samples) / SAMPLE_RATE * MODEL_FPS)))
        z = self.forward(audio_features(samples, "mel", native)) / self.prediction_std
        t_native = (np.arange(len(z)) + 0.5) / MODEL_FPS
        t = (np.arange(frames) + 0.5) / fps
        return np.interp(t, t_native, z[:, 0]), np.interp(t, t_native, z[:, 1])


@functools.lru_cache(maxsize=1)
def mouth_model() -> MouthModel:
    """The model shipped with the package (read once)."""
    return MouthModel.load()
