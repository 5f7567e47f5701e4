"""`portraittalk preprocess`: real talking clips become training clips; bad videos are reported and
skipped; interrupted or failed work leaves nothing half-written; reruns resume."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from portraittalk.errors import InputError
from portraittalk.face import mesh
from portraittalk.training.clips import Clip, TalkingHeadData
from portraittalk.training.config import PreprocessSettings
from portraittalk.training.preprocess import preprocess, resample

from .conftest import CLIP_SECONDS, SIZE


def test_clips_match_what_was_rendered_and_bad_videos_are_reported(videos, preprocessed):
    data_dir, proc = preprocessed
    manifest = json.loads((data_dir / "manifest.json").read_text())
    status = {k: v["status"] for k, v in manifest["videos"].items()}
    assert status == {"astronaut": "done", "man_30fps": "done", "broken": "failed", "faceless": "failed"}
    assert "not a video we can read" in manifest["videos"]["broken"]["message"]
    assert "face in 0 of 25 frames" in manifest["videos"]["faceless"]["message"]
    assert "2 video(s) processed" in proc.stdout and "failed: broken.mp4" in proc.stdout
    assert "failed: faceless.mp4" in proc.stdout and "Traceback" not in proc.stderr
    assert sorted(p.name for p in (data_dir / "clips").iterdir()) == ["astronaut", "man_30fps"]  # no temp folders

    data = TalkingHeadData.open(data_dir)
    assert data.identity_dim() == 128 and data.feature_kinds() == {"mel"}  # offline: dlib, log-mel
    for clip in data.clips:
        rendered = videos["astronaut" if clip.name == "astronaut" else "man"]
        frames = round(CLIP_SECONDS * 25)
        assert clip.meta["fps"] == 25 and abs(clip.frames - frames) <= 1 and clip.found.all()
        for sub, suffix in (("frames", ".jpg"), ("masks", ".png"), ("contours", ".png")):
            assert len(list((clip.folder / sub).glob(f"*{suffix}"))) == clip.frames
        assert clip.features("mel").shape == (2 * clip.frames, 80)
        # Landmarks, mapped back to the video, are where the warp engine drew the face (the 30 fps
        # copy resampled back to 25 fps lands on the same frames).
        crop = np.array(clip.meta["crop"])
        back = (clip.landmarks - crop[:, 2]) @ np.linalg.inv(crop[:, :2]).T
        n = min(len(back), len(rendered.landmarks))
        err = np.linalg.norm(back[:n] - rendered.landmarks[:n], axis=-1)
        assert np.median(err) < 2.0, clip.name
        lags = {lag: _lag_corr(mesh.mouth_aperture(clip.landmarks), mesh.mouth_aperture(rendered.landmarks), lag)
                for lag in range(-2, 3)}  # fmt: skip
        assert lags[0] > 0.75 and max(lags, key=lags.get) == 0, (clip.name, lags)  # in step, not a frame off
        image, mask, contour = clip.frame(10), clip.mask(10), clip.contour(10)
        assert image.shape == (SIZE, SIZE, 3) and mask.shape == contour.shape == (SIZE, SIZE)
        face = np.round(clip.landmarks[10][mesh.NOSE_TIP]).astype(int)
        assert mask[face[1], face[0]] > 200 and mask[2, -3] < 50  # person in the middle, not top right
        oval = np.round(clip.landmarks[10][mesh.face_oval_loop()]).astype(int).clip(0, SIZE - 1)
        assert (contour[oval[:, 1], oval[:, 0]] > 0).mean() > 0.8 and contour[:8, -8:].max() == 0  # on the head only
    prompts = {c.name: c.prompt for c in data.clips}
    assert prompts == {"astronaut": "an astronaut in a white suit", "man_30fps": "a man with a beard"}
    # The two people's reference embeddings: same person close, different people far (dlib's 0.6).
    a, b = (c.identity() for c in data.clips)
    assert a.shape[0] == 4 and np.linalg.norm(a - a[0], axis=1).max() < 0.6
    assert np.linalg.norm(a[:, None] - b[None], axis=-1).min() > 0.6


def _lag_corr(a: np.ndarray, b: np.ndarray, lag: int) -> float:
    n = min(len(a), len(b))
    x, y = a[max(0, lag) : n + min(0, lag)], b[max(0, -lag) : n - max(0, lag)]
    return float(np.corrcoef(x, y)[0, 1])


def test_resample_picks_the_nearest_frame():
    times = [i / 30 for i in range(30)]  # one second at 30 fps
    out = list(resample(((t, i) for i, t in enumerate(times)), 25.0, 30.0))
    assert len(out) == 25
    assert out == [int(round(k / 25 * 30)) for k in range(25)]
    assert list(resample(((i / 25, i) for i in range(10)), 25.0, 25.0)) == list(range(10))


def test_short_gaps_without_a_face_are_interpolated_long_ones_are_not():
    from portraittalk.training.preprocess import _fill_gaps

    points = np.arange(20, dtype=np.float32)[:, None, None] * np.ones((1, 478, 2), np.float32)
    points[3:5] = np.nan  # 2 frames: filled
    points[10:17] = np.nan  # 7 frames: longer than max_gap, left out
    filled = _fill_gaps(points, max_gap=5)
    assert np.allclose(filled[3:5, 0, 0], [3, 4]) and np.isnan(filled[10:17]).all()
    assert np.array_equal(filled[~np.isnan(points[:, 0, 0])], points[~np.isnan(points[:, 0, 0])])


def test_rerun_skips_finished_work_and_a_failure_midway_leaves_nothing(videos, data_dir, tmp_path, monkeypatch):
    data = tmp_path / "DATA"
    shutil.copytree(data_dir, data)
    astronaut = videos["astronaut"].path
    only = tmp_path / "videos"
    only.mkdir()
    (only / astronaut.name).symlink_to(astronaut)
    (only / "faceless.mp4").symlink_to(astronaut.parent / "faceless.mp4")
    settings = PreprocessSettings(size=SIZE)
    # Finished and failed videos are not done again (an interrupted run's temporary folder is cleared).
    (data / "clips" / ".tmp-astronaut").mkdir()
    results = preprocess(only, data, settings=settings)
    assert {r.clip_id: r.status for r in results} == {"astronaut": "skipped", "faceless": "failed"}
    assert not (data / "clips" / ".tmp-astronaut").exists()
    with pytest.raises(InputError, match="other settings"):
        preprocess(only, data, settings=PreprocessSettings(size=SIZE * 2))

    # A video that fails halfway through writing is recorded as failed and leaves no folder behind.
    shutil.rmtree(data / "clips" / "astronaut")
    import portraittalk.face.segmentation as segmentation

    calls = {"n": 0}
    real = segmentation.person_mask

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 20:
            raise OSError("disk unplugged")
        return real(*args, **kwargs)

    monkeypatch.setattr(segmentation, "person_mask", flaky)
    results = preprocess(only, data, settings=settings, retry_failed=False)
    failed = {r.clip_id: r for r in results}["astronaut"]
    assert failed.status == "failed" and "disk unplugged" in failed.message and calls["n"] == 20
    assert sorted(p.name for p in (data / "clips").iterdir()) == ["man_30fps"]
    monkeypatch.setattr(segmentation, "person_mask", real)
    results = {r.clip_id: r for r in preprocess(only, data, settings=settings, retry_failed=True)}
    assert results["astronaut"].status == "done" and results["faceless"].status == "failed"
    assert Clip.open(data / "clips" / "astronaut").frames == results["astronaut"].frames > 0


def test_arcface_embeddings_when_insightface_is_present(videos, tmp_path):
    from portraittalk.weights import Weights

    from tiny_onnx import write_tiny_arcface

    weights = tmp_path / "weights"
    write_tiny_arcface(weights / "insightface" / "models" / "buffalo_l" / "w600k_r50.onnx")
    src = tmp_path / "videos"
    src.mkdir()
    (src / "astronaut.mp4").symlink_to(videos["astronaut"].path)
    out = tmp_path / "DATA"
    [result] = preprocess(src, out, settings=PreprocessSettings(size=64, reference_frames=2), weights=Weights(weights))
    assert result.status == "done"
    clip = TalkingHeadData.open(out).clips[0]
    assert clip.meta["identity_backend"] == "insightface" and clip.identity().shape == (2, 512)
    assert np.allclose(np.linalg.norm(clip.identity(), axis=1), 1.0, atol=1e-5)  # normed_embedding


def test_usage_errors(tmp_path):
    from shared_inputs import run_cli

    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli("preprocess", str(empty), "--out", str(tmp_path / "D"))
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("error: no videos in")
    bad = tmp_path / "prompts.csv"
    bad.write_text("file;text\n")
    (empty / "a.mp4").write_bytes(b"x")
    proc = run_cli("preprocess", str(empty), "--out", str(tmp_path / "D"), "--prompts", str(bad))
    assert proc.returncode == 2 and "columns video,prompt" in proc.stderr
    assert not (tmp_path / "D").exists()
