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
    import cv2

    mse = cv2.norm(a, b, cv2.NORM_L2SQR) / a.size
    if mse <= 255.0**2 * 10 ** (-PSNR_CAP_DB / 10):
        return PSNR_CAP_DB
    return float(10.0 * np.log10(255.0**2 / mse))


_BT601 = np.array([[0.299, 0.587, 0.114]], np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma (0..255, float32) of an RGB uint8 image; greyscale input passes through."""
    import cv2

    x = rgb.astype(np.float32)
    return x if x.ndim == 2 else cv2.transform(x, _BT601)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two uint8 images (RGB is compared on luma), data range 255."""
    import cv2

    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    # one 5-channel blur gives every local mean and second moment
    m = cv2.GaussianBlur(np.dstack([x, y, x * x, y * y, x * y]), (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)
    mx, my, exx, eyy, exy = (m[..., i] for i in range(5))
    mxy, m2 = mx * my, mx * mx + my * my
    s = ((2 * mxy + c1) * (2 * (exy - mxy) + c2)) / ((m2 + c1) * (exx + eyy - m2 + c2))
    pad = 5  # like scikit-image: ignore the border where the window leaves the image
    return float(s[pad:-pad, pad:-pad].mean()) if min(s.shape) > 2 * pad else float(s.mean())
