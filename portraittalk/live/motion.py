"""Speech -> motion one frame at a time, as the audio arrives.

The mouth of frame k is the offline motion model's (:func:`.motion.registry.choose_model`) run on a
sliding window of the stream: from ``CONTEXT_S`` before the frame's start (or the stream's start)
to ``LOOKAHEAD_S`` after it, the bounds the model declares (:mod:`.motion.mouth_model`: it is causal,
so the window gives the offline mouth to float error). Each frame's window is fixed by its index
alone, so the frames do not depend on how the audio was chunked; the model reads a bounded past, so
memory does not grow. Head pose, brows, gaze and blinks come from the offline track's own causal
generator (:class:`.motion.head.HeadMotion`), stepped once per frame from the frame's loudness and
pitch: they go on in silence. The controls are applied per frame as the warp engine applies them
offline, except w3's smoothing, which can only look back (:class:`CausalControls`).
"""
from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Optional

import numpy as np

from ..config import Controls, GenerateRequest
from ..media.audio import SAMPLE_RATE, Audio
from ..motion.acoustic import acoustic_features, frame_count
from ..motion.controls import apply_controls, eye_region
from ..motion.geometry import MAX_GAP, FaceRig
from ..motion.head import HeadMotion, speech_drivers
from ..motion.mouth_model import CONTEXT_S, LOOKAHEAD_S
from ..motion.registry import Speech, choose_model
from ..motion.track import MotionTrack
from ..weights import Weights
from .audio import AudioStream

# The model's own context (CONTEXT_S, 9.34 s) recomputed every 40 ms frame costs more than a frame's time on
# this 2-core machine (60 s at 256 px: latency median 1.2 s); 2.5 s keeps real time, and the live mouth
# follows the offline one at r 0.97-0.99 (held-out speech). An incremental model would lift this.
LIVE_CONTEXT_S = 2.5
HEAD_CONTEXT_S = 1.0  # sound before a frame's start its head motion reads (the pitch's voicing compares with it)


def frame_start(k: int, fps: float) -> int:
    """The 16 kHz sample at which frame ``k`` starts (frame k shows [start(k), start(k + 1)))."""
    return int(round(k * SAMPLE_RATE / fps))


