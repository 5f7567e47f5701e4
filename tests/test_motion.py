"""Offline audio-to-motion: mouth follows speech in any language, blinks, head motion, controls."""
from __future__ import annotations

import numpy as np
import pytest

from portraittalk.config import Controls, MotionConfig
from portraittalk.motion.controls import apply_controls
from portraittalk.errors import InputError
from portraittalk.face import mesh
from portraittalk.face.reference import analyse_reference
from portraittalk.media import Audio, load_audio, load_image
from portraittalk.motion.acoustic import rms_envelope
from portraittalk.motion.offline import audio_to_motion
from portraittalk.motion.track import MotionTrack

from shared_inputs import ASSETS, PAUSES, PORTRAIT, SPEECH


@pytest.fixture(scope="module")
def ref():
    return analyse_reference(load_image(PORTRAIT), "astronaut")


def _track(ref, audio, **kw):
    return audio_to_motion(audio, ref.landmarks, (ref.size, ref.size), **kw)


@pytest.mark.parametrize("clip", ["en_mbp.wav", "es_sentence.wav", "en_voice2.wav", "pauses.wav"])
def test_mouth_follows_loudness_in_any_language(ref, clip):
    audio = load_audio(ASSETS / "speech" / clip)
    track = _track(ref, audio)
    aperture = mesh.mouth_aperture(track.landmarks)
    env = rms_envelope(audio, 25.0, len(track))
    assert len(track) == round(audio.duration * 25)
    assert np.corrcoef(aperture, env)[0, 1] > 0.8
    quiet = env < 0.03 * env.max()
    assert aperture[quiet].mean() < 0.01 and aperture[env > 0.5 * env.max()].mean() > 0.04


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


def test_head_motion_follows_energy_and_w2_holds_it(ref):
    audio = load_audio(PAUSES)
    track = _track(ref, audio)
    speed = np.linalg.norm(np.diff(track.head[:, 1:3], axis=0), axis=1)
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
    naive = gaps(track.reference + 3.0 * track.expression()).min()
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
