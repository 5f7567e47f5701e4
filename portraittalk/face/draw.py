"""Drawing the face mesh: previews over frames and AnimateNet's colour-coded condition images."""
from __future__ import annotations

import numpy as np

from .mesh import connections

# Part -> RGB colour. Upper and lower lips get different colours so the condition image tells
# the network which lip is which (as in AniPortrait's pose guider input).
PART_COLOURS: dict[str, tuple[int, int, int]] = {
    "FACE_OVAL": (230, 230, 230),
    "LEFT_EYEBROW": (255, 170, 0),
    "RIGHT_EYEBROW": (255, 170, 0),
    "LEFT_EYE": (0, 200, 255),
    "RIGHT_EYE": (0, 200, 255),
    "LEFT_IRIS": (0, 255, 120),
    "RIGHT_IRIS": (0, 255, 120),
    "NOSE": (200, 0, 255),
}
UPPER_LIP_COLOUR = (255, 40, 40)
LOWER_LIP_COLOUR = (255, 220, 40)
_UPPER_LIP = {61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308}


def _lines(canvas: np.ndarray, points: np.ndarray, edges: np.ndarray, colour, thickness: int) -> None:
    import cv2

    pts = np.round(points * 4).astype(np.int32)  # 2 bits of sub-pixel precision
    for a, b in edges:
        cv2.line(canvas, tuple(pts[a]), tuple(pts[b]), colour, thickness, cv2.LINE_AA, shift=2)


def draw_condition(points: np.ndarray, size: tuple[int, int], thickness: int = 2) -> np.ndarray:
    """The structure condition: coloured MediaPipe parts on a black (H, W, 3) canvas."""
    width, height = size
    canvas = np.zeros((height, width, 3), np.uint8)
    _lines(canvas, points, connections("TESSELATION"), (60, 60, 60), 1)
    for part, colour in PART_COLOURS.items():
        _lines(canvas, points, connections(part), colour, thickness)
    lips = connections("LIPS")
    upper = np.array([e for e in lips if e[0] in _UPPER_LIP and e[1] in _UPPER_LIP])
    lower = np.array([e for e in lips if not (e[0] in _UPPER_LIP and e[1] in _UPPER_LIP)])
    _lines(canvas, points, upper, UPPER_LIP_COLOUR, thickness)
    _lines(canvas, points, lower, LOWER_LIP_COLOUR, thickness)
    return canvas


def draw_preview(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The mesh drawn over a frame (for `portraittalk landmarks --preview` and the app's motion view)."""
    out = image.copy()
    if np.isnan(points).any():
        return out
    _lines(out, points, connections("TESSELATION"), (90, 200, 90), 1)
    for part, colour in PART_COLOURS.items():
        _lines(out, points, connections(part), colour, 1)
    _lines(out, points, connections("LIPS"), UPPER_LIP_COLOUR, 2)
    return out