class LiveMotion:
    """Frame k's motion (a one-frame :class:`MotionTrack`, no controls) from the stream's sound."""

    def __init__(self, reference: np.ndarray, frame_size: tuple[int, int], request: GenerateRequest,
                 weights: Optional[Weights], depth: Optional[np.ndarray] = None) -> None:  # fmt: skip
        self.fps = float(request.render.fps)
        self.frame_size = frame_size
        self.reference = reference.astype(np.float32)
        self.depth = depth  # the reference's depth: the head's pitch and yaw turn the face on it, as offline
        self.rig = FaceRig(reference)
        self.config, self.seed, self.weights = request.motion, request.seed, weights
        self.model = choose_model(self.config.motion_model, weights)
        self.context_frames = int(np.ceil(min(CONTEXT_S, LIVE_CONTEXT_S) * self.fps))
        self.lookahead = int(round(LOOKAHEAD_S * SAMPLE_RATE))
        self.head = HeadMotion(self.fps, self.rig.frame.scale, self.config, self.seed)  # the offline track's generator

    def rest_track(self) -> MotionTrack:
        """One frame of the face at rest (what a renderer is set up with)."""
        return MotionTrack(self.fps, self.frame_size, self.reference, np.zeros((1, 478, 2), np.float32),
                           np.zeros((1, 6), np.float32), *np.zeros((3, 1), np.float32), depth=self.depth)  # fmt: skip

    def ready(self, k: int, received: int) -> bool:
        """Frame k's window has arrived."""
        return frame_start(k, self.fps) + self.lookahead <= received

    def first_needed(self, k: int) -> int:
        """The earliest sample frame k (and every later frame) reads."""
        return frame_start(max(k - self.context_frames, 0), self.fps)

    def frame(self, k: int, audio: AudioStream) -> MotionTrack:
        """Frame k's motion; frames must be asked for in order (the head motion is stepped)."""
        first = max(k - self.context_frames, 0)  # the stream's start as a clip's start: as offline
        start = frame_start(first, self.fps)
        window = Audio.from_array(audio.read(start, frame_start(k, self.fps) + self.lookahead))
        speech = Speech(window, acoustic_features(window, self.fps), self.rig, self.fps, self.config, self.seed,
                        self.weights)  # fmt: skip
        mouth = self.model.mouth(speech)
        i = k - first
        moves = self.head.step(*self._head_drivers(window, i))
        rig = self.rig
        expression = (mouth.displacement[i : i + 1] + rig.lids(np.array([moves.blink]))
                      + rig.brows(np.array([moves.brow])) + rig.gaze(moves.gaze[None]))  # fmt: skip
        return MotionTrack(self.fps, self.frame_size, self.reference, expression.astype(np.float32),
                           moves.head[None].astype(np.float32),
                           np.clip(mouth.opening[i : i + 1] / MAX_GAP, 0.0, 1.5).astype(np.float32),
                           np.array([moves.blink], np.float32),
                           np.clip(speech.features.loudness[i : i + 1], 0, 1).astype(np.float32),
                           depth=self.depth)  # fmt: skip


    def _head_drivers(self, window: Audio, i: int) -> tuple[float, float]:
        """Frame i's loudness and pitch (what :class:`HeadMotion` steps on), from the last ``HEAD_CONTEXT_S``
        of the window: they read 60 ms around the frame; the pitch's voicing, the loudest frame given."""
        first = max(i - int(round(HEAD_CONTEXT_S * self.fps)), 0)
        recent = Audio.from_array(window.samples[frame_start(first, self.fps) :])
        loudness_db, pitch_hz = speech_drivers(recent, frame_count(recent.duration, self.fps), self.fps)
        return float(loudness_db[i - first]), float(pitch_hz[i - first])


class CausalControls:
    """w1–w3 applied to one frame at a time: w1 and w2 exactly as offline (:func:`.controls.apply_controls`);
    w3's Gaussian smoothing (σ = ``smoothing_s`` × w3) over the past frames only, the future half of
    the offline kernel cut off (a live frame cannot wait for the frames after it)."""

    def __init__(self, controls: Controls, smoothing_s: float, fps: float, reference: np.ndarray) -> None:
        self.per_frame = replace(controls, w3=0.0)
        self.smoothing_s = smoothing_s
        sigma = smoothing_s * fps * controls.w3
        if sigma < 0.3:  # the offline smoothing's own cut-off
            self.kernel = np.ones(1)
        else:
            radius = int(4.0 * sigma + 0.5)
            kernel = np.exp(-0.5 * (np.arange(radius, -1, -1) / sigma) ** 2)  # oldest frame first
            self.kernel = kernel / kernel.sum()
        self.speech = np.setdiff1d(np.arange(len(reference)), eye_region(reference))  # what w3 smooths offline
        self.past: deque = deque(maxlen=len(self.kernel))  # (expression of the speech points, mouth_open)

    def apply(self, track: MotionTrack) -> MotionTrack:
        drawn = apply_controls(track, self.per_frame, self.smoothing_s)
        if len(self.kernel) == 1:
            return drawn
        now = (drawn.expression[0, self.speech].astype(np.float64), float(drawn.mouth_open[0]))
        while len(self.past) < len(self.kernel) - 1:  # the first frame held before the start, as offline
            self.past.append(now)
        self.past.append(now)
        expression = drawn.expression.copy()
        expression[0, self.speech] = sum(w * e for w, (e, _) in zip(self.kernel, self.past))
        mouth_open = sum(w * m for w, (_, m) in zip(self.kernel, self.past))
        return replace(drawn, expression=expression, mouth_open=np.array([mouth_open], np.float32))
