"""The motion corpus (issue 21): its measurements on real frames, its split, and the committed features."""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from portraittalk.training import motion_corpus as mc
from shared_inputs import ROOT

CORPUS = ROOT / "benchmarks" / "data" / "motion_corpus"
CLIPS = ROOT / "benchmarks" / "data" / "clips"
MAY = CLIPS / "fit" / "en_theresa_may.mp4"
# Frames of en_theresa_may (25 fps) looked at by eye: lips pressed together, and mouth wide open.
MAY_CLOSED, MAY_OPEN = (32, 53), (45, 96)


TURNING = CLIPS / "fit" / "xx_woman_outdoor_latentsync.mp4"  # the fit clip whose head moves most


@functools.lru_cache(maxsize=2)
def _frames(path=MAY) -> list[np.ndarray]:
    from portraittalk.media import read_video
    from portraittalk.training.preprocess import resample

    video = read_video(path)
    return list(resample(video, mc.FPS, video.fps))


def _points3d(image: np.ndarray) -> np.ndarray:
    from portraittalk.face.landmarks import FaceMeshDetector

    with FaceMeshDetector(static=True, max_faces=1) as detector:
        face = detector.detect(image)
    return np.concatenate([face.points, face.z[:, None]], axis=1)


def _measures(points: np.ndarray, unit: float) -> dict[str, float]:
    out = {k: float(v) for k, v in mc.expression_measures(mc.face_local(points, unit)).items()}
    out.update(zip(("roll", "pitch", "yaw"), map(float, mc.head_angles(points))))
    return out


@functools.lru_cache(maxsize=1)
def _manifest() -> dict:
    return json.loads((CORPUS / "manifest.json").read_text())


# -- measurements on real frames ---------------------------------------------------------------------
def test_lip_gap_is_larger_where_the_mouth_is_visibly_open():
    frames = _frames()
    points = {i: _points3d(frames[i]) for i in MAY_CLOSED + MAY_OPEN}
    unit = mc.face_unit(np.stack(list(points.values())))
    gap = {i: _measures(p, unit)["lip_gap"] for i, p in points.items()}
    assert max(gap[i] for i in MAY_CLOSED) < 0.02
    assert min(gap[i] for i in MAY_OPEN) > 0.05
    jaw = {i: _measures(p, unit)["jaw_drop"] for i, p in points.items()}
    assert min(jaw[i] for i in MAY_OPEN) > max(jaw[i] for i in MAY_CLOSED)


def test_roll_follows_a_turned_frame_and_the_face_frame_ignores_it():
    import cv2

    image = _frames()[MAY_OPEN[0]]
    h, w = image.shape[:2]
    base = _points3d(image)
    unit = mc.face_unit(base)
    before = _measures(base, unit)
    for degrees in (20.0, -20.0):
        # OpenCV's positive angle turns counter-clockwise on screen; roll > 0 is clockwise.
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), -degrees, 1.0)
        after = _measures(_points3d(cv2.warpAffine(image, turn, (w, h), borderMode=cv2.BORDER_REPLICATE)), unit)
        assert after["roll"] - before["roll"] == pytest.approx(degrees, abs=2.0)
        assert abs(after["yaw"] - before["yaw"]) < 3.0 and abs(after["pitch"] - before["pitch"]) < 3.0
        for name in ("lip_gap", "mouth_width", "brow_height"):  # within MediaPipe's own change (~2 %)
            assert after[name] == pytest.approx(before[name], abs=0.01), name


def test_face_frame_measures_do_not_change_when_the_head_moves_rigidly():
    """Real landmarks turned and shifted in 3-D: the same expression numbers, and roll grows by the
    in-plane turn exactly."""
    points = _points3d(_frames()[MAY_OPEN[0]])
    unit = mc.face_unit(points)
    before = mc.expression_measures(mc.face_local(points, unit))
    a, b = np.radians(25.0), np.radians(-15.0)
    in_plane = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    about_y = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    for turn in (in_plane, about_y @ in_plane):
        moved = points @ turn.T + np.array([40.0, -25.0, 7.0])
        after = mc.expression_measures(mc.face_local(moved, unit))
        for name, value in before.items():
            assert after[name] == pytest.approx(value, abs=1e-9), name
    rolled = mc.head_angles(points @ in_plane.T)
    assert rolled[0] - mc.head_angles(points)[0] == pytest.approx(25.0, abs=1e-6)


