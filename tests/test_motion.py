"""Offline audio-to-motion: mouth follows speech in any language, blinks, head motion, controls."""
from __future__ import annotations

import numpy as np
import pytest

from portraittalk.config import Controls, MotionConfig
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
    a, b = _track(ref, audio, config=MotionConfig(seed=7)), _track(ref, audio, config=MotionConfig(seed=7))
    c = _track(ref, audio, config=MotionConfig(seed=8))
    assert np.array_equal(a.landmarks, b.landmarks)
    assert not np.array_equal(a.head, c.head)


def test_head_motion_follows_energy_and_w2_holds_it(ref):
    audio = load_audio(PAUSES)
    track = _track(ref, audio)
    speed = np.linalg.norm(np.diff(track.head[:, 1:3], axis=0), axis=1)
    loud = track.energy[1:] > 0.3
    assert speed[loud].mean() > speed[~loud].mean()  # the head moves more while speaking
    still = _track(ref, audio, controls=Controls(w2=2.0))
    assert np.abs(still.head).max() == 0.0


def test_w1_scales_structure_and_w3_smooths(ref):
    audio = load_audio(SPEECH)
    full = mesh.mouth_aperture(_track(ref, audio).landmarks)
    none = mesh.mouth_aperture(_track(ref, audio, controls=Controls(w1=0.0)).landmarks)
    assert np.allclose(none, ref.mouth_aperture, atol=1e-3)  # the photo's own mouth, unmoved
    rough = mesh.mouth_aperture(_track(ref, audio, controls=Controls(w3=0.0)).landmarks)
    smooth = mesh.mouth_aperture(_track(ref, audio, controls=Controls(w3=3.0)).landmarks)
    assert np.abs(np.diff(smooth)).mean() < np.abs(np.diff(rough)).mean()
    assert full.std() > 0.02


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
