"""Drawing the face mesh: previews over frames and AnimateNet's colour-coded condition images.

Two condition styles, recorded with AnimateNet's weights (``drawing_style`` in its config), because a
network only understands the drawing it was trained on:

- ``"portraittalk"``: the whole mesh in grey, parts in colour, upper and lower lip told apart,
  anti-aliased with sub-pixel precision (PortraitTalk-trained weights);
- ``"laion-face"``: the LAION-Face annotator that CrucibleAI's ControlNetMediaPipeFace was trained
  on: MediaPipe's ``drawing_utils.draw_landmarks`` of the face oval, eyes, eyebrows and lips, 2 px
  8-connected (not anti-aliased) lines at whole-pixel positions, plus the two pupils as 4x4 squares.
  It draws in BGR and flips the canvas to RGB at the end, so the colours below are BGR.
"""
from __future__ import annotations

import numpy as np

from .mesh import connections

DRAWING_STYLES = ("portraittalk", "laion-face")

LAION_FACE_PARTS: tuple[tuple[str, tuple[int, int, int]], ...] = (  # in the annotator's drawing order, BGR
    ("FACE_OVAL", (10, 200, 10)),
    ("LEFT_EYE", (180, 200, 10)),
    ("LEFT_EYEBROW", (180, 220, 10)),
    ("RIGHT_EYE", (10, 200, 180)),
    ("RIGHT_EYEBROW", (10, 220, 180)),
    ("LIPS", (10, 180, 10)),
)
LAION_FACE_PUPILS: tuple[tuple[int, tuple[int, int, int]], ...] = ((468, (10, 200, 250)), (473, (250, 200, 10)))
LAION_FACE_THICKNESS = 2
LAION_FACE_PUPIL_HALF = 2  # a pupil covers [x - 2, x + 2) x [y - 2, y + 2)

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


def draw_condition(points: np.ndarray, size: tuple[int, int], thickness: int = 2,
                   style: str = "portraittalk") -> np.ndarray:  # fmt: skip
    """The structure condition: coloured MediaPipe parts on a black (H, W, 3) RGB canvas, in ``style``."""
    if style == "laion-face":
        return _draw_laion_face(points, size)
    if style != "portraittalk":
        raise ValueError(f"drawing style must be one of {DRAWING_STYLES} (got {style!r})")
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


def _draw_laion_face(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The LAION-Face annotation of pixel-coordinate ``points`` (see the module docstring). The
    annotator gets MediaPipe's float32 fractions of the image size; a point outside [0, 1] (or NaN)
    is not drawn, nor are its lines."""
    import cv2

    width, height = size
    canvas = np.zeros((height, width, 3), np.uint8)  # BGR, as the annotator draws
    fractions = (np.asarray(points, np.float64) / [width, height]).astype(np.float32).astype(np.float64)
    inside = np.all((fractions >= 0) & (fractions <= 1), axis=1)  # False for NaN
    fractions = np.nan_to_num(fractions, nan=-1.0)
    pixels = np.minimum(np.floor(fractions * [width, height]), [width - 1, height - 1]).astype(np.int64)
    for part, colour in LAION_FACE_PARTS:
        for a, b in connections(part):
            if inside[a] and inside[b]:
                cv2.line(canvas, (int(pixels[a, 0]), int(pixels[a, 1])), (int(pixels[b, 0]), int(pixels[b, 1])),
                         colour, LAION_FACE_THICKNESS)  # fmt: skip
    half = LAION_FACE_PUPIL_HALF
    for index, colour in LAION_FACE_PUPILS:
        fx, fy = fractions[index]
        if 0 <= fx < 1 and 0 <= fy < 1:
            x, y = int(width * fx), int(height * fy)
            canvas[y - half:y + half, x - half:x + half] = colour
    return np.ascontiguousarray(canvas[..., ::-1])


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
