"""A live session: push speech as it arrives, get back the frames whose sound (and lookahead) is in.

The portrait is analysed once, when the session starts (``PortraitTalk.live``); each push runs the
motion of the frames that became ready and renders them with the warp engine's renderer, built
once and handed one frame's track at a time. Nothing grows with the session's length: the audio is
kept only as far back as the next frame's window reaches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from ..config import GenerateRequest
from ..errors import InputError, SessionClosedError
from ..face.reference import Reference
from ..media.audio import SAMPLE_RATE
from ..motion.registry import CAUSAL
from ..weights import Weights
from .audio import AudioStream
from .motion import LOOKAHEAD_S, CausalControls, LiveMotion, frame_start

LIVE_ENGINES = ("auto", "warp")  # real time on a CPU: the warp engine draws every live frame


@dataclass(frozen=True)
class LiveFrame:
    """One frame of the live video and the sound it shows (play it back delayed with the frame)."""

    index: int
    time: float  # seconds from the session's start: index / fps
    image: np.ndarray  # (H, W, 3) RGB uint8
    audio: np.ndarray  # float32 16 kHz mono, the frame's own 1 / fps s of speech
    mouth_open: float  # how open the mouth is drawn, 0..1 of a full opening (the track's mouth_open, controls applied)


class LiveSession:
    """``push`` speech (any chunk length, any rate), get :class:`LiveFrame` s; ``close`` (or ``with``).

    Frame k is returned by the push that brings the sound up to ``lookahead_s`` past its start; a
    silent stream still gives frames (the face blinks and rests). The same sound pushed in any
    chunking gives the same frames. :meth:`finish` returns the last frames of a stream that has
    ended (their lookahead taken as silence).
    """

    sample_rate = SAMPLE_RATE
    lookahead_s = LOOKAHEAD_S
    motion_model = CAUSAL  # whatever the request names: a stream cannot wait for the whole clip (see .motion)

    def __init__(self, references: Sequence[Reference], request: GenerateRequest,
                 weights: Optional[Weights] = None) -> None:  # fmt: skip
        from ..engines.warp import WarpRenderer

        if request.engine not in LIVE_ENGINES:
            raise InputError(f"live sessions draw with the warp engine (engine '{request.engine}' cannot keep up "
                             "in real time); leave engine at auto or warp.")  # fmt: skip
        self.request = request
        self.references = list(references)
        primary = self.references[0]
        render = request.render
        self.fps = float(render.fps)
        self.full_frame = bool(render.full_frame)
        self.frame_size = primary.crop.source_size if self.full_frame else (render.size, render.size)
        self._motion = LiveMotion(primary.landmarks, (render.size, render.size), request, primary.depth)
        self._controls = CausalControls(request.controls, render.smoothing_s, self.fps, self._motion.reference)
        self._audio: Optional[AudioStream] = AudioStream()
        rest = self._motion.rest_track()
        self._renderer: Optional[WarpRenderer] = WarpRenderer(self.references, rest)
        self._choice = SourceChoice(len(self._renderer.sources))
        self._next = 0  # the next frame's index
        self._finished = False

    # -- the stream --------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._renderer is None

    @property
    def frames_out(self) -> int:
        """Frames returned so far."""
        return self._next

    def push(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[LiveFrame]:
        """Add speech; returns the frames that became ready, in order (often none or one per 20 ms)."""
        audio = self._open_stream()
        audio.add(samples, sample_rate)
        return self._emit(lambda k: self._motion.ready(k, audio.total))

    def finish(self) -> list[LiveFrame]:
        """The stream has ended: the frames still owed for the sound pushed (as many as an offline
        video of it has), their lookahead taken as silence. Later pushes are refused."""
        audio = self._open_stream()
        audio.end()
        self._finished = True
        total = max(1, int(round(audio.total / SAMPLE_RATE * self.fps)))
        return self._emit(lambda k: k < total)

    def close(self) -> None:
        """Free the session (its renderer and audio); again is a no-op."""
        self._renderer = None
        self._audio = None

    def __enter__(self) -> "LiveSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frames ------------------------------------------------------------------------------
    def _open_stream(self) -> AudioStream:
        if self._audio is None:
            raise SessionClosedError("this live session is closed; start a new one.")
        if self._finished:
            raise SessionClosedError("this live session's stream has finished; start a new one.")
        return self._audio

    def _emit(self, ready: Callable[[int], bool]) -> list[LiveFrame]:
        """The frames from the next one on while ``ready(index)``; then the audio they no longer need goes."""
        import cv2

        out: list[LiveFrame] = []
        threads = cv2.getNumThreads()
        cv2.setNumThreads(0)  # one frame's work is too small to split (see WarpEngine.frames)
        try:
            while ready(self._next):
                out.append(self._frame(self._next))
                self._next += 1
        finally:
            cv2.setNumThreads(threads)
        assert self._audio is not None
        self._audio.forget_before(self._motion.first_needed(self._next))
        return out

    def _frame(self, k: int) -> LiveFrame:
        assert self._audio is not None and self._renderer is not None
        drawn = self._controls.apply(self._motion.frame(k, self._audio))
        renderer = self._renderer
        renderer.follow(drawn, self._choice.weights(renderer, drawn))
        image = renderer.frame(0)
        if self.full_frame:
            primary = self.references[0]
            image = primary.crop.paste(primary.photo, image)
        sound = self._audio.read(frame_start(k, self.fps), frame_start(k + 1, self.fps))
        return LiveFrame(k, k / self.fps, image, sound, float(drawn.mouth_open[0]))


class SourceChoice:
    """Several references: which one lends the lower face, frame by frame, as offline
    (:func:`.engines.warp.references.source_weights`: the closest mouth, with hysteresis), but
    cross-faded over the past three frames only."""

    def __init__(self, sources: int) -> None:
        self.sources = sources
        self.current = 0
        self.past = [0, 0]

    def weights(self, renderer, drawn) -> np.ndarray:
        if self.sources == 1:
            return np.ones((1, 1))
        from ..face import mesh

        target = float(mesh.mouth_aperture(drawn.landmarks)[0])
        apertures = np.array([s.aperture for s in renderer.sources])
        best = int(np.argmin(np.abs(apertures - target)))
        if abs(apertures[best] - target) + 0.01 < abs(apertures[self.current] - target):
            self.current = best
        onehot = np.eye(self.sources)
        w = 0.25 * onehot[self.past[0]] + 0.5 * onehot[self.past[1]] + 0.25 * onehot[self.current]
        self.past = [self.past[1], self.current]
        return w[None]
