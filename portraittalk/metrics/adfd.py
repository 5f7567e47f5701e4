"""Audio-Driven Facial Dynamics (ADFD, the paper's Eq. 4), as this project defines it.

For generated and ground-truth landmark tracks ``G, R`` (T×N×2, pixels, one frame size) and ``d``
the frame diagonal::

    S_t = max(0, 1 − ‖G_t − R_t‖_F / d)                         t = 1..T
    M_t = X_t − X_{t−1} (flattened)
    C_t = (cos(M_t^G, M_t^R) + 1) / 2                          t = 2..T
          (1 where both motions are zero, 0.5 where exactly one is)
    ADFD = (w1 · mean_t S_t) × (w2 · mean_t C_t)

Where the printed Eq. 4 is ambiguous, we chose:

* **The time average closes twice.** The printed formula averages only the spatial term over t and
  leaves the motion term without a sum; we average the motion term over its own T−1 steps.
* **The cosine rescaling.** The printed ``(M^gen·M^gt + 1) / (2‖M^gen‖‖M^gt‖)`` adds 1 to the dot
  product before normalising, which is not bounded; the text says the cosine is mapped from
  [−1, 1] to [0, 1], so we use ``(cos + 1) / 2``.
* **Zero motion.** A cosine of a zero vector is undefined: both still = perfect agreement (1),
  one still and one moving = no information about direction (0.5, the value of orthogonal motion).
  "Zero" means a norm below ``1e-9·d`` (float round-off).
* **The floor at 0.** ``‖·‖_F`` sums over all N landmarks, so it can exceed the diagonal when the
  faces are far apart; ``S_t`` is floored at 0 so that ADFD stays in [0, w1·w2] as the paper states.
* **Missing faces.** NaN frames are never averaged silently: ``missing="raise"`` (the default of
  :func:`adfd`) raises :class:`InputError`; ``missing="exclude"`` drops those frames from S and the
  motion steps that touch them from C, and the report lists them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from ..errors import InputError

ZERO_MOTION = 1e-9  # fraction of the diagonal below which a motion vector counts as zero


@dataclass
class ADFDReport:
    """ADFD with its two factors and the per-frame curves behind them."""

    adfd: float
    spatial: float  # S, mean of spatial_curve over valid frames (before w1)
    motion: float  # C, mean of motion_curve over valid steps (before w2)
    w1: float
    w2: float
    frames: int  # T, frames compared
    spatial_curve: np.ndarray  # (T,) S_t, NaN at excluded frames
    motion_curve: np.ndarray  # (T,) C_t, NaN at t=0 and at excluded steps
    excluded_frames: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Every number, JSON-ready (NaN in the curves becomes None)."""
        return {"adfd": self.adfd, "S": self.spatial, "C": self.motion, "w1": self.w1, "w2": self.w2,
                "frames": self.frames, "excluded_frames": list(self.excluded_frames),
                "S_per_frame": _json_curve(self.spatial_curve),
                "C_per_frame": _json_curve(self.motion_curve)}  # fmt: skip


def adfd(generated: np.ndarray, ground_truth: np.ndarray, frame_size: Sequence[int],
         w1: float = 1.0, w2: float = 1.0) -> float:  # fmt: skip
    """ADFD of two landmark tracks (T×N×2 pixels) in frames of ``frame_size`` = (width, height).

    ``(w1 · mean_t max(0, 1 − ‖G_t − R_t‖_F / d)) × (w2 · mean_{t≥2} (cos(M_t^G, M_t^R) + 1) / 2)``,
    ``d`` the frame diagonal, ``M_t`` the frame-to-frame motion. Higher is better; 1 = identical tracks.
    The paper's printed Eq. 4 is ambiguous about where the time average closes and how the cosine is
    rescaled; the module docstring lists our reading and why. Tracks must be aligned already
    (same T and N; :func:`portraittalk.metrics.evaluate.adfd_tracks` aligns by timestamp) and free of
    NaN (use :func:`adfd_report` with ``missing="exclude"`` to drop frames without a face).
    """
    return adfd_report(generated, ground_truth, frame_size, w1, w2).adfd


