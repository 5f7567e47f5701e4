"""Where closed lips meet: a thin crease of the lips' shadow colour, which hides a photo's teeth
between lips drawn together and covers a bright seam of skin the warp can pull between them."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...face import mesh
from ...motion.geometry import LOWER_LIP_INNER_SET, UPPER_LIP_INNER_SET

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
CREASE_SHADE = 0.7  # the crease between closed lips is the lips' colour this much darker
SEAM_MARGIN = 15.0  # levels above the lips' median from which a pixel between closed lips is a seam
SEAM_CONTRAST = 30.0  # levels more at which it is all seam
# The squeezed opening's raster takes whole pixels (its width + up to 1 px): the crease is this many of
# its blur's sigmas wider, so that the blur leaves it whole over all of them (else a staircase shows)...
CORE_SIGMAS = 2.0
# ... its core no softer than this (px): a soft photo's crease is a soft line, not a dark band (which
# reads as lips apart: MediaPipe found a blurred 1927 photo's closed mouth 0.020 open, 0.014 before).
CORE_SOFTNESS = 1.0
SEAM_COVER = 2.0  # px more for a seam of skin the warp pulls between a photo's closed lips (it runs wider)
SKIN_NEAR = 20.0  # levels (RGB distance) from the skin around the lips within which a pixel is that skin
SKIN_RING = 0.1  # of the mouth's width: the band outside the outer lips whose median is that skin


def box_around(points: np.ndarray, shape: tuple[int, ...], before: int,
               after: int) -> Optional[tuple[int, int, int, int]]:  # fmt: skip
    """(x0, y0, x1, y1): the pixels around ``points`` with a margin, cut to the frame; None when
    fewer than 3 px are left either way (nothing worth drawing)."""
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - before
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + after
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])
    return None if x1 - x0 < 3 or y1 - y0 < 3 else (int(x0), int(y0), int(x1), int(y1))


def crease(frame: np.ndarray, lm: np.ndarray, colour: np.ndarray, edge: float,
           only_brighter: bool = False) -> np.ndarray:  # fmt: skip
    """A thin line of the lips' shadow ``colour`` where the inner lips meet (corner to corner), as soft
    as the photo's edges (``edge``, a Gaussian sigma in px);
    ``only_brighter``: only over pixels brighter than the lips themselves (a seam of skin), the rest
    left as it is; else over the mouth only: cut where it runs on past the mouth over the skin."""
    import cv2

    corners = lm[[mesh.lips_inner_loop()[0]]], lm[[mesh.lips_inner_loop()[10]]]
    middle = 0.5 * (lm[UPPER_LIP_INNER_SET] + lm[LOWER_LIP_INNER_SET])
    line = np.concatenate([corners[0], middle, corners[1]])
    gap = float(np.abs(lm[UPPER_LIP_INNER_SET, 1] - lm[LOWER_LIP_INNER_SET, 1]).max())
    # Covers a seam of skin widely; the photo's teeth squeezed between the lips whole after the blur.
    width = max(1.6, gap + 1.0) + (SEAM_COVER if only_brighter else CORE_SIGMAS * min(edge, CORE_SOFTNESS))
    if not only_brighter:
        over = over_mouth(frame, line, skin_around(frame, lm), width)
        if over is None:
            return frame
        line = over
    box = box_around(line, frame.shape, 4, 5)
    if box is None:
        return frame
    x0, y0, x1, y1 = box
    mask = np.zeros(((y1 - y0) * 4, (x1 - x0) * 4), np.uint8)
    thickness = int(round(4 * width))
    cv2.polylines(mask, [np.round((line - [x0, y0]) * 4).astype(np.int32)], False, 255, thickness, cv2.LINE_AA)
    band = cv2.resize(mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.GaussianBlur(band, (0, 0), edge)
    if not only_brighter:  # its core as sharp as CORE_SOFTNESS, its edge as soft as the photo's
        alpha = np.maximum(alpha, cv2.GaussianBlur(band, (0, 0), min(edge, CORE_SOFTNESS)))
    alpha = alpha[..., None] / 255 * 0.85
    frame = frame.copy()
    region = frame[y0:y1, x0:x1].astype(np.float32)
    if only_brighter:  # all of a seam's brightness goes
        lips = float(colour @ LUMA) / CREASE_SHADE + SEAM_MARGIN  # brighter than the lips themselves: skin
        alpha = alpha / 0.85 * np.clip((region @ LUMA - lips) / SEAM_CONTRAST, 0.0, 1.0)[..., None]
    frame[y0:y1, x0:x1] = (region * (1 - alpha) + colour * alpha).round().astype(np.uint8)
    return frame


def skin_around(frame: np.ndarray, lm: np.ndarray) -> Optional[np.ndarray]:
    """(3,) the median colour of a band just outside the outer lips: the skin the mouth sits in (None
    when the frame holds none of that band)."""
    import cv2

    outer = lm[mesh.lips_outer_loop()]
    ring = max(2, int(round(SKIN_RING * float(np.ptp(outer[:, 0])))))
    box = box_around(outer, frame.shape, ring + 1, ring + 2)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    lips = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(lips, [np.round(outer - [x0, y0]).astype(np.int32)], 1)
    band = cv2.dilate(lips, np.ones((2 * ring + 1,) * 2, np.uint8)) > lips
    return np.median(frame[y0:y1, x0:x1][band], axis=0).astype(np.float32) if band.any() else None


def over_mouth(frame: np.ndarray, line: np.ndarray, skin: Optional[np.ndarray],
               width: float) -> Optional[np.ndarray]:  # fmt: skip
    """The stretch of ``line`` (a polyline, px) from where it first meets the mouth to where it last
    leaves it (where it, give or take a px, is not the ``skin`` around the mouth, its grain within
    SKIN_NEAR); an end cut there is drawn back by half the crease's ``width``, its round cap then
    ending on the mouth. A line running on past a drawn mouth over the skin (landmarks misplace a
    drawing's lips) is cut there; it never breaks within the mouth (a drawn stroke may leave it
    there). None: it is all over skin."""
    if skin is None:
        return line
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))])
    s = np.linspace(0.0, along[-1], max(2, int(np.ceil(along[-1])) + 1))  # a sample per px
    xs = np.clip(np.round(np.interp(s, along, line[:, 0])).astype(int), 0, frame.shape[1] - 1)
    ys = np.round(np.interp(s, along, line[:, 1])).astype(int)[:, None] + np.arange(-1, 2)
    near = frame[np.clip(ys, 0, frame.shape[0] - 1), xs[:, None]].astype(np.float32)
    on = np.nonzero((np.linalg.norm(near - skin, axis=2) > SKIN_NEAR).any(axis=1))[0]
    if not len(on):
        return None
    first = s[on[0]] + (0.5 * width if on[0] > 0 else 0.0)
    last = s[on[-1]] - (0.5 * width if on[-1] < len(s) - 1 else 0.0)
    if last <= first:
        return None
    cut = np.array([first, last])
    ends = np.stack([np.interp(cut, along, line[:, 0]), np.interp(cut, along, line[:, 1])], axis=1)
    inside = (along > first) & (along < last)
    return np.concatenate([ends[:1], line[inside], ends[1:]])
