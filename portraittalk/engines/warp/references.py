"""Several references: each is aligned onto the first and lends its lower face on the frames where
its own mouth is closest to the wanted opening."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ...face import mesh
from ...face.reference import Reference
from ...motion.track import MotionTrack
from .field import FaceWarper

ALIGN_POINTS = [33, 133, 263, 362, 168, 6, 10, 234, 454, 1]  # eyes, nose bridge, forehead, temples
MAX_POSE_RESIDUAL = 0.06  # of face height: beyond it another reference is too differently posed


@dataclass
class Source:
    """A reference rendered along the track in the primary's frame, with its mouth facts."""

    warper: FaceWarper
    aperture: float  # its own mouth opening (inner-lip gap / face height)
    ref_gap: float  # the same gap in pixels

    @classmethod
    def of(cls, reference: Reference, track: MotionTrack) -> "Source":
        gap = float(np.linalg.norm(track.reference[mesh.UPPER_LIP_INNER] - track.reference[mesh.LOWER_LIP_INNER]))
        return cls(FaceWarper(reference, track), float(mesh.mouth_aperture(track.reference)), gap)

    @classmethod
    def aligned(cls, primary: Reference, other: Reference, track: MotionTrack) -> Optional["Source"]:
        """``other`` moved onto the primary's face (similarity on the upper face, colours matched),
        driven by the track's expression; None when its pose is too different to blend."""
        import cv2

        m, _ = cv2.estimateAffinePartial2D(other.landmarks[ALIGN_POINTS], primary.landmarks[ALIGN_POINTS])
        if m is None:
            return None
        pts = other.landmarks @ m[:, :2].T + m[:, 2]
        h = float(mesh.face_height(primary.landmarks))
        residual = np.sqrt(((pts[ALIGN_POINTS] - primary.landmarks[ALIGN_POINTS]) ** 2).sum(axis=1).mean()) / h
        if residual > MAX_POSE_RESIDUAL:
            return None
        size = primary.size
        image = cv2.warpAffine(other.image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        image = match_colours(image, primary.image, primary.landmarks)
        ref = replace(primary, image=image, landmarks=pts.astype(np.float32),
                      _cache={"mask": primary.person_mask()})  # fmt: skip
        # Same expression and head motion, on this reference's own rest shape.
        return cls.of(ref, replace(track, reference=pts.astype(np.float32)))


def source_weights(target: np.ndarray, apertures: list[float], hysteresis: float = 0.01) -> np.ndarray:
    """(T, K) blend weights: per frame the source whose mouth is closest to the target's, held
    until another is clearly closer, cross-faded over three frames at switches."""
    ap = np.asarray(apertures)
    choice = np.zeros(len(target), int)
    current = 0
    for t, a in enumerate(target):
        best = int(np.argmin(np.abs(ap - a)))
        if abs(ap[best] - a) + hysteresis < abs(ap[current] - a):
            current = best
        choice[t] = current
    onehot = np.eye(len(ap))[choice]
    kernel = np.array([0.25, 0.5, 0.25])
    smooth = np.stack([np.convolve(np.pad(c, 1, mode="edge"), kernel, mode="valid") for c in onehot.T], axis=1)
    return smooth / smooth.sum(axis=1, keepdims=True)


def lower_face_mask(lm: np.ndarray, size: int, face_h: float) -> np.ndarray:
    """Soft mask of the face below the nose (where another reference's mouth is blended in)."""
    import cv2

    mask = np.zeros((size, size), np.float32)
    cv2.fillPoly(mask, [np.round(lm[mesh.face_oval_loop()]).astype(np.int32)], 1.0)
    ys = np.arange(size, dtype=np.float32)[:, None]
    top, mid = lm[mesh.NOSE_TIP, 1], lm[mesh.UPPER_LIP_OUTER, 1]
    mask *= np.clip((ys - top) / max(mid - top, 1.0), 0.0, 1.0)
    return cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.03 * face_h))


def match_colours(image: np.ndarray, target: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Per-channel mean/std of ``image`` matched to ``target`` inside the face (lighting differs
    between photos)."""
    import cv2

    mask = np.zeros(target.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[mesh.face_oval_loop()]).astype(np.int32)], 1)
    sel = mask > 0
    src, dst = image[sel].astype(np.float32), target[sel].astype(np.float32)
    scale = dst.std(axis=0) / np.maximum(src.std(axis=0), 1.0)
    out = (image.astype(np.float32) - src.mean(axis=0)) * scale + dst.mean(axis=0)
    return np.clip(out, 0, 255).round().astype(np.uint8)
