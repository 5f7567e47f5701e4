"""Offline audio-to-motion: mouth follows speech in any language, blinks, head motion, controls."""
from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from portraittalk.config import Controls, GenerateRequest, MotionConfig
from portraittalk.motion.controls import apply_controls
from portraittalk.errors import InputError
from portraittalk.face import mesh
from portraittalk.face.reference import analyse_reference
from portraittalk.media import Audio, load_audio, load_image
from portraittalk.motion.acoustic import rms_envelope
from portraittalk.motion.offline import audio_to_motion
from portraittalk.motion.track import DX, DY, PITCH, ROLL, SCALE, YAW, MotionTrack

from portraittalk.motion.acoustic import acoustic_features
from portraittalk.motion.drivers import acoustic_mouth, bilabial_closure, fitted_mouth, pause_gate

from shared_inputs import ASSETS, PAUSES, PORTRAIT, ROOT, SPEECH


@pytest.fixture(scope="module")
def ref():
    return analyse_reference(load_image(PORTRAIT), "astronaut")


def _track(ref, audio, **kw):
    return audio_to_motion(audio, ref.landmarks, (ref.size, ref.size), **kw)


@pytest.mark.parametrize("clip", ["en_mbp.wav", "es_sentence.wav", "pauses.wav", "../../benchmarks/data/speech/tune/ja_dreamtalk3.flac"])
def test_the_mouth_speaks_and_rests_in_any_language(ref, clip):
    """The fitted model (the default) opens the mouth while someone speaks, in any language, and
    rests it shut in pauses (runs of near-silence)."""
    audio = load_audio(ASSETS / "speech" / clip)
    track = _track(ref, audio)
    aperture = mesh.mouth_aperture(track.landmarks)
    env = rms_envelope(audio, 25.0, len(track))
    assert len(track) == round(audio.duration * 25)
    speaking = env > 0.25 * np.percentile(env, 95)
    assert np.percentile(aperture[speaking], 90) > 0.05
    assert 0.2 < (aperture[speaking] > 0.02).mean() < 0.95  # it opens and closes, syllable by syllable
    pause = pause_gate(np.clip(env / np.percentile(env, 95), 0, 1), 25.0) < 0.05
    if pause.any():
        assert aperture[pause].max() < 0.01


def test_bilabials_and_pauses_close_the_lips(ref):
    """m/b/p (a nasal murmur or a stop's closure, found acoustically) and pauses press the lips
    together, whatever the fitted model predicts there."""
    audio = load_audio(SPEECH)  # dense m/b/p
    feat = acoustic_features(audio, 25.0)
    gap, _ = fitted_mouth(audio, feat, 25.0, MotionConfig())
    closing = bilabial_closure(feat, 25.0) < 0.3
    assert closing.sum() >= 5
    speech = (feat.loudness > 0.3) & ~closing
    assert np.median(gap[closing]) < 0.35 * np.median(gap[speech])
    # a pause (0.8 s of silence between two sentences) shuts them
    silence = np.zeros(int(0.8 * audio.sample_rate), audio.samples.dtype)
    joined = Audio.from_array(np.concatenate([audio.samples, silence, audio.samples]), audio.sample_rate)
    feat = acoustic_features(joined, 25.0)
    gap, _ = fitted_mouth(joined, feat, 25.0, MotionConfig())
    shut = pause_gate(feat.loudness, 25.0) < 0.05
    assert shut.sum() >= 10 and gap[shut].max() < 0.003


def test_speech_at_another_sample_rate_moves_the_mouth_the_same_way():
    """An Audio made at 44.1 kHz (the Python API accepts one) gives the mouth its 16 kHz copy gives:
    the fitted model reads 16 kHz, so the sound is resampled, not read 2.76x too slow."""
    import soxr

    audio = load_audio(SPEECH)
    fast = Audio.from_array(soxr.resample(audio.samples, audio.sample_rate, 44_100), 44_100)
    gaps = [fitted_mouth(a, acoustic_features(a, 25.0), 25.0, MotionConfig())[0] for a in (audio, fast)]
    # 0.27 when read as 16 kHz; 0.945 here: the model's own output agrees at 0.999, the m/b/p closure
    # cue's loudness thresholds flip on a few frames of the resampled copy.
    assert len(gaps[0]) == len(gaps[1]) and np.corrcoef(*gaps)[0, 1] > 0.9


