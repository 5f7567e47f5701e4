"""The causal audio-to-mouth model (the "causal" motion model, the one live streaming runs): speech ->
how far the lips part, how wide they stretch, the chin.

Small causal temporal convolution networks (fitted from different seeds by ``portraittalk train
--stage causal-mouth`` (:mod:`portraittalk.training.causal_mouth`) on the motion corpus: the project's
fit clips and the GRID corpus; ``causal_mouth.npz`` beside this file) read 80-band log-mel frames at 25 fps;
their mean predicts, per video frame, the speaker's inner-lip opening, mouth width and chin drop as
standard scores. They learn the shapes speech makes (lips shut for m/b/p, rounded for o/u/w, spread
for i/e, open vowels open) from how real mouths moved, not from loudness.

Causal, so a live stream can run it on a sliding window: a frame's mouth reads the log-mel up to
``LOOKAHEAD_FRAMES`` frames ahead (at most ``LOOKAHEAD_S`` of sound past the frame's start) and a
bounded past (``CONTEXT_S``); the log-mel is normalised by fixed statistics of the fit data, never
by the clip's own. Inference is numpy only (no torch on this path). What it trades against the
non-causal "fitted" model (:mod:`.mouth_model`, the offline default): stiller pauses and firmer m/b/p
closures, but a lower correlation with real lips on held-out clips (it cannot hear past 0.12 s).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import HOP, N_FFT, SAMPLE_RATE, WINDOW, mel_filterbank
from .mouth_model import network_members

MODEL_FILE = Path(__file__).with_name("causal_mouth.npz")
MODEL_FPS = 25.0
KERNEL = 3
LOOKAHEAD_FRAMES = 2  # the network's output for frame k reads the log-mel frames up to k + 2
# Frame k's log-mel averages two 40 ms windows centred at k/25 and k/25 + 20 ms: it hears up to the
# frame's end (40 ms past its start); each frame of lookahead adds 40 ms.
LOOKAHEAD_S = (1 + LOOKAHEAD_FRAMES) / MODEL_FPS
PAUSE_REFERENCE_S = 1.2  # the pause gate compares a frame's loudness with the loudest of this past
# What the mouth of a frame depends on before its start: the networks' receptive field (see
# receptive_frames) or the pause gate's reference, whichever is longer, and one log-mel window.
MAX_DILATIONS = (1, 2, 4, 8)
LEVEL_FRAMES = 200  # the log-mel is read against its own mean and spread over this many past frames (8 s)
CONTEXT_S = (max((KERNEL - 1) * (1 + sum(MAX_DILATIONS)) + LEVEL_FRAMES, PAUSE_REFERENCE_S * MODEL_FPS) + 1) / MODEL_FPS \
    + WINDOW / 2 / SAMPLE_RATE


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh form (as fitted)."""
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def causal_conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, dilation: int = 1) -> np.ndarray:
    """(C, T) -> (O, T): output t reads inputs t - dilation * (K - 1) .. t (zeros before the start),
    like ``torch.nn.functional.conv1d`` on the input left-padded by dilation * (K - 1)."""
    out_c, in_c, k = weight.shape
    x = np.pad(x, ((0, 0), (dilation * (k - 1), 0)))
    n = x.shape[1] - dilation * (k - 1)
    idx = np.arange(n)[:, None] + np.arange(k)[None, :] * dilation  # (n, K)
    return np.einsum("ock,cnk->on", weight, x[:, idx], optimize=True) + bias[:, None]


