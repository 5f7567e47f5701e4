"""Per-frame image metrics: PSNR and SSIM on aligned frames of the same size.

SSIM is Wang et al.'s (Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03) on the BT.601 luma, as most
talking-face papers report it; computed with OpenCV blurs because it runs on every frame of a
video (scikit-image's Gaussian SSIM gives the same numbers, ~2.5× slower).
"""
from __future__ import annotations

import numpy as np

PSNR_CAP_DB = 100.0  # identical frames would be +inf; capped so means and JSON stay finite


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images of the same shape (capped at 100 dB)."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    if mse <= 255.0**2 * 10 ** (-PSNR_CAP_DB / 10):
        return PSNR_CAP_DB
    return float(10.0 * np.log10(255.0**2 / mse))


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma (0..255, float32) of an RGB uint8 image; greyscale input passes through."""
    x = rgb.astype(np.float32)
    if x.ndim == 2:
        return x
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two uint8 images (RGB is compared on luma), data range 255."""
    import cv2

    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    pad = 5  # like scikit-image: ignore the border where the window leaves the image
    return float(s[pad:-pad, pad:-pad].mean()) if min(s.shape) > 2 * pad else float(s.mean())
