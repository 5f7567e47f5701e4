"""The MotionTrack: the contract between motion and rendering (saved as .npz), in parameters.

Per frame: the head pose, the expression (displacements of the 478 points in the reference's own,
un-moved placement) and the scalar drivers; plus the reference's rest landmarks. Landmarks are
composed from these once, where an engine needs them (:attr:`MotionTrack.landmarks`). See
docs/architecture.md for how models make a track and engines draw one.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError

FORMAT_VERSION = 2  # 1 (no version key): absolute landmarks + a (T, 4) head; converted on load
HEAD_PARAMS = ("roll", "pitch", "yaw", "dx", "dy", "scale")  # the columns of MotionTrack.head
ROLL, PITCH, YAW, DX, DY, SCALE = range(len(HEAD_PARAMS))
_V1_KEYS = {"landmarks", "fps", "frame_size", "reference", "mouth_open", "blink", "head", "energy"}


@dataclass
class MotionTrack:
    """The speech's motion of one face, per output frame, in parameters.

    ``expression[t]`` moves each of the reference's points (output pixels, in the reference's
    placement: what the face does, not where the head is); ``head[t]`` then places the face: roll,
    pitch, yaw (degrees; pitch and yaw are 0 until a model makes them), dx, dy (output pixels) and
    scale − 1, about the pivot below the chin (:func:`.geometry.head_pivot`). The scalar drivers let
    renderers draw what points alone do not say (how dark the mouth interior is, how closed the lids
    are). Nothing here has the controls (w1–w3) applied: engines apply them when they render.
    """

    fps: float
    frame_size: tuple[int, int]  # (width, height)
    reference: np.ndarray  # (478, 2) float32, the rest pose in output pixels
    expression: np.ndarray  # (T, 478, 2) float32, displacements from the reference in its own placement
    head: np.ndarray  # (T, 6) float32, columns HEAD_PARAMS
    mouth_open: np.ndarray  # (T,) 0..1 jaw opening
    blink: np.ndarray  # (T,) 0..1 lid closure
    energy: np.ndarray  # (T,) 0..1 speech loudness envelope
    depth: Optional[np.ndarray] = None  # (478,) MediaPipe's depth of the reference (output pixels): pitch and yaw turn on it

    def __len__(self) -> int:
        return int(self.expression.shape[0])

    @property
    def duration(self) -> float:
        return len(self) / self.fps

    @functools.cached_property
    def landmarks(self) -> np.ndarray:
        """(T, 478, 2) float32, read-only: where every point is drawn in each frame (output pixels),
        composed once from the reference, the expression and the head pose."""
        from .geometry import compose, relative_depth

        reference = self.reference.astype(np.float64)
        depth = None if self.depth is None else relative_depth(reference, self.depth)
        points = compose(reference, self.expression, self.head, depth).astype(np.float32)
        points.flags.writeable = False  # a change belongs in the expression or the head, not in a copy of them
        return points

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None}
        np.savez_compressed(path, version=FORMAT_VERSION, **data)
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> "MotionTrack":
        """A saved track; one saved before the track was in parameters (absolute landmarks) is converted."""
        try:
            with np.load(path) as d:
                if "version" in d.files and int(d["version"]) == FORMAT_VERSION:
                    track = cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d.files or f.name != "depth"})
                elif "version" not in d.files and _V1_KEYS <= set(d.files):
                    track = cls.from_landmarks(**{k: d[k] for k in _V1_KEYS})
                else:
                    raise KeyError("no track of a known format")
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"'{Path(path).name}' is not a PortraitTalk motion track ({exc}).") from None
        track.fps = float(track.fps)
        track.frame_size = tuple(int(v) for v in track.frame_size)
        return track

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray, fps: float, frame_size: tuple[int, int], reference: np.ndarray,
                       mouth_open: np.ndarray, blink: np.ndarray, head: np.ndarray,
                       energy: np.ndarray) -> "MotionTrack":  # fmt: skip
        """A track from absolute landmarks and a (T, 4) planar head (roll, dx, dy, scale − 1), the
        format before this one: the head is taken out of the landmarks (the inverse of its similarity)
        and what is left, minus the reference, is the expression."""
        from .geometry import apply_affines, head_pivot, head_transform, invert_affine

        head = np.insert(np.asarray(head, np.float32), [1, 1], 0.0, axis=1)  # pitch, yaw: 0
        ref = np.asarray(reference, np.float64)
        inv = invert_affine(head_transform(head.astype(np.float64), head_pivot(ref)))
        expression = apply_affines(inv, np.asarray(landmarks, np.float64)) - ref
        return cls(fps, frame_size, np.asarray(reference, np.float32), expression.astype(np.float32), head,
                   mouth_open, blink, energy)  # fmt: skip

    def scaled(self, factor: float) -> "MotionTrack":
        """The same motion for an output ``factor`` times larger (e.g. re-rendering at 1024 px)."""
        w, h = self.frame_size
        head = self.head.copy()
        head[:, [DX, DY]] *= factor
        return MotionTrack(self.fps, (round(w * factor), round(h * factor)), self.reference * factor,
                           self.expression * factor, head, self.mouth_open, self.blink, self.energy,
                           None if self.depth is None else self.depth * factor)  # fmt: skip
