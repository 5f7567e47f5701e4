"""Offline audio-to-motion: a motion model's mouth (:mod:`.registry`) + head, brows, gaze and blinks
(:mod:`.head`) -> a MotionTrack."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..config import MotionConfig
from ..media.audio import Audio
from ..weights import Weights
from .acoustic import acoustic_features
from .head import head_drivers
from .geometry import MAX_GAP, FaceRig
from .registry import Speech, choose_model
from .track import MotionTrack


def audio_to_motion(audio: Audio, reference: np.ndarray, frame_size: tuple[int, int], fps: float = 25.0,
                    config: MotionConfig = MotionConfig(), seed: int = 0,
                    weights: Optional[Weights] = None, depth: Optional[np.ndarray] = None) -> MotionTrack:  # fmt: skip
    """A MotionTrack for ``audio`` on a face whose rest landmarks are ``reference`` (output pixels).

    The mouth comes from ``config.motion_model`` (:func:`.registry.choose_model`; the learned model
    reads ``weights``); head pose, brows, gaze and blinks (:class:`.head.HeadMotion`, the same causal
    generator a live session steps) are added to any model's mouth. Deterministic for a given
    ``seed``. The controls (w1–w3) are not applied here: engines apply them when they render.
    ``depth`` (MediaPipe's z of the reference, :attr:`..face.reference.Reference.depth`) is what pitch
    and yaw turn the face on; without it the face turns as a flat one.
    """
    rig = FaceRig(reference)
    speech = Speech(audio, acoustic_features(audio, fps), rig, float(fps), config, seed, weights)
    mouth = choose_model(config.motion_model, weights).mouth(speech)
    moves = head_drivers(audio, len(speech), fps, rig.frame.scale, config, seed)
    blink, head = moves.blink, moves.head
    expression = mouth.displacement + rig.lids(blink) + rig.brows(moves.brow) + rig.gaze(moves.gaze)
    return MotionTrack(float(fps), tuple(frame_size), reference.astype(np.float32), expression, head,
                       np.clip(mouth.opening / MAX_GAP, 0.0, 1.5).astype(np.float32), blink,
                       np.clip(speech.features.loudness, 0, 1).astype(np.float32),
                       None if depth is None else np.asarray(depth, np.float32))  # fmt: skip
