"""The small interface every render engine implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from ..config import Controls, DiffusionConfig
from ..face.reference import Reference
from ..motion.track import MotionTrack

# progress(stage, done, total): stages are "analysing faces", "audio → motion", "rendering", "encoding".
# A callback may raise CancelledError to stop the job.
ProgressFn = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The default progress callback."""


@dataclass
class RenderRequest:
    """What the user asked for, besides references and motion."""

    prompt: str = ""
    negative_prompt: str = ""
    controls: Controls = field(default_factory=Controls)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    seed: int = 0


class Engine(ABC):
    """Turns a MotionTrack into frames, one per track frame, in order."""

    name: str = ""

    @abstractmethod
    def render(self, references: Sequence[Reference], track: MotionTrack, request: RenderRequest,
               progress: ProgressFn = no_progress) -> Iterator[np.ndarray]:  # fmt: skip
        """Yield ``len(track)`` RGB uint8 frames of ``track.frame_size``, as they are produced."""
