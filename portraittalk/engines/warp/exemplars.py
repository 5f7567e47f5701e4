"""Real mouth interiors (teeth, tongue, the cavity's shading) cut from real talking-head footage,
shape-normalised and indexed by opening, shipped with the package (``data/mouth_exemplars.npz``,
built by ``scripts/build_mouth_exemplars.py``; sources and licences in ``data/SOURCES.md``).

Shape normalisation: an interior is stored in *mouth coordinates*: u runs across the opening from
one inner corner to the other, v from the upper inner lip (0) to the lower one (1) at that u. Any
inner-lip contour maps onto that rectangle, so an exemplar cut from one mouth is warped into
another by sampling it at the (u, v) of each pixel. Colour normalisation: each speaker's exemplars
are divided by that speaker's teeth white, so a render multiplies them by the portrait's own white.

A render uses one speaker's interiors (the same teeth all along) and, per frame, blends the two
whose opening brackets the wanted one: the interior changes continuously with the opening, never
flickering between exemplars.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

from ...face import mesh
from ...motion.geometry import LOWER_LIP_INNER_SET, UPPER_LIP_INNER_SET

LIBRARY = Path(__file__).with_name("data") / "mouth_exemplars.npz"
CANONICAL = (32, 64)  # (v rows, u columns) of a stored interior
WHITE_SCALE = 200.0  # a stored level of 200 is the speaker's teeth white
CORNERS = (78, 308)  # the inner corners (right, left in the image) of lips_inner_loop
SLIT = 0.03  # openings (inner gap / face height) narrower than this are slits
WIDE = 0.14  # a speaker's widest interior must be at least this open (covers a wide-open mouth)
MIN_GAP = 0.5  # px: a column whose lips are closer than this has no interior
TEETH_END = 0.6  # a row darker than this share of the teeth above it is past their biting edge
TEETH_BANDS = 16  # bands across the opening in which the teeth's end is read (a single column is noisy)
FLAT_TEETH = 0.55  # in units of the teeth white: brighter cells are teeth (in a flat-toned interior)
FLAT_CAVITY = 0.22  # darker cells are the cavity; those between, the tongue and gums
FLAT_SHAPE = (3.0, 1.2)  # cells (across, down): the scale below which a flat-toned interior's shapes are smoothed
FLAT_EDGE = 0.7  # cells: the softness of a flat-toned interior's edges (clean, not jagged)


@dataclass(frozen=True)
class Library:
    """Interiors (N, V, U, 4) float32: colour in units of their speaker's teeth white and, last, how
    much of each cell is the inside of the mouth (not the speaker's lips); per exemplar its speaker,
    opening (inner gap / face height) and shape (inner gap / inner width)."""

    interiors: np.ndarray
    speaker: np.ndarray  # (N,) int
    aperture: np.ndarray  # (N,)
    shape: np.ndarray  # (N,)
    speakers: tuple[str, ...]  # source names (SOURCES.md has their licences)
    mouth_width: np.ndarray  # (N,) inner width in px at the source (its resolution)

    def of_speaker(self, k: int) -> np.ndarray:
        """Indices of speaker k's exemplars, by opening."""
        idx = np.nonzero(self.speaker == k)[0]
        return idx[np.argsort(self.aperture[idx])]

    def default_speaker(self) -> int:
        """Among the speakers with interiors from a slit to a wide-open mouth, the one whose narrow openings are
        darkest (a slit between the lips is mostly shadow: no bright sliver of teeth between nearly
        closed lips). A render uses one speaker's teeth all along."""
        scores = []
        for k in range(len(self.speakers)):
            idx = self.of_speaker(k)
            slits = idx[self.aperture[idx] < SLIT]
            if not len(slits) or self.aperture[idx].max() < WIDE:
                scores.append(np.inf)
                continue
            scores.append(float((self.interiors[slits, ..., :3] @ np.array([0.299, 0.587, 0.114])).mean()))
        return int(np.argmin(scores))


@lru_cache(maxsize=1)
def library() -> Library:
    """The shipped library (read once per process)."""
    with np.load(LIBRARY, allow_pickle=False) as data:
        stored = data["interiors"].astype(np.float32)
        interiors = np.concatenate([stored[..., :3] / WHITE_SCALE, stored[..., 3:] / 255.0], axis=3)
        return Library(interiors=interiors,
                       speaker=data["speaker"].astype(int), aperture=data["aperture"].astype(np.float64),
                       shape=data["shape"].astype(np.float64), speakers=tuple(str(s) for s in data["speakers"]),
                       mouth_width=data["mouth_width"].astype(np.float64))  # fmt: skip


def teeth_white(pixels: np.ndarray, brightest: float) -> np.ndarray:
    """The white of teeth among ``pixels`` (..., 3): of the ``brightest`` percent, the less coloured half
    (the teeth, not a lip's or the tongue's pink highlight), their median. A speaker's interiors are
    stored in units of it (``scripts/build_mouth_exemplars.py``); a photo's own teeth lend theirs."""
    pixels = np.asarray(pixels, np.float32).reshape(-1, 3)
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    bright = pixels[luma >= np.percentile(luma, 100 - brightest)]
    spread = bright.max(axis=1) - bright.min(axis=1)
    return np.median(bright[spread <= np.median(spread)], axis=0).astype(np.float32)


def part_shares(interiors: np.ndarray) -> np.ndarray:
    """How much each cell of the interiors (N, V, U, 4) is cavity, tongue or teeth, by its brightness,
    smoothed over ``FLAT_SHAPE`` (N, 3, V, U): a cartoon's mouth is drawn in smooth shapes, no specks."""
    import cv2

    luma = interiors[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    parts = (luma >= FLAT_CAVITY).astype(np.uint8) + (luma >= FLAT_TEETH)  # 0 cavity, 1 tongue, 2 teeth
    return np.stack([[cv2.GaussianBlur((p == k).astype(np.float32), (0, 0), *FLAT_SHAPE) for k in range(3)]
                     for p in parts])  # fmt: skip


def flat_toned(shares: np.ndarray, tones: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """An interior (V, U, 4) painted as a cartoon paints a mouth: each cell the part it mostly is
    (``shares``, 3 x (V, U)) in that part's one tone (``tones``, 3 x 3: cavity, tongue, teeth, in units
    of the teeth white), edges softened a little; ``coverage`` (V, U, 1) kept."""
    import cv2

    flat = cv2.GaussianBlur(np.asarray(tones, np.float32)[shares.argmax(axis=0)], (0, 0), FLAT_EDGE)
    return np.concatenate([flat, coverage], axis=2)


def upper_teeth_end(interior: np.ndarray) -> np.ndarray:
    """Where (v, 0..1) the upper teeth of an interior (V, U, 4) end, per column (U,), read in each of
    ``TEETH_BANDS`` bands across the opening (``_teeth_end``). Teeth are rigid, the (u, v) map is not:
    a source's side teeth, in a narrow corner, reach far deeper in v than its front teeth. A band with
    no teeth (its brightest dim against the middle's: a corner's shadow) takes its nearest band's with
    teeth (the middle's, if none has)."""
    luma = interior[..., :3] @ np.array([0.299, 0.587, 0.114])
    middle = _teeth_end(luma[:, CANONICAL[1] // 3 : -CANONICAL[1] // 3].mean(axis=1))
    edges = np.linspace(0, luma.shape[1], TEETH_BANDS + 1).astype(int)
    bands = [_teeth_end(luma[:, a:b].mean(axis=1)) for a, b in zip(edges[:-1], edges[1:])]
    teeth = [k for k, (_, peak) in enumerate(bands) if peak >= TEETH_END * middle[1]]
    if not teeth:
        return np.full(luma.shape[1], middle[0], np.float32)
    centres = 0.5 * (edges[:-1] + edges[1:])
    ends = np.interp(np.arange(luma.shape[1]) + 0.5, centres[teeth], [bands[k][0] for k in teeth])
    return ends.astype(np.float32)


def _teeth_end(profile: np.ndarray) -> tuple[float, float]:
    """(v where the teeth end, their brightest) down one luma ``profile`` (V,): after the last row, above
    the darkest below the brightest (the cavity), at least ``TEETH_END`` as bright as the brightest (a
    dimmer tooth on the way down is still teeth)."""
    peak = int(np.argmax(profile[: len(profile) // 2]))
    cavity = peak + int(np.argmin(profile[peak:]))
    teeth = np.nonzero(profile[peak : cavity + 1] >= TEETH_END * profile[peak])[0]
    return float((peak + teeth[-1] + 1) / len(profile)), float(profile[peak])


class InteriorPicker:
    """One speaker's interiors, blended by opening: ``interior(aperture)`` is continuous in the
    aperture (no flicker from frame to frame) and exactly an exemplar at its own opening. ``tones``:
    flat-toned in these tones (a cartoon's mouth, see ``flat_toned``): their shapes blended, their tones
    kept flat (no blend of two shapes' tones)."""

    def __init__(self, lib: Library, speaker: Optional[int] = None, tones: Optional[np.ndarray] = None) -> None:
        self.lib = lib
        idx = lib.of_speaker(lib.default_speaker() if speaker is None else speaker)
        self.images = lib.interiors[idx]
        self.apertures = lib.aperture[idx]
        self.teeth_ends = np.array([upper_teeth_end(im) for im in self.images])
        self.tones = tones
        if tones is not None:
            self.shares = part_shares(self.images)
            self.images = np.stack([flat_toned(s, tones, im[..., 3:]) for s, im in zip(self.shares, self.images)])

    def weights(self, aperture: float) -> tuple[int, int, float]:
        """(i, j, w): the interior is images[i] * (1 - w) + images[j] * w."""
        a = self.apertures
        if aperture <= a[0]:
            return 0, 0, 0.0
        if aperture >= a[-1]:
            return len(a) - 1, len(a) - 1, 0.0
        j = int(np.searchsorted(a, aperture))
        i = j - 1
        return i, j, float((aperture - a[i]) / max(a[j] - a[i], 1e-9))

    def upper_teeth_end(self, aperture: float) -> np.ndarray:
        """Where (v) the upper teeth of ``interior(aperture)`` end, per column (U,), blended as the
        interiors are."""
        i, j, w = self.weights(aperture)
        return self.teeth_ends[i] * (1.0 - w) + self.teeth_ends[j] * w

    def interior(self, aperture: float) -> np.ndarray:
        i, j, w = self.weights(aperture)
        if w == 0.0:
            return self.images[i]
        if self.tones is not None:
            shares = self.shares[i] * (1.0 - w) + self.shares[j] * w
            return flat_toned(shares, self.tones, self.images[i][..., 3:] * (1.0 - w) + self.images[j][..., 3:] * w)
        return self.images[i] * (1.0 - w) + self.images[j] * w


def lip_curves(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The inner-lip contour in the face's own axes: (centre, right (unit), down (unit), curves)
    where curves is (2, K, 2): the upper and the lower inner lip, corner to corner, as (x', y')
    along ``right`` and ``down`` from ``centre``; x' increases along each."""
    d = lm[mesh.LEFT_EYE_OUTER] - lm[mesh.RIGHT_EYE_OUTER]
    right = d / max(float(np.linalg.norm(d)), 1e-6)
    down = np.array([-right[1], right[0]])
    if np.dot(down, lm[mesh.CHIN] - lm[mesh.FOREHEAD]) < 0:
        down = -down
    a, b = lm[CORNERS[0]], lm[CORNERS[1]]
    centre = 0.5 * (a + b)
    upper = np.concatenate([[a], lm[UPPER_LIP_INNER_SET], [b]]) - centre
    lower = np.concatenate([[a], lm[LOWER_LIP_INNER_SET], [b]]) - centre
    curves = np.stack([np.stack([p @ right, p @ down], axis=1) for p in (upper, lower)])
    if curves[0, -1, 0] < curves[0, 0, 0]:  # the face's right-left axis runs the other way
        curves = curves[:, ::-1]
    return centre, right, down, curves


def mouth_coordinates(lm: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of the pixels (xs, ys): u in [0, 1] across the opening, v in [0, 1] from the upper to
    the lower inner lip (outside these ranges: outside the opening)."""
    centre, right, down, curves = lip_curves(lm.astype(np.float64))
    px, py = xs - centre[0], ys - centre[1]
    x = px * right[0] + py * right[1]
    y = px * down[0] + py * down[1]
    up_x, lo_x = (np.maximum.accumulate(c[:, 0]) for c in curves)  # np.interp needs rising x
    top = np.interp(x, up_x, curves[0, :, 1])
    bottom = np.interp(x, lo_x, curves[1, :, 1])
    x0, x1 = curves[0, 0, 0], curves[0, -1, 0]
    u = (x - x0) / max(x1 - x0, 1e-6)
    v = (y - top) / np.maximum(bottom - top, MIN_GAP)
    return u, v


def cut_interior(image: np.ndarray, lm: np.ndarray, shape: tuple[int, int] = CANONICAL) -> np.ndarray:
    """The interior of the mouth in ``image`` (landmarks ``lm``) resampled onto the canonical (v, u)
    grid: (V, U, 3) float32. Cell centres, so the lips themselves are not sampled."""
    import cv2

    rows, cols = shape
    centre, right, down, curves = lip_curves(lm.astype(np.float64))
    u = (np.arange(cols) + 0.5) / cols
    v = (np.arange(rows) + 0.5) / rows
    x0, x1 = curves[0, 0, 0], curves[0, -1, 0]
    x = x0 + u * (x1 - x0)
    top = np.interp(x, np.maximum.accumulate(curves[0, :, 0]), curves[0, :, 1])
    bottom = np.interp(x, np.maximum.accumulate(curves[1, :, 0]), curves[1, :, 1])
    y = top[None, :] + v[:, None] * (bottom - top)[None, :]
    xx = np.broadcast_to(x[None, :], y.shape)
    map_x = (centre[0] + xx * right[0] + y * down[0]).astype(np.float32)
    map_y = (centre[1] + xx * right[1] + y * down[1]).astype(np.float32)
    return cv2.remap(image.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def inner_gap(lm: np.ndarray) -> float:
    """The inner lips' largest gap (px) along the face's down axis."""
    _, _, _, curves = lip_curves(lm.astype(np.float64))
    return float((curves[1, :, 1] - curves[0, :, 1]).max())


def inner_width(lm: np.ndarray) -> float:
    _, _, _, curves = lip_curves(lm.astype(np.float64))
    return float(curves[0, -1, 0] - curves[0, 0, 0])
