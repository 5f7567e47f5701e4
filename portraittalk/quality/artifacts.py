"""The artifact detector: what a broken talking face looks like, measured on the rendered pixels.

Each frame is compared with the reference photo around the mouth, with the photo's own landmarks
as the yardstick (a broken motion track must not be able to excuse itself). A speaker's head moves
the face, and the warp engine moves the neck and collar partly with it, so the photo is first moved
the way the head moved: an affine fitted from the photo's to the frame's points that speech does not
move (eye corners, nose, forehead, temples; a broken mouth track cannot move them):

* **column**: below the photo's chin, in a strip under the middle of the mouth, rows where most
  pixels changed from the photo moved by the share of the head's motion the neck there follows (all
  of it just under the chin, none lower down, give or take a quarter) (a dark column or a stretched
  mouth running to the bottom of the frame);
* **cavity area**: the new dark region grown from the mouth opening (pixels much darker than the
  photo there and than its skin), against the face's size (a gaping mouth);
* **teeth reach**: new bright, teeth-like pixels grown from the opening must stay inside the lips
  (teeth hanging over the lower lip or the chin are fangs);
* **interior colour**: the drawn interior may not be more colourful than the photo's face (a
  black-and-white photo keeps a grey mouth);
* **still change** (engines that keep the photo's background, e.g. warp): below the neck nothing
  moves, so pixels there must stay the photo's.

Costs a fraction of a millisecond per frame (a region around the mouth, every 4th pixel below the
neck); the result is a :class:`Quality`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..face import mesh

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
COLUMN = 0.1  # face heights of mouth-wide rows below the chin that may change almost entirely
CAVITY_AREA = 0.045  # the dark mouth opening's area may reach this share of the face height squared
GAPE_SLACK = 0.02  # face heights the drawn inner lips may part beyond the widest mouth drawn (or the photo's)
TEETH_REACH = 0.04  # face heights beyond the outer lip contour bright new pixels may reach
PHOTO_ADVICE = ("try a sharper, front-facing photo with the mouth clearly visible, or a lower w1 (smaller "
                "mouth motion)")  # an engine that animates the photo: the photo or the motion is at fault
COLOUR_EXCESS = 12.0  # levels of chroma the interior may have beyond the photo's face
STILL_CHANGE = 0.02  # share of the still region (below the neck) that may change
NEW = 25.0  # levels of change that make a pixel "new"
OFF_BY = 8.0  # levels a photo's highlight or shadow may differ by once moved a pixel or two (resampled)
# Points the head moves and speech does not (mesh indices): nose bridge, tip, base and wings, the eyes'
# corners (not the lids), forehead, temples. The brows are left out (they rise on emphasis).
HEAD_POINTS = [168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 33, 133, 263, 362, 10, 151, 9, 234, 454]
STILL = np.hstack([np.eye(2), np.zeros((2, 1))])  # the affine of a head that did not move
NECK_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)  # shares of the head's motion the strip under the chin may show
# The neck follows the head fully down to NECK_TOP face heights below the chin, not at all from NECK_FOOT
# (as the warp engine's head region), each row give or take NECK_SLACK of the head's motion.
NECK_TOP, NECK_FOOT, NECK_SLACK = 0.1, 0.35, 0.25


@dataclass
class Quality:
    """The artifact check's verdict on one video."""

    flagged: bool = False
    warnings: list[str] = field(default_factory=list)  # one user-facing sentence per problem
    scores: dict[str, float] = field(default_factory=dict)  # worst value of each measure, share of frames over its bar


@dataclass
class _Measure:
    name: str
    limit: float
    warning: str  # {share} is replaced by the share of frames
    values: list[float] = field(default_factory=list)

    def bad(self) -> np.ndarray:
        return np.asarray(self.values) > self.limit


