"""Speech -> motion one frame at a time, as the audio arrives.

The mouth is the causal motion model's (the "causal" entry of :mod:`.motion.registry`,
:mod:`.motion.causal_mouth`), run incrementally on the stream (:class:`.mouth_stream.CausalMouthStream`): frame
k's mouth is the offline model's on the whole recording to float error, out as soon as the sound reaches
``LOOKAHEAD_S`` past the frame's start, whatever the chunking; it keeps a bounded past, so memory does
not grow. Head pose, brows, gaze and blinks come from the offline track's own causal
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
from ..motion.causal_mouth import LOOKAHEAD_S, MODEL_FPS
from ..motion.controls import apply_controls, eye_region
from ..motion.drivers import drawn_mouth
from ..motion.geometry import MAX_GAP, FaceRig
from ..motion.head import HeadMotion, speech_drivers
from ..motion.track import MotionTrack
from .audio import AudioStream
from .mouth_stream import CausalMouthStream

HEAD_CONTEXT_S = 1.0  # sound before a frame's start its head motion reads (the pitch's voicing compares with it)


def frame_start(k: int, fps: float) -> int:
    """The 16 kHz sample at which frame ``k`` starts (frame k shows [start(k), start(k + 1)))."""
    return int(round(k * SAMPLE_RATE / fps))


class LiveMotion:
    """Frame k's motion (a one-frame :class:`MotionTrack`, no controls) from the stream's sound."""

    def __init__(self, reference: np.ndarray, frame_size: tuple[int, int], request: GenerateRequest,
                 depth: Optional[np.ndarray] = None) -> None:  # fmt: skip
        self.fps = float(request.render.fps)
        self.frame_size = frame_size
        self.reference = reference.astype(np.float32)
        self.depth = depth  # the reference's depth: the head's pitch and yaw turn the face on it, as offline
        self.rig = FaceRig(reference)
        self.config, self.seed = request.motion, request.seed
        self.mouth = CausalMouthStream()
        self.context_frames = int(round(HEAD_CONTEXT_S * self.fps))
        self.lookahead = int(round(LOOKAHEAD_S * SAMPLE_RATE))
        self.head = HeadMotion(self.fps, self.rig.frame.scale, self.config, self.seed)  # the offline track's generator

    def rest_track(self) -> MotionTrack:
        """One frame of the face at rest (what a renderer is set up with)."""
        return MotionTrack(self.fps, self.frame_size, self.reference, np.zeros((1, 478, 2), np.float32),
                           np.zeros((1, 6), np.float32), *np.zeros((3, 1), np.float32), depth=self.depth)  # fmt: skip

    def ready(self, k: int, received: int) -> bool:
        """Frame k's window has arrived (at 25 fps the mouth's lookahead; at other rates a frame's mouth is
        read between two of the model's 25 fps frames, and waits for the later one)."""
        native = int(np.ceil(k * MODEL_FPS / self.fps))
        return max(frame_start(k, self.fps), frame_start(native, MODEL_FPS)) + self.lookahead <= received

    def first_needed(self, k: int) -> int:
        """The earliest sample frame k (and every later frame) reads."""
        return frame_start(max(k - self.context_frames, 0), self.fps)

    def frame(self, k: int, audio: AudioStream) -> MotionTrack:
        """Frame k's motion; frames must be asked for in order (the head motion is stepped)."""
        first = max(k - self.context_frames, 0)  # the stream's start as a clip's start: as offline
        start = frame_start(first, self.fps)
        window = Audio.from_array(audio.read(start, frame_start(k, self.fps) + self.lookahead))
        gap, width = self.mouth_at(k, audio)
        i = k - first
        moves = self.head.step(*self._head_drivers(window, i))
        rig = self.rig
        expression = (rig.mouth(gap, width) + rig.lids(np.array([moves.blink]))
                      + rig.brows(np.array([moves.brow])) + rig.gaze(moves.gaze[None]))  # fmt: skip
        return MotionTrack(self.fps, self.frame_size, self.reference, expression.astype(np.float32),
                           moves.head[None].astype(np.float32),
                           np.clip(gap / MAX_GAP, 0.0, 1.5).astype(np.float32), np.array([moves.blink], np.float32),
                           np.clip(acoustic_features(window, self.fps).loudness[i : i + 1], 0, 1).astype(np.float32),
                           depth=self.depth)  # fmt: skip

    def mouth_at(self, k: int, audio: AudioStream) -> tuple[np.ndarray, np.ndarray]:
        """Frame k's (gap (1,), width (1,)) as the "causal" motion model draws it offline
        (:func:`.motion.drivers.causal_fitted_mouth`: read at the frame's time between the model's 25 fps
        frames, then the gain and the limits); the stream first takes the sound not yet given to it."""
        stream = self.mouth
        if audio.total > stream.total:
            stream.push(audio.read(stream.total, audio.total))
        t = k * MODEL_FPS / self.fps
        j = int(np.floor(t))
        if not stream.ready(int(np.ceil(t))) and not stream.finished:  # the stream's end: offline's end
            stream.finish()
        if stream.finished:
            j = min(j, stream.frames_total - 1)
        (gap0, width0), (gap1, width1) = stream.mouth(j), (stream.mouth(j + 1) if t > j else stream.mouth(j))
        gap = np.interp([t], [j, j + 1], [gap0, gap1])
        width = np.interp([t], [j, j + 1], [width0, width1])
        return drawn_mouth(gap, width, stream.model.width_std, self.config)

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