def test_the_fitted_model_matches_a_real_speaker():
    """On a real talking-head clip, the fitted model's opening follows the speaker's real mouth
    (MediaPipe on the clip's frames), which loudness does not."""
    from portraittalk.face.landmarks_io import extract_landmarks

    clip = ROOT / "benchmarks" / "data" / "clips" / "fit" / "en_retalking_2_man_map.mp4"
    real = mesh.mouth_aperture(extract_landmarks(clip).points)
    audio = load_audio(clip)
    feat = acoustic_features(audio, 25.0)
    gap, _ = fitted_mouth(audio, feat, 25.0, MotionConfig())
    loud, _ = acoustic_mouth(feat, 25.0, MotionConfig())
    n = min(len(real), len(gap))
    r = np.corrcoef(real[:n], gap[:n])[0, 1]
    assert r > 0.4 and r > np.corrcoef(real[:n], loud[:n])[0, 1] + 0.2, r  # (0.48; loudness 0.20)


def test_the_numpy_mouth_model_predicts_what_torch_fitted():
    """The package runs the fitted networks with numpy: on the clip the fit script checked, it gives
    what torch gave with the shipped weights (stored beside them), all members averaged."""
    from portraittalk.motion.features import audio_features
    from portraittalk.motion.mouth_model import MODEL_FILE, mouth_model

    with np.load(MODEL_FILE) as d:
        name, want = str(d["check_clip"]), d["check_prediction"]
    mel = audio_features(load_audio(ROOT / "benchmarks" / "data" / "clips" / "fit" / f"{name}.mp4").samples, "mel",
                         len(want))  # fmt: skip
    got = mouth_model().forward(mel)
    assert len(mouth_model().members) > 1 and got.shape == want.shape, (got.shape, want.shape)
    assert np.abs(got - want).max() < 1e-3, np.abs(got - want).max()


