"""Landmark deformations on the 478-point mesh: jaw opening, lip spread/round, blinks, head pose.

Deformations are built in a face-aligned frame (eyes horizontal, unit = face height) from the
reference's own landmarks, so they fit any face shape, then mapped back to output pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..face import mesh

# Lips that ride on the jaw (the lower lip) and that stay with the skull (the upper lip).
CORNERS = np.array([61, 291, 78, 308])
UPPER_LIP_INNER_SET = np.array([191, 80, 81, 82, 13, 312, 311, 310, 415])
UPPER_LIP_OUTER_SET = np.array([185, 40, 39, 37, 0, 267, 269, 270, 409])
LOWER_LIP_INNER_SET = np.array([95, 88, 178, 87, 14, 317, 402, 318, 324])
LOWER_LIP_OUTER_SET = np.array([146, 91, 181, 84, 17, 314, 405, 321, 375])
UPPER_LIDS = (np.array([173, 157, 158, 159, 160, 161, 246]), np.array([398, 384, 385, 386, 387, 388, 466]))
LOWER_LIDS = (np.array([33, 7, 163, 144, 145, 153, 154, 155, 133]), np.array([263, 249, 390, 373, 374, 380, 381, 382, 362]))
UPPER_LIP_SHARE = 0.3  # how much of a closing the upper lip does (the lower lip does the rest)
MAX_GAP = 0.085  # inner-lip gap at full opening, in face heights


@dataclass
class FaceFrame:
    """A face-aligned coordinate frame: local = rot.T @ (p - origin) / scale."""

    origin: np.ndarray
    rot: np.ndarray
    scale: float

    @classmethod
    def of(cls, points: np.ndarray) -> "FaceFrame":
        eye_r = points[[mesh.RIGHT_EYE_OUTER, mesh.RIGHT_EYE_INNER]].mean(axis=0)
        eye_l = points[[mesh.LEFT_EYE_OUTER, mesh.LEFT_EYE_INNER]].mean(axis=0)
        d = eye_l - eye_r
        a = np.arctan2(d[1], d[0])
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float64)
        return cls(points[mesh.NOSE_TIP].astype(np.float64), rot, float(mesh.face_height(points)))

    def local(self, p: np.ndarray) -> np.ndarray:
        return (p - self.origin) @ self.rot / self.scale

    def vector_to_global(self, v: np.ndarray) -> np.ndarray:
        return v @ self.rot.T * self.scale


class FaceRig:
    """Precomputed per-landmark weights of a reference face: ``mouth`` and ``lids`` give displacements."""

    def __init__(self, reference: np.ndarray) -> None:
        self.reference = reference.astype(np.float64)
        self.frame = FaceFrame.of(self.reference)
        loc = self.frame.local(self.reference)
        self.loc = loc
        chin_y = loc[mesh.CHIN, 1]
        mouth_y = loc[[mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT], 1].mean()
        hinge_y = loc[[234, 454], 1].mean()
        upper, lower, depth = _lip_regions(loc)
        # Jaw membership: 0 above the mouth line, 1 well below it; every lip point set explicitly
        # (MediaPipe has four rings per lip: moving only some of them would fold the mesh).
        t = (loc[:, 1] - mouth_y) / max(chin_y - mouth_y, 1e-6)
        member = np.clip((t + 0.1) / 0.35, 0.0, 1.0)
        member = member * member * (3 - 2 * member)
        member[upper] = 0.0
        member[lower] = 1.0
        member[CORNERS] = 0.45
        radial = np.clip((loc[:, 1] - hinge_y) / max(chin_y - hinge_y, 1e-6), 0.0, 1.2)
        self.jaw = (member * radial)[:, None] * np.array([0.0, 1.0])
        self.jaw[:, 0] = -0.04 * loc[:, 0] * member  # the chin narrows a little as it drops
        lower_inner = self.jaw[mesh.LOWER_LIP_INNER, 1]
        self.gap_per_jaw = max(lower_inner, 1e-3)
        # Upper-lip lift shows the upper teeth on wide openings.
        lift = np.zeros(len(loc))
        lift[upper] = 1.0
        self.lift = lift[:, None] * np.array([0.0, -1.0])
        # Spread: corners move outward, falling off with distance from each corner.
        mouth_w = abs(loc[mesh.MOUTH_CORNER_LEFT, 0] - loc[mesh.MOUTH_CORNER_RIGHT, 0])
        self.spread = np.zeros_like(loc)
        for corner, sign in ((mesh.MOUTH_CORNER_LEFT, 1.0), (mesh.MOUTH_CORNER_RIGHT, -1.0)):
            dist = np.linalg.norm(loc - loc[corner], axis=1)
            fall = np.exp(-((dist / (0.45 * mouth_w)) ** 2))
            self.spread[:, 0] += sign * fall * 0.5 * mouth_w
        self.gap0 = float(loc[mesh.LOWER_LIP_INNER, 1] - loc[mesh.UPPER_LIP_INNER, 1])
        # Closing a mouth that is open in the photo (a smile showing teeth): the inner lip edges
        # meet on the midline between them, each lip's rings follow by depth (outer edge: half),
        # and the jaw stays, so the face keeps its shape (and its identity).
        inner_u, inner_l = loc[UPPER_LIP_INNER_SET], loc[LOWER_LIP_INNER_SET]
        order = np.argsort(inner_u[:, 0])
        xs = inner_u[order, 0]
        half_gap = 0.5 * (inner_l[order, 1] - inner_u[order, 1])
        reach = np.interp(loc[:, 0], xs, half_gap)
        self.lip_close = np.zeros_like(loc)
        self.lip_close[upper, 1] = (0.5 + 0.5 * depth[upper]) * reach[upper] * 2 * UPPER_LIP_SHARE
        self.lip_close[lower, 1] = -(0.5 + 0.5 * depth[lower]) * reach[lower] * 2 * (1 - UPPER_LIP_SHARE)
        self._lid_targets = self._lid_pairs(loc)

    @staticmethod
    def _lid_pairs(loc: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each upper-lid point, the point on the lower lid below it (interpolated along x)."""
        pairs = []
        for upper, lower in zip(UPPER_LIDS, LOWER_LIDS):
            lo = loc[lower]
            order = np.argsort(lo[:, 0])
            ys = np.interp(loc[upper, 0], lo[order, 0], lo[order, 1])
            target = np.stack([loc[upper, 0], ys], axis=1)
            pairs.append((upper, target - loc[upper]))
        return pairs

    def mouth(self, opening: np.ndarray, spread: np.ndarray) -> np.ndarray:
        """(T, 478, 2) jaw and lip displacements in output pixels."""
        gap = np.clip(opening, 0.0, 1.2) * MAX_GAP
        close = np.clip((self.gap0 - gap) / max(self.gap0, 1e-6), 0.0, 1.0)  # 1 = lips together
        jaw = np.clip(gap - self.gap0, 0.0, None)
        jaw = jaw - 0.12 * jaw  # the upper lip's lift covers part of the gap
        lift_amt = 0.12 * jaw
        d = ((jaw / self.gap_per_jaw)[:, None, None] * self.jaw[None] + lift_amt[:, None, None] * self.lift[None]
             + close[:, None, None] * self.lip_close[None]
             + (0.12 * spread)[:, None, None] * self.spread[None])  # fmt: skip
        return self.frame.vector_to_global(d).astype(np.float32)

    def lids(self, blink: np.ndarray) -> np.ndarray:
        """(T, 478, 2) eyelid displacements in output pixels (1 = shut, a sliver left open)."""
        d = np.zeros((len(blink), len(self.loc), 2))
        for upper, delta in self._lid_targets:
            d[:, upper, :] += blink[:, None, None] * 0.9 * delta[None]
        return self.frame.vector_to_global(d).astype(np.float32)


