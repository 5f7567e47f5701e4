"""ADFD on landmark tracks with known answers (DESIGN.md, "ADFD (Eq. 4)")."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from portraittalk.errors import InputError
from portraittalk.metrics import adfd, adfd_report

SIZE = (640, 480)  # diagonal 800
D = 800.0


def walk(t: int = 20, n: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 300 + rng.normal(scale=2.0, size=(t, n, 2)).cumsum(axis=0)


def test_identical_tracks_score_one():
    x = walk()
    r = adfd_report(x, x.copy(), SIZE)
    assert r.spatial == pytest.approx(1.0) and r.motion == pytest.approx(1.0) and r.adfd == pytest.approx(1.0)
    assert adfd(x, x, SIZE) == pytest.approx(1.0)
    assert np.allclose(r.spatial_curve, 1.0) and np.isnan(r.motion_curve[0]) and np.allclose(r.motion_curve[1:], 1.0)


def test_constant_offset_closed_form():
    """Every landmark off by δ: ‖G_t − R_t‖_F = sqrt(N)·|δ| in every frame; motions are identical."""
    x, delta = walk(n=16), np.array([3.0, 4.0])  # |δ| = 5
    r = adfd_report(x + delta, x, SIZE)
    expected_s = 1 - np.sqrt(16) * 5.0 / D  # 0.975
    assert r.spatial == pytest.approx(expected_s, abs=1e-12)
    assert r.motion == pytest.approx(1.0, abs=1e-12)
    assert r.adfd == pytest.approx(expected_s, abs=1e-12)


def test_negated_motion_scores_zero_motion():
    x = walk()
    mirrored = 2 * x[0] - x  # same start, every step reversed
    r = adfd_report(mirrored, x, SIZE)
    assert r.motion == pytest.approx(0.0, abs=1e-12)
    assert r.adfd == pytest.approx(0.0, abs=1e-12)


def test_orthogonal_motion_scores_half():
    base = np.zeros((3, 1, 2)) + 100
    g, r = base.copy(), base.copy()
    g[1:, 0, 0] += [1, 2]  # moves right
    r[1:, 0, 1] += [1, 2]  # moves down
    assert adfd_report(g, r, SIZE).motion == pytest.approx(0.5)


def test_both_still_is_one_and_one_still_is_half():
    still = np.full((5, 4, 2), 200.0)
    assert adfd_report(still, still.copy(), SIZE).motion == 1.0
    moving = still.copy()
    moving[:, :, 0] += np.arange(5)[:, None]
    r = adfd_report(moving, still, SIZE)
    assert r.motion == pytest.approx(0.5)
    assert np.allclose(r.motion_curve[1:], 0.5)


def test_weights_scale_each_factor():
    x = walk(seed=1)
    y = x + np.random.default_rng(2).normal(scale=1.0, size=x.shape)
    base = adfd_report(y, x, SIZE)
    scaled = adfd_report(y, x, SIZE, w1=0.5, w2=2.0)
    assert scaled.adfd == pytest.approx(0.5 * base.spatial * 2.0 * base.motion)
    assert adfd(y, x, SIZE, w1=0.25) == pytest.approx(0.25 * base.adfd)
    assert (scaled.spatial, scaled.motion) == (base.spatial, base.motion)


def test_far_apart_faces_floor_spatial_term_at_zero():
    x = walk(n=100)
    r = adfd_report(x + 400.0, x, SIZE)  # sqrt(100)·566 px ≫ 800 px
    assert r.spatial == 0.0 and r.adfd == 0.0


def test_diagonal_comes_from_frame_size():
    x, delta = walk(n=4), np.array([6.0, 8.0])  # |δ| = 10, ‖·‖_F = 20
    assert adfd_report(x + delta, x, (300, 400)).spatial == pytest.approx(1 - 20 / 500)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 30), st.just(2)),
              elements=st.floats(0, 512)),
       st.integers(0, 2**32 - 1))  # fmt: skip
def test_adfd_in_unit_interval_on_random_tracks(g, seed):
    r = np.random.default_rng(seed).uniform(0, 512, size=g.shape)
    rep = adfd_report(g, r, (512, 512))
    assert 0.0 <= rep.spatial <= 1.0 and 0.0 <= rep.motion <= 1.0
    assert 0.0 <= rep.adfd <= 1.0


def test_nan_frames_raise_by_default_and_are_excluded_on_request():
    x = walk(t=10)
    y = x + 1.0
    y[4] = np.nan
    with pytest.raises(InputError, match=r"no face landmarks in 1 frame\(s\) \(first: frame 4\)"):
        adfd(y, x, SIZE)
    r = adfd_report(y, x, SIZE, missing="exclude")
    assert r.excluded_frames == [4]
    assert np.isnan(r.spatial_curve[4]) and np.isnan(r.motion_curve[[4, 5]]).all()
    assert np.isfinite(r.adfd) and r.motion == pytest.approx(1.0)  # steps touching frame 4 are dropped
    assert r.to_dict()["S_per_frame"][4] is None


def test_bad_shapes_are_clear_errors():
    x = walk()
    with pytest.raises(InputError, match="differ in shape"):
        adfd(x[:5], x, SIZE)
    with pytest.raises(InputError, match="at least 2 frames"):
        adfd(x[:1], x[:1], SIZE)
    with pytest.raises(InputError, match=r"shape \(frames, points, 2\)"):
        adfd(x[..., 0], x[..., 0], SIZE)
    with pytest.raises(InputError, match="frame_size must be positive"):
        adfd(x, x, (0, 10))
    with pytest.raises(InputError, match="two consecutive frames"):
        y = x.copy()
        y[1::2] = np.nan
        adfd_report(y, x, SIZE, missing="exclude")
