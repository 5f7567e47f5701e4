"""The frames of one generation as the engine made them, kept beside the encoded video.

A result's views (its frames, the app's motion overlay, the conflict explorer's first frames) read
these, not a decode of the lossy MP4: data flows one way. They are appended to a raw file in the
temporary folder (written, not memory-mapped, so the process's memory stays flat however long the
video) and read back through a read-only memory map; the file goes with the store.
"""
from __future__ import annotations

import tempfile
import weakref
from pathlib import Path
from typing import Iterator

import numpy as np


class FrameStore:
    """RGB uint8 frames of one ``(width, height)``, appended in order."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.width, self.height = size
        self._file = tempfile.NamedTemporaryFile(prefix="portraittalk-frames-", suffix=".rgb", delete=False)
        self.path = Path(self._file.name)
        self._remove = weakref.finalize(self, _remove, self._file, self.path)
        self._count = 0

    def append(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"a {self.width}x{self.height} RGB uint8 frame was expected, "
                             f"got {frame.shape} {frame.dtype}")  # fmt: skip
        self._file.write(np.ascontiguousarray(frame).data)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    @property
    def frames(self) -> np.ndarray:
        """The frames appended so far, (T, H, W, 3), read-only and backed by the file."""
        self._file.flush()
        if not self._count:
            return np.empty((0, self.height, self.width, 3), np.uint8)
        return np.memmap(self.path, np.uint8, "r", shape=(self._count, self.height, self.width, 3))

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.frames)

    def discard(self) -> None:
        """Remove the file now (a cancelled or failed generation keeps nothing)."""
        self._remove()


def _remove(file: "tempfile._TemporaryFileWrapper", path: Path) -> None:
    file.close()
    path.unlink(missing_ok=True)
