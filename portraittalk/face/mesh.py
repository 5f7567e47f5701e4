"""MediaPipe FaceMesh topology (478 points with irises): named index groups used everywhere."""
from __future__ import annotations

import functools

import numpy as np

NUM_LANDMARKS = 478

# Single points (MediaPipe canonical face model numbering; "left" = the subject's left).
UPPER_LIP_INNER = 13
LOWER_LIP_INNER = 14
UPPER_LIP_OUTER = 0
LOWER_LIP_OUTER = 17
MOUTH_CORNER_RIGHT = 61
MOUTH_CORNER_LEFT = 291
FOREHEAD = 10
CHIN = 152
NOSE_TIP = 1
MAX_OPEN = 0.14  # face heights: the widest any mouth is drawn (inner-lip gap), whatever the controls ask
RIGHT_EYE_UPPER, RIGHT_EYE_LOWER = 159, 145
LEFT_EYE_UPPER, LEFT_EYE_LOWER = 386, 374
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473


@functools.lru_cache(maxsize=None)
def connections(name: str) -> np.ndarray:
    """Edges (E, 2) of a MediaPipe connection set, e.g. ``"LIPS"``, ``"FACE_OVAL"``, ``"TESSELATION"``."""
    from .mediapipe_import import mediapipe

    fmc = mediapipe().solutions.face_mesh_connections

    edges = getattr(fmc, f"FACEMESH_{name}")
    return np.array(sorted(edges), dtype=np.int32)


@functools.lru_cache(maxsize=None)
def ordered_loop(name: str) -> np.ndarray:
    """The vertices of a closed connection set (``FACE_OVAL``, ``LIPS`` parts...) in walking order."""
    edges = connections(name)
    nxt: dict[int, list[int]] = {}
    for a, b in edges:
        nxt.setdefault(int(a), []).append(int(b))
        nxt.setdefault(int(b), []).append(int(a))
    start = int(edges[0, 0])
    loop, prev, cur = [start], None, start
    while True:
        candidates = [n for n in nxt[cur] if n != prev]
        if not candidates or candidates[0] == start:
            break
        prev, cur = cur, candidates[0]
        loop.append(cur)
    return np.array(loop, dtype=np.int32)


@functools.lru_cache(maxsize=None)
def lips_inner_loop() -> np.ndarray:
    """The inner lip contour (the mouth opening), in walking order."""
    return _lip_loop(inner=True)


@functools.lru_cache(maxsize=None)
def lips_outer_loop() -> np.ndarray:
    """The outer lip contour, in walking order."""
    return _lip_loop(inner=False)


@functools.lru_cache(maxsize=None)
def eye_points() -> np.ndarray:
    """Every point of both eyes' contours and irises: what blinks move (not speech)."""
    sets = [connections(name) for name in ("LEFT_EYE", "RIGHT_EYE", "LEFT_IRIS", "RIGHT_IRIS")]
    return np.unique(np.concatenate([e.ravel() for e in sets])).astype(np.int32)


# The lip set in MediaPipe is two closed loops; these are their members (canonical model).
_LIPS_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
_LIPS_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]


def _lip_loop(inner: bool) -> np.ndarray:
    return np.array(_LIPS_INNER if inner else _LIPS_OUTER, dtype=np.int32)


@functools.lru_cache(maxsize=None)
def face_oval_loop() -> np.ndarray:
    """The face outline (forehead, temples, jaw), in walking order."""
    return ordered_loop("FACE_OVAL")


def face_height(points: np.ndarray) -> np.ndarray:
    """Forehead-to-chin distance, the scale used to normalise mouth measurements. Works on (..., 478, 2)."""
    return np.linalg.norm(points[..., FOREHEAD, :2] - points[..., CHIN, :2], axis=-1)


def mouth_aperture(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap / face height (0 = closed). Works on (..., 478, 2)."""
    gap = np.linalg.norm(points[..., UPPER_LIP_INNER, :2] - points[..., LOWER_LIP_INNER, :2], axis=-1)
    return gap / np.maximum(face_height(points), 1e-6)


def eye_openness(points: np.ndarray) -> np.ndarray:
    """Mean lid gap / eye width over both eyes. Works on (..., 478, 2)."""
    def one(up: int, lo: int, a: int, b: int) -> np.ndarray:
        gap = np.linalg.norm(points[..., up, :2] - points[..., lo, :2], axis=-1)
        return gap / np.maximum(np.linalg.norm(points[..., a, :2] - points[..., b, :2], axis=-1), 1e-6)

    return 0.5 * (one(RIGHT_EYE_UPPER, RIGHT_EYE_LOWER, RIGHT_EYE_OUTER, RIGHT_EYE_INNER)
                  + one(LEFT_EYE_UPPER, LEFT_EYE_LOWER, LEFT_EYE_OUTER, LEFT_EYE_INNER))  # fmt: skip
