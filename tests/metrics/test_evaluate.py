"""Video-level evaluation on real faces (the astronaut portrait under smooth head motion)."""
from __future__ import annotations

import numpy as np
import pytest

from portraittalk.errors import InputError, NoFaceError, VideoError
from portraittalk.metrics.evaluate import align_frames, evaluate

from metrics_clips import PORTRAIT, make_clip, write_video


@pytest.fixture(scope="module")
def reencoded(clips):
    return evaluate(clips["reencoded"], clips["gt"], reference=PORTRAIT, samples=6)


def test_reencoded_copy_scores_near_one(reencoded):
    r = reencoded
    assert r.frames == 50 and r.adfd.excluded_frames == []
    assert r.adfd.adfd > 0.99, (r.adfd.spatial, r.adfd.motion)
    assert r.lmd.mouth_norm < 0.005
    assert r.psnr.mean() > 35 and r.ssim.mean() > 0.95


def test_identity_and_unavailable_learned_metrics_are_reported(reencoded):
    ident = reencoded.identity
    assert ident["available"] and ident["backend"] in ("dlib", "insightface") and ident["frames"] == 6
    assert ident["value"] > 0.9
    assert set(reencoded.learned) == {"fid", "e_fid", "fvd", "syncnet", "clip_t", "dino"}
    for out in reencoded.learned.values():
        assert out["value"] is None and out["available"] is False and "weights not found" in out["reason"]


def test_three_frame_delay_scores_clearly_lower(clips, reencoded):
    delayed = evaluate(clips["delayed"], clips["gt"])
    assert delayed.adfd.adfd < reencoded.adfd.adfd - 0.15
    assert delayed.adfd.motion < reencoded.adfd.motion - 0.1
    assert delayed.lmd.face_px > 3 * reencoded.lmd.face_px


def test_other_frame_rate_and_size_are_aligned(clips, reencoded):
    r = evaluate(clips["fps30_small"], clips["gt"])  # 30 fps 320 px against 25 fps 512 px
    assert (r.generated.fps, r.generated.width, r.generated.frames) == (30.0, 320, 60)
    assert r.frames == 50  # the 25 fps ground truth drives
    assert np.allclose(np.diff(r.times), 0.04)
    assert r.adfd.adfd > 0.9  # same motion, sampled at other instants and sizes
    assert r.adfd.adfd < reencoded.adfd.adfd
    d = r.to_dict()
    assert d["generated"]["fps"] == 30.0 and len(d["adfd"]["S_per_frame"]) == 50


def test_align_frames_nearest_in_time_and_truncated():
    t25, t30 = np.arange(50) / 25, np.arange(57) / 30  # 2.0 s and 1.9 s
    ig, ir, times = align_frames(t30, t25, 30, 25)
    assert len(ir) == 48 and list(ir) == list(range(48))  # stops where the 1.9 s video ends
    assert np.abs(t30[ig] - t25[ir]).max() <= 1 / 60 + 1e-9
    ig, ir, _ = align_frames(t25, t25, 25, 25)
    assert list(ig) == list(ir) == list(range(50))


def test_length_mismatch_beyond_the_limit_is_refused(clips, tmp_path):
    short = make_clip(tmp_path / "short.mp4", seconds=1.0, size=256)
    message = r"'short.mp4' is 1.00 s long and 'gt.mp4' 2.00 s; they differ by more than 25%"
    with pytest.raises(InputError, match=message):
        evaluate(short, clips["gt"])


def test_video_without_a_face(clips, tmp_path):
    blank = write_video(tmp_path / "blank.mp4", [np.full((512, 512, 3), 128, np.uint8)] * 50, 25.0)
    with pytest.raises(NoFaceError, match="no face found in any frame of 'blank.mp4'"):
        evaluate(blank, clips["gt"])


def test_empty_and_missing_videos(clips, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="'empty.mp4' is not a video we can read"):
        evaluate(empty, clips["gt"])
    with pytest.raises(VideoError, match="video 'missing.mp4' does not exist"):
        evaluate(tmp_path / "missing.mp4", clips["gt"])


def test_adfd_of_saved_landmark_tracks_aligns_and_rescales():
    from portraittalk.face.landmarks_io import LandmarkTrack
    from portraittalk.metrics.evaluate import adfd_tracks

    rng = np.random.default_rng(5)
    pts = (200 + rng.normal(size=(50, 478, 2)).cumsum(axis=0)).astype(np.float32)
    gt = LandmarkTrack(pts, 25.0, (512, 512), np.arange(50) / 25 + 0.5)  # starts at 0.5 s: relative times count
    half = LandmarkTrack(pts[:48] / 2, 25.0, (256, 256), np.arange(48) / 25)
    r = adfd_tracks(half, gt)
    assert r.frames == 48 and r.adfd == pytest.approx(1.0)
    with pytest.raises(InputError, match="differ by more than 25%"):
        adfd_tracks(LandmarkTrack(pts[:10], 25.0, (512, 512), np.arange(10) / 25), gt)


def test_frames_without_a_face_are_excluded_and_reported(clips, tmp_path):
    from portraittalk.media import read_video

    frames = [f for _, f in read_video(clips["gt"])]
    for i in range(20, 25):
        frames[i] = np.full_like(frames[i], 128)  # the face disappears for 0.2 s
    gappy = write_video(tmp_path / "gappy.mp4", frames, 25.0)
    r = evaluate(gappy, clips["gt"], learned=False)
    assert r.adfd.excluded_frames == [20, 21, 22, 23, 24] and r.lmd.excluded_frames == 5
    assert np.isnan(r.adfd.spatial_curve[20:25]).all() and np.isnan(r.adfd.motion_curve[20:26]).all()
    assert np.isfinite(r.adfd.adfd) and r.adfd.adfd > 0.95
    assert "5 of 50 frame pair(s) had no face in one of the videos" in r.notes[0]
