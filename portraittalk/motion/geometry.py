"""Landmark deformations on the 478-point mesh: jaw opening, lip spread/round, blinks, brows, gaze,
head pose (a planar similarity after a 3-D turn of pitch and yaw on the reference's depth).

Deformations are built in a face-aligned frame (eyes horizontal, unit = face height) from the
reference's own landmarks, so they fit any face shape, then mapped back to output pixels. Which
point belongs to which lip comes from the mesh's connectivity, never from the photo's geometry
(lips pressed together or read slightly crossed by MediaPipe must not swap a lip), and the
reference is checked before it is animated: a face whose landmarks are implausible moves less.
"""
from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..face import mesh
from .track import DX, DY, PITCH, ROLL, SCALE, YAW

CORNERS = np.array([61, 291, 78, 308])
UPPER_LIP_INNER_SET = np.array([191, 80, 81, 82, 13, 312, 311, 310, 415])
UPPER_LIP_OUTER_SET = np.array([185, 40, 39, 37, 0, 267, 269, 270, 409])
LOWER_LIP_INNER_SET = np.array([95, 88, 178, 87, 14, 317, 402, 318, 324])
LOWER_LIP_OUTER_SET = np.array([146, 91, 181, 84, 17, 314, 405, 321, 375])
UPPER_LIDS = (np.array([173, 157, 158, 159, 160, 161, 246]), np.array([398, 384, 385, 386, 387, 388, 466]))
LOWER_LIDS = (np.array([33, 7, 163, 144, 145, 153, 154, 155, 133]), np.array([263, 249, 390, 373, 374, 380, 381, 382, 362]))
UPPER_LIP_SHARE = 0.3  # how much of a closing the upper lip does (the lower lip does the rest)
LIPS_CLOSE = 0.025  # the gap (face heights) the lips close by themselves; the jaw closes the rest
UPPER_LIP_LIFT = 0.12  # share of an opening done by the upper lip rising (shows the upper teeth)
CHIN_PER_GAP = 0.45  # chin drop per unit of lip opening (median slope over the real clips in benchmarks/data/clips/fit)
MAX_GAP = 0.085  # inner-lip gap at full opening, in face heights
DEGRADED_GAIN = 0.5  # motion kept on a face whose landmarks look implausible
BROWS = (np.array([70, 63, 105, 66, 107, 46, 53, 52, 65, 55]), np.array([300, 293, 334, 296, 336, 276, 283, 282, 295, 285]))
IRISES = (np.arange(468, 473), np.arange(473, 478))  # (subject's right, left), as mesh.RIGHT/LEFT_IRIS_CENTER
EYE_CORNERS = ((mesh.RIGHT_EYE_OUTER, mesh.RIGHT_EYE_INNER), (mesh.LEFT_EYE_OUTER, mesh.LEFT_EYE_INNER))
BROW_DOWN_SHARE = 0.2
# MediaPipe's depth is flatter than a face: a turn drawn on it reads (MediaPipe on the drawn frame,
# motion_corpus.head_angles) as 0.63 of its yaw and 0.52 of its pitch; on 1.75x the depth, as about
# 1.0 and 0.9 (medians, 8 held-out photos at +-5 degrees).
DEPTH_GAIN = 1.75
HEAD_DEPTH = 0.25  # the turning axis behind the face (face heights); deeper slides the head over the background


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
        return cls(points[mesh.NOSE_TIP].astype(np.float64), rot, max(float(mesh.face_height(points)), 1e-6))

    def local(self, p: np.ndarray) -> np.ndarray:
        return (p - self.origin) @ self.rot / self.scale

    def vector_to_global(self, v: np.ndarray) -> np.ndarray:
        return v @ self.rot.T * self.scale


@dataclass(frozen=True)
class LipTopology:
    """Every point of each lip (all four rings of the mesh) and its depth: 0 on the outer edge, 1 on
    the inner edge (the mouth opening)."""

    upper: np.ndarray
    lower: np.ndarray
    depth: np.ndarray  # (478,), 0 outside the lips


