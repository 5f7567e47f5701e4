"""The mouth interior shown where the lips open wider than in the photo: real speakers' teeth,
tongue and shading (``exemplars``), warped into the drawn inner-lip contour; teeth the photo itself
shows ride rigidly on the upper lip.

Everything is made to look like part of the photo: the teeth take the colour and brightness real
speakers' teeth have beside their skin and eye whites (measured: scripts/measure_teeth_colour.py), or
the white of the photo's own teeth where it shows some; a
black-and-white photo gets a grey mouth, a tinted monochrome (sepia) one a mouth in its own tone, a
flat-shaded cartoon a flat-toned one without grain; the interiors are blurred until they are no sharper
than the photo's face (an upscaled small face, a painting get a soft interior) and carry the photo's
grain; their edge is as soft as the photo's edges. The
interior never leaves the lips: it is cut by the inner-lip polygon (made non-crossing) and by the
outer lip contour, and the photo's teeth never fill more of the opening than real teeth show.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ...face import mesh
from ...face.reference import Reference
from ...motion.geometry import LOWER_LIP_INNER_SET, UPPER_LIP_INNER_SET
from .exemplars import CANONICAL, InteriorPicker, inner_gap, library, mouth_coordinates, teeth_white
from .lipline import CREASE_SHADE, box_around, crease

OPEN_MOUTH_APERTURE = 0.035  # a reference at least this open shows its teeth
UPPER_TEETH = 0.08  # face heights: the longest upper teeth a photo is taken to show (more: its lower teeth too)
BITING_EDGE = 0.6  # down the photo's front teeth, a row darker than this share of the brightest is past their edge
TEETH_SHARE = 0.55  # the photo's teeth show at most this share of the opening; the rest is the interior
BLUR_LIMIT = 5.0  # px: no photo is taken to be softer than this
INTERIOR_SOFTNESS = 1.0  # px: the softness of the real interiors as they are resampled into a mouth
# The teeth's colour from the photo's skin and eye whites, as measured on real speakers (the fit clips:
# scripts/measure_teeth_colour.py, numbers in docs/measured/teeth_colour.json; chromaticity (r, g, b) / sum).
TEETH_SKIN_SHARE = 0.44  # no eye whites: teeth chromaticity = grey + this share of the skin's offset (p10-p90 +-0.016)
TEETH_JOINT = (0.34, 0.22)  # with eye whites: grey + these shares of the skin's and eye whites' offsets (closer fit)
# The most coloured skin of the fit clips (its chromaticity's distance from grey; en_obama_edtalk): the
# relation is not carried past it. Skin further from grey (a strong cast, a painted face) would give orange teeth.
SKIN_OFFSET_LIMIT = 0.188
TEETH_LUMA = (119.5, 0.435)  # teeth luma = a + b skin luma (real teeth are near the top of the exposure)
GREEN_LIMIT = 0.005  # the greenest real teeth measured (g - (r + b) / 2): light on a face is not green
TEETH_HIGHLIGHT = 98  # percentile of the face's luma that teeth never outshine (no glow in a dim photo)
COLOUR_FACE_CHROMA = 60.0  # levels: the 90th percentile of max - min over a colour photo's face
EYE_WHITE_LUMA = 0.55  # eye "whites" darker than this share of the skin are sunglasses or shade: not the light
MIN_EDGE = 0.6  # px: the softest photo still has anti-aliased, not hard, lip edges
TINT_HUE = 9.0  # degrees: a photo whose colours (face and whole) keep within this of one hue is a tinted monochrome
TINT_LIPS = 5.0  # degrees: ... and whose lips are the skin's hue (a colour photo's are redder: 7-30, warm-lit too)
TINT_CHROMA = 8.0  # levels from grey: pixels less coloured than this carry no hue to judge
TONE_BIN = 8.0  # levels of luma per step of a tinted photo's luma -> colour relation
FLAT_GRADIENT = 2.0  # levels (Sobel |x| + |y|): skin this smooth is a flat-painted area
FLAT_SHARE = 0.12  # a face with more flat skin than this is flat-shaded (cel shading, a cartoon; photos: < 0.06)
INK_SHARE = 0.03  # the darkest share of the pixels around a drawing's lips: its ink
FLAT_CAVITY_SHADE = 0.35  # a flat-shaded mouth's cavity: its lips' colour this dark
TEETH_LIKE = (0.4, 0.8)  # a strip pixel this far (share of the way) from its teeth' colour to its lips': teeth .. not
TEETH_FADE = 0.25  # share of the photo's teeth strip over which its lower edge fades into the interior
PHOTO_TEETH_BRIGHTEST = 30.0  # percent of a photo's front-teeth pixels that show their white (the rest: gaps, shade)
GRAIN_FLAT = 30  # percent: the flattest skin, by a coarse gradient, on which the photo's noise is read
IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)  # a noise operator blind to shading
CLIPPED = 250  # levels: a pixel with all channels this high (or all this far from 255 low) is blown (crushed)


@dataclass
class Teeth:
    """A strip of upper teeth cut from a reference, pasted rigidly under the upper lip."""

    image: np.ndarray  # (h, w, 4) float32: colour and coverage (the teeth only: not the lips, not the tongue)
    width: float  # mouth width it was cut at (px), for scaling
    face_height: float  # face height of the reference it was cut from (px)
    white: np.ndarray  # (3,) float32: their white (the less coloured half of their brightest pixels)
    lead: int = 0  # rows on top of the front teeth' strip: the side teeth up to a smiling lip's corners

    def scale(self, face_h: float) -> float:
        """A face of height ``face_h`` over the one the teeth were cut from: the same teeth, rigid."""
        return face_h / max(self.face_height, 1.0)


@dataclass
class MouthStyle:
    """The photo's look, measured once per render, that the interior must match."""

    crease: np.ndarray  # (3,) float32, the line between closed lips
    teeth: np.ndarray  # (3,) float32, the photo's teeth white (a real speaker's white maps onto it)
    grain: float  # std (levels) of the photo's fine noise
    blur: float  # Gaussian sigma (px) that makes the interior as soft as the photo's face
    edge: float  # Gaussian sigma (px) of the interior's edge
    saturation: float  # the interior's colourfulness against a colour photo's (a faded or tinted photo: less)
    interiors: InteriorPicker  # one real speaker's interiors, by opening (flat-toned for a flat-shaded photo)
    tone: Optional[np.ndarray] = None  # (256, 3) a tinted monochrome photo's colour at each luma, else None
    flat: bool = False  # a flat-shaded picture: a flat-toned interior
    ink: Optional[np.ndarray] = None  # (3,) a drawing's ink: its lips drawn closed over its open mouth meet in it

    @classmethod
    def of(cls, reference: Reference, own_teeth: Optional[Teeth] = None) -> "MouthStyle":
        """``own_teeth``: teeth a reference shows; the interior's teeth then take their white (the issue's
        "where the photo itself shows teeth, use them"), not the one real speakers' relation predicts."""
        import cv2

        image, lm = reference.image, reference.landmarks.astype(np.float64)
        size = image.shape[0]
        img = image.astype(np.float32)
        face = _poly_mask(size, lm[mesh.face_oval_loop()])
        lips = _poly_mask(size, lm[mesh.lips_outer_loop()]) & ~_poly_mask(size, lm[mesh.lips_inner_loop()])
        chroma = img.max(axis=2) - img.min(axis=2)
        skin = face & ~cv2.dilate(lips.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        skin_colour = np.median(img[skin], axis=0) if skin.any() else np.full(3, 150.0, np.float32)
        lip_colour = np.median(img[lips], axis=0) if lips.sum() > 8 else skin_colour * np.array([1.0, 0.8, 0.8])
        saturation = float(np.clip(np.percentile(chroma[face], 90) / COLOUR_FACE_CHROMA, 0.0, 1.0)) if face.any() else 1.0
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        grain = noise_level(gray, skin)
        crease = lip_colour * CREASE_SHADE
        flat = is_flat(gray, skin, img)
        ink = None
        if flat:  # a drawing's closed mouth is a line in its ink, the darkest tone around its lips
            around = img[cv2.dilate(lips.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)]
            ink = np.median(around[np.argsort(around @ LUMA)[: max(1, int(INK_SHARE * len(around)))]], axis=0)
        white = eye_white(img, lm, skin_colour)
        # The photo's own teeth where it shows some; a cartoon's are painted in the white of its eyes; a
        # photo's are lit as real teeth are.
        if own_teeth is not None:
            teeth = own_teeth.white
        elif flat and white is not None:
            teeth = white
        else:
            teeth = _teeth_colour(img, skin_colour, white, face)
        # A black-and-white photo needs no rule of its own: its teeth take its grey skin's and eye whites'
        # colour, its interior its face's colourfulness (none).
        tone = None if flat else tone_of(img, face, skin_colour, lip_colour)
        if tone is not None:  # a grey interior, coloured at the end by the photo's own luma -> colour relation
            teeth, saturation = np.full(3, _luma(teeth)), 0.0
        # A cartoon's interior: its cavity a deep shade of its lips, its tongue their colour, its teeth white.
        tones = np.stack([lip_colour * FLAT_CAVITY_SHADE, lip_colour, teeth]) / np.maximum(teeth, 1.0) if flat else None
        interiors = InteriorPicker(library(), tones=tones)
        # The interiors, cut from sharper video and resampled, are already about INTERIOR_SOFTNESS soft.
        blur = float(np.sqrt(max(softness(gray, face & ~lips) ** 2 - INTERIOR_SOFTNESS**2, 0.0)))
        return cls(crease.astype(np.float32), teeth.astype(np.float32), min(grain, 12.0),
                   blur, max(MIN_EDGE, blur), saturation, interiors, tone, flat,
                   None if ink is None else ink.astype(np.float32))  # fmt: skip


def noise_level(gray: np.ndarray, skin: np.ndarray) -> float:
    """The photo's fine noise (levels, a std): Immerkaer's estimate (the mean size of a second difference
    that cancels shading and straight edges) over the flattest ``GRAIN_FLAT`` percent of the skin by a
    coarser gradient. Wrinkles, pores, fine lines and a drawing's strokes are texture, not grain (the
    spread of what a blur takes away read Grace Hopper's wrinkles as 8.5 levels of noise; this, 2.5)."""
    import cv2

    if skin.sum() < 50:
        return 0.0
    second = cv2.filter2D(gray, cv2.CV_32F, IMMERKAER) / 6.0
    coarse = cv2.GaussianBlur(gray, (0, 0), 2.0)
    gradient = np.abs(cv2.Sobel(coarse, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(coarse, cv2.CV_32F, 0, 1))
    flat = second[skin & (gradient <= np.percentile(gradient[skin], GRAIN_FLAT))]
    return float(np.sqrt(np.pi / 2.0) * np.mean(np.abs(flat)))


def is_flat(gray: np.ndarray, skin: np.ndarray, img: np.ndarray) -> bool:
    """A flat-shaded picture (a cartoon's cel shading): much of its skin is painted in one tone, where
    a photo's skin always varies a little (shading, pores, noise). Clipped skin (an overexposed photo's
    blown highlights, its crushed shadows) is flat for want of levels, not paint: not counted."""
    import cv2

    skin = skin & (img.min(axis=2) < CLIPPED) & (img.max(axis=2) > 255 - CLIPPED)
    if skin.sum() < 50:
        return False
    gradient = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    return bool((gradient[skin] < FLAT_GRADIENT).mean() > FLAT_SHARE)


def tone_of(img: np.ndarray, face: np.ndarray, skin: np.ndarray, lips: np.ndarray) -> Optional[np.ndarray]:
    """A tinted monochrome photo (sepia, cyanotype, a toned print): its lips of the skin's hue and all its
    coloured pixels, on the face and all over, of one hue (a colour photo's lips, eyes, hair or clothes
    differ from its skin, even under warm light). Then its colour as a function of luma, (256, 3),
    fitted on the face; else None."""
    skin_hue, lip_hue = skin - _luma(skin), lips - _luma(lips)
    cosine = float(skin_hue @ lip_hue) / max(float(np.linalg.norm(skin_hue) * np.linalg.norm(lip_hue)), 1e-6)
    if np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))) > TINT_LIPS:
        return None
    pixels = img.reshape(-1, 3)
    for region in (img[face], pixels[::4]):
        offset = region - (region @ LUMA)[:, None]
        strength = np.linalg.norm(offset, axis=1)
        hues = offset[strength >= TINT_CHROMA] / strength[strength >= TINT_CHROMA, None]
        if len(hues) < 50:
            return None
        mean = np.median(hues, axis=0)
        angle = np.degrees(np.arccos(np.clip(hues @ (mean / max(float(np.linalg.norm(mean)), 1e-6)), -1.0, 1.0)))
        if np.percentile(angle, 90) > TINT_HUE:
            return None
    face_pixels = img[face]
    luma = face_pixels @ LUMA
    steps = np.arange(TONE_BIN / 2, 256, TONE_BIN)
    bins = np.minimum((luma / TONE_BIN).astype(int), len(steps) - 1)
    known = [k for k in range(len(steps)) if (bins == k).sum() >= 20]
    if len(known) < 2:
        return None
    ratio = np.array([np.median(face_pixels[bins == k] / np.maximum(luma[bins == k, None], 1.0), axis=0)
                      for k in known])  # fmt: skip
    levels = np.arange(256, dtype=np.float32)
    per_level = np.stack([np.interp(levels, steps[known], ratio[:, c]) for c in range(3)], axis=1)
    return np.clip(levels[:, None] * per_level, 0, 255).astype(np.float32)


