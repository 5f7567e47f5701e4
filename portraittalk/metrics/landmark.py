"""Landmark Distance (LMD): mean per-landmark Euclidean distance, mouth and whole face.

Reported in pixels of the ground-truth frame and normalised by the ground truth's face height
(forehead to chin), so clips of different resolution or framing compare. Frames where either
track has no face (NaN) are left out and counted.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..face import mesh


def mouth_indices() -> np.ndarray:
    """The 40 lip landmarks (outer and inner contours)."""
    return np.concatenate([mesh.lips_outer_loop(), mesh.lips_inner_loop()])


@dataclass
class LMDReport:
    mouth_px: float
    face_px: float
    mouth_norm: float  # mouth_px / face height
    face_norm: float
    mouth_curve_px: np.ndarray  # (T,), NaN where excluded
    face_curve_px: np.ndarray
    mouth_curve_norm: np.ndarray
    excluded_frames: int

    def to_dict(self) -> dict:
        def curve(c: np.ndarray) -> list:
            return [None if np.isnan(v) else float(v) for v in c]

        return {"mouth_px": self.mouth_px, "face_px": self.face_px, "mouth_norm": self.mouth_norm,
                "face_norm": self.face_norm, "excluded_frames": self.excluded_frames,
                "mouth_px_per_frame": curve(self.mouth_curve_px), "face_px_per_frame": curve(self.face_curve_px),
                "mouth_norm_per_frame": curve(self.mouth_curve_norm)}  # fmt: skip


def per_landmark_distance(generated: np.ndarray, ground_truth: np.ndarray, indices: np.ndarray | None = None
                          ) -> np.ndarray:  # fmt: skip
    """(T,) mean Euclidean distance over the chosen landmarks, per frame."""
    g, r = np.asarray(generated, np.float64), np.asarray(ground_truth, np.float64)
    if indices is not None:
        g, r = g[:, indices], r[:, indices]
    return np.linalg.norm(g - r, axis=-1).mean(axis=-1)


def lmd_report(generated: np.ndarray, ground_truth: np.ndarray) -> LMDReport:
    """LMD of two aligned (T, 478, 2) tracks in the same pixel frame."""
    g, r = np.asarray(generated, np.float64), np.asarray(ground_truth, np.float64)
    if g.shape != r.shape or g.ndim != 3 or g.shape[1] != mesh.NUM_LANDMARKS:
        raise InputError(f"LMD needs two (frames, {mesh.NUM_LANDMARKS}, 2) tracks of equal shape, "
                         f"got {g.shape} and {r.shape}.")  # fmt: skip
    valid = ~(np.isnan(g).any(axis=(1, 2)) | np.isnan(r).any(axis=(1, 2)))
    if not valid.any():
        raise InputError("no frame has face landmarks in both videos; LMD cannot be computed.")
    mouth = np.full(len(g), np.nan)
    face = np.full(len(g), np.nan)
    scale = np.full(len(g), np.nan)
    mouth[valid] = per_landmark_distance(g[valid], r[valid], mouth_indices())
    face[valid] = per_landmark_distance(g[valid], r[valid])
    scale[valid] = np.maximum(mesh.face_height(r[valid]), 1e-6)
    mouth_norm = mouth / scale
    return LMDReport(float(np.nanmean(mouth)), float(np.nanmean(face)), float(np.nanmean(mouth_norm)),
                     float(np.nanmean(face / scale)), mouth, face, mouth_norm, int((~valid).sum()))  # fmt: skip