def adfd_report(generated: np.ndarray, ground_truth: np.ndarray, frame_size: Sequence[int],
                w1: float = 1.0, w2: float = 1.0,
                missing: Literal["raise", "exclude"] = "raise") -> ADFDReport:  # fmt: skip
    """ADFD, S, C and their per-frame curves; ``missing`` says what NaN (face not found) frames do."""
    g, r = _check_tracks(generated, ground_truth)
    d = _diagonal(frame_size)
    valid = ~(np.isnan(g).any(axis=(1, 2)) | np.isnan(r).any(axis=(1, 2)))
    excluded = [int(i) for i in np.flatnonzero(~valid)]
    if excluded and missing == "raise":
        raise InputError(f"no face landmarks in {len(excluded)} frame(s) (first: frame {excluded[0]}); "
                         "ADFD needs landmarks in every frame, or pass missing='exclude'.")  # fmt: skip
    if missing not in ("raise", "exclude"):
        raise ValueError(f"missing must be 'raise' or 'exclude', not {missing!r}")
    if not valid.any():
        raise InputError("no frame has face landmarks in both tracks; ADFD cannot be computed.")

    s_curve = np.full(len(g), np.nan)
    dist = np.linalg.norm((g[valid] - r[valid]).reshape(int(valid.sum()), -1), axis=1)
    s_curve[valid] = np.maximum(0.0, 1.0 - dist / d)

    c_curve = np.full(len(g), np.nan)
    steps = valid[1:] & valid[:-1]
    if not steps.any():
        raise InputError("ADFD needs at least two consecutive frames with face landmarks in both tracks.")
    idx = np.flatnonzero(steps) + 1
    c_curve[idx] = motion_agreement(g[idx] - g[idx - 1], r[idx] - r[idx - 1], ZERO_MOTION * d)

    s, c = float(np.nanmean(s_curve)), float(np.nanmean(c_curve))
    return ADFDReport((w1 * s) * (w2 * c), s, c, float(w1), float(w2), len(g), s_curve, c_curve, excluded)


def motion_agreement(mg: np.ndarray, mr: np.ndarray, zero: float) -> np.ndarray:
    """Per step (cos + 1)/2 of the flattened motions; 1 when both are zero, 0.5 when one is."""
    mg = mg.reshape(len(mg), -1).astype(np.float64)
    mr = mr.reshape(len(mr), -1).astype(np.float64)
    ng, nr = np.linalg.norm(mg, axis=1), np.linalg.norm(mr, axis=1)
    still_g, still_r = ng <= zero, nr <= zero
    moving = ~(still_g | still_r)
    out = np.where(still_g & still_r, 1.0, 0.5)
    cos = np.einsum("ij,ij->i", mg[moving], mr[moving]) / (ng[moving] * nr[moving])
    out[moving] = (np.clip(cos, -1.0, 1.0) + 1.0) / 2.0
    return out


def _check_tracks(generated: np.ndarray, ground_truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray(generated, dtype=np.float64)
    r = np.asarray(ground_truth, dtype=np.float64)
    for name, x in (("generated", g), ("ground-truth", r)):
        if x.ndim != 3 or x.shape[2] != 2 or x.shape[1] == 0:
            raise InputError(f"the {name} landmark track must have shape (frames, points, 2), got {x.shape}.")
    if g.shape != r.shape:
        raise InputError(f"landmark tracks differ in shape: generated {g.shape}, ground truth {r.shape}; "
                         "align them in time (and use the same landmark set) first.")  # fmt: skip
    if len(g) < 2:
        raise InputError(f"ADFD needs at least 2 frames to measure motion, got {len(g)}.")
    if np.isinf(g).any() or np.isinf(r).any():
        raise InputError("landmark tracks contain infinite coordinates.")
    return g, r


def _diagonal(frame_size: Sequence[int]) -> float:
    try:
        w, h = (float(v) for v in frame_size)
    except (TypeError, ValueError):
        raise InputError(f"frame_size must be (width, height), got {frame_size!r}.") from None
    if not (w > 0 and h > 0):
        raise InputError(f"frame_size must be positive, got {frame_size!r}.")
    return float(np.hypot(w, h))


def _json_curve(curve: np.ndarray) -> list:
    return [None if np.isnan(v) else float(v) for v in curve]
