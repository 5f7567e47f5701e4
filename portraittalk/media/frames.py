"""The frames of one generation as the engine made them, kept beside the encoded video.

A result's views (its frames, the app's motion overlay, the conflict explorer's first frames) read
these, not a decode of the lossy MP4: data flows one way. They live in a memory-mapped ``.npy`` file
in the temporary folder, so memory stays flat however long the video; the file goes with the store.
"""
from __future__ import annotations

import os
import tempfile
import weakref
from pathlib import Path
from typing import Iterator

import numpy as np


class FrameStore:
    """Up to ``capacity`` RGB uint8 frames of one ``(width, height)``, appended in order."""

    def __init__(self, capacity: int, size: tuple[int, int]) -> None:
        width, height = size
        fd, name = tempfile.mkstemp(suffix=".npy", prefix="portraittalk-frames-")
        os.close(fd)
        self.path = Path(name)
        self._remove = weakref.finalize(self, self.path.unlink, missing_ok=True)
        # A memory map cannot be empty: room for one frame at least, of which none is counted yet.
        self._array = np.lib.format.open_memmap(self.path, mode="w+", dtype=np.uint8,
                                                shape=(max(capacity, 1), height, width, 3))  # fmt: skip
        self._count = 0

    def append(self, frame: np.ndarray) -> None:
        if self._count == len(self._array):
            raise ValueError(f"the store holds {len(self._array)} frames; one more was given")
        self._array[self._count] = frame
        self._count += 1

    def __len__(self) -> int:
        return self._count

    @property
    def frames(self) -> np.ndarray:
        """The frames appended so far, (T, H, W, 3), read-only and backed by the file."""
        view = self._array[: self._count]
        view.flags.writeable = False
        return view

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.frames)

    def discard(self) -> None:
        """Remove the file now (a cancelled or failed generation keeps nothing)."""
        del self._array
        self._remove()
