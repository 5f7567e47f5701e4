"""The small interface every render engine implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from ..config import GenerateRequest
from ..face.reference import Reference
from ..motion.track import MotionTrack

# progress(stage, done, total): stages are "analysing faces", "audio → motion", "rendering", "encoding".
# A callback may raise CancelledError to stop the job.
ProgressFn = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The default progress callback."""


class Engine(ABC):
    """Turns a MotionTrack into frames, one per track frame, in order.

    The track is the speech's motion only; each engine gives ``request.controls`` (w1–w3) its own
    meaning (see :class:`portraittalk.config.Controls`): :meth:`drawn` says where that puts the face,
    and :meth:`frames` draws it there.
    """

    name: str = ""
    still_background: bool = False  # the photo's pixels below the neck are kept as they are (the artifact check relies on it)
    notes: tuple[str, ...] = ()  # what the user should know about how this engine will render (result.notes)
    artifact_advice: Optional[str] = None  # what to try when the artifact check flags a video (None: the check's photo advice)

    @abstractmethod
    def drawn(self, track: MotionTrack, request: GenerateRequest) -> MotionTrack:
        """Where this engine draws the face in each frame: ``track`` with the controls applied as this
        engine reads them. The artifact check and the motion overlay judge the frames against it."""

    def render(self, references: Sequence[Reference], track: MotionTrack, request: GenerateRequest,
               progress: ProgressFn = no_progress) -> Iterator[np.ndarray]:  # fmt: skip
        """Yield ``len(track)`` RGB uint8 frames of ``track.frame_size``, as they are produced."""
        return self.frames(references, self.drawn(track, request), request, progress)

    @abstractmethod
    def frames(self, references: Sequence[Reference], drawn: MotionTrack, request: GenerateRequest,
               progress: ProgressFn = no_progress) -> Iterator[np.ndarray]:  # fmt: skip
        """The frames of a track the controls were already applied to (:meth:`drawn`), as they are
        produced; ``request.controls`` are not applied again."""
