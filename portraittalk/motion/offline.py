"""The offline audio-to-motion model: acoustic drivers -> deformed reference landmarks."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..config import MotionConfig
from ..media.audio import Audio
from .acoustic import acoustic_features
from .drivers import acoustic_mouth, blink_curve, fitted_mouth, head_motion
from .geometry import MAX_GAP, FaceRig, apply_affines, head_pivot, head_transform
from .track import MotionTrack


def audio_to_motion(audio: Audio, reference: np.ndarray, frame_size: tuple[int, int], fps: float = 25.0,
                    config: MotionConfig = MotionConfig(), seed: int = 0,
                    offsets: Optional[np.ndarray] = None) -> MotionTrack:  # fmt: skip
    """A MotionTrack for ``audio`` on a face whose rest landmarks are ``reference`` (output pixels).

    The mouth comes from ``config.motion_model`` ("acoustic": loudness; otherwise the fitted model);
    ``offsets`` (T, 478, 2), in face heights, replace it (e.g. the learned audio-to-motion VAE);
    blinks and head sway are added either way. Deterministic for a given
    ``seed``. The controls (w1–w3) are not applied here: engines apply them when they render.
    """
    rng = np.random.default_rng(seed)
    feat = acoustic_features(audio, fps)
    n = len(feat.energy)
    rig = FaceRig(reference)
    if config.motion_model == "acoustic":
        gap, width = acoustic_mouth(feat, fps, config)
    else:
        gap, width = fitted_mouth(audio, feat, fps, config)
    blink = blink_curve(n, fps, config, rng)
    if offsets is None:
        mouth = rig.mouth(gap, width)
    else:
        mouth = _fit_length(offsets, n) * rig.frame.scale
    disp = mouth + rig.lids(blink)
    head = head_motion(feat.energy, fps, rig.frame.scale, config, rng)
    mats = head_transform(head, head_pivot(rig.reference))
    local = rig.reference[None] + disp
    landmarks = apply_affines(mats, local)
    return MotionTrack(landmarks.astype(np.float32), float(fps), tuple(frame_size), reference.astype(np.float32),
                       np.clip(gap / MAX_GAP, 0.0, 1.5).astype(np.float32), blink, head,
                       np.clip(feat.loudness, 0, 1).astype(np.float32))  # fmt: skip


def _fit_length(offsets: np.ndarray, n: int) -> np.ndarray:
    if len(offsets) >= n:
        return offsets[:n]
    pad = np.repeat(offsets[-1:], n - len(offsets), axis=0)
    return np.concatenate([offsets, pad])