def test_the_shipped_mouth_model_is_small_and_needs_no_torch():
    import subprocess
    import sys

    from portraittalk.motion.mouth_model import MODEL_FILE

    assert MODEL_FILE.stat().st_size < 250_000  # a few small networks' fp16 weights (29 KB now)
    code = ("import sys; from portraittalk.media import Audio; import numpy as np; "
            "from portraittalk.motion.mouth_model import mouth_model; "
            "z = mouth_model().predict(np.random.default_rng(0).standard_normal(16000).astype('float32'), 25, 25.0); "
            "assert z[0].shape == (25,) and 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_acoustic_baseline_follows_loudness(ref):
    audio = load_audio(SPEECH)
    track = _track(ref, audio, config=MotionConfig(motion_model="acoustic"))
    aperture = mesh.mouth_aperture(track.landmarks)
    env = rms_envelope(audio, 25.0, len(track))
    assert np.corrcoef(aperture, env)[0, 1] > 0.8


def test_silence_keeps_the_mouth_shut_and_still_blinks(ref):
    audio = Audio.from_array(np.zeros(16000 * 8, np.float32))
    track = _track(ref, audio)
    assert mesh.mouth_aperture(track.landmarks).max() < 0.005
    # Blinks: the eyes close (lid gap shrinks) a few times in 8 s, irregularly.
    eyes = mesh.eye_openness(track.landmarks)
    closed = eyes < 0.5 * eyes.max()
    starts = np.nonzero(closed[1:] & ~closed[:-1])[0]
    assert 1 <= len(starts) <= 5
    if len(starts) >= 3:
        assert np.ptp(np.diff(starts)) > 0


def test_deterministic_given_a_seed(ref):
    audio = load_audio(SPEECH)
    a, b = _track(ref, audio, seed=7), _track(ref, audio, seed=7)
    c = _track(ref, audio, seed=8)
    assert np.array_equal(a.landmarks, b.landmarks)
    assert not np.array_equal(a.head, c.head)


def test_a_head_roll_turns_the_face_the_way_its_sign_says(ref):
    """Head params (roll in degrees, image coordinates: y down): a positive roll turns the face
    clockwise on screen about the pivot below the chin, so the face's rightmost point goes down and
    its leftmost point up, each by the roll's sine times its distance across."""
    track = _track(ref, load_audio(PAUSES))
    head = np.zeros((1, 6), np.float32)
    head[0, ROLL] = 10.0
    rolled = replace(track, expression=np.zeros((1, 478, 2), np.float32), head=head)
    right, left = (int(np.argmax(ref.landmarks[:, 0])), int(np.argmin(ref.landmarks[:, 0])))
    for i, sign in ((right, 1.0), (left, -1.0)):
        pivot_x = track.reference[mesh.CHIN, 0]
        expected = np.sin(np.deg2rad(10.0)) * (track.reference[i, 0] - pivot_x)
        drop = rolled.landmarks[0, i, 1] - track.reference[i, 1]
        assert np.sign(drop) == sign and abs(drop - expected) < 0.25 * abs(expected) + 1.0, (i, drop, expected)


def test_head_motion_follows_energy_and_w2_holds_it(ref):
    audio = load_audio(PAUSES)
    track = _track(ref, audio)
    speed = np.linalg.norm(np.diff(track.head[:, [DX, DY]], axis=0), axis=1)
    loud = track.energy[1:] > 0.3
    assert speed[loud].mean() > speed[~loud].mean()  # the head moves more while speaking
    assert np.abs(_track(ref, audio, config=MotionConfig(head_sway=0.0)).head).max() == 0.0
    still = apply_controls(track, Controls(w2=2.0), 0.04)
    assert np.abs(still.head).max() == 0.0
    nose = track.landmarks[:, mesh.NOSE_TIP]
    assert np.abs(still.landmarks[:, mesh.NOSE_TIP] - track.reference[mesh.NOSE_TIP]).max() < 0.5
    double = apply_controls(track, Controls(w2=0.0), 0.04)  # amplitude clip(2 - w2) = 2
    sway = np.abs(nose - track.reference[mesh.NOSE_TIP]).max()
    assert np.abs(double.landmarks[:, mesh.NOSE_TIP] - track.reference[mesh.NOSE_TIP]).max() > 1.8 * sway


def test_the_track_ignores_controls_and_rendering_applies_them(ref):
    """The track is the speech's motion: w1 scales its expression, w3 smooths it, eyes are not touched."""
    audio = load_audio(SPEECH)
    track = _track(ref, audio)
    full = mesh.mouth_aperture(apply_controls(track, Controls(), 0.04).landmarks)
    none = apply_controls(track, Controls(w1=0.0, w2=2.0), 0.04)
    assert np.allclose(mesh.mouth_aperture(none.landmarks), ref.mouth_aperture, atol=1e-3)  # the photo's mouth
    assert np.array_equal(mesh.eye_openness(none.landmarks), mesh.eye_openness(apply_controls(
        track, Controls(w2=2.0), 0.04).landmarks))  # blinks stay
    rough = mesh.mouth_aperture(apply_controls(track, Controls(w3=0.0), 0.04).landmarks)
    smooth = mesh.mouth_aperture(apply_controls(track, Controls(w3=3.0), 0.04).landmarks)
    assert np.abs(np.diff(smooth)).mean() < 0.7 * np.abs(np.diff(rough)).mean()
    lags = range(-4, 5)  # smoothing must not put the lips behind the sound
    match = [np.corrcoef(rough[4:-4], np.roll(smooth, -lag)[4:-4])[0, 1] for lag in lags]
    assert lags[int(np.argmax(match))] == 0, match
    assert np.allclose(rough, mesh.mouth_aperture(track.landmarks), atol=1e-4)  # w3 = 0: the raw track
    assert full.std() > 0.02
    double = mesh.mouth_aperture(apply_controls(track, Controls(w1=2.0), 0.04).landmarks)
    opening = full > ref.mouth_aperture + 0.01
    ratio = (double[opening] - ref.mouth_aperture).sum() / (full[opening] - ref.mouth_aperture).sum()
    assert 1.8 < ratio < 2.2, ratio


def test_a_larger_w1_never_pushes_the_lips_through_each_other(ref):
    """The astronaut smiles with her teeth showing: closing her lips is a movement that, doubled,
    would cross them. It is held at lips together instead."""
    from portraittalk.motion.geometry import LOWER_LIP_INNER_SET, UPPER_LIP_INNER_SET

    track = _track(ref, load_audio(PAUSES))

    def gaps(lm: np.ndarray) -> np.ndarray:  # lower minus upper inner lip, pixels (the face is upright)
        return lm[:, LOWER_LIP_INNER_SET, 1] - lm[:, UPPER_LIP_INNER_SET, 1]

    as_made = gaps(apply_controls(track, Controls(), 0.0).landmarks).min()
    tripled = gaps(apply_controls(track, Controls(w1=3.0), 0.0).landmarks).min()
    naive = gaps(track.reference + 3.0 * track.expression).min()
    assert naive < as_made - 10  # what an unguarded gain would do
    assert tripled > as_made - 0.5


def test_track_round_trip(tmp_path, ref):
    track = _track(ref, load_audio(SPEECH))
    path = track.save(tmp_path / "t.npz")
    back = MotionTrack.load(path)
    assert np.array_equal(back.landmarks, track.landmarks) and back.fps == 25.0 and back.frame_size == (512, 512)
    half = back.scaled(0.5)
    assert half.frame_size == (256, 256) and np.allclose(half.landmarks, track.landmarks / 2)
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(InputError, match="not a PortraitTalk motion track"):
        MotionTrack.load(bad)


def test_other_frame_rates(ref):
    audio = load_audio(SPEECH)
    track = audio_to_motion(audio, ref.landmarks, (512, 512), fps=30.0)
    assert len(track) == round(audio.duration * 30)


def test_lips_come_from_the_mesh_so_lips_read_crossed_still_open():
    """Grace Hopper's photo (matplotlib's sample): MediaPipe reads her closed lips slightly crossed.
    Which point belongs to which lip comes from the mesh, so the lower lip opens down by the gap
    asked for and nothing else moves farther (the old rig sent it to the bottom of the frame)."""
    from portraittalk.motion.geometry import LOWER_LIP_INNER_SET, FaceRig, lip_topology

    photo = ROOT / "benchmarks" / "data" / "portraits" / "tune" / "old_photo_grace_hopper.jpg"
    lm = analyse_reference(load_image(photo), "grace").landmarks
    rig = FaceRig(lm)
    h = rig.frame.scale
    assert rig.gap0 == 0.0 and rig.problems == []  # crossed lips count as closed
    lips = lip_topology()
    assert len(lips.upper) == len(lips.lower) + 4 == 40 and not set(lips.upper) & set(lips.lower)
    assert set(LOWER_LIP_INNER_SET) <= set(lips.lower)
    d = rig.mouth(np.array([0.08]), np.array([0.0]))[0] / h
    assert 0.06 < d[mesh.LOWER_LIP_INNER, 1] < 0.08 and d[mesh.UPPER_LIP_INNER, 1] < 0.0
    assert np.abs(d).max() < 0.09
    assert 0.025 < d[mesh.CHIN, 1] < 0.045  # the chin moves with the jaw, less than the lip


def test_implausible_landmarks_move_less():
    from portraittalk.motion.geometry import DEGRADED_GAIN, FaceRig, check_reference

    lm = analyse_reference(load_image(PORTRAIT), "a").landmarks.copy()
    assert check_reference(lm) == []
    upside = lm.copy()
    upside[mesh.CHIN], upside[mesh.FOREHEAD] = lm[mesh.FOREHEAD], lm[mesh.CHIN]  # a chin above the eyes
    problems = check_reference(upside)
    assert problems and "usual order" in problems[0]
    odd = FaceRig(upside)
    assert FaceRig(lm).gain == 1.0 and odd.gain == DEGRADED_GAIN
    moved = np.abs(odd.mouth(np.array([0.1]), np.array([0.1]))).max()
    odd.gain = 1.0
    assert moved < 0.6 * np.abs(odd.mouth(np.array([0.1]), np.array([0.1]))).max()


def test_a_larger_w1_never_opens_the_mouth_wider_than_a_mouth_opens(ref):

    track = _track(ref, load_audio(SPEECH))
    h = mesh.face_height(ref.landmarks)
    tripled = apply_controls(track, Controls(w1=3.0), 0.0).landmarks
    gap = np.linalg.norm(tripled[:, mesh.UPPER_LIP_INNER] - tripled[:, mesh.LOWER_LIP_INNER], axis=1) / h
    assert gap.max() <= mesh.MAX_OPEN + 0.005
    doubled = mesh.mouth_aperture(apply_controls(track, Controls(w1=2.0), 0.0).landmarks)
    plain = mesh.mouth_aperture(track.landmarks)
    speaking = plain > ref.mouth_aperture + 0.01
    rest = ref.mouth_aperture  # w1 scales the opening beyond the photo's, up to the cap
    assert (doubled[speaking] - rest).mean() > 1.3 * (plain[speaking] - rest).mean()


def _planar_head_then_points(reference: np.ndarray, expression: np.ndarray, head4: np.ndarray) -> np.ndarray:
    """The landmarks the format before parameters stored (a copy of its composition, independent of
    the package's): the reference moved by the expression, then turned by the roll, scaled and
    shifted about the point below the chin; head4 = (roll deg, dx, dy, scale - 1)."""
    ref = reference.astype(np.float64)
    pivot = ref[mesh.CHIN] + 0.25 * (ref[mesh.CHIN] - ref[mesh.NOSE_TIP])
    a, s = np.deg2rad(head4[:, 0]), 1.0 + head4[:, 3]
    rot = np.stack([np.stack([np.cos(a), -np.sin(a)], -1), np.stack([np.sin(a), np.cos(a)], -1)], 1) * s[:, None, None]
    local = ref[None] + expression - pivot
    return np.einsum("tij,tnj->tni", rot, local) + pivot + head4[:, None, 1:3]


def _save_v1(track: MotionTrack, path) -> None:
    """A track written as the format before parameters wrote it (absolute landmarks, a (T, 4) head)."""
    head4 = track.head[:, [ROLL, DX, DY, SCALE]]
    landmarks = _planar_head_then_points(track.reference, track.expression, head4).astype(np.float32)
    np.savez_compressed(path, landmarks=landmarks, fps=track.fps, frame_size=np.array(track.frame_size),
                        reference=track.reference, mouth_open=track.mouth_open, blink=track.blink, head=head4,
                        energy=track.energy)  # fmt: skip


def test_a_track_saved_before_parameters_loads_as_it_was_drawn(tmp_path):
    """tests/data/track_v1.npz was written by the code before the track was in parameters: loaded, its
    head is taken out of its landmarks, and the composed landmarks are the ones it stored."""
    old = np.load(ROOT / "tests" / "data" / "track_v1.npz")
    track = MotionTrack.load(ROOT / "tests" / "data" / "track_v1.npz")
    assert len(track) == 50 and track.fps == 25.0 and track.frame_size == (256, 256)
    assert np.abs(track.landmarks - old["landmarks"]).max() < 0.01
    assert np.array_equal(track.head[:, [ROLL, DX, DY, SCALE]], old["head"]) and not track.head[:, [PITCH, YAW]].any()
    forehead = old["landmarks"][:, mesh.FOREHEAD] - old["reference"][mesh.FOREHEAD]
    assert np.abs(forehead).max() > 1.5  # its head sways, so the head had to be taken out
    assert np.abs(track.expression[:, mesh.FOREHEAD]).max() < 0.01  # the sway is not in the expression
    back = MotionTrack.load(track.save(tmp_path / "v2.npz"))
    assert np.array_equal(back.expression, track.expression) and np.array_equal(back.landmarks, track.landmarks)
    with pytest.raises(ValueError, match="read-only"):
        track.landmarks[0, 0] = 0.0  # composed once, read-only: the parameters are the track
    newer = tmp_path / "v9.npz"
    np.savez(newer, version=9, **{k: old[k] for k in old.files})
    with pytest.raises(InputError, match="not a PortraitTalk motion track"):
        MotionTrack.load(newer)


def _held_out_portraits(every: int = 8) -> list:
    import json

    files = json.loads((ROOT / "benchmarks" / "data" / "manifest.json").read_text())["files"]
    held = [ROOT / "benchmarks" / "data" / f["path"] for f in files
            if f["path"].startswith("portraits/") and f["set"] == "heldout"]  # fmt: skip
    return held[::every]


@pytest.mark.parametrize("photo", [ASSETS / "portraits" / "astronaut.png", ASSETS / "portraits" / "man.jpg",
                                   *_held_out_portraits()], ids=lambda p: p.stem)  # fmt: skip
def test_a_saved_track_draws_what_the_landmark_format_drew(tmp_path, photo):
    """On the assets and held-out portraits: a track saved and loaded composes the landmarks the
    format before parameters stored (within 0.5 px), the same track written in that format loads
    to the same motion, and the warp engine renders both to the same frames (within rounding: a
    sub-pixel difference flips a pixel's last bit at a triangle's edge)."""
    from portraittalk.engines.warp import WarpEngine
    from portraittalk.motion.geometry import FaceRig

    try:
        ref = analyse_reference(load_image(photo), photo.name, 256)
    except InputError:
        pytest.skip(f"no face in {photo.name}")
    audio = load_audio(SPEECH)
    track = audio_to_motion(Audio.from_array(audio.samples[: 2 * audio.sample_rate]), ref.landmarks, (256, 256),
                            config=MotionConfig(head_sway=3.0))  # fmt: skip
    track = replace(track, head=track.head * np.array([1, 0, 0, 1, 1, 1], np.float32))  # the old format: planar
    # Without blinks: a closing lid squeezes the exact map's triangles at the eye corners to slivers,
    # where a 1e-4 px difference between the formats flips a pixel by 100 levels (seen on cartoon_flat_man).
    track = replace(track, expression=track.expression - FaceRig(ref.landmarks).lids(track.blink), blink=0 * track.blink)
    saved = MotionTrack.load(track.save(tmp_path / "v2.npz"))
    head4 = track.head[:, [ROLL, DX, DY, SCALE]]
    before = _planar_head_then_points(track.reference, track.expression, head4)
    assert np.abs(before - (track.reference + track.expression)).max() > 2.0  # the head moves the face
    assert np.abs(saved.landmarks - before).max() < 0.5
    _save_v1(track, tmp_path / "v1.npz")
    converted = MotionTrack.load(tmp_path / "v1.npz")
    assert np.abs(converted.landmarks - before).max() < 0.5
    assert np.abs(converted.expression - track.expression).max() < 0.01
    request = GenerateRequest()
    frames = [np.stack(list(WarpEngine().render([ref], t, request))).astype(int) for t in (saved, converted)]
    diff = np.abs(frames[0] - frames[1])
    assert diff.max() <= 8 and (diff > 0).mean() < 1e-4, (diff.max(), (diff > 0).mean())
    assert np.abs(frames[0] - ref.image).max() > 20  # the face moved


def test_each_motion_model_is_an_entry_of_one_registry_with_one_contract(ref):
    """fitted, causal, acoustic and learned are the registry's entries and the setting's choices (with auto);
    auto is the fitted model when no audio2motion weights are present; every model's mouth is one
    MouthMotion (displacements + the opening they draw)."""
    from portraittalk.config import MotionConfig as Config
    from portraittalk.motion.acoustic import acoustic_features as features
    from portraittalk.motion.geometry import FaceRig
    from portraittalk.motion.registry import MODELS, Speech, choose_model
    from portraittalk.weights import Weights

    choices = next(f for f in fields(Config) if f.name == "motion_model").metadata["choices"]
    assert set(MODELS) == {"fitted", "causal", "acoustic", "learned"} and set(choices) == {"auto", *MODELS}
    assert choose_model("auto", None).name == "fitted"
    assert choose_model("auto", Weights(ROOT / "no-weights")).name == "fitted"
    with pytest.raises(InputError, match="unknown motion model"):
        choose_model("phonemes", None)
    audio = load_audio(SPEECH)
    rig = FaceRig(ref.landmarks)
    speech = Speech(audio, features(audio, 25.0), rig, 25.0, Config(), 0, None)
    for name in ("fitted", "causal", "acoustic"):
        mouth = MODELS[name].mouth(speech)
        assert mouth.displacement.shape == (len(speech), 478, 2) and mouth.opening.shape == (len(speech),)
        drawn = rig.opening(mouth.displacement)  # the opening the displacements draw
        assert np.corrcoef(drawn, mouth.opening)[0, 1] > 0.95, name


@pytest.mark.parametrize("model", ["fitted", "causal"])
def test_the_mouth_gain_scales_the_opening_and_the_width_moves_only_with_open_lips(model):
    """mouth_gain is the jaw's amplitude: half the gain, half the opening (under the cap); the lips'
    width changes only as they part (shut lips neither spread nor round), within +-0.2."""
    from portraittalk.motion.drivers import causal_fitted_mouth

    audio = load_audio(SPEECH)
    feat = acoustic_features(audio, 25.0)

    def mouth(gain: float):
        cfg = MotionConfig(mouth_gain=gain)
        return fitted_mouth(audio, feat, 25.0, cfg) if model == "fitted" else causal_fitted_mouth(audio, 25.0, cfg)

    (full, width), (half, _) = mouth(1.0), mouth(0.5)
    assert full.max() > 0.05 and np.allclose(half, 0.5 * full, atol=1e-6), (full.max(), half.max())
    from portraittalk.motion.geometry import MAX_GAP

    parted = np.clip(full / (0.3 * MAX_GAP), 0.0, 1.0)  # how far the lips have parted, up to 0.3 of the widest
    assert (full < 1e-4).any() and (np.abs(width) <= 0.2 * parted + 1e-6).all()
    assert np.abs(width[full > 0.03]).max() > 0.005  # the width does move where the lips part
