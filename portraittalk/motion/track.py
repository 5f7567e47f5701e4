"""The MotionTrack: the contract between motion and rendering (saved as .npz)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ..errors import InputError


@dataclass
class MotionTrack:
    """Absolute 478-point landmarks per output frame, in output pixels, plus the drivers behind them.

    ``landmarks[t]`` is where every MediaPipe landmark should be in frame ``t`` of the output
    (a ``frame_size`` image). ``reference`` is the rest pose they were derived from, in the same
    coordinates. The scalar drivers let renderers draw what landmarks alone do not say (how dark
    the mouth interior is, how closed the lids are).
    """

    landmarks: np.ndarray  # (T, 478, 2) float32
    fps: float
    frame_size: tuple[int, int]  # (width, height)
    reference: np.ndarray  # (478, 2) float32, rest pose
    mouth_open: np.ndarray  # (T,) 0..1 jaw opening
    blink: np.ndarray  # (T,) 0..1 lid closure
    head: np.ndarray  # (T, 4): roll (deg), dx, dy (px), scale - 1 (head motion relative to the reference)
    energy: np.ndarray  # (T,) 0..1 speech loudness envelope

    def __len__(self) -> int:
        return int(self.landmarks.shape[0])

    @property
    def duration(self) -> float:
        return len(self) / self.fps

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}
        np.savez_compressed(path, **data)
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> "MotionTrack":
        try:
            with np.load(path) as d:
                kwargs = {f.name: d[f.name] for f in fields(cls)}
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"'{Path(path).name}' is not a PortraitTalk motion track ({exc}).") from None
        kwargs["fps"] = float(kwargs["fps"])
        kwargs["frame_size"] = tuple(int(v) for v in kwargs["frame_size"])
        return cls(**kwargs)

    def head_matrices(self) -> np.ndarray:
        """(T, 2, 3) similarity of each frame's head placement relative to the reference."""
        from .geometry import head_pivot, head_transform

        return head_transform(self.head.astype(np.float64), head_pivot(self.reference.astype(np.float64)))

    def expression(self) -> np.ndarray:
        """(T, 478, 2) float64 displacements from the reference with the head motion taken out
        (what the face does, in the reference's placement)."""
        from .geometry import apply_affines, invert_affine

        inv = invert_affine(self.head_matrices())
        local = apply_affines(inv, self.landmarks.astype(np.float64))
        return local - self.reference.astype(np.float64)

    def with_motion(self, expression: np.ndarray, head: np.ndarray, mouth_open: np.ndarray) -> "MotionTrack":
        """The same track with other expression displacements and head parameters (landmarks recomposed)."""
        from .geometry import apply_affines, head_pivot, head_transform

        mats = head_transform(head.astype(np.float64), head_pivot(self.reference.astype(np.float64)))
        local = self.reference.astype(np.float64)[None] + expression
        landmarks = apply_affines(mats, local)
        return MotionTrack(landmarks.astype(np.float32), self.fps, self.frame_size, self.reference,
                           mouth_open.astype(np.float32), self.blink, head.astype(np.float32), self.energy)  # fmt: skip

    def scaled(self, factor: float) -> "MotionTrack":
        """The same motion for an output ``factor`` times larger (e.g. re-rendering at 1024 px)."""
        w, h = self.frame_size
        head = self.head.copy()
        head[:, 1:3] *= factor
        return MotionTrack(self.landmarks * factor, self.fps, (round(w * factor), round(h * factor)),
                           self.reference * factor, self.mouth_open, self.blink, head, self.energy)  # fmt: skip
