"""Square face crops and the inverse transform that pastes a crop back into the photo."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mesh import face_oval_loop


@dataclass(frozen=True)
class FaceCrop:
    """A similarity transform from photo pixels to a ``size`` x ``size`` crop."""

    matrix: np.ndarray  # (2, 3): crop = matrix @ [x, y, 1]
    size: int
    source_size: tuple[int, int]  # (width, height) of the photo

    @property
    def inverse(self) -> np.ndarray:
        import cv2

        return cv2.invertAffineTransform(self.matrix)

    @property
    def scale(self) -> float:
        return float(np.hypot(self.matrix[0, 0], self.matrix[1, 0]))

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map (..., 2) photo points into crop pixels."""
        return (points @ self.matrix[:, :2].T + self.matrix[:, 2]).astype(np.float32)

    def to_source(self, points: np.ndarray) -> np.ndarray:
        """Map (..., 2) crop points back into photo pixels."""
        inv = self.inverse
        return (points @ inv[:, :2].T + inv[:, 2]).astype(np.float32)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Cut the crop out of the photo (outside the photo: edge pixels repeated)."""
        import cv2

        interp = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_CUBIC
        return cv2.warpAffine(image, self.matrix, (self.size, self.size), flags=interp,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip

    def paste(self, photo: np.ndarray, crop: np.ndarray, mask: np.ndarray | None = None,
              feather: int = 15) -> np.ndarray:  # fmt: skip
        """Blend ``crop`` back into ``photo`` through ``mask`` (crop-sized, 0..1; default: all of it)."""
        import cv2

        w, h = self.source_size
        if mask is None:
            mask = np.ones((self.size, self.size), np.float32)
            mask[:feather], mask[-feather:], mask[:, :feather], mask[:, -feather:] = 0, 0, 0, 0
        k = feather * 2 + 1
        mask = cv2.GaussianBlur(mask.astype(np.float32), (k, k), 0)
        inv = self.inverse
        back = cv2.warpAffine(crop, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.warpAffine(mask, inv, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
        return (photo * (1 - alpha) + back * alpha).round().astype(np.uint8)


def face_crop(points: np.ndarray, image_size: tuple[int, int], size: int = 512,
              margin: float = 0.9) -> FaceCrop:  # fmt: skip
    """A square crop centred on the face.

    The face box (the face outline's extent, forehead to chin) grows by ``margin`` of its size on
    every side, so hair and shoulders stay in view; the crop is upright (no roll correction), which
    keeps the background straight.
    """
    oval = points[face_oval_loop()]
    x0, y0 = oval.min(axis=0)
    x1, y1 = oval.max(axis=0)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0 - 0.06 * (y1 - y0)  # a little headroom for hair
    # Stay inside the photo where it is large enough: repeated edge pixels look like streaks.
    w, h = image_size
    side = min(side, float(min(w, h))) if side > max(x1 - x0, y1 - y0) * 1.3 else side
    if side <= w:
        cx = float(np.clip(cx, side / 2, w - side / 2))
    if side <= h:
        cy = float(np.clip(cy, side / 2, h - side / 2))
    scale = size / side
    matrix = np.array([[scale, 0.0, size / 2 - cx * scale], [0.0, scale, size / 2 - cy * scale]], np.float64)
    return FaceCrop(matrix, size, image_size)
