"""Frame-to-frame stability without trained temporal weights: each frame starts from the warp engine's.

The method (differential SDEdit): frame t is the warp engine's frame t for the same track, encoded
by the VAE, noised and re-drawn by the diffusion model, with a per-pixel *strength*: ``s`` (the
``denoise_strength`` setting) everywhere, more around the mouth: ``s + (1 − s) · MOUTH_EXTRA`` at
its centre, feathered out over its margin. A latent pixel of strength σ is held at the warp
latent, noised to the current step's level, for the first ``N − ⌊N·σ⌋`` of the N steps and is
denoised freely after that: with one σ everywhere this is exactly diffusers' img2img; pixels with
⌊N·σ⌋ = 0 end as the warp latent itself. ``denoise_strength = 1`` uses no warp frame at all: every
frame is generated from the seeded noise (the paper's sampling, for trained temporal weights).

Why: the warp frames already move the lips with the speech and keep identity and background
still, frame after frame; the diffusion model redraws appearance (the prompt reaches the whole
frame through ``s``) and gets the most freedom where the warp engine is weakest (teeth, lips,
mouth interior), guided there by the landmark ControlNet when one is loaded.
"""
from __future__ import annotations

import numpy as np

from ...face import mesh

MOUTH_EXTRA = 0.5  # the mouth's strength goes this far from s towards 1
MOUTH_MARGIN = 0.35  # the region reaches this fraction of the mouth's width beyond the lips


def mouth_region(points: np.ndarray, size: int, side: int) -> np.ndarray:
    """(side, side) float32 in [0, 1]: 1 over the lips and mouth, feathered over ``MOUTH_MARGIN`` of
    the mouth width, for ``points`` (478, 2) in pixels of a ``size``-square frame."""
    import cv2

    scale = side / size
    lips = np.unique(mesh.connections("LIPS"))
    pts = points[lips] * scale
    width = float(np.linalg.norm(points[mesh.MOUTH_CORNER_LEFT] - points[mesh.MOUTH_CORNER_RIGHT])) * scale
    margin = max(MOUTH_MARGIN * width, 1.0)
    hull = cv2.convexHull(np.round(pts * 8).astype(np.int32))
    inside = np.zeros((side, side), np.uint8)
    cv2.fillConvexPoly(inside, hull, 1, lineType=cv2.LINE_8, shift=3)
    distance = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)  # 0 inside, pixels outside
    return np.clip(1.0 - distance / margin, 0.0, 1.0).astype(np.float32)


def strength_map(points: np.ndarray, size: int, side: int, strength: float) -> np.ndarray:
    """Per-latent-pixel denoising strength (side, side), float64 so that ``strength`` itself is exact."""
    return strength + (1.0 - strength) * MOUTH_EXTRA * mouth_region(points, size, side).astype(np.float64)


def start_steps(strength: np.ndarray, steps: int) -> np.ndarray:
    """The step at which each pixel starts to be denoised: ``N − ⌊N·σ⌋`` (diffusers' img2img rule)."""
    return (steps - np.floor(steps * np.clip(np.asarray(strength, np.float64), 0.0, 1.0))).astype(np.int64)