def raw_log_mel(samples: np.ndarray) -> np.ndarray:
    """(len // 320, 80) natural-log mel power of 16 kHz audio at 50 Hz, not normalised (frame n's
    40 ms window is centred on sample 320 n): the same frames :func:`.features.log_mel` normalises
    per clip."""
    x = np.asarray(samples, np.float32)
    n = len(x) // HOP
    if n == 0:
        return np.zeros((0, mel_filterbank().shape[0]), np.float32)
    padded = np.pad(x, (WINDOW // 2, WINDOW // 2 + HOP), mode="reflect" if len(x) > WINDOW else "constant")
    idx = np.arange(WINDOW)[None, :] + HOP * np.arange(n)[:, None]
    power = np.abs(np.fft.rfft(padded[idx] * np.hanning(WINDOW).astype(np.float32), n=N_FFT, axis=1)) ** 2
    return np.log(power @ mel_filterbank().T + 1e-6).astype(np.float32)


def frame_log_mel(samples: np.ndarray, frames: int) -> np.ndarray:
    """(frames, 80) raw log-mel per 25 fps frame: frame k averages the 50 Hz frames 2k and 2k + 1
    (as the motion corpus stores them); the tail repeats the last frame."""
    mel = raw_log_mel(samples)
    if len(mel) == 0:
        mel = np.full((2, mel_filterbank().shape[0]), np.log(1e-6), np.float32)
    want = 2 * frames
    if len(mel) < want:
        mel = np.concatenate([mel, np.repeat(mel[-1:], want - len(mel), axis=0)])
    return mel[:want].reshape(frames, 2, -1).mean(axis=1)


def network_input(mel: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(T, 160) what the networks read: the raw log-mel (T, 80) against its own running mean and
    spread over the last LEVEL_FRAMES frames (fewer at the start; the spread at least half the fit
    data's), which a change of microphone, room, gain or voice leaves nearly unchanged, and the
    log-mel normalised by the fit data's fixed statistics. Causal."""
    x = mel.astype(np.float64)
    zero = np.zeros((1, x.shape[1]))
    csum, csq = np.cumsum(np.concatenate([zero, x]), axis=0), np.cumsum(np.concatenate([zero, x**2]), axis=0)
    k = np.arange(len(x))
    lo = np.maximum(k + 1 - LEVEL_FRAMES, 0)
    n = (k + 1 - lo)[:, None]
    running = (csum[k + 1] - csum[lo]) / n
    spread = np.sqrt(np.maximum((csq[k + 1] - csq[lo]) / n - running**2, (0.5 * std) ** 2))
    return np.concatenate([(x - running) / spread, (x - mean) / std], axis=1).astype(np.float32)


def frame_loudness_db(mel: np.ndarray) -> np.ndarray:
    """(T,) a frame's loudness in dB (the log of its summed mel power), from :func:`frame_log_mel`."""
    top = mel.max(axis=1, keepdims=True)
    return (10.0 / np.log(10.0)) * (top[:, 0] + np.log(np.exp(mel - top).sum(axis=1)))


@dataclass(frozen=True)
class CausalMouthModel:
    """The fitted networks' weights and what their outputs mean."""

    members: tuple[dict[str, np.ndarray], ...]  # each fitted network's weights by name
    dilations: tuple[int, ...]
    outputs: tuple[str, ...]  # ("opening", "width", "chin")
    mel_mean: np.ndarray  # (80,) fixed input normalisation (the fit data's log-mel)
    mel_std: np.ndarray
    prediction_std: np.ndarray  # (3,) spread of its predictions on unseen speech (to rescale to unit variance)
    opening_mean: float  # real inner-lip gap over the fit clips, face heights
    opening_std: float
    rest_opening: float  # the gap real speakers rest at in pauses, face heights
    width_std: float  # real relative change of the mouth's width

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "CausalMouthModel":
        with np.load(path) as d:
            return cls(network_members(d), tuple(int(v) for v in d["dilations"]),
                       tuple(str(v) for v in d["outputs"]), d["mel_mean"].astype(np.float32),
                       d["mel_std"].astype(np.float32), d["prediction_std"].astype(np.float64),
                       float(d["opening_mean"]), float(d["opening_std"]), float(d["rest_opening"]),
                       float(d["width_std"]))  # fmt: skip

    def forward(self, mel: np.ndarray) -> np.ndarray:
        """(T, 80) raw log-mel (:func:`frame_log_mel`) -> (T, 3) standard scores: the members' mean.
        Frame k reads frames up to k + LOOKAHEAD_FRAMES (the last ones repeat the clip's last frame)."""
        x = network_input(mel, self.mel_mean, self.mel_std).T
        x = np.concatenate([x, np.repeat(x[:, -1:], LOOKAHEAD_FRAMES, axis=1)], axis=1)
        out = np.mean([self._member(w, x) for w in self.members], axis=0)
        return out[LOOKAHEAD_FRAMES:]

    def _member(self, w: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        x = gelu(causal_conv1d(x, w["inp.weight"], w["inp.bias"]))
        for i, d in enumerate(self.dilations):
            x = x + gelu(causal_conv1d(x, w[f"blocks.{i}.weight"], w[f"blocks.{i}.bias"], dilation=d))
        return causal_conv1d(x, w["out.weight"], w["out.bias"]).T

    def predict_native(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(opening z, width z, loudness dB) per 25 fps frame of 16 kHz ``samples``, z rescaled to
        unit variance."""
        native = max(1, int(np.ceil(len(samples) / SAMPLE_RATE * MODEL_FPS)))
        mel = frame_log_mel(samples, native)
        z = self.forward(mel) / self.prediction_std
        return z[:, 0], z[:, 1], frame_loudness_db(mel)

    def predict(self, samples: np.ndarray, frames: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
        """(opening z, width z), each (frames,), for 16 kHz ``samples`` at ``fps`` (frame k's start
        k / fps; at 25 fps each output is the network's own frame)."""
        z_open, z_width, _ = self.predict_native(samples)
        return at_fps(z_open, frames, fps), at_fps(z_width, frames, fps)


def at_fps(native: np.ndarray, frames: int, fps: float) -> np.ndarray:
    """A 25 fps curve read at ``frames`` frames of ``fps`` (linear between frames, the last held)."""
    if fps == MODEL_FPS and len(native) >= frames:
        return native[:frames]
    return np.interp(np.arange(frames) * MODEL_FPS / fps, np.arange(len(native)), native)


@functools.lru_cache(maxsize=1)
def causal_mouth_model() -> CausalMouthModel:
    """The model shipped with the package (read once)."""
    return CausalMouthModel.load()
