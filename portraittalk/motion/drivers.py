"""From acoustic features to the per-frame drivers of the face: jaw, lips, blinks, head."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d

from ..config import MotionConfig
from .acoustic import AcousticFeatures
from .controls import smooth

BLINK_PROFILE = np.array([0.35, 0.8, 1.0, 0.85, 0.5, 0.2], np.float32)  # ~0.24 s at 25 fps


def mouth_drivers(feat: AcousticFeatures, fps: float, cfg: MotionConfig) -> tuple[np.ndarray, np.ndarray]:
    """(opening 0..1, spread -1..1) per frame.

    Opening follows loudness; nasal murmur and stop closures shut the lips. It is not smoothed
    here: the engine smooths the expression when it renders (w3).
    """
    # Quiet sound (breath, the tail of a word) keeps the lips shut: open from 10 % loudness up.
    opening = np.clip((feat.loudness - 0.1) / 0.9, 0.0, None)
    opening = opening * (1.0 - 0.85 * feat.nasal)
    local_max = maximum_filter1d(feat.loudness, size=max(3, int(round(fps * 0.12))) | 1)
    closure = (feat.loudness < 0.3 * local_max) & (local_max > 0.25)
    opening = np.where(closure, opening * 0.2, opening)
    opening = np.clip(opening * cfg.mouth_gain, 0.0, 1.2)
    spread = smooth(feat.front.astype(np.float32), 1.0) * np.clip(opening * 2.0, 0.0, 1.0)
    return opening.astype(np.float32), spread.astype(np.float32)


def blink_curve(n: int, fps: float, cfg: MotionConfig, rng: np.random.Generator) -> np.ndarray:
    """Irregular blinks (gamma-distributed gaps around ``blink_interval_s``), 0 = open, 1 = shut."""
    out = np.zeros(n, np.float32)
    t = rng.uniform(0.6, 1.8)
    while True:
        start = int(round(t * fps))
        if start >= n:
            break
        seg = BLINK_PROFILE[: n - start]
        out[start : start + len(seg)] = np.maximum(out[start : start + len(seg)], seg)
        t += max(1.2, rng.gamma(4.0, cfg.blink_interval_s / 4.0))
    return out


def head_motion(energy: np.ndarray, fps: float, face_height: float, cfg: MotionConfig,
                rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """(T, 4): roll (deg), dx, dy (px), scale-1. Slow seeded sway whose amplitude follows the speech
    (the engine scales it with w2 when it renders)."""
    n = len(energy)
    amp = cfg.head_sway
    if amp == 0.0 or n == 0:
        return np.zeros((n, 4), np.float32)
    t = np.arange(n) / fps
    e = smooth(np.clip(energy / max(float(energy.max()), 1e-6), 0, 1).astype(np.float32), fps * 0.35)
    level = 0.35 + 0.65 * e

    def sway(period_lo: float, period_hi: float) -> np.ndarray:
        s = np.zeros(n)
        for _ in range(3):
            f = 1.0 / rng.uniform(period_lo, period_hi)
            s += np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.5, 1.0)
        return s / 2.0

    roll = 1.6 * sway(2.0, 6.0) * level
    dx = 0.012 * face_height * sway(2.5, 7.0) * level
    nod = smooth(np.diff(e, prepend=e[:1]) * fps, fps * 0.15)  # a small dip of the head on stressed onsets
    dy = 0.010 * face_height * (sway(2.0, 5.0) * level + np.clip(nod, -1.5, 1.5))
    scale = 0.006 * sway(3.0, 8.0) * level
    return (np.stack([roll, dx, dy, scale], axis=1) * amp).astype(np.float32)