class ArtifactCheck:
    """Feed it every rendered frame with the landmarks the frame was meant to have; ask :meth:`result`.

    ``reference``: the (S, S, 3) photo crop the frames were made from; ``landmarks``: its (478, 2)
    rest landmarks; ``still_background``: the engine keeps the photo's pixels below the neck;
    ``advice``: what each warning says to try (the engine's, when its render rather than the photo is suspect).
    """

    def __init__(self, reference: np.ndarray, landmarks: np.ndarray, still_background: bool = True,
                 advice: Optional[str] = None) -> None:  # fmt: skip
        import cv2

        self.advice = advice or PHOTO_ADVICE

        lm = landmarks.astype(np.float64)
        size = reference.shape[0]
        self.face_h = h = max(float(mesh.face_height(lm)), 1.0)
        outer = lm[mesh.lips_outer_loop()]
        centre = outer.mean(axis=0)
        gray = cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY)
        # Around the mouth: a box 0.2 face heights from its centre (no mouth opens farther).
        r = 0.2 * h
        self.box = (int(max(centre[0] - r, 0)), int(max(centre[1] - r, 0)),
                    int(min(centre[0] + r + 1, size)), int(min(centre[1] + r + 1, size)))  # fmt: skip
        # Below the chin, a strip of the mouth's middle 60 %, sampled every other pixel.
        half_w = 0.3 * float(outer[:, 0].max() - outer[:, 0].min())
        self.strip = (int(max(centre[0] - half_w, 0)), int(min(lm[mesh.CHIN, 1] + 0.1 * h, size)),
                      int(min(centre[0] + half_w + 1, size)), size)  # fmt: skip
        sx0, sy0, sx1, sy1 = self.strip
        self.ref_strip = gray[sy0:sy1:2, sx0:sx1:2].astype(np.int16)
        sy, sx = np.mgrid[sy0:sy1:2, sx0:sx1:2]
        self.strip_points = np.stack([sx, sy], axis=-1).astype(np.float64)  # (rows, cols, 2) frame pixels
        follows = np.clip((lm[mesh.CHIN, 1] + NECK_FOOT * h - sy[:, :1]) / ((NECK_FOOT - NECK_TOP) * h), 0.0, 1.0)
        self.strip_shares = [(s, np.abs(follows - s) <= NECK_SLACK + 1e-6) for s in NECK_SHARES]  # rows each may explain
        self.gray = gray
        self.head_points = lm[HEAD_POINTS]
        self.tolerance = max(1, int(round(0.01 * h)))  # px a photo's highlight or shadow may be off, moved
        face = np.zeros(reference.shape[:2], np.uint8)
        cv2.fillPoly(face, [np.round(lm[mesh.face_oval_loop()]).astype(np.int32)], 1)
        lips = np.zeros_like(face)
        cv2.fillPoly(lips, [np.round(outer).astype(np.int32)], 1)
        skin = (face > 0) & (cv2.dilate(lips, np.ones((7, 7), np.uint8)) == 0)
        self.skin_luma = float(np.median(gray[skin])) if skin.any() else 128.0
        chroma = reference.max(axis=2).astype(np.int16) - reference.min(axis=2)
        colourful = [np.percentile(chroma[m], q) for m, q in ((face > 0, 95), (lips > 0, 98)) if m.any()]
        self.face_chroma = float(max(colourful)) if colourful else 255.0  # the photo's face, its lips included
        self.still = None
        if still_background:  # below the neck (the warp engine moves nothing there), every 4th pixel
            neck = int(np.ceil(lm[mesh.CHIN, 1] + 0.6 * h))
            if neck < size - 8:
                self.still = (slice(neck, size, 4), slice(0, size, 4))
                self.ref_small = gray[self.still].astype(np.int16)
        self.measures = {
            "column": _Measure("column", COLUMN, "a column below the mouth changes on {share} of the frames"),
            "gape": _Measure("gape", max(mesh.MAX_OPEN, float(mesh.mouth_aperture(lm))) + GAPE_SLACK,
                             "the mouth gapes wider than a mouth can open on {share} of the frames"),
            "cavity_area": _Measure("cavity_area", CAVITY_AREA, "the mouth's dark inside is larger than a real "
                                    "mouth's on {share} of the frames"),
            "teeth_reach": _Measure("teeth_reach", TEETH_REACH, "drawn teeth reach outside the lips on {share} "
                                    "of the frames"),
            "interior_colour": _Measure("interior_colour", COLOUR_EXCESS, "the mouth's interior is more colourful "
                                        "than the photo on {share} of the frames"),
        }  # fmt: skip
        if self.still is not None:
            self.measures["still_change"] = _Measure("still_change", STILL_CHANGE, "parts of the picture that "
                                                     "should stay still changed on {share} of the frames")  # fmt: skip
        self.frames = 0

    def update(self, frame: np.ndarray, landmarks: np.ndarray) -> None:
        """Measure one rendered frame; ``landmarks`` (478, 2) are where its face was meant to be."""
        import cv2

        self.frames += 1
        sx0, sy0, sx1, sy1 = self.strip
        head = self._head_motion(landmarks)
        column = 0.0
        if self.ref_strip.size:
            now = cv2.cvtColor(np.ascontiguousarray(frame[sy0:sy1:2, sx0:sx1:2]), cv2.COLOR_RGB2GRAY).astype(np.int16)
            change = np.full(now.shape, 255, np.int16)
            for share, rows in self.strip_shares:  # new: no share of the head's motion near its row's explains it
                if rows.any():
                    moved = self.ref_strip if share == 0.0 else self._moved_photo(self.strip_points, head, share)
                    change = np.where(rows, np.minimum(change, np.abs(now - moved)), change)
            rows = (change > NEW).mean(axis=1)
            column = 2.0 * float((rows > 0.6).sum()) / self.face_h
        self.measures["column"].values.append(column)
        # How far the lips are drawn apart, in the reference's face heights scaled as the head is (a
        # broken track drops the chin too, so the frame's own face height would hide the gape).
        scale = float(np.sqrt(abs(np.linalg.det(head[:, :2]))))
        gap = float(np.linalg.norm(landmarks[mesh.UPPER_LIP_INNER] - landmarks[mesh.LOWER_LIP_INNER]))
        self.measures["gape"].values.append(gap / (self.face_h * max(scale, 1e-6)))
        cavity, teeth, colour = self._mouth(frame, landmarks, head)
        self.measures["cavity_area"].values.append(cavity)
        self.measures["teeth_reach"].values.append(teeth)
        self.measures["interior_colour"].values.append(colour)
        if self.still is not None:
            now = cv2.cvtColor(np.ascontiguousarray(frame[self.still]), cv2.COLOR_RGB2GRAY).astype(np.int16)
            self.measures["still_change"].values.append(float((np.abs(now - self.ref_small) > NEW).mean()))

    def _head_motion(self, landmarks: np.ndarray) -> np.ndarray:
        """(2, 3) the affine taking the photo's head points to the frame's (least squares; the identity
        when the head did not move)."""
        src = np.hstack([self.head_points, np.ones((len(HEAD_POINTS), 1))])
        dst = landmarks[HEAD_POINTS].astype(np.float64)
        if not np.isfinite(dst).all():
            return STILL
        return np.linalg.lstsq(src, dst, rcond=None)[0].T

    def _moved_photo(self, points: np.ndarray, head: np.ndarray, share: float = 1.0) -> np.ndarray:
        """The photo's grey levels (int16) at frame pixels ``points`` (..., 2) once moved by ``share`` of
        the head's motion ``head``."""
        import cv2

        moved = STILL + share * (head - STILL)
        back = cv2.invertAffineTransform(moved)
        src = (points @ back[:, :2].T + back[:, 2]).astype(np.float32)
        out = cv2.remap(self.gray, src[..., 0], src[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out.astype(np.int16)

    def _mouth(self, frame: np.ndarray, landmarks: np.ndarray, head: np.ndarray) -> tuple[float, float, float]:
        """(dark opening's area / face height², teeth reach in face heights, interior's excess chroma)."""
        import cv2

        x0, y0, x1, y1 = self.box
        if x1 - x0 < 3 or y1 - y0 < 3:
            return 0.0, 0.0, 0.0
        # The box follows the head (a speaker's head moves the mouth by several pixels: the photo's
        # own teeth and highlights, compared in place, would read as drawn ones), and the photo is
        # moved as the head moved it (turned, rolled), give or take a pixel or two.
        centre = 0.5 * np.array([x0 + x1, y0 + y1], np.float64)
        shift = np.clip(head[:, :2] @ centre + head[:, 2] - centre, -0.15 * self.face_h, 0.15 * self.face_h)
        dx, dy = int(round(shift[0])), int(round(shift[1]))
        if x0 + dx >= 0 and y0 + dy >= 0 and x1 + dx <= frame.shape[1] and y1 + dy <= frame.shape[0]:
            x0, y0, x1, y1 = x0 + dx, y0 + dy, x1 + dx, y1 + dy
        roi = frame[y0:y1, x0:x1]
        luma = cv2.cvtColor(roi, cv2.COLOR_RGB2GRAY).astype(np.int16)
        by, bx = np.mgrid[y0:y1, x0:x1]
        photo = self._moved_photo(np.stack([bx, by], axis=-1).astype(np.float64), head)
        delta = luma - photo
        near = np.ones((2 * self.tolerance + 1,) * 2, np.uint8)
        lightest, darkest = cv2.dilate(photo, near), cv2.erode(photo, near)  # the moved photo within a pixel or two
        lm = landmarks.astype(np.float64) - [x0, y0]  # a broken track only moves the seed within the box
        seed = np.zeros(luma.shape, np.uint8)
        cv2.fillPoly(seed, [np.round(lm[mesh.lips_inner_loop()]).astype(np.int32)], 1)
        lips = np.zeros_like(seed)
        cv2.fillPoly(lips, [np.round(lm[mesh.lips_outer_loop()]).astype(np.int32)], 1)
        lips = cv2.dilate(lips, np.ones((3, 3), np.uint8))
        dark_level, bright_level = min(0.5 * self.skin_luma, 90.0), max(1.1 * self.skin_luma, 110.0)
        # New: unlike the moved photo. A new region grows through everything new, but only what is not
        # one of the photo's own shadows (highlights) a pixel or two off counts.
        dark = (luma < dark_level) & (delta < -NEW)
        bright = (luma > bright_level) & (delta > NEW)
        shadow = (darkest < dark_level) & (luma - darkest >= -OFF_BY)
        highlight = (lightest > bright_level) & (luma - lightest <= OFF_BY)
        cavity = float((_grown(dark, seed) & ~shadow).sum()) / self.face_h**2
        teeth = _reach_outside(bright, seed, lips, ~highlight) / self.face_h
        colour = 0.0
        inside = (cv2.erode(seed, np.ones((3, 3), np.uint8)) > 0) & (np.abs(delta) > NEW)  # not the lips' edge
        if inside.sum() >= max(8.0, 0.001 * self.face_h**2):  # an interior worth judging
            pixels = roi[inside].astype(np.int16)
            chroma = pixels.max(axis=1) - pixels.min(axis=1)
            q75 = int(0.75 * (len(chroma) - 1))  # the 75th percentile (lower), without np.percentile's overhead
            colour = max(0.0, float(np.partition(chroma, q75)[q75]) - self.face_chroma)
        return cavity, teeth, colour

    def result(self) -> Quality:
        """The verdict: flagged when a measure is over its bar on at least 2 frames and 1 % of them."""
        quality = Quality()
        need = max(2, int(np.ceil(0.01 * self.frames)))
        for m in self.measures.values():
            if not m.values:
                continue
            bad = m.bad()
            quality.scores[m.name] = round(float(np.max(m.values)), 4)
            quality.scores[f"{m.name}_frames"] = round(float(bad.mean()), 4)
            if bad.sum() >= need:
                share = f"{bad.mean():.0%}" if bad.mean() >= 0.01 else f"{int(bad.sum())}"
                quality.warnings.append(_sentence(m.warning.format(share=share), self.advice))
        quality.flagged = bool(quality.warnings)
        return quality


def _sentence(problem: str, advice: str) -> str:
    return f"{problem[0].upper()}{problem[1:]}; {advice}."


def _grown(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The parts of ``mask`` connected to ``seed``."""
    import cv2

    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, bool)
    lut = np.zeros(n, bool)
    lut[labels[(seed > 0) & mask]] = True
    lut[0] = False
    return lut[labels]


def _reach_outside(mask: np.ndarray, seed: np.ndarray, lips: np.ndarray, counted: np.ndarray) -> float:
    """How far (px) the ``counted`` part of ``mask`` grown from the mouth reaches outside the lips."""
    import cv2

    grown = _grown(mask, seed) & counted & (lips == 0)
    if not grown.any():
        return 0.0
    dist = cv2.distanceTransform((lips == 0).astype(np.uint8), cv2.DIST_L2, 3)
    return float(dist[grown].max())