@functools.lru_cache(maxsize=None)
def lip_topology() -> LipTopology:
    """The lips from the mesh's connectivity: rings are walked outward from the inner lip contour
    (not crossing the outer one), and each point goes to the lip whose inner edge is nearer in
    the mesh graph (ties, next to the corners, to the lower lip)."""
    neighbours: dict[int, set[int]] = {}
    for a, b in mesh.connections("TESSELATION"):
        neighbours.setdefault(int(a), set()).add(int(b))
        neighbours.setdefault(int(b), set()).add(int(a))
    outer = set(mesh.lips_outer_loop().tolist())
    ring = {int(i): 0 for i in mesh.lips_inner_loop()}
    frontier = set(ring)
    while frontier:
        frontier = {u for v in frontier for u in neighbours[v] if u not in ring and u not in outer}
        ring.update({u: max(ring.values()) + 1 for u in frontier})
    outer_ring = max(ring.values()) + 1
    ring.update({int(i): outer_ring for i in outer})
    lips = set(ring) - set(CORNERS.tolist())
    label: dict[int, str] = {int(i): "U" for i in UPPER_LIP_INNER_SET} | {int(i): "L" for i in LOWER_LIP_INNER_SET}
    dist = dict.fromkeys(label, 0)
    queue = deque(label)
    while queue:
        v = queue.popleft()
        for u in neighbours[v]:
            if u not in lips:
                continue
            if u not in dist:
                dist[u], label[u] = dist[v] + 1, label[v]
                queue.append(u)
            elif dist[u] == dist[v] + 1 and label[u] != label[v]:
                label[u] = "L"
    depth = np.zeros(mesh.NUM_LANDMARKS)
    for i, r in ring.items():
        depth[i] = 1.0 - r / outer_ring
    upper = np.array(sorted(i for i, s in label.items() if s == "U"))
    lower = np.array(sorted(i for i, s in label.items() if s == "L"))
    return LipTopology(upper, lower, depth)