def test_yaw_and_pitch_signs_follow_the_nose_on_a_real_clip():
    """Over a real clip, yaw > 0 moves the nose tip to the image's right of the eyes' middle and
    pitch > 0 (chin down) moves it down; a mirrored frame flips yaw's and roll's signs."""
    from portraittalk.face import mesh

    frames = _frames(TURNING)[::8]
    points = np.stack([_points3d(f) for f in frames])
    angles = mc.head_angles(points)
    assert np.ptp(angles[:, 1]) > 8 and np.ptp(angles[:, 2]) > 8  # the clip does turn and nod
    eyes = points[:, [33, 133, 263, 362], :2].mean(axis=1)
    height = mesh.face_height(points[..., :2])
    nose = (points[:, mesh.NOSE_TIP, :2] - eyes) / height[:, None]
    assert np.corrcoef(angles[:, 2], nose[:, 0])[0, 1] > 0.7
    assert np.corrcoef(angles[:, 1], nose[:, 1])[0, 1] > 0.5
    k = int(np.argmax(np.abs(angles[:, 2])))
    flipped = mc.head_angles(_points3d(np.ascontiguousarray(frames[k][:, ::-1])))
    assert flipped[0] == pytest.approx(-angles[k, 0], abs=1.5)
    assert flipped[2] == pytest.approx(-angles[k, 2], abs=0.3 * abs(angles[k, 2]) + 1.0)


def test_speech_features_of_a_real_clip():
    from portraittalk.media import load_audio
    from portraittalk.media.audio import Audio

    audio = load_audio(MAY)
    n = 114
    feats = mc.speech_features(audio, n)
    assert feats["mel"].shape == (n, 80) and feats["loudness_db"].shape == (n,)
    voiced = feats["pitch_hz"] > 0
    assert 0.2 < voiced.mean() < 0.9
    assert 150 < np.median(feats["pitch_hz"][voiced]) < 280  # a woman's voice
    t = np.arange(16000) / 16000.0
    tone = Audio.from_array(sum(np.sin(2 * np.pi * 140.0 * k * t) / k for k in (1, 2, 3)).astype(np.float32))
    assert np.median(mc.pitch_track(tone, 25)[2:-2]) == pytest.approx(140.0, rel=0.03)


# -- GRID names, alignments, split, timing -----------------------------------------------------------
def test_grid_sentences_alignments_and_split(tmp_path):
    assert mc.grid_sentence("bbaf2n.mpg") == "bin blue at f two now"
    assert mc.grid_sentence("swiz3n") == "set white in z three now"
    with pytest.raises(ValueError):
        mc.grid_sentence("en_theresa_may")
    align = tmp_path / "bbaf2n.align"
    align.write_text("0 23750 sil\n23750 29500 bin\n29500 34000 blue\n34000 35500 at\n35500 41000 f\n"
                     "41000 47250 two\n47250 53000 now\n53000 74500 sil\n")  # fmt: skip
    words = mc.read_alignment(align)
    assert [w.text for w in words][1:-1] == mc.grid_sentence("bbaf2n").split()
    assert words[1].start == pytest.approx(23.75) and words[-1].end == pytest.approx(74.5)
    sentences = [f"{c} {k} at {l} {d} now" for c in ("bin", "lay", "place", "set") for k in ("blue", "red", "green")
                 for l in "abcdefghij" for d in ("one", "two", "six")]  # fmt: skip
    splits = [mc.validation_split(s) for s in sentences]
    assert 0.05 < splits.count("validation") / len(splits) < 0.15
    assert splits == [mc.validation_split(s.upper() + " ") for s in sentences]


