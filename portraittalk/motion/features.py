"""Speech features at 50 Hz for audio-to-motion: HuBERT-large (1024-d) or an 80-bin log-mel.

Both use 16 kHz audio and a 320-sample hop, so two feature frames fall on each 25 fps video frame
(GeneFace++'s alignment). Features are returned aligned to an exact frame count, which avoids the
short/evenly-divisible length bugs reported for other implementations.
"""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from ..errors import AudioError, MissingWeightsError
from ..weights import Weights

SAMPLE_RATE = 16_000
HOP = 320  # 20 ms -> 50 Hz
FEATURE_RATE = SAMPLE_RATE / HOP
N_FFT = 1024
WINDOW = 640  # 40 ms
N_MELS = 80
FEATURE_DIMS = {"mel": N_MELS, "hubert": 1024}


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


@functools.lru_cache(maxsize=2)
def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular HTK-mel filters, each normalised to unit area."""
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges_mel = np.linspace(_hz_to_mel(np.array(20.0)), _hz_to_mel(np.array(sample_rate / 2)), n_mels + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return (tri / np.maximum(tri.sum(axis=1, keepdims=True), 1e-8)).astype(np.float32)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """(len // 320, 80) log-mel frames of 16 kHz audio, normalised per utterance (zero mean, unit variance)."""
    x = np.asarray(samples, np.float32)
    n = len(x) // HOP
    if n == 0:
        raise AudioError("the audio is shorter than one feature frame (20 ms).")
    padded = np.pad(x, (WINDOW // 2, WINDOW // 2 + HOP), mode="reflect" if len(x) > WINDOW else "constant")
    idx = np.arange(WINDOW)[None, :] + HOP * np.arange(n)[:, None]
    frames = padded[idx] * np.hanning(WINDOW).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1)) ** 2
    mel = np.log(power @ mel_filterbank().T + 1e-6)
    return ((mel - mel.mean(axis=0)) / (mel.std(axis=0) + 1e-5)).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _hubert(path: str):
    from transformers import HubertModel

    return HubertModel.from_pretrained(path, local_files_only=True).eval()


def hubert_features(samples: np.ndarray, weights: Optional[Weights]) -> np.ndarray:
    """(≈ len // 320, 1024) last hidden state of HuBERT-large from the ``hubert`` component."""
    import torch

    if weights is None:
        raise MissingWeightsError("HuBERT features need a weights folder with the 'hubert' component.")
    path = weights.require("hubert")
    x = np.asarray(samples, np.float32)
    x = (x - x.mean()) / (x.std() + 1e-7)  # the model's feature extractor normalises the waveform
    with torch.no_grad():
        out = _hubert(str(path))(torch.from_numpy(x)[None]).last_hidden_state[0]
    return out.float().numpy()


def audio_features(samples: np.ndarray, kind: str, frames: int, weights: Optional[Weights] = None) -> np.ndarray:
    """``(2 * frames, D)`` features of ``kind`` ("mel" | "hubert"): two per 25 fps video frame,
    the tail padded by repeating the last frame or trimmed."""
    if kind == "mel":
        feats = log_mel(samples)
    elif kind == "hubert":
        feats = hubert_features(samples, weights)
    else:
        raise ValueError(f"unknown audio feature kind {kind!r}")
    want = 2 * frames
    if len(feats) < want:
        feats = np.concatenate([feats, np.repeat(feats[-1:], want - len(feats), axis=0)])
    return feats[:want]
