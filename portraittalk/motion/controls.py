"""Controls w1–w3 applied to a MotionTrack at render time (the warp engine's meaning of them).

The track is the speech's motion only; applying the controls here, not when the track is made,
lets one saved track re-render with any controls and no audio analysis.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..config import Controls
from ..face import mesh
from .geometry import LOWER_LIP_INNER_SET, UPPER_LIP_INNER_SET, FaceFrame, brow_weights
from .track import MotionTrack


def head_amplitude(w2: float) -> float:
    """How much of the track's head sway is kept: clip(2 − w2, 0, 2) (w2 ≥ 2: a still head)."""
    return float(np.clip(2.0 - w2, 0.0, 2.0))


def eye_region(reference: np.ndarray) -> np.ndarray:
    """The points that blinks, gaze and brows move (the eyes, irises, brows and the forehead above
    them): w1 and w3 leave them as the track has them (w1 is the mouth's amplitude)."""
    frame = FaceFrame.of(reference.astype(np.float64))
    brows = np.nonzero(brow_weights(frame.local(reference.astype(np.float64))) > 0)[0]
    return np.union1d(mesh.eye_points(), brows)


def smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing along time (no lag; edges held, kernel cut at 4 sigma); a no-op
    for tiny sigmas. Plain numpy: scipy.ndimage would add half a second to every start."""
    if sigma_frames < 0.3 or len(x) < 2:
        return x
    radius = int(4.0 * sigma_frames + 0.5)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(x[:1], radius, axis=0), x, np.repeat(x[-1:], radius, axis=0)])
    out = np.zeros(x.shape, np.float64)
    for i, w in enumerate(kernel):
        out += w * padded[i : i + len(x)]
    return out.astype(x.dtype)


def apply_controls(track: MotionTrack, controls: Controls, smoothing_s: float) -> MotionTrack:
    """The track as rendered, its parameters changed: expression (all but the eyes and brows) × w1, never
    crossing the lips nor opening them wider than a mouth opens (``mesh.MAX_OPEN``), smoothed with
    σ = ``smoothing_s`` × w3; head pose × :func:`head_amplitude` (w2). Blinks are kept as they are."""
    expression = track.expression.copy()
    speech = np.setdiff1d(np.arange(expression.shape[1]), eye_region(track.reference))
    gain = controls.w1 * np.ones(len(track))
    if controls.w1 > 1.0:
        gain = np.minimum(gain, _max_gain_without_crossing(track.reference, expression))
        gain = np.minimum(gain, _max_gain_without_gaping(track.reference, expression))
    moved = expression[:, speech] * gain[:, None, None]
    expression[:, speech] = smooth(moved, smoothing_s * track.fps * controls.w3)
    mouth_open = smooth(track.mouth_open * gain, smoothing_s * track.fps * controls.w3)
    return replace(track, expression=expression, head=track.head * head_amplitude(controls.w2),
                   mouth_open=mouth_open.astype(np.float32))  # fmt: skip


def _max_gain_without_crossing(reference: np.ndarray, expression: np.ndarray) -> np.ndarray:
    """(T,) the largest gain at which no lower inner-lip point rises above its upper partner
    (a closing movement scaled up would push the lips through each other)."""
    frame = FaceFrame.of(reference.astype(np.float64))
    down = frame.rot[:, 1]  # the face's downward axis in pixels
    gap0 = (reference[LOWER_LIP_INNER_SET] - reference[UPPER_LIP_INNER_SET]) @ down  # (K,) >= 0
    change = (expression[:, LOWER_LIP_INNER_SET] - expression[:, UPPER_LIP_INNER_SET]) @ down  # (T, K)
    closing = change < -1e-9
    limit = np.where(closing, np.maximum(gap0, 0.0)[None] / np.where(closing, -change, 1.0), np.inf)
    return np.maximum(limit.min(axis=1), 1.0)


def _max_gain_without_gaping(reference: np.ndarray, expression: np.ndarray) -> np.ndarray:
    """(T,) the largest gain at which the inner lips open no wider than ``mesh.MAX_OPEN`` face heights."""
    frame = FaceFrame.of(reference.astype(np.float64))
    down = frame.rot[:, 1]
    gap0 = float((reference[mesh.LOWER_LIP_INNER] - reference[mesh.UPPER_LIP_INNER]) @ down)
    change = (expression[:, mesh.LOWER_LIP_INNER] - expression[:, mesh.UPPER_LIP_INNER]) @ down  # (T,)
    room = max(mesh.MAX_OPEN * frame.scale - gap0, 0.0)
    limit = np.where(change > 1e-9, room / np.maximum(change, 1e-9), np.inf)
    return np.maximum(limit, 1.0)