def test_bilabial_release_and_pooled_lag_recover_known_timing():
    gap = np.full(40, 0.06)
    gap[17:21] = 0.0  # lips closed for /b/, parted from frame 21 on
    gap[21:26] = [0.02, 0.04, 0.06, 0.07, 0.07]
    word = mc.Word("bin", 19.0, 25.0)
    lag = mc.bilabial_release_lags(gap, [word, mc.Word("at", 30.0, 32.0)])
    assert lag.shape == (1,) and lag[0] == pytest.approx(20.7 - 19.0, abs=0.05)
    rng = np.random.default_rng(0)
    loud = [np.convolve(rng.normal(size=300), np.ones(4), "same") for _ in range(3)]
    lips = [np.roll(x, 2) for x in loud]  # the lips two frames after the sound
    lag, r = mc.pooled_lag(lips, loud)
    assert lag == pytest.approx(2.0, abs=0.3) and r > 0.9
    lead, _ = mc.pooled_lag([np.roll(x, -3) for x in loud], loud)
    assert lead == pytest.approx(-3.0, abs=0.3)


# -- the committed corpus ----------------------------------------------------------------------------
def test_manifest_split_keeps_eval_out_and_grid_sentences_apart():
    manifest = _manifest()
    ids = {c["id"] for c in manifest["clips"]}
    assert not ids & {p.stem for p in (CLIPS / "eval").glob("*.mp4")}
    fit = [c for c in manifest["clips"] if c["file"] == "fit.npz"]
    assert sorted(c["id"] for c in fit) == sorted(p.stem for p in (CLIPS / "fit").glob("*.mp4"))
    assert all(c["split"] == "fit" for c in fit)
    grid = [c for c in manifest["clips"] if c["file"] != "fit.npz"]
    assert all(c["split"] == mc.validation_split(c["sentence"]) for c in grid)
    train = {c["sentence"] for c in grid if c["split"] == "train"}
    validation = {c["sentence"] for c in grid if c["split"] == "validation"}
    assert validation and not train & validation
    assert all(c.get("alignment_matches_name", True) for c in grid)
    assert all("offset_frames" in s and "offset_method" in s for s in manifest["sources"].values())


def test_committed_features_load_with_the_documented_fields():
    manifest = _manifest()
    assert manifest["fps"] == 25
    s1_words: set[str] = set()
    for name in manifest["files"]:
        data = np.load(CORPUS / name)
        clips = [c for c in manifest["clips"] if c["file"] == name]
        starts = data["clip_start"]
        assert list(data["clip_id"]) == [c["id"] for c in clips]
        assert list(starts[:-1]) == [c["start"] for c in clips]
        assert list(np.diff(starts)) == [c["frames"] for c in clips]
        total = int(starts[-1])
        for field in manifest["fields"]:
            column = data[field]
            assert column.shape == ((total, 80) if field == "mel" else (total,)), (name, field)
            assert column.dtype == (bool if field == "face_found" else np.float16), (name, field)
        assert data["face_found"].mean() > 0.98
        found = data["face_found"]
        assert 0.0 <= np.nanmin(data["lip_gap"][found]) and np.nanmax(data["lip_gap"][found]) < 0.3
        assert np.all(np.isfinite(data["mel"])) and np.all(data["pitch_hz"] >= 0)
        assert (CORPUS / name).stat().st_size < 8 * 2**20, name  # committed files stay small
        if name.startswith("grid_s1_"):
            assert {c["frames"] for c in clips} <= {74, 75, 76}
            assert np.all(data["word_start"] < data["word_end"])
            assert np.all(data["word_end"] <= np.diff(starts)[data["word_clip"]] + 1)
            s1_words |= set(np.unique(data["word_text"]))
    assert s1_words >= {"sil", "bin", "lay", "place", "set", "blue", "now"}  # every GRID s1 command, aligned


def test_committed_fit_features_match_a_fresh_measurement():
    """en_theresa_may measured again from the video: the stored float16 features are the same."""
    from portraittalk.media import load_audio

    manifest = _manifest()
    clip = next(c for c in manifest["clips"] if c["id"] == MAY.stem)
    data = np.load(CORPUS / clip["file"])
    stored = slice(clip["start"], clip["start"] + clip["frames"])
    fresh = mc.clip_features(mc.track_landmarks(MAY), load_audio(MAY))
    assert len(fresh["lip_gap"]) == clip["frames"]
    for name in ("lip_gap", "brow_height", "mouth_aperture", "loudness_db"):
        assert np.allclose(data[name][stored], fresh[name], atol=1e-3, rtol=2e-3), name
    assert np.allclose(data["roll"][stored], fresh["roll"], atol=0.05)
