"""Language-independent acoustic drivers of mouth motion, one value per video frame.

Why acoustic rather than a phone recogniser: loudness, spectral balance and nasal murmur exist in
every language, so the mouth opens and closes in time with any speech, and there is nothing to
download or train. Jaw opening follows the loudness envelope (gated by a noise floor, so pauses
close the mouth); bilabials are caught acoustically: a nasal murmur (/m/: voiced, energy almost all
below 400 Hz) or a stop closure (/b/, /p/: a sharp dip between louder frames) closes the lips;
the balance of 1–3 kHz against 300–1000 Hz energy (a rough second-formant cue) spreads the lips
for front vowels and rounds them for back vowels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..media.audio import Audio


@dataclass
class AcousticFeatures:
    energy: np.ndarray  # (T,) RMS, linear
    loudness: np.ndarray  # (T,) 0..1 gated, normalised envelope
    nasal: np.ndarray  # (T,) 0..1 nasal-murmur likelihood
    front: np.ndarray  # (T,) -1 (back/rounded) .. 1 (front/spread)


def frame_count(duration: float, fps: float) -> int:
    """Frames of a video as long as the audio (at least one)."""
    return max(1, int(round(duration * fps)))


def rms_envelope(audio: Audio, fps: float, n_frames: int) -> np.ndarray:
    """RMS over a window of one video frame (+50 % overlap) centred on each frame time."""
    sr = audio.sample_rate
    hop = sr / fps
    win = int(round(hop * 1.5))
    padded = np.pad(audio.samples.astype(np.float32), (win, win))
    centres = (np.arange(n_frames) * hop + hop / 2).astype(np.int64) + win
    idx = centres[:, None] + np.arange(-win // 2, win - win // 2)[None, :]
    frames = padded[np.clip(idx, 0, len(padded) - 1)]
    return np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)).astype(np.float32)


def acoustic_features(audio: Audio, fps: float) -> AcousticFeatures:
    n = frame_count(audio.duration, fps)
    energy = rms_envelope(audio, fps, n)
    loud = _gated_loudness(energy)
    nasal, front = _spectral_cues(audio, fps, n)
    return AcousticFeatures(energy, loud, nasal * (loud > 0.05), front)


def _gated_loudness(energy: np.ndarray) -> np.ndarray:
    """Envelope on a 0..1 scale: below the noise floor is 0 (mouth closed), p95 of speech is 1."""
    if energy.max() <= 1e-5:  # digital silence
        return np.zeros_like(energy)
    floor = max(float(np.percentile(energy, 10)), 1e-4)
    speech = energy[energy > floor * 3.0]
    if speech.size == 0:  # nothing rises above the noise: treat as silence
        return np.zeros_like(energy)
    top = max(float(np.percentile(speech, 95)), floor * 4.0)
    gate = floor * 2.0
    return np.clip((energy - gate) / (top - gate), 0.0, 1.2).astype(np.float32)


def _spectral_cues(audio: Audio, fps: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    sr = audio.sample_rate
    hop = sr / fps
    nfft = 1024
    window = np.hanning(nfft).astype(np.float32)
    padded = np.pad(audio.samples.astype(np.float32), (nfft, nfft))
    starts = (np.arange(n) * hop + hop / 2).astype(np.int64) + nfft - nfft // 2
    frames = padded[np.clip(starts[:, None] + np.arange(nfft)[None, :], 0, len(padded) - 1)] * window
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)

    def band(lo: float, hi: float) -> np.ndarray:
        return power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)

    total = band(80, 5000)
    low = band(80, 400)
    nasal = np.clip((low / total - 0.80) / 0.15, 0.0, 1.0)
    f1_band = band(300, 1000)
    f2_band = band(1000, 3000)
    front = np.clip(np.log10(f2_band / f1_band) + 0.5, -1.0, 1.0)
    return nasal.astype(np.float32), front.astype(np.float32)
