"""The mouth up close: does the inside of the mouth look like a real one, and are the lips clean?

For each portrait of a set (portraits/tune, portraits/heldout): generate 6 s of real speech from the
same set with the warp engine, then measure on the rendered frames, with the photo as the yardstick
(written apart from the engine: nothing here reads how the interior is made):

* ``teeth_tint``: the teeth's colour (the bright pixels between the lips on the widest frames, when at
  least 0.04 face heights open and a fifth wider than the photo's own mouth, which until then, stretched,
  fills the opening) against the photo's own teeth where its mouth is open and shows some as coloured as real
  teeth are; else against its eye whites, where they are as coloured as real speakers' are (the fit
  clips, ``docs/measured/teeth_colour.json``) or were chosen by a painter (a painting, a cartoon, a
  render: its white is its maker's), taken with real speakers' teeth as a span (teeth anywhere between
  the picture's white and real teeth' colour); else against real speakers' teeth. The distance of their
  chromaticities (r, g, b) / (r + g + b) in percentage points; ``teeth_green``: how much greener than
  that (a grey-green strip); ``teeth_dim``: the teeth's brightness over its (a flat grey strip is dim);
* ``periodic``: a periodic vertical pattern across the teeth band (evenly spaced drawn lines): the
  column profile's autocorrelation at a lag and twice that lag, the best lag's smaller value;
* ``seam``: on frames where the drawn lips are closed, the brightest thin ridge along the line where
  they meet (levels above the pixels 3 px above and below), minus the photo's own; ``speckle``: how
  much that ridge varies along the line beyond the photo's;
* ``step``: on those frames and the widest, a step in the upper or lower lip's outer edge (px at 512): the
  edge traced per column along the lip's middle (the peak of the vertical gradient near the landmark
  contour, to a tenth of a px), the gap between lines fitted to the 5 columns either side of each
  column, beyond the photo's own step at the same place across the mouth (judged only where the photo's
  edge is clear there: a beard, a faint or painted edge leave it unjudged);
* ``sharpness``: the softness (a blur sigma, from how much gradient a further 1-px blur takes from the
  steepest edges) of the photo's face over that of the opening on the widest frames (above 1: an
  interior sharper than the face);
* ``grey``: on a black-and-white photo, the interior's colour (95th percentile of max - min, levels).

Writes a sheet per portrait (the photo's mouth and the three widest openings at 4x over real speakers'
mouths at similar openings from the fit clips) and JSON results; ``--before DIR`` also writes
before/after sheets against a run of an older tree (``--save-frames`` there):

    python benchmarks/mouth.py [--set tune|heldout|all] [--only NAME] [--out outputs/mouth]
        [--json docs/measured/mouth_benchmark.json] [--save-frames] [--before DIR --docs docs/measured]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
SECONDS = 6.0
SIZE = 512
ZOOM = 4
LUMA = np.array([0.299, 0.587, 0.114])
TEETH_OPENING = 0.04  # narrower openings show the lips' inner edge more than teeth: their colour is not judged
# Real speakers' teeth and eye whites, measured on the fit clips (scripts/measure_teeth_colour.py).
REAL = json.loads((ROOT / "docs" / "measured" / "teeth_colour.json").read_text())["relation"]
REAL_TEETH = np.array(REAL["teeth_chromaticity"]["median"]) * 590.0  # their chromaticity at a luma of ~195
EYE_SLACK = 0.02  # eye whites (teeth) this far beyond the range real speakers' span are not the light (paint, blur)
MADE = ("painting", "cartoon", "render_3d")  # pictures whose whites their maker chose (the manifest's kinds)
OWN_MOUTH = 1.2  # a frame opened less than this times the photo's own opening shows mostly its own mouth, stretched
TEETH_LIKE = 0.6  # a photo's bright mouth pixels at most this coloured against its lips are teeth (tongue: 0.7-1)
INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]
UPPER = [191, 80, 81, 82, 13, 312, 311, 310, 415]
LOWER = [95, 88, 178, 87, 14, 317, 402, 318, 324]
EYES = ([33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7],
        [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249])
OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
        149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]  # fmt: skip
UPPER_OUTER = OUTER[:11]  # corner to corner over the top
LOWER_OUTER = OUTER[10:] + OUTER[:1]
EDGE_SPAN = 0.2  # of the mouth's width: the lip edge is traced away from the corners
EDGE_SLOPE = 0.6  # where the contour is steeper (px per column), a step would be a shift sideways: not traced
EDGE_REACH = 0.035  # of the face height: the edge is looked for this far above and below the contour
EDGE_CLEAR = 0.4  # of its median strength: columns where the edge is weaker (a faint stretch) are not judged
EDGE_UNIQUE = 0.6  # a column whose second edge is this strong against its first is not judged
EDGE_MIN = 6.0  # levels per px: an edge fainter than this is not judged at all
STEP_MATCH = 0.04  # of the mouth's width: a photo's own step this near the same place excuses one
STEP_SAME = 1.4  # the edge on either side of a step is as strong to this factor: the same edge, moved
STEP_RUN = 5  # columns each side of a step over which the edge must run on clearly (a line fitted to each)
BARS = {"teeth_tint": 6.0, "teeth_green": 4.0, "teeth_dim": 0.55, "periodic": 0.4, "seam": 60.0, "speckle": 12.0,
        "step": 2.5, "sharpness": 2.2, "grey": 10.0}  # fmt: skip


# -- measures -------------------------------------------------------------------------------------
def face_height(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[10] - lm[152]))


def polygon(shape: tuple[int, ...], points: np.ndarray, erode: int = 0) -> np.ndarray:
    import cv2

    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    if erode:
        mask = cv2.erode(mask, np.ones((2 * erode + 1,) * 2, np.uint8))
    return mask > 0


def eye_white(image: np.ndarray, lm: np.ndarray) -> Optional[np.ndarray]:
    """The eye whites' colour: the brighter, less coloured half of the pixels inside both eyes."""
    mask = polygon(image.shape, lm[EYES[0]]) | polygon(image.shape, lm[EYES[1]])
    pixels = image[mask].astype(np.float64)
    if len(pixels) < 12:
        return None
    luma = pixels @ LUMA
    chroma = pixels.max(axis=1) - pixels.min(axis=1)
    whites = pixels[(luma >= np.percentile(luma, 60)) & (chroma <= np.median(chroma))]
    face = image[polygon(image.shape, lm[OVAL]) & ~mask].astype(np.float64)
    if len(whites) < 6 or float(np.median(whites, axis=0) @ LUMA) < 0.45 * float(np.median(face @ LUMA)):
        return None  # sunglasses or deep shade: no eye whites to judge by
    return np.median(whites, axis=0)