def check_reference(points: np.ndarray) -> list[str]:
    """What is implausible about a face's rest landmarks (empty: a face that can be animated fully).

    Checked in the face's own frame (eyes level, unit = face height): the features in their order
    from the eyes down to the chin, a mouth of a sensible width and a mesh without folded triangles.
    Lips read slightly crossed are not listed: the rig treats them as closed.
    """
    frame = FaceFrame.of(points.astype(np.float64))
    loc = frame.local(points.astype(np.float64))
    problems = []
    eyes_y = loc[[mesh.RIGHT_EYE_OUTER, mesh.LEFT_EYE_OUTER], 1].mean()
    order = [eyes_y, 0.0, loc[mesh.UPPER_LIP_OUTER, 1], loc[mesh.LOWER_LIP_OUTER, 1], loc[mesh.CHIN, 1]]
    if frame.scale < 8 or not all(b - a > 0.02 for a, b in zip(order, order[1:])):
        problems.append("the eyes, nose, mouth and chin are not in their usual order")
    width = abs(loc[mesh.MOUTH_CORNER_LEFT, 0] - loc[mesh.MOUTH_CORNER_RIGHT, 0])
    if not 0.15 <= width <= 0.8:
        problems.append(f"the mouth is {width:.2f} face heights wide")
    # Folds around the mouth (what speech moves); a turned head folds its far cheek, which is fine.
    tris = mesh_triangles()
    mouth = loc[[mesh.UPPER_LIP_OUTER, mesh.LOWER_LIP_OUTER]].mean(axis=0)
    tris = tris[(np.linalg.norm(loc[tris] - mouth, axis=2) < 0.3).all(axis=1)]
    e1, e2 = loc[tris[:, 1]] - loc[tris[:, 0]], loc[tris[:, 2]] - loc[tris[:, 0]]
    turn = np.sign(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    folded = float(np.mean(turn != np.sign(np.sum(turn))))
    if folded > 0.2:
        problems.append(f"{folded:.0%} of the mesh around the mouth is folded")
    return problems


class FaceRig:
    """Precomputed per-landmark weights of a reference face: ``mouth`` and ``lids`` give displacements.

    ``problems`` says what :func:`check_reference` found; a face with problems moves with
    ``gain`` = DEGRADED_GAIN instead of 1 (a smaller motion where the landmarks cannot be trusted).
    """

    def __init__(self, reference: np.ndarray) -> None:
        self.reference = reference.astype(np.float64)
        self.frame = FaceFrame.of(self.reference)
        self.loc = loc = self.frame.local(self.reference)
        self.problems = check_reference(self.reference)
        self.gain = DEGRADED_GAIN if self.problems else 1.0
        lips = lip_topology()
        upper, lower, depth = lips.upper, lips.lower, lips.depth
        chin_y = loc[mesh.CHIN, 1]
        mouth_y = loc[[mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT], 1].mean()
        lip_y = loc[mesh.LOWER_LIP_OUTER, 1]
        # Jaw: the lower lip drops by the opening; below it the skin follows, the chin by
        # CHIN_PER_GAP of it; the mandible turns about the ears, so the jaw's sides move less.
        t = (loc[:, 1] - mouth_y) / max(chin_y - mouth_y, 1e-3)
        member = np.clip((t + 0.1) / 0.35, 0.0, 1.0)
        member = member * member * (3 - 2 * member)
        below = np.clip((loc[:, 1] - lip_y) / max(chin_y - lip_y, 1e-3), 0.0, 1.0)
        reach = 1.0 - below * (1.0 - CHIN_PER_GAP / (1.0 - UPPER_LIP_LIFT))
        half_w = max(float(np.abs(loc[mesh.face_oval_loop(), 0]).max()), 1e-3)
        side = np.clip(1.0 - np.clip(np.abs(loc[:, 0]) / half_w - 0.25, 0.0, None), 0.25, 1.0)
        # The lips open as a lens, not a box: they part less toward the corners, which hardly move
        # (the thin wedges of mesh at the corners would fold), the skin just below the lower lip
        # follows it, and the chin moves as one piece.
        centre_x = loc[[mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT], 0].mean()
        mouth_half = max(0.5 * abs(loc[mesh.MOUTH_CORNER_LEFT, 0] - loc[mesh.MOUTH_CORNER_RIGHT, 0]), 1e-3)
        taper = np.clip(1.0 - ((loc[:, 0] - centre_x) / mouth_half) ** 2, 0.1, 1.0)
        drop = member * reach * side * (taper + (1.0 - taper) * below)
        drop[upper], drop[lower], drop[CORNERS] = 0.0, taper[lower], 0.0
        self.jaw = np.stack([-0.04 * loc[:, 0] * member, drop], axis=1)  # the chin narrows a little as it drops
        # Upper-lip lift shows the upper teeth on wide openings.
        self.lift = np.zeros_like(loc)
        self.lift[upper, 1] = -taper[upper]
        # Spread (width +1 = corners out by half the mouth's width each), falling off from each corner.
        mouth_w = max(abs(loc[mesh.MOUTH_CORNER_LEFT, 0] - loc[mesh.MOUTH_CORNER_RIGHT, 0]), 1e-3)
        self.spread = np.zeros_like(loc)
        for corner, sign in ((mesh.MOUTH_CORNER_LEFT, 1.0), (mesh.MOUTH_CORNER_RIGHT, -1.0)):
            dist = np.linalg.norm(loc - loc[corner], axis=1)
            self.spread[:, 0] += sign * np.exp(-((dist / (0.45 * mouth_w)) ** 2)) * 0.5 * mouth_w
        # Closing a mouth that is open in the photo (a smile showing teeth): the inner lip edges
        # meet on the midline between them, each lip's rings follow by depth (outer edge: half),
        # and the jaw stays, so the face keeps its shape (and its identity). Lips read crossed
        # count as closed (no negative gap).
        inner_u, inner_l = loc[UPPER_LIP_INNER_SET], loc[LOWER_LIP_INNER_SET]  # pairs, one above the other
        order = np.argsort(inner_u[:, 0])
        half_gap = np.clip(0.5 * (inner_l[order, 1] - inner_u[order, 1]), 0.0, None)
        reach_x = np.interp(loc[:, 0], inner_u[order, 0], half_gap)
        self.gap0 = float(max(loc[mesh.LOWER_LIP_INNER, 1] - loc[mesh.UPPER_LIP_INNER, 1], 0.0))
        self.lip_close = np.zeros_like(loc)
        self.lip_close[upper, 1] = (0.5 + 0.5 * depth[upper]) * reach_x[upper] * 2 * UPPER_LIP_SHARE
        self.lip_close[lower, 1] = -(0.5 + 0.5 * depth[lower]) * reach_x[lower] * 2 * (1 - UPPER_LIP_SHARE)
        self._lid_targets = self._lid_pairs(loc)
        self.brow_weight = brow_weights(loc)
        # How far the brows may come down: a share of the skin between them and the lids (lowered
        # further, that strip is squeezed into a fold of the warp; real frowns hide it instead).
        gaps = [loc[lids, 1].min() - loc[brow, 1].max() for brow, lids in zip(BROWS, UPPER_LIDS)]
        self.brow_floor = -BROW_DOWN_SHARE * min(gaps)
        self.eye_width = [float(np.linalg.norm(loc[a] - loc[b])) for a, b in EYE_CORNERS]

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

    def mouth(self, gap: np.ndarray, width: np.ndarray) -> np.ndarray:
        """(T, 478, 2) jaw and lip displacements in output pixels for a wanted inner-lip ``gap``
        (face heights, 0 = lips together) and relative mouth ``width`` change (+ spread, − round)."""
        gap = self.gap0 + (np.clip(np.asarray(gap, np.float64), 0.0, 1.5 * MAX_GAP) - self.gap0) * self.gain
        width = np.clip(np.asarray(width, np.float64), -0.3, 0.3) * self.gain
        # Narrower than the photo: the lips close a little by themselves, the jaw rises for the rest
        # (a wide-open photo closes with its chin, not with a lower lip stretched to twice its height).
        closing = np.clip(self.gap0 - gap, 0.0, None)
        by_lips = np.minimum(closing, LIPS_CLOSE)
        close = by_lips / max(self.gap0, 1e-6)  # 1 = lips together
        wider = np.clip(gap - self.gap0, 0.0, None) - (closing - by_lips) / (1 - UPPER_LIP_LIFT)
        d = (((1 - UPPER_LIP_LIFT) * wider)[:, None, None] * self.jaw[None]
             + (UPPER_LIP_LIFT * np.clip(wider, 0.0, None))[:, None, None] * self.lift[None]
             + close[:, None, None] * self.lip_close[None]
             + width[:, None, None] * self.spread[None])  # fmt: skip
        return self.frame.vector_to_global(d).astype(np.float32)

    def opening(self, displacement: np.ndarray) -> np.ndarray:
        """(T,) the inner-lip gap (face heights, 0 = lips together) of the reference moved by
        ``displacement`` (T, 478, 2, output pixels)."""
        lips = [mesh.UPPER_LIP_INNER, mesh.LOWER_LIP_INNER]
        moved = self.loc[lips][None] + displacement[:, lips] @ self.frame.rot / self.frame.scale
        return np.clip(moved[:, 1, 1] - moved[:, 0, 1], 0.0, None).astype(np.float32)

    def brows(self, raise_: np.ndarray) -> np.ndarray:
        """(T, 478, 2) brow displacements in output pixels for a raise of ``raise_`` face heights
        (+ up) above the photo's own brows; the forehead above them follows, the eyes stay. They come
        down at most BROW_DOWN_SHARE of the way to the lids."""
        d = np.zeros((len(raise_), len(self.loc), 2))
        raise_ = np.maximum(np.asarray(raise_, np.float64), min(self.brow_floor, 0.0))
        d[:, :, 1] = -raise_[:, None] * self.brow_weight[None] * self.gain
        return self.frame.vector_to_global(d).astype(np.float32)

    def gaze(self, gaze: np.ndarray) -> np.ndarray:
        """(T, 478, 2) iris displacements in output pixels for a gaze (T, 2) in eye widths (+ right, down)."""
        d = np.zeros((len(gaze), len(self.loc), 2))
        for iris, width in zip(IRISES, self.eye_width):
            d[:, iris, :] = np.asarray(gaze, np.float64)[:, None, :] * width
        return self.frame.vector_to_global(d).astype(np.float32)

    def lids(self, blink: np.ndarray) -> np.ndarray:
        """(T, 478, 2) eyelid displacements in output pixels (1 = shut, a sliver left open)."""
        d = np.zeros((len(blink), len(self.loc), 2))
        for upper, delta in self._lid_targets:
            d[:, upper, :] += blink[:, None, None] * 0.9 * delta[None]
        return self.frame.vector_to_global(d).astype(np.float32)


def brow_weights(loc: np.ndarray) -> np.ndarray:
    """(478,) how much of a brow raise each point of a face (``loc``: in its own frame,
    :meth:`FaceFrame.local`) follows: 1 on the brows, down to 0 at the top of the upper lids (the
    eyes stay) and to 0.4 at the top of the forehead (the scalp moves less), fading out sideways
    beyond each brow's outer end."""
    weight = np.zeros(len(loc))
    y_top = loc[mesh.FOREHEAD, 1]
    for brow, lids in zip(BROWS, UPPER_LIDS):
        y_low, y_high, y_lid = loc[brow, 1].max(), loc[brow, 1].min(), loc[lids, 1].min()
        below = np.clip((y_lid - loc[:, 1]) / max(y_lid - y_low, 1e-3), 0.0, 1.0)
        above = np.clip((y_high - loc[:, 1]) / max(y_high - y_top, 1e-3), 0.0, 1.0)
        vertical = np.where(loc[:, 1] > y_low, below * below * (3 - 2 * below), 1.0 - 0.6 * above)
        # Sideways the raise fades out beyond the brow's outer end; between the brows the forehead rises.
        outer = loc[brow, 0].min() - loc[:, 0] if loc[brow, 0].mean() < 0 else loc[:, 0] - loc[brow, 0].max()
        outside = np.clip(outer / 0.08, 0.0, 1.0)
        weight = np.maximum(weight, vertical * (1.0 - outside * outside * (3 - 2 * outside)))
    weight[468:] = 0.0  # irises move with the gaze only
    return weight


@functools.lru_cache(maxsize=None)
def mesh_triangles() -> np.ndarray:
    """(K, 3) the face mesh's triangles (3-cycles of its tessellation edges), consistently oriented:
    every shared edge is walked in opposite directions by its two triangles, so on an unfolded face
    all of them turn the same way."""
    edges = {(int(a), int(b)) for a, b in mesh.connections("TESSELATION")}
    edges |= {(b, a) for a, b in edges}
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
    tris = sorted({tuple(sorted((a, b, c))) for a, b in edges if a < b for c in neighbours[a] & neighbours[b]})
    by_edge: dict[frozenset, list[int]] = {}
    for k, (a, b, c) in enumerate(tris):
        for e in ((a, b), (b, c), (c, a)):
            by_edge.setdefault(frozenset(e), []).append(k)
    oriented: dict[int, tuple[int, int, int]] = {}
    for seed in range(len(tris)):
        if seed in oriented:
            continue
        oriented[seed] = tris[seed]
        queue = deque([seed])
        while queue:
            k = queue.popleft()
            a, b, c = oriented[k]
            for u, v in ((a, b), (b, c), (c, a)):
                for j in by_edge[frozenset((u, v))]:
                    if j not in oriented:
                        x, y, z = tris[j]
                        t = (x, y, z)
                        # j must walk the shared edge as v -> u
                        if any(t[i] == v and t[(i + 1) % 3] == u for i in range(3)):
                            oriented[j] = t
                        else:
                            oriented[j] = (x, z, y)
                        queue.append(j)
    return np.array([oriented[k] for k in range(len(tris))], np.int32)


def head_transform(head: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """(T, 2, 3) similarity matrices of a track's head (T, 6) about ``pivot``: its roll, translation
    and scale (the planar part; :func:`turn` does pitch and yaw before it)."""
    roll = np.deg2rad(head[:, ROLL])
    s = 1.0 + head[:, SCALE]
    c, si = np.cos(roll) * s, np.sin(roll) * s
    m = np.zeros((len(head), 2, 3), np.float64)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -si, si, c
    m[:, :, 2] = pivot[None] - np.einsum("tij,j->ti", m[:, :, :2], pivot) + head[:, [DX, DY]]
    return m


def relative_depth(reference: np.ndarray, depth: np.ndarray | None) -> np.ndarray:
    """(N,) each point's depth (output pixels, + away from the camera) from the neck's turning axis:
    DEPTH_GAIN x MediaPipe's depth of the reference about the face's median, minus HEAD_DEPTH face
    heights.

    The depth is smoothed over the face (a Gaussian of 0.05 face heights): a turn must not slide the
    upper lip over the lower one or a lid across the eye (a fold in the warp), which the lips' and
    lids' own depths do on a closed mouth. Without a depth (a track made from 2-D points) the face is read as flat: turning it
    then shifts it as a whole, which is most of what a few degrees do."""
    face_h = float(mesh.face_height(reference))
    if depth is None:
        return np.full(len(reference), -HEAD_DEPTH * face_h)
    z = np.asarray(depth, np.float64) - np.median(np.asarray(depth, np.float64)[:468])
    apart = np.linalg.norm(reference[:, None] - reference[None, :468], axis=2)
    near = np.exp(-0.5 * (apart / (0.05 * face_h)) ** 2)
    z = near @ z[:468] / near.sum(axis=1)
    return DEPTH_GAIN * z - HEAD_DEPTH * face_h


def turn(points: np.ndarray, z: np.ndarray, head: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """(T, N, 2) points (T or 1, N, 2) turned in 3-D by each frame's pitch (chin down > 0) and yaw (nose to
    the image's right > 0) about the neck (``pivot`` on screen, depth ``z`` from :func:`relative_depth`)
    and seen again from the front (orthographic). Signs as :mod:`portraittalk.training.motion_corpus`."""
    pitch, yaw = np.deg2rad(head[:, PITCH]), np.deg2rad(head[:, YAW])
    cp, sp, cy, sy = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    x, y = points[..., 0] - pivot[0], points[..., 1] - pivot[1]
    out = np.empty((len(head),) + points.shape[1:], np.float64)
    out[..., 0] = cy[:, None] * x - (sy * sp)[:, None] * y - (sy * cp)[:, None] * z[None] + pivot[0]
    out[..., 1] = cp[:, None] * y - sp[:, None] * z[None] + pivot[1]
    return out


def compose(reference: np.ndarray, expression: np.ndarray, head: np.ndarray,
            depth: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """(T, 478, 2) float64 landmarks: the reference moved by the expression, turned by pitch and yaw
    (``depth``: :func:`relative_depth` of the reference; None: a flat face), then placed by the
    head's roll, translation and scale (the one place a track's parameters become points)."""
    reference = np.asarray(reference, np.float64)
    head = np.asarray(head, np.float64)
    pivot = head_pivot(reference)
    points = reference[None] + expression
    if np.any(head[:, [PITCH, YAW]]):
        points = turn(points, relative_depth(reference, None) if depth is None else depth, head, pivot)
    return apply_affines(head_transform(head, pivot), points)


def head_pivot(reference: np.ndarray) -> np.ndarray:
    """Where the head turns: below the chin, near the top of the neck."""
    chin = reference[mesh.CHIN]
    return (chin + 0.25 * (chin - reference[mesh.NOSE_TIP])).astype(np.float64)


def apply_affines(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(T, N, 2): frame t's points moved by its (2, 3) affine matrix (a batched matmul, 5x faster
    than the equivalent einsum)."""
    return points @ m[:, :, :2].transpose(0, 2, 1) + m[:, None, :, 2]


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of (T, 2, 3) affine matrices (closed form: no LAPACK call for a stack of 2x2s)."""
    a, b, c, d = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
    det = a * d - b * c
    inv = np.stack([np.stack([d, -b], axis=1), np.stack([-c, a], axis=1)], axis=1) / det[:, None, None]
    return np.concatenate([inv, -np.einsum("tij,tj->ti", inv, m[:, :, 2])[:, :, None]], axis=2)