def _lip_regions(loc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the upper-lip and lower-lip points (all rings, found geometrically inside the outer
    lip contour), and each point's depth: 0 on the outer edge, 1 on the inner edge."""
    import cv2

    outer = loc[mesh.lips_outer_loop()].astype(np.float32)
    inside = np.array([cv2.pointPolygonTest(outer, (float(x), float(y)), True) >= -1e-3 for x, y in loc])
    inside[CORNERS] = False

    def edge(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pts = loc[idx]
        order = np.argsort(pts[:, 0])
        return pts[order, 0], pts[order, 1]

    ux_in, uy_in = edge(UPPER_LIP_INNER_SET)
    lx_in, ly_in = edge(LOWER_LIP_INNER_SET)
    ux_out, uy_out = edge(UPPER_LIP_OUTER_SET)
    lx_out, ly_out = edge(LOWER_LIP_OUTER_SET)
    x, y = loc[:, 0], loc[:, 1]
    mid = 0.5 * (np.interp(x, ux_in, uy_in) + np.interp(x, lx_in, ly_in))
    is_upper = inside & (y <= mid)
    is_lower = inside & (y > mid)
    depth = np.zeros(len(loc))
    yo, yi = np.interp(x, ux_out, uy_out), np.interp(x, ux_in, uy_in)
    depth[is_upper] = np.clip((y - yo) / np.maximum(yi - yo, 1e-6), 0, 1)[is_upper]
    yo, yi = np.interp(x, lx_out, ly_out), np.interp(x, lx_in, ly_in)
    depth[is_lower] = np.clip((yo - y) / np.maximum(yo - yi, 1e-6), 0, 1)[is_lower]
    return np.nonzero(is_upper)[0], np.nonzero(is_lower)[0], depth


def head_transform(params: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """(T, 2, 3) similarity matrices for head params (roll deg, dx, dy, scale-1) about ``pivot``."""
    roll = np.deg2rad(params[:, 0])
    s = 1.0 + params[:, 3]
    c, si = np.cos(roll) * s, np.sin(roll) * s
    m = np.zeros((len(params), 2, 3), np.float64)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -si, si, c
    m[:, :, 2] = pivot[None] - np.einsum("tij,j->ti", m[:, :, :2], pivot) + params[:, 1:3]
    return m


def head_pivot(reference: np.ndarray) -> np.ndarray:
    """Where the head turns: below the chin, near the top of the neck."""
    chin = reference[mesh.CHIN]
    return (chin + 0.25 * (chin - reference[mesh.NOSE_TIP])).astype(np.float64)


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of (T, 2, 3) affine matrices."""
    a = np.linalg.inv(m[:, :, :2])
    return np.concatenate([a, -np.einsum("tij,tj->ti", a, m[:, :, 2])[:, :, None]], axis=2)
