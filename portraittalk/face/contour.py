"""The paper's head-contour map: a coarse binary edge map of the head outline.

Reduced-sensitivity Canny: the image is blurred (Gaussian, sigma = 1.5 % of the image side) and
shrunk to a quarter of its size before Canny with high thresholds (``low=80, high=200``), so skin
texture, wrinkles and hair strands drop out and only strong outlines survive. Edges are then kept
only in a band around the person (the dilated person mask minus its eroded interior), plus the
face outline from the landmarks, and dilated by 1 px at the working scale to make a coarse map.
``docs/head_contour.png`` shows one.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .mesh import face_oval_loop

CANNY_LOW = 80
CANNY_HIGH = 200
DOWNSCALE = 4
BLUR_SIGMA_FRACTION = 0.015


def head_contour(image: np.ndarray, landmarks: np.ndarray, person_mask: Optional[np.ndarray] = None
                 ) -> np.ndarray:  # fmt: skip
    """A uint8 {0, 255} map of the head outline, the size of ``image``."""
    import cv2

    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // DOWNSCALE), max(1, h // DOWNSCALE)), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    sigma = max(1.0, BLUR_SIGMA_FRACTION * max(small.shape) )
    gray = cv2.GaussianBlur(gray, (0, 0), sigma)
    edges = cv2.Canny(gray, CANNY_LOW, CANNY_HIGH)
    if person_mask is not None:
        m = cv2.resize((person_mask > 0.5).astype(np.uint8), (small.shape[1], small.shape[0]),
                       interpolation=cv2.INTER_NEAREST)  # fmt: skip
        k = np.ones((5, 5), np.uint8)
        band = cv2.dilate(m, k, iterations=2) - cv2.erode(m, k, iterations=2)
        edges = np.where(band > 0, edges, 0).astype(np.uint8)
        outline = cv2.morphologyEx(m, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        edges = np.maximum(edges, outline * 255)
    oval = (landmarks[face_oval_loop()] / DOWNSCALE).round().astype(np.int32)
    cv2.polylines(edges, [oval], isClosed=True, color=255, thickness=1)
    edges = cv2.dilate(edges, np.ones((2, 2), np.uint8))
    full = cv2.resize(edges, (w, h), interpolation=cv2.INTER_NEAREST)
    return np.where(full > 0, 255, 0).astype(np.uint8)