def softness(gray: np.ndarray, mask: np.ndarray) -> float:
    """The photo's softness inside ``mask`` as a Gaussian sigma (px): at its steepest edges, a further
    1-px blur lowers an edge blurred by s by sqrt(s^2 + 1) / s; the median over those pixels (0: too
    few edges to tell)."""
    import cv2

    def gradient(image: np.ndarray) -> np.ndarray:
        return np.abs(cv2.Sobel(image, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(image, cv2.CV_32F, 0, 1))

    if mask.sum() < 50:
        return 0.0
    g, reblurred = gradient(gray), gradient(cv2.GaussianBlur(gray, (0, 0), 1.0))
    steep = mask & (g >= max(float(np.percentile(g[mask], 90)), 24.0))
    ratio = g[steep] / np.maximum(reblurred[steep], 1e-3)
    ratio = ratio[ratio > 1.01]
    return float(np.median(np.minimum(1.0 / np.sqrt(ratio**2 - 1.0), BLUR_LIMIT))) if len(ratio) >= 20 else 0.0


LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _luma(rgb: np.ndarray) -> float:
    return float(np.dot(rgb, [0.299, 0.587, 0.114]))


def _poly_mask(size: int, points: np.ndarray) -> np.ndarray:
    import cv2

    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


def eye_white(img: np.ndarray, lm: np.ndarray, skin: np.ndarray) -> Optional[np.ndarray]:
    """The eye whites' colour (the brighter, less coloured part of the eyes), None where they are not
    seen: too few pixels, or darker than ``EYE_WHITE_LUMA`` of the skin (sunglasses, shade, a squint)."""
    size = img.shape[0]
    eyes = np.zeros((size, size), bool)
    for name in ("LEFT_EYE", "RIGHT_EYE"):
        eyes |= _poly_mask(size, lm[mesh.ordered_loop(name)])
    pixels = img[eyes]
    if len(pixels) < 12:
        return None
    luma = pixels @ LUMA
    spread = pixels.max(axis=1) - pixels.min(axis=1)
    whites = (luma >= np.percentile(luma, 60)) & (spread <= np.median(spread))
    white = np.median(pixels[whites], axis=0) if whites.sum() >= 6 else None
    return white if white is not None and _luma(white) >= EYE_WHITE_LUMA * max(_luma(skin), 1.0) else None


def _teeth_colour(img: np.ndarray, skin: np.ndarray, white: Optional[np.ndarray], face: np.ndarray) -> np.ndarray:
    """Teeth lit like the photo, by the relation measured on real speakers: their colour a share of the
    skin's (no more coloured than the most coloured real skin measured) and of the eye whites' (the
    light's; none seen: of the skin's alone), never green (painted eye whites are not the light); their
    brightness follows the skin's, never above the face's own highlights."""
    skin_luma = max(_luma(skin), 1.0)
    skin_offset = _chromaticity(skin) - 1.0 / 3.0
    skin_offset *= min(1.0, SKIN_OFFSET_LIMIT / max(float(np.linalg.norm(skin_offset)), 1e-6))
    chroma, floor = 1.0 / 3.0 + TEETH_SKIN_SHARE * skin_offset, skin_luma
    if white is not None:
        floor = max(floor, _luma(white))
        chroma = 1.0 / 3.0 + TEETH_JOINT[0] * skin_offset + TEETH_JOINT[1] * (_chromaticity(white) - 1.0 / 3.0)
    chroma = _not_green(chroma / chroma.sum())
    highlight = float(np.percentile(img[face] @ LUMA, TEETH_HIGHLIGHT)) if face.any() else 245.0
    target = float(np.clip(TEETH_LUMA[0] + TEETH_LUMA[1] * skin_luma, floor, min(max(highlight, floor), 245.0)))
    return np.clip(chroma * target / _luma(chroma), 0, 255)


def _chromaticity(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float64) / max(float(np.sum(rgb)), 1e-6)


def _not_green(chroma: np.ndarray) -> np.ndarray:
    """A chromaticity no greener than ``GREEN_LIMIT`` (its green lowered, red and blue raised alike)."""
    excess = chroma[1] - 0.5 * (chroma[0] + chroma[2]) - GREEN_LIMIT
    if excess <= 0:
        return chroma
    return chroma + excess * np.array([1.0, -2.0, 1.0]) / 3.0


def teeth_from(references: Sequence[Reference]) -> Optional[Teeth]:
    """Upper teeth cut from the reference with the widest-open mouth, if it shows some: a strip that
    is bright and less coloured than the lips (not a tongue, not a dark cavity)."""
    best = max(references, key=lambda r: r.mouth_aperture)
    if best.mouth_aperture < OPEN_MOUTH_APERTURE:
        return None
    lm = best.landmarks
    inner = lm[mesh.lips_inner_loop()]
    x0, x1 = inner[:, 0].min(), inner[:, 0].max()
    top = lm[mesh.UPPER_LIP_INNER, 1]
    bottom = lm[mesh.LOWER_LIP_INNER, 1]
    face_h = float(mesh.face_height(lm))
    y1 = top + min(0.8 * (bottom - top), UPPER_TEETH * face_h)
    y0 = int(round(top + 0.12 * (bottom - top)))  # below the lip edge
    cx0, cx1 = int(round(x0 + 0.2 * (x1 - x0))), int(round(x1 - 0.2 * (x1 - x0)))  # the front teeth
    front = best.image[y0:max(int(round(y1)), y0 + 2), cx0:max(cx1, cx0 + 2)].astype(np.float32)
    if front.size == 0:
        return None
    # The side teeth: up to where a smile lifts the upper lip (else the strip's top edge shows there).
    lead = max(0, y0 - int(np.floor(lm[UPPER_LIP_INNER_SET, 1].min())))
    rows, cols = slice(y0 - lead, y0 + biting_edge(front)), slice(int(x0), int(np.ceil(x1)))
    patch = front[: rows.stop - y0]
    if patch.mean() < 90:  # dark: a cavity, not teeth
        return None
    lips = best.image[int(top) - 2 : int(top), int(x0):int(x1)].astype(np.float32).reshape(-1, 3)
    patch_chroma = float(np.mean(patch.max(axis=2) - patch.min(axis=2)))
    if len(lips) and patch_chroma > 0.8 * float(np.mean(lips.max(axis=1) - lips.min(axis=1))) + 8:
        return None  # as coloured as the lips: a tongue or lip, not teeth
    whole = best.image[rows, cols].astype(np.float32)
    white = teeth_white(patch, PHOTO_TEETH_BRIGHTEST)
    return Teeth(np.concatenate([whole, teeth_coverage(best, white, rows, cols)[..., None]], axis=2),
                 float(x1 - x0), face_h, white, lead)  # fmt: skip


def biting_edge(front: np.ndarray) -> int:
    """Rows of the photo's front teeth (``front``, from just under the upper lip down) that are teeth:
    down to the first row, after the brightest, darker than ``BITING_EDGE`` of it (the gap to the
    lower teeth, the cavity); at least 2."""
    profile = (front @ LUMA).mean(axis=1)
    peak = int(np.argmax(profile))
    below = np.nonzero(profile[peak:] < BITING_EDGE * profile[peak])[0]
    return max(2, peak + int(below[0]) if len(below) else len(profile))


def teeth_coverage(reference: Reference, white: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """How much each pixel of the photo's teeth strip (``rows``, ``cols``) is teeth: inside the photo's
    opening and coloured like its teeth' ``white`` rather than like its lips (a lip corner, the tongue:
    left out, so no lip-coloured block rides on the upper lip); a dark gap between teeth is kept."""
    import cv2

    lm, image = reference.landmarks.astype(np.float64), reference.image.astype(np.float32)
    size = image.shape[0]
    inside = _poly_mask(size, inner_mouth_polygon(lm))[rows, cols].astype(np.float32)
    lip_ring = _poly_mask(size, lm[mesh.lips_outer_loop()]) & ~_poly_mask(size, lm[mesh.lips_inner_loop()])
    lips = np.median(image[lip_ring], axis=0) if lip_ring.sum() > 8 else white * np.array([1.0, 0.7, 0.7])
    strip = image[rows, cols]
    chroma = strip / np.maximum(strip.sum(axis=2, keepdims=True), 1.0)
    towards_lips = np.linalg.norm(chroma - _chromaticity(white), axis=2) / max(
        float(np.linalg.norm(_chromaticity(lips) - _chromaticity(white))), 1e-3)
    teeth_like = np.clip((TEETH_LIKE[1] - towards_lips) / (TEETH_LIKE[1] - TEETH_LIKE[0]), 0.0, 1.0)
    return cv2.GaussianBlur(inside * teeth_like, (0, 0), 0.7)


def inner_mouth_polygon(lm: np.ndarray) -> np.ndarray:
    """The inner-lip loop with the lower lip never above the upper one (a non-crossing polygon)."""
    inner = lm[mesh.lips_inner_loop()].astype(np.float64).copy()
    pos = {int(k): i for i, k in enumerate(mesh.lips_inner_loop())}
    frame_down = _down(lm)
    for u, l in zip(UPPER_LIP_INNER_SET, LOWER_LIP_INNER_SET):
        iu, il = pos[int(u)], pos[int(l)]
        gap = float(np.dot(inner[il] - inner[iu], frame_down))
        if gap < 0:
            inner[il] -= gap * frame_down
    return inner


def _down(lm: np.ndarray) -> np.ndarray:
    """Unit vector from the eyes' midpoint toward the chin, perpendicular to the eye line."""
    d = lm[mesh.LEFT_EYE_OUTER] - lm[mesh.RIGHT_EYE_OUTER]
    down = np.array([-d[1], d[0]], np.float64)
    return down / max(float(np.linalg.norm(down)), 1e-6)


def paint_mouth(frame: np.ndarray, lm: np.ndarray, face_h: float, teeth: Optional[Teeth], ref_gap: float,
                style: MouthStyle, noise: Optional[np.ndarray] = None) -> np.ndarray:  # fmt: skip
    """Composite a real mouth interior inside the inner-lip polygon of ``lm``.

    Up to the photo's own opening (``ref_gap``) the photo's real mouth, warped, is kept; the interior
    (real speakers' teeth, tongue and shading, see ``exemplars``) fades in only as the mouth opens
    wider than that, where warping would stretch teeth. ``noise``: a unit-variance field of the
    frame's size, scaled by the photo's grain.
    """
    import cv2

    inner = inner_mouth_polygon(lm)
    gap = float(np.dot(lm[mesh.LOWER_LIP_INNER] - lm[mesh.UPPER_LIP_INNER], _down(lm)))
    if gap < 0.012 * face_h:
        # Lips (nearly) together over a photo's open mouth: its teeth would show as a bright sliver
        # between them; real closed lips meet in a darker crease.
        # Over a photo's closed lips the warp can pull a bright line of skin between them: covered
        # where (and only where) the line is brighter than the lips.
        closed_photo = ref_gap <= 0.012 * face_h
        line = style.crease if closed_photo or style.ink is None else style.ink
        return crease(frame, lm, line, style.edge, only_brighter=closed_photo)
    wider = float(np.clip((gap - 1.1 * ref_gap) / (0.25 * ref_gap + 0.01 * face_h), 0.0, 1.0))
    if wider == 0.0:
        return frame
    box = box_around(inner, frame.shape, 2, 3)
    if box is None:
        return frame
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    mask = np.zeros((h * 4, w * 4), np.uint8)
    cv2.fillPoly(mask, [np.round((inner - [x0, y0]) * 4).astype(np.int32)], 255, cv2.LINE_AA)
    outer = np.zeros_like(mask)  # the interior never leaves the lips
    cv2.fillPoly(outer, [np.round((lm[mesh.lips_outer_loop()] - [x0, y0]) * 4).astype(np.int32)], 255)
    mask = cv2.resize(np.minimum(mask, outer), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    mask = cv2.GaussianBlur(mask, (0, 0), style.edge)  # as soft as the photo's own edges
    # The interior: each pixel's place between the lips, read from the real interiors.
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    u, v = mouth_coordinates(lm, xs, ys)
    rows, cols = CANONICAL
    aperture = inner_gap(lm) / face_h
    canonical = style.interiors.interior(aperture)
    if teeth is not None:
        # The photo's upper teeth replace the interior's own: those end where the photo's do, in each
        # column (the source's side teeth, in the narrow corners of its own mouth, reach far deeper
        # than its front teeth), and below them is what lies below the interior's own (no second row
        # of upper teeth, no block of them hanging at the sides).
        ends = style.interiors.upper_teeth_end(aperture)
        end = np.interp(u, (np.arange(len(ends)) + 0.5) / len(ends), ends)  # at each pixel's column
        covered = teeth_shown(teeth, gap, face_h)[1] / max(gap, 1e-6)
        v = np.where(v <= covered, v * end / max(covered, 1e-6),
                     end + (v - covered) * (1.0 - end) / max(1.0 - covered, 1e-6))  # fmt: skip
    layer = cv2.remap(canonical, (u * cols - 0.5).astype(np.float32), (v * rows - 0.5).astype(np.float32),
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    colour = layer[..., :3]
    luma = colour @ LUMA
    colour[:] = (luma[..., None] + style.saturation * (colour - luma[..., None])) * style.teeth
    if teeth is not None:  # the photo's own teeth, riding on the upper lip
        top_y = lm[mesh.UPPER_LIP_INNER, 1] - y0
        cx = float(lm[[mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT], 0].mean()) - x0
        _draw_teeth(layer, top_y, gap, cx, teeth, face_h)
    if style.blur > 0.3:  # colour and coverage together (premultiplied): no hard edge left in either
        coverage = cv2.GaussianBlur(layer[..., 3], (0, 0), style.blur)
        colour = cv2.GaussianBlur(colour * layer[..., 3:], (0, 0), style.blur) / np.maximum(coverage, 1e-3)[..., None]
        layer[..., 3] = coverage
    alpha = mask * layer[..., 3] * wider
    if noise is not None and style.grain > 0.5:
        colour += noise[y0:y1, x0:x1, None] * style.grain
    if style.tone is not None:  # the photo's own tone at each brightness
        colour = style.tone[np.clip(colour @ LUMA + 0.5, 0, 255).astype(np.uint8)]
    region = frame[y0:y1, x0:x1].astype(np.float32)
    alpha = alpha[..., None]
    frame = frame.copy()
    frame[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + colour * alpha, 0, 255).round().astype(np.uint8)
    return frame


def teeth_shown(teeth: Teeth, gap: float, face_h: float) -> tuple[int, float]:
    """(strip height, rows of it shown below the upper lip) for the photo's teeth at this face's size
    and opening: rigid (never stretched), showing at most ``TEETH_SHARE`` of the opening."""
    height = int(np.clip(round((teeth.image.shape[0] - teeth.lead) * teeth.scale(face_h)), 2,
                         round(UPPER_TEETH * face_h) + 1))  # fmt: skip
    return height, min(float(height), TEETH_SHARE * gap)


def _draw_teeth(layer: np.ndarray, lip_y: float, gap: float, cx: float, teeth: Teeth, face_h: float) -> None:
    """The photo's upper teeth attached to the upper lip of the (h, w, 4) colour + coverage layer:
    rigid (their own size at this face's, however the lips stretch), showing at most ``TEETH_SHARE`` of
    the opening (the lip covers the rest of them); only the teeth themselves, their lower edge fading into the
    interior (whose own upper teeth end where these do, see ``paint_mouth``)."""
    import cv2

    h, w = layer.shape[:2]
    tw = max(2, int(round(teeth.image.shape[1] * teeth.scale(face_h))))
    th, shown = teeth_shown(teeth, gap, face_h)
    if shown < 1.0:
        return
    lead = int(round(teeth.lead * th / max(teeth.image.shape[0] - teeth.lead, 1)))  # the side teeth, above
    strip = cv2.resize(teeth.image, (tw, th + lead), interpolation=cv2.INTER_LINEAR)
    sh, sw = strip.shape[:2]
    # Fade the strip's sides into the cavity (teeth recede toward the corners); the biting edge
    # curves (the front teeth are the longest) and fades over the strip's last rows.
    across = np.linspace(-1, 1, sw, dtype=np.float32)
    side = np.clip(1.0 - np.abs(across) ** 4, 0, 1)[None, :, None]
    edge = sh - shown * 0.3 * across**2  # rows from the strip's top, per column, where the teeth end
    rows = np.arange(sh, dtype=np.float32)[:, None]
    fade = max(1.0, TEETH_FADE * shown)
    side = side * np.clip((edge[None, :] - rows) / fade, 0.0, 1.0)[..., None] * strip[..., 3:]
    top = int(round(lip_y - (sh - shown)))  # the part of the teeth behind the lip (sh = lead + th)
    left = int(round(cx - sw / 2))
    ya, yb = max(top, 0), min(top + sh, h)
    xa, xb = max(left, 0), min(left + sw, w)
    if ya >= yb or xa >= xb:
        return
    s = strip[ya - top : yb - top, xa - left : xb - left]
    a = side[ya - top : yb - top, xa - left : xb - left]
    layer[ya:yb, xa:xb, :3] = layer[ya:yb, xa:xb, :3] * (1 - a) + s[..., :3] * a
    layer[ya:yb, xa:xb, 3:] = layer[ya:yb, xa:xb, 3:] * (1 - a) + a