def like_real_eye_whites(white: np.ndarray) -> bool:
    """Eye whites as coloured as real speakers' are (within EYE_SLACK of their range): the light's white,
    not paint, nor a blur of the iris and the skin."""
    span, c = REAL["eye_white_chromaticity"], chromaticity(white)
    return bool(((c >= np.array(span["p10"]) - EYE_SLACK) & (c <= np.array(span["p90"]) + EYE_SLACK)).all())


def teeth_pixels(frame: np.ndarray, lm: np.ndarray) -> Optional[np.ndarray]:
    """The bright pixels inside the opening (the teeth), None when too few show."""
    inside = frame[polygon(frame.shape, lm[INNER], erode=1)].astype(np.float64)
    if len(inside) < 30:
        return None
    luma = inside @ LUMA
    bright = inside[(luma >= np.percentile(luma, 80)) & (luma >= np.median(luma) + 25)]
    return bright if len(bright) >= 10 else None


def chromaticity(rgb: np.ndarray) -> np.ndarray:
    return rgb / max(float(rgb.sum()), 1e-6)


def photo_teeth(photo: np.ndarray, lm: np.ndarray) -> Optional[np.ndarray]:
    """The colour of the teeth the photo itself shows (its mouth at least TEETH_OPENING open and its
    bright pixels there far less coloured than its lips and no nearer their colour than real teeth come:
    not a tongue, a lip's highlight, nor a few teeth blurred into the lipstick of a small mouth), else None."""
    if np.linalg.norm(lm[13] - lm[14]) < TEETH_OPENING * face_height(lm):
        return None
    teeth = teeth_pixels(photo, lm)
    if teeth is None:
        return None
    lips = photo[polygon(photo.shape, lm[OUTER]) & ~polygon(photo.shape, lm[INNER])].astype(np.float64)
    lips = np.median(lips, axis=0)
    grey = np.full(3, 1.0 / 3.0)
    colour = teeth.mean(axis=0)
    coloured = np.linalg.norm(chromaticity(colour) - grey) / max(float(np.linalg.norm(chromaticity(lips) - grey)), 1e-6)
    real, span = chromaticity(REAL_TEETH), REAL["teeth_chromaticity"]
    towards = (chromaticity(lips) - real) / max(float(np.linalg.norm(chromaticity(lips) - real)), 1e-6)
    reach = max(float((np.array(span[k]) - real) @ towards) for k in ("p10", "p90"))  # real teeth' furthest
    lip_coloured = float((chromaticity(colour) - real) @ towards) > reach + EYE_SLACK
    return colour if coloured <= TEETH_LIKE and not lip_coloured else None


