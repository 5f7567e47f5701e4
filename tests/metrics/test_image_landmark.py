"""PSNR, SSIM and LMD against closed forms and scikit-image."""
from __future__ import annotations

import numpy as np
import pytest

from portraittalk.errors import InputError
from portraittalk.face import mesh
from portraittalk.metrics import lmd_report, psnr, ssim
from portraittalk.metrics.landmark import mouth_indices


def test_psnr_closed_form_and_cap():
    a = np.full((32, 32, 3), 100, np.uint8)
    b = a + np.uint8(5)  # MSE = 25
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 25))
    assert psnr(a, a) == 100.0


def test_ssim_matches_scikit_image():
    import cv2
    from skimage.metrics import structural_similarity

    from portraittalk.metrics.image import luma

    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), (5, 5), 1.5)
    b = np.clip(a.astype(int) + rng.integers(-25, 26, a.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(luma(a), luma(b), gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255)  # fmt: skip
    assert ssim(a, b) == pytest.approx(expected, abs=1e-4)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, b) < 0.9


def face_track(t: int = 6) -> np.ndarray:
    rng = np.random.default_rng(3)
    base = rng.uniform(100, 300, size=(mesh.NUM_LANDMARKS, 2))
    base[mesh.FOREHEAD], base[mesh.CHIN] = (200, 100), (200, 300)  # face height 200 px
    return np.repeat(base[None], t, axis=0)


def test_lmd_of_a_mouth_shift():
    r = face_track()
    g = r.copy()
    g[:, mouth_indices(), 1] += 4.0  # only the lips move, 4 px down
    rep = lmd_report(g, r)
    assert len(mouth_indices()) == 40
    assert rep.mouth_px == pytest.approx(4.0)
    assert rep.face_px == pytest.approx(4.0 * 40 / mesh.NUM_LANDMARKS)
    assert rep.mouth_norm == pytest.approx(4.0 / 200)
    assert rep.excluded_frames == 0


def test_lmd_excludes_missing_frames_and_rejects_empty():
    r = face_track()
    g = r + 1.0
    g[2] = np.nan
    rep = lmd_report(g, r)
    assert rep.excluded_frames == 1 and np.isnan(rep.face_curve_px[2])
    assert rep.face_px == pytest.approx(np.sqrt(2))
    with pytest.raises(InputError, match="no frame has face landmarks in both videos"):
        lmd_report(np.full_like(r, np.nan), r)
