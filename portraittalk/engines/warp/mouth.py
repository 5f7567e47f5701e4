"""The mouth interior drawn where the lips open wider than in the photo: a cavity and teeth that
ride rigidly on the lips (cut from a reference that shows teeth, else drawn)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ...face import mesh
from ...face.reference import Reference

OPEN_MOUTH_APERTURE = 0.035  # a reference at least this open shows its teeth


@dataclass
class Teeth:
    """A strip of upper teeth cut from a reference, pasted rigidly under the upper lip."""

    image: np.ndarray  # (h, w, 3) float32
    width: float  # mouth width it was cut at (px), for scaling


def teeth_from(references: Sequence[Reference]) -> Optional[Teeth]:
    """Upper teeth cut from the reference with the widest-open mouth, if any shows them."""
    best = max(references, key=lambda r: r.mouth_aperture)
    if best.mouth_aperture < OPEN_MOUTH_APERTURE:
        return None
    lm = best.landmarks
    inner = lm[mesh.lips_inner_loop()]
    x0, x1 = inner[:, 0].min(), inner[:, 0].max()
    top = lm[mesh.UPPER_LIP_INNER, 1]
    bottom = lm[mesh.LOWER_LIP_INNER, 1]
    y0, y1 = int(round(top + 0.12 * (bottom - top))), int(round(top + 0.8 * (bottom - top)))  # below the lip edge
    patch = best.image[y0:max(y1, y0 + 2), int(x0):int(np.ceil(x1))].astype(np.float32)
    if patch.size == 0 or patch.mean() < 90:  # dark: a cavity, not teeth
        return None
    return Teeth(patch, float(x1 - x0))


def paint_mouth(frame: np.ndarray, lm: np.ndarray, face_h: float, teeth: Optional[Teeth], ref_gap: float
                 ) -> np.ndarray:  # fmt: skip
    """Composite a mouth interior inside the inner-lip polygon of ``lm``.

    Up to the photo's own opening (``ref_gap``) the photo's real mouth, warped, is kept; the drawn
    interior fades in only as the mouth opens wider than that, where warping would stretch teeth.
    """
    import cv2

    inner = lm[mesh.lips_inner_loop()]
    gap = float(np.linalg.norm(lm[mesh.UPPER_LIP_INNER] - lm[mesh.LOWER_LIP_INNER]))
    if gap < 0.012 * face_h:
        return frame
    x0, y0 = np.floor(inner.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(inner.max(axis=0)).astype(int) + 3
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return frame
    w, h = x1 - x0, y1 - y0
    mask = np.zeros((h * 4, w * 4), np.uint8)
    cv2.fillPoly(mask, [np.round((inner - [x0, y0]) * 4).astype(np.int32)], 255, cv2.LINE_AA)
    mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    wider = float(np.clip((gap - 1.1 * ref_gap) / (0.25 * ref_gap + 0.01 * face_h), 0.0, 1.0))
    if wider == 0.0:
        return frame
    mask = cv2.GaussianBlur(mask, (3, 3), 0.7)[..., None] * wider
    # Dark cavity, a little lighter toward the lips.
    yy = (np.arange(h, dtype=np.float32)[:, None, None] / max(h - 1, 1))
    cavity = np.array([78, 34, 38], np.float32) * (0.55 + 0.9 * np.abs(yy - 0.5))
    layer = np.broadcast_to(cavity, (h, w, 3)).copy()
    top_y = lm[mesh.UPPER_LIP_INNER, 1] - y0
    bottom_y = lm[mesh.LOWER_LIP_INNER, 1] - y0
    mouth_w = float(inner[:, 0].max() - inner[:, 0].min())
    _draw_teeth(layer, top_y, mouth_w, x0, lm, teeth, face_h, upper=True)
    _draw_teeth(layer, bottom_y, mouth_w, x0, lm, None, face_h, upper=False)
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame = frame.copy()
    frame[y0:y1, x0:x1] = (region * (1 - mask) + layer * mask).round().astype(np.uint8)
    return frame


def _draw_teeth(layer: np.ndarray, lip_y: float, mouth_w: float, x0: int, lm: np.ndarray,
                teeth: Optional[Teeth], face_h: float, upper: bool) -> None:  # fmt: skip
    """Teeth attached to a lip: rigid (never stretched vertically), narrower than the mouth."""
    import cv2

    h, w = layer.shape[:2]
    tooth_h = (0.05 if upper else 0.016) * face_h
    cx = float(lm[[mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT], 0].mean()) - x0
    tw = 0.78 * mouth_w
    if teeth is not None:
        scale = tw / max(teeth.width, 1.0)
        th = max(2, int(round(teeth.image.shape[0] * scale)))
        strip = cv2.resize(teeth.image, (max(2, int(round(tw))), th), interpolation=cv2.INTER_LINEAR)
    else:
        th = max(2, int(round(tooth_h)))
        strip = np.empty((th, max(2, int(round(tw))), 3), np.float32)
        strip[:] = (222, 218, 206) if upper else (132, 112, 106)
        n_teeth = 6
        for k in range(1, n_teeth):  # faint gaps between teeth
            gx = int(round(k * strip.shape[1] / n_teeth))
            strip[:, max(gx - 1, 0):gx] *= 0.9
        fade = np.linspace(1.0, 0.78, th, dtype=np.float32)[:, None, None]
        strip *= fade if upper else fade[::-1]
    sh, sw = strip.shape[:2]
    # Fade the strip's sides into the cavity (teeth recede toward the corners).
    side = np.clip(1.0 - np.abs(np.linspace(-1, 1, sw, dtype=np.float32)) ** 4, 0, 1)[None, :, None]
    tuck = 0.25 * sh  # teeth start under the lip, not at its edge
    top = int(round(lip_y - tuck)) if upper else int(round(lip_y + tuck)) - sh
    left = int(round(cx - sw / 2))
    ya, yb = max(top, 0), min(top + sh, h)
    xa, xb = max(left, 0), min(left + sw, w)
    if ya >= yb or xa >= xb:
        return
    s = strip[ya - top : yb - top, xa - left : xb - left]
    a = side[:, xa - left : xb - left]
    layer[ya:yb, xa:xb] = layer[ya:yb, xa:xb] * (1 - a) + s * a