def teeth_colour(frame: np.ndarray, lm: np.ndarray, white: Optional[np.ndarray], eye_whites: bool = False) -> dict:
    """teeth_tint, teeth_green (percentage points of chromaticity) and teeth_dim against ``white``: the
    photo's own teeth, else its ``eye_whites``: then the nearest colour between them and real speakers'
    teeth (real teeth are not their eye whites' colour: 3 pp apart at the p10/p90 of the fit clips)."""
    teeth = teeth_pixels(frame, lm)
    if teeth is None:
        return {}
    if white is None:  # no eye whites to judge by: real speakers' teeth
        white = REAL_TEETH
    colour = teeth.mean(axis=0)
    c, e = chromaticity(colour), chromaticity(white)
    if eye_whites:
        real = chromaticity(REAL_TEETH)
        share = float(np.clip(np.dot(c - e, real - e) / max(float(np.dot(real - e, real - e)), 1e-12), 0.0, 1.0))
        e = e + share * (real - e)
    green = (c[1] - 0.5 * (c[0] + c[2])) - (e[1] - 0.5 * (e[0] + e[2]))
    return {"teeth_tint": 100 * float(np.linalg.norm(c - e)), "teeth_green": 100 * float(green),
            "teeth_dim": float(colour @ LUMA / max(float(white @ LUMA), 1.0))}  # fmt: skip


def periodic(frame: np.ndarray, lm: np.ndarray) -> Optional[float]:
    """Evenly spaced vertical lines across the teeth band: the upper part of the opening's middle, its
    column profile (high-passed), autocorrelated; the best lag p's min(ac(p), ac(2p))."""
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float64)
    mask = polygon(frame.shape, lm[INNER], erode=1)
    top, bottom = lm[UPPER, 1].mean(), lm[LOWER, 1].mean()
    if bottom - top < 4:
        return None
    rows = np.arange(frame.shape[0])[:, None]
    band = mask & (rows >= top) & (rows <= top + 0.5 * (bottom - top))
    x0, x1 = lm[[78, 308], 0].min(), lm[[78, 308], 0].max()
    cols = np.arange(int(x0 + 0.15 * (x1 - x0)), int(x1 - 0.15 * (x1 - x0)))
    counts = band[:, cols].sum(axis=0)
    if len(cols) < 24 or (counts == 0).any():
        return None
    profile = (gray[:, cols] * band[:, cols]).sum(axis=0) / counts
    window = max(3, len(cols) // 6) | 1
    high = profile - np.convolve(np.pad(profile, window // 2, mode="edge"), np.ones(window) / window, mode="valid")
    high -= high.mean()
    energy = float((high**2).sum())
    if energy < 1e-6 * len(high) or float(high.std()) < 0.5:  # flat: nothing periodic to see
        return 0.0
    fine = np.interp(np.arange(0, len(high) - 1, 0.25), np.arange(len(high)), high)  # lags of a quarter pixel
    fine -= fine.mean()
    energy = float((fine**2).sum())
    ac = np.array([float((fine[:-p] * fine[p:]).sum()) / energy if p else 1.0 for p in range(len(fine) // 2)])
    return float(max(min(ac[p], ac[2 * p]) for p in range(12, len(fine) // 4)))


def lip_line_ridge(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Along the line where the inner lips meet (corner to corner, every pixel), the brightest thin ridge
    within 1 px of it: its level minus the mean of the pixels 3 px above and below."""
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    line = np.concatenate([lm[[78]], 0.5 * (lm[UPPER] + lm[LOWER]), lm[[308]]]).astype(np.float64)
    steps = np.linalg.norm(np.diff(line, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    s = np.arange(0.15 * along[-1], 0.85 * along[-1], 1.0)  # away from the corners
    if len(s) < 4:
        return np.zeros(0)
    x, y = np.interp(s, along, line[:, 0]), np.interp(s, along, line[:, 1])

    def level(dy: float) -> np.ndarray:
        return cv2.remap(gray, x.astype(np.float32)[None], (y + dy).astype(np.float32)[None], cv2.INTER_LINEAR)[0]

    around = 0.5 * (level(-3.0) + level(3.0))
    return np.max([level(d) - around for d in (-1.0, -0.5, 0.0, 0.5, 1.0)], axis=0)


def seam(frame: np.ndarray, lm: np.ndarray, photo: np.ndarray, photo_lm: np.ndarray) -> Optional[dict]:
    """On a frame with closed lips: the brightest 10 % of the lip-line ridge and its spread along the
    line, beyond the photo's own (a photo with an open mouth: beyond none)."""
    ridge = lip_line_ridge(frame, lm)
    if len(ridge) < 4:
        return None
    closed = np.linalg.norm(photo_lm[13] - photo_lm[14]) < 0.012 * face_height(photo_lm)
    own = lip_line_ridge(photo, photo_lm) if closed else np.zeros(1)
    own_bright = float(np.percentile(own, 90)) if len(own) >= 4 else 0.0
    return {"seam": float(np.percentile(ridge, 90)) - max(own_bright, 0.0),
            "speckle": float(np.std(np.diff(ridge))) - (float(np.std(np.diff(own))) if len(own) >= 4 else 0.0)}


def lip_edge(gray: np.ndarray, lm: np.ndarray, contour: list[int], sign: Optional[float] = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:  # fmt: skip
    """Where a lip's outer edge really runs: per column of its middle (away from the corners, where the
    landmark contour is not steep), the row of the strongest vertical gradient of ``sign`` (the photo's:
    one side of a drawn outline, not either) within a few px of the contour, to a tenth of a px.
    (columns, edge rows minus the contour's, gradient strengths, the sign)."""
    import cv2

    points = lm[contour].astype(np.float64)
    points = points[np.argsort(points[:, 0])]
    h = face_height(lm)
    x0, x1 = points[0, 0], points[-1, 0]
    cols = np.arange(int(np.ceil(x0 + EDGE_SPAN * (x1 - x0))), int(x1 - EDGE_SPAN * (x1 - x0)) + 1)
    c = np.interp(cols, points[:, 0], points[:, 1])
    flat = np.abs(np.gradient(c)) < EDGE_SLOPE if len(cols) > 1 else np.zeros(len(cols), bool)
    cols, c = cols[flat], c[flat]
    if len(cols) < 8:
        return cols, np.zeros(0), np.zeros(0), 1.0
    smooth = cv2.GaussianBlur(gray, (1, 0), sigmaX=0.1, sigmaY=0.7)  # along the columns only: a step stays sharp
    grad = np.zeros_like(smooth)
    grad[1:-1] = 0.5 * (smooth[2:] - smooth[:-2])
    if sign is None:  # the edge's darker side: the sign of the strongest gradients near the contour
        g = _column_windows(grad, cols, c, int(np.ceil(EDGE_REACH * h)))[0]
        sign = 1.0 if float(np.take_along_axis(g, np.abs(g).argmax(axis=1)[:, None], 1).sum()) >= 0 else -1.0
    # The contour is a landmark's guess, a few px off the photo's edge: each column's peak within a
    # reach of where the edge runs on the whole (the median offset of the peaks near the contour).
    reach = int(np.ceil(EDGE_REACH * h))
    g, rows = _column_windows(sign * grad, cols, c, reach)
    c = c + float(np.median(rows[np.arange(len(cols)), g.argmax(axis=1)] - np.round(c)))
    g, rows = _column_windows(sign * grad, cols, c, reach)
    k = g.argmax(axis=1)
    # A peak at the window's border (the edge is elsewhere) or a second edge near as strong (a shadow,
    # a fold: which one wins may change column to column) leaves the column unjudged.
    peaks = np.zeros(g.shape, bool)
    peaks[:, 1:-1] = (g[:, 1:-1] >= g[:, :-2]) & (g[:, 1:-1] > g[:, 2:])
    peaks[np.arange(len(cols)), k] = False
    second = np.where(peaks, g, 0.0).max(axis=1)
    inside = (k > 0) & (k < 2 * reach) & (second < EDGE_UNIQUE * g.max(axis=1))
    k = np.clip(k, 1, 2 * reach - 1)
    i = np.arange(len(cols))
    left, mid, right = g[i, k - 1], g[i, k], g[i, k + 1]
    curve = left - 2 * mid + right
    offset = np.where(curve < -1e-6, 0.5 * (left - right) / np.where(curve < -1e-6, curve, -1.0), 0.0)
    return cols, rows[i, k] + np.clip(offset, -0.5, 0.5) - c, np.where(inside, mid, 0.0), sign


def _column_windows(grad: np.ndarray, cols: np.ndarray, centre: np.ndarray, reach: int
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(the gradient, the rows) of each column within ``reach`` rows of ``centre``."""
    rows = np.round(centre).astype(int)[:, None] + np.arange(-reach, reach + 1)[None]
    rows = np.clip(rows, 1, grad.shape[0] - 2)
    return grad[rows, cols[:, None]], rows


def edge_steps(gray: np.ndarray, lm: np.ndarray, contour: list[int], sign: Optional[float] = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:  # fmt: skip
    """(columns, their place across the mouth (0 at one corner, 1 at the other), the step of the edge
    there (px; NaN where not judged), the edge's sign). A step: where the edge is clear over STEP_RUN
    columns on both sides, the gap between the lines fitted to either side, where they meet (a corner
    of the edge, the cupid's bow, is no step; nor is a one-column outlier much of one)."""
    cols, y, strength, sign = lip_edge(gray, lm, contour, sign)
    x0, x1 = lm[contour, 0].min(), lm[contour, 0].max()
    across = (cols - 0.5 - x0) / max(x1 - x0, 1.0)
    jumps = np.full(len(cols), np.nan)
    n = STEP_RUN
    if len(y) < 2 * n + 1:
        return cols, across, jumps, sign
    clear = (strength >= EDGE_CLEAR * max(float(np.median(strength)), 1e-6)) & (strength >= EDGE_MIN)
    # A line through n points at abscissae 0..n-1, evaluated half a column beyond its last.
    u = np.arange(n) - (n - 1) / 2
    end = 1 / n + u * ((n - 1) / 2 + 0.5) / (u**2).sum()
    for x in range(n, len(y) - n + 1):
        if not clear[x - n : x + n].all() or cols[x + n - 1] - cols[x - n] != 2 * n - 1:
            continue
        left, right = float(np.median(strength[x - n : x])), float(np.median(strength[x : x + n]))
        if max(left, right) <= STEP_SAME * min(left, right):  # else another edge (a shadow) takes over there
            jumps[x] = abs(float(y[x - n : x] @ end - y[x : x + n] @ end[::-1]))
    return cols, across, jumps, sign


def step(frame: np.ndarray, lm: np.ndarray, photo: np.ndarray, photo_lm: np.ndarray) -> dict:
    """The largest step in the upper or lower lip's outer edge (px at the render's size) beyond the
    photo's own at the same place across the mouth (a real lip's edge has some: a notch, a beard's
    hair across it), and the column it is at. Only where the photo's own edge is judged there too: a
    beard or a soft shadow that leaves it unclear in the photo leaves it unclear in a frame."""
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    own_gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32)
    worst, at = 0.0, -1
    for contour in (UPPER_OUTER, LOWER_OUTER):
        _, own_across, own, sign = edge_steps(own_gray, photo_lm, contour)
        cols, across, jumps, _ = edge_steps(gray, lm, contour, sign)
        judged = ~np.isnan(own)
        for x, a, j in zip(cols, across, jumps):
            near = judged & (np.abs(own_across - a) <= STEP_MATCH)
            if near.any() and j - float(own[near].max()) > worst:  # NaN (not judged) never is
                worst, at = j - float(own[near].max()), int(x)
    return {"step": float(worst), "step_column": at}


def edge_blur(gray: np.ndarray, mask: np.ndarray) -> Optional[float]:
    """How soft the strongest edges inside ``mask`` are, as a Gaussian sigma (px), contrast-free: an
    edge blurred by s loses gradient to a further 1-px blur by sqrt(s^2 + 1) / s at its steepest
    point (the re-blur estimate); the median over the steepest pixels."""
    import cv2

    def gradient(image: np.ndarray) -> np.ndarray:
        return np.hypot(cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)) / 8

    if mask.sum() <= 20:
        return None
    g, soft = gradient(gray), gradient(cv2.GaussianBlur(gray, (0, 0), 1.0))
    steep = mask & (g >= max(float(np.percentile(g[mask], 90)), 4.0))  # edges, not quantisation or grain
    ratio = g[steep] / np.maximum(soft[steep], 1e-3)
    ratio = ratio[ratio > 1.01]
    if len(ratio) < 5:
        return None
    return float(np.median(np.clip(1.0 / np.sqrt(ratio**2 - 1.0), 0.3, 10.0)))


def sharpness(frame: np.ndarray, lm: np.ndarray, photo: np.ndarray, photo_lm: np.ndarray) -> Optional[float]:
    """The photo face's edge softness over the opening's (above 1: the interior is sharper than the face)."""
    import cv2

    inside = polygon(frame.shape, lm[INNER], erode=1)
    face = polygon(photo.shape, photo_lm[OVAL]) & ~polygon(photo.shape, photo_lm[OUTER])
    interior = edge_blur(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32), inside)
    own = edge_blur(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32), face)
    return None if interior is None or own is None else own / interior


def is_greyscale(photo: np.ndarray, lm: np.ndarray) -> bool:
    face = polygon(photo.shape, lm[OVAL])
    chroma = photo.max(axis=2).astype(np.int16) - photo.min(axis=2)
    return bool(np.percentile(chroma[face], 90) < 6)


def grey(frame: np.ndarray, lm: np.ndarray) -> Optional[float]:
    inside = polygon(frame.shape, lm[INNER], erode=1)
    if inside.sum() < 20:
        return None
    pixels = frame[inside].astype(np.int16)
    return float(np.percentile(pixels.max(axis=1) - pixels.min(axis=1), 95))


def measure(photo: np.ndarray, photo_lm: np.ndarray, frames: list[np.ndarray], lms: np.ndarray,
            made: bool = False) -> dict:  # fmt: skip
    """Every measure over a rendered clip (worst frame of each), with the frames it judged. ``made``: a
    painting, a cartoon, a render (its eye whites are its maker's white, however coloured)."""
    heights = np.array([face_height(lm) for lm in lms])
    gaps = np.linalg.norm(lms[:, 13] - lms[:, 14], axis=1) / heights
    widest = widest_frames(gaps)
    white, eye_whites = photo_teeth(photo, photo_lm), False
    if white is None:
        white = eye_white(photo, photo_lm)
        eye_whites = white is not None and (made or like_real_eye_whites(white))
        white = white if eye_whites else None
    own_gap = float(np.linalg.norm(photo_lm[13] - photo_lm[14])) / face_height(photo_lm)
    out: dict = {"widest": [int(t) for t in widest], "widest_aperture": [round(float(gaps[t]), 4) for t in widest],
                 "yardstick": "eye whites" if eye_whites else "real teeth" if white is None else "the photo's teeth"}
    worst: dict[str, float] = {}
    for t in widest:
        judged = gaps[t] >= max(TEETH_OPENING, OWN_MOUTH * own_gap)
        values = teeth_colour(frames[t], lms[t], white, eye_whites) if judged else {}
        values["periodic"] = periodic(frames[t], lms[t])
        values["sharpness"] = sharpness(frames[t], lms[t], photo, photo_lm)
        if is_greyscale(photo, photo_lm):
            values["grey"] = grey(frames[t], lms[t])
        for k, v in values.items():
            if v is not None:
                worst[k] = max(worst.get(k, -np.inf), v) if k != "teeth_dim" else min(worst.get(k, np.inf), v)
    closed = np.nonzero(gaps < 0.008)[0]
    closed = closed[np.linspace(0, len(closed) - 1, min(len(closed), 12)).astype(int)] if len(closed) else []
    for t in closed:
        values = seam(frames[t], lms[t], photo, photo_lm) or {}
        if values.get("seam", -np.inf) > worst.get("seam", -np.inf):
            out["seam_frame"] = int(t)
        for k, v in values.items():
            worst[k] = max(worst.get(k, -np.inf), v)
    for t in sorted({*widest, *(int(c) for c in closed)}):
        edge = step(frames[t], lms[t], photo, photo_lm)
        if edge["step"] > worst.get("step", -np.inf):
            worst["step"], out["step_frame"], out["step_column"] = edge["step"], t, edge["step_column"]
    out.update({k: round(float(v), 3) for k, v in worst.items()})
    out["failures"] = failures(out)
    out["pass"] = not out["failures"]
    return out


def failures(m: dict) -> list[str]:
    bad = []
    for k, bar in BARS.items():
        if k not in m:
            continue
        if (m[k] < bar) if k == "teeth_dim" else (m[k] > bar):
            bad.append(f"{k} {m[k]} (bar {bar})")
    return bad


def widest_frames(gaps: np.ndarray, k: int = 3, apart: int = 12) -> list[int]:
    picks: list[int] = []
    for t in np.argsort(-gaps):
        if all(abs(int(t) - p) >= apart for p in picks):
            picks.append(int(t))
        if len(picks) == k:
            break
    return sorted(picks)


# -- rendering and sheets -------------------------------------------------------------------------
def render(pt, path: Path, split: str, index: int, seconds: float = SECONDS):
    """(reference, frames, drawn landmarks, speech name) of the set's speech (its first ``seconds``) on
    the portrait."""
    from portraittalk.engines.warp import WarpEngine
    from portraittalk.media import Audio, load_audio

    clips = sorted((DATA / "speech" / split).glob("*.flac"))
    audio = load_audio(clips[index % len(clips)])
    audio = Audio.from_array(audio.samples[: int(seconds * audio.sample_rate)], audio.sample_rate)
    request = pt.defaults.updated(size=SIZE, seed=0)
    ref = pt.analyse([path], SIZE, request.render.crop_margin)[0]
    engine = WarpEngine()
    drawn = engine.drawn(pt.motion(audio, ref, request), request)
    frames = list(engine.frames([ref], drawn, request))
    return ref, frames, np.asarray(drawn.landmarks, np.float64), clips[index % len(clips)].stem


def mouth_crop(image: np.ndarray, lm: np.ndarray, zoom: int = ZOOM, face_h: Optional[float] = None) -> np.ndarray:
    """The mouth (0.5 x 0.3 face heights around the lips) enlarged ``zoom`` times, pixels kept visible."""
    import cv2

    h = face_h or face_height(lm)
    cx, cy = lm[OUTER].mean(axis=0)
    half_w, half_h = 0.25 * h, 0.15 * h
    m = np.float32([[1, 0, half_w - cx], [0, 1, half_h - cy]])
    crop = cv2.warpAffine(image, m, (int(2 * half_w), int(2 * half_h)), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return cv2.resize(crop, (crop.shape[1] * zoom, crop.shape[0] * zoom), interpolation=cv2.INTER_NEAREST)


class RealMouths:
    """Real speakers' mouths from the fit clips (never clips/eval), found by opening."""

    def __init__(self) -> None:
        manifest = json.loads((DATA / "motion_corpus" / "manifest.json").read_text())
        with np.load(DATA / "motion_corpus" / "fit.npz") as data:
            aperture = data["mouth_aperture"].astype(np.float64)
        self.frames = []  # (aperture, clip path, frame)
        for clip in manifest["clips"]:
            if clip["file"] != "fit.npz" or clip["split"] != "fit":
                continue
            for t in range(0, clip["frames"], 2):
                a = aperture[clip["start"] + t]
                if np.isfinite(a):
                    self.frames.append((a, DATA / "clips" / "fit" / f"{clip['id']}.mp4", t))
        self.apertures = np.array([f[0] for f in self.frames])
        self._videos: dict[Path, list[np.ndarray]] = {}

    def near(self, aperture: float, k: int) -> tuple[np.ndarray, np.ndarray]:
        """A real frame at about ``aperture`` (the k-th nearest, to show different speakers) and its landmarks."""
        from portraittalk.face.landmarks import FaceMeshDetector
        from portraittalk.media import read_video

        order = np.argsort(np.abs(self.apertures - aperture))
        seen: set[Path] = set()
        for i in order:
            _, path, t = self.frames[i]
            if path in seen:
                continue
            seen.add(path)
            if len(seen) <= k:
                continue
            if path not in self._videos:
                self._videos[path] = [f for _, f in read_video(path)]
            frame = self._videos[path][min(t, len(self._videos[path]) - 1)]
            with FaceMeshDetector(static=True) as det:
                faces = det.all_faces(frame)
            if faces:
                return frame, faces[0].points.astype(np.float64)
        raise RuntimeError("no real mouth found")


def label(image: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    draw.rectangle((0, 0, 8 * len(text) + 6, 14), fill=(0, 0, 0))
    draw.text((3, 1), text, fill=(255, 255, 0))
    return np.asarray(pil)


def grid(rows: list[list[np.ndarray]]) -> np.ndarray:
    """Tiles in rows (each tile padded to the largest), 4 px gaps."""
    th = max(t.shape[0] for r in rows for t in r)
    tw = max(t.shape[1] for r in rows for t in r)
    cols = max(len(r) for r in rows)
    sheet = np.full((len(rows) * (th + 4), cols * (tw + 4), 3), 24, np.uint8)
    for i, r in enumerate(rows):
        for j, t in enumerate(r):
            sheet[i * (th + 4) : i * (th + 4) + t.shape[0], j * (tw + 4) : j * (tw + 4) + t.shape[1]] = t
    return sheet


def save_jpg(image: np.ndarray, path: Path, quality: int = 82) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=quality)


def sheet(name: str, ref, frames, lms, m: dict, real: RealMouths) -> np.ndarray:
    h = face_height(ref.landmarks)
    top = [label(mouth_crop(ref.image, ref.landmarks), f"{name[:40]} photo")]
    bottom = [label(np.zeros_like(top[0]), "real speakers (fit clips) at the same opening:")]
    for k, (t, a) in enumerate(zip(m["widest"], m["widest_aperture"])):
        top.append(label(mouth_crop(frames[t], lms[t], face_h=h), f"t={t / 25:.2f}s opening {a:.3f}"))
        frame, lm = real.near(a, k)
        bottom.append(label(mouth_crop(frame, lm, face_h=face_height(lm) * 1.0), f"real {a:.3f}"))
    if "seam_frame" in m:
        t = m["seam_frame"]
        top.append(label(mouth_crop(frames[t], lms[t], face_h=h), f"closed t={t / 25:.2f}s seam {m['seam']:.0f}"))
    if "step_frame" in m:  # the worst step in a lip's edge, its column marked below the mouth
        t = m["step_frame"]
        crop = mouth_crop(frames[t], lms[t], face_h=h)
        if m["step_column"] >= 0:
            x = int((m["step_column"] - lms[t][OUTER, 0].mean() + 0.25 * h) * ZOOM)
            crop[-6 * ZOOM :, max(x - 1, 0) : x + 2] = (255, 255, 0)
        bottom.append(label(crop, f"t={t / 25:.2f}s step {m['step']:.1f} px"))
    return grid([top, bottom])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", default="all", choices=("tune", "heldout", "all"))
    p.add_argument("--only", help="portraits whose name contains this (several: comma-separated)")
    p.add_argument("--out", type=Path, default=ROOT / "outputs" / "mouth")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--save-frames", action="store_true", help="keep the measured frames (for --before)")
    p.add_argument("--before", type=Path, default=None, help="an older run's --out with --save-frames")
    p.add_argument("--docs", type=Path, default=None, help="where before/after sheets of held-out portraits go")
    args = p.parse_args()
    from portraittalk import PortraitTalk
    from portraittalk.errors import NoFaceError

    pt = PortraitTalk.from_pretrained(engine="warp")
    real = RealMouths()
    files = json.loads((DATA / "manifest.json").read_text())["files"]
    report: dict = {"seconds_of_speech": SECONDS, "size": SIZE, "bars": BARS, "sets": {}}
    for split in ("tune", "heldout") if args.set == "all" else (args.set,):
        entries = [f for f in files if f["path"].startswith(f"portraits/{split}/")]
        entries = [e for e in entries if not args.only or any(o in e["path"] for o in args.only.split(","))]
        results = []
        for i, entry in enumerate(entries):
            name = Path(entry["path"]).stem
            started = time.perf_counter()
            try:
                ref, frames, lms, speech = render(pt, DATA / entry["path"], split, i)
            except NoFaceError as exc:
                results.append({"name": name, "refused": str(exc), "pass": True})
                continue
            made = entry.get("kind") in MADE
            m = {"name": name, "speech": speech,
                 **measure(ref.image, ref.landmarks.astype(np.float64), frames, lms, made)}  # fmt: skip
            m["seconds"] = round(time.perf_counter() - started, 1)
            out = args.out / split
            save_jpg(sheet(name, ref, frames, lms, m, real), out / f"{name}.jpg")
            if args.save_frames:
                np.savez_compressed(out / f"{name}.npz", frames=np.stack([frames[t] for t in m["widest"]]),
                                    lms=lms[m["widest"]], widest=np.array(m["widest"]))  # fmt: skip
            if args.before is not None and split == "heldout":
                before_after(name, ref, frames, lms, m, args.before / split / f"{name}.npz", args.docs or out)
            print(json.dumps({k: m.get(k) for k in ("name", "pass", "failures")}), file=sys.stderr, flush=True)
            results.append(m)
        judged = [r for r in results if "refused" not in r]
        report["sets"][split] = {"portraits": len(results), "passed": sum(r["pass"] for r in results),
                                 "medians": {k: round(float(np.median([r[k] for r in judged if k in r])), 3)
                                             for k in BARS if any(k in r for r in judged)},
                                 "results": results}  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    for split, s in report["sets"].items():
        print(f"{split}: {s['passed']}/{s['portraits']} pass; medians {s['medians']}")
    return 0


def before_after(name: str, ref, frames, lms, m: dict, before: Path, docs: Path) -> None:
    """The same three frames before (top) and after (bottom), from an older run's saved frames."""
    if not before.is_file():
        return
    with np.load(before) as old:
        old_frames, old_widest = old["frames"], list(old["widest"])
    h = face_height(ref.landmarks)
    top, bottom = [label(mouth_crop(ref.image, ref.landmarks), "photo")], [label(mouth_crop(ref.image, ref.landmarks), "photo")]
    for t in m["widest"]:
        if t in old_widest:
            top.append(label(mouth_crop(old_frames[old_widest.index(t)], lms[t], face_h=h), f"before t={t / 25:.2f}s"))
            bottom.append(label(mouth_crop(frames[t], lms[t], face_h=h), f"after t={t / 25:.2f}s"))
    save_jpg(grid([top, bottom]), docs / f"mouth_before_after_{name}.jpg", quality=78)


if __name__ == "__main__":
    raise SystemExit(main())
