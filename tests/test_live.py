"""The live streaming core: frames as the sound arrives, whatever the chunks, the rate or the session's end."""
from __future__ import annotations

import gc
import tempfile
import threading
import weakref

import numpy as np
import pytest
import soundfile as sf

from portraittalk import PortraitTalk
from portraittalk.errors import AudioError, InputError, SessionClosedError
from portraittalk.media import load_audio, probe_video

from shared_inputs import PORTRAIT, ROOT, SPEECH, run_cli, speech_excerpt

SIZE = 128
FRAME = 640  # 16 kHz samples per frame at 25 fps
HELD_OUT_SPEECH = ROOT / "benchmarks" / "data" / "speech" / "heldout"


@pytest.fixture(scope="module")
def pt():
    return PortraitTalk.from_pretrained(engine="warp")


@pytest.fixture(scope="module")
def reference(pt):
    return pt.analyse([PORTRAIT], SIZE, 0.9)[0]


@pytest.fixture(scope="module")
def speech():
    """3.3 s of real speech (16 kHz), not a whole number of frames or chunks."""
    return load_audio(SPEECH).samples[8000 : 8000 + 52_817]


def _pushed(session, samples, sizes, rate=16_000):
    """Push ``samples`` in chunks of the given sizes (the last one repeated), then finish."""
    frames, at, i = [], 0, 0
    while at < len(samples):
        n = sizes[min(i, len(sizes) - 1)]
        frames += session.push(samples[at : at + n], rate)
        at, i = at + n, i + 1
    return frames + session.finish()


def test_frames_come_exactly_when_their_sound_and_lookahead_have_arrived(pt, reference, speech):
    with pt.live([reference], size=SIZE) as session:
        assert (session.fps, session.sample_rate, session.frame_size) == (25.0, 16_000, (SIZE, SIZE))
        assert 0 < session.lookahead_s <= 0.12
        lookahead = round(session.lookahead_s * 16_000)
        frames, pushed = [], 0
        for at in range(0, len(speech), 317):
            chunk = speech[at : at + 317]
            frames += session.push(chunk)
            pushed += len(chunk)
            # Frame k is out once the sound up to lookahead past its start is in, not before.
            assert len(frames) == max(0, (pushed - lookahead) // FRAME + 1), pushed
        frames += session.finish()
    assert len(frames) == round(len(speech) / FRAME) == 83
    assert [f.index for f in frames] == list(range(83))
    assert [f.time for f in frames] == [k / 25.0 for k in range(83)]
    padded = np.concatenate([speech, np.zeros(83 * FRAME - len(speech), np.float32)])
    for f in frames:  # each frame carries its own 40 ms of the sound, to be played with it
        assert f.audio.dtype == np.float32 and np.array_equal(f.audio, padded[f.index * FRAME : (f.index + 1) * FRAME])
        assert f.image.shape == (SIZE, SIZE, 3) and f.image.dtype == np.uint8


def test_the_same_sound_in_any_chunking_gives_the_same_frames(pt, reference, speech):
    chunkings = ([len(speech)], [317], [1] * 700 + [800], [FRAME * 2 + 1, 19, 4000])
    runs = []
    for sizes in chunkings:
        with pt.live([reference], size=SIZE) as session:
            runs.append(_pushed(session, speech, sizes))
    first = runs[0]
    opened = np.array([f.mouth_open for f in first])
    assert opened.max() > 0.3 and opened.min() < 0.1  # real speech: the mouth opens and closes
    for run in runs[1:]:
        assert len(run) == len(first)
        for a, b in zip(first, run):
            assert np.array_equal(a.image, b.image), a.index
            assert a.mouth_open == b.mouth_open


def test_audio_at_other_rates_is_resampled(pt, reference):
    native, rate = sf.read(str(SPEECH), dtype="float32")  # a 22.05 kHz recording, pushed as it is
    assert rate == 22_050
    with pt.live([reference], size=SIZE) as session:
        at_native = _pushed(session, native, [441], rate)
    with pt.live([reference], size=SIZE) as session:  # the loader's 16 kHz of the same file
        at_16k = _pushed(session, load_audio(SPEECH).samples, [320])
    assert len(at_native) == len(at_16k) == 145
    assert all(np.array_equal(a.image, b.image) for a, b in zip(at_native, at_16k))

    import soxr

    cd = soxr.resample(load_audio(SPEECH).samples, 16_000, 44_100)  # 44.1 kHz, stereo, 16-bit integers
    stereo = np.round(np.stack([cd, cd], axis=1) * 32767).astype(np.int16)
    with pt.live([reference], size=SIZE) as session:
        at_cd = _pushed(session, stereo, [882], 44_100)
    assert len(at_cd) == 145
    a, b = np.array([f.mouth_open for f in at_cd]), np.array([f.mouth_open for f in at_16k])
    assert np.corrcoef(a, b)[0, 1] > 0.98 and np.abs(a - b).max() < 0.1
    assert max(np.abs(x.audio - y.audio).max() for x, y in zip(at_cd, at_16k)) < 0.01  # the sound, back at 16 kHz


def test_a_session_closed_midway_frees_everything_and_refuses_more(pt, reference, speech, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    threads = set(threading.enumerate())
    session = pt.live([reference], size=SIZE)
    frames = session.push(speech[:20_000])
    assert len(frames) == (20_000 - round(session.lookahead_s * 16_000)) // FRAME + 1
    renderer = weakref.ref(session._renderer)
    session.close()
    session.close()  # again: nothing happens
    gc.collect()
    assert renderer() is None  # the warp fields and the photo's copies are gone with it
    assert set(threading.enumerate()) == threads and not list(tmp_path.iterdir())
    with pytest.raises(SessionClosedError, match="closed"):
        session.push(speech[20_000:20_320])
    with pytest.raises(SessionClosedError):
        session.finish()
    with pt.live([reference], size=SIZE) as other:
        other.push(speech[:4000])
    with pytest.raises(SessionClosedError):
        other.push(speech[:320])


def test_bad_pushes_are_refused_with_a_reason(pt, reference):
    with pt.live([reference], size=SIZE) as session:
        with pytest.raises(AudioError, match="sample_rate"):
            session.push(np.zeros(320, np.float32), 100)
        with pytest.raises(AudioError, match="NaN"):
            session.push(np.full(320, np.nan, np.float32))
        with pytest.raises(AudioError, match="1-D"):
            session.push(np.array(["a", "b"]))
        session.push(np.zeros(320, np.float32))
        with pytest.raises(AudioError, match="48000 Hz cannot join"):
            session.push(np.zeros(960, np.float32), 48_000)
    with pytest.raises(InputError, match="warp engine"):
        pt.live([reference], size=SIZE, engine="diffusion")


def test_the_live_mouth_follows_the_offline_mouth_on_held_out_speech(pt, reference):
    """The drawn mouth (controls applied) as the offline video of the same model draws it."""
    from portraittalk.config import GenerateRequest
    from portraittalk.motion.controls import apply_controls

    request = GenerateRequest().updated(size=SIZE, motion_model="causal")  # the model live runs
    for name in ("en_male_musetalk.flac", "it_male_dreamtalk1.flac"):
        audio = load_audio(HELD_OUT_SPEECH / name)
        offline = apply_controls(pt.motion(audio, reference, request), request.controls, request.render.smoothing_s)
        with pt.live([reference], request) as session:
            live = np.array([f.mouth_open for f in _pushed(session, audio.samples, [320])])
        assert len(live) == len(offline)
        r = np.corrcoef(live, offline.mouth_open)[0, 1]
        assert r >= 0.95, (name, r)  # the same mouth before the controls; w3 smooths live looking back only


@pytest.mark.parametrize("chunk", [1, 317, 16_000])
def test_the_streamed_mouth_is_the_offline_causal_mouth_in_any_chunking(reference, chunk):
    """The incremental model gives every frame's inner-lip gap and width as the causal model on the whole
    recording does (held-out speech; the end as a clip's end), whatever the chunks."""
    from portraittalk.config import GenerateRequest
    from portraittalk.live.audio import AudioStream
    from portraittalk.live.motion import LiveMotion
    from portraittalk.media.audio import Audio
    from portraittalk.motion.drivers import causal_fitted_mouth

    request = GenerateRequest().updated(size=SIZE, mouth_gain=1.3)
    samples = load_audio(HELD_OUT_SPEECH / "en_female_iplap.flac").samples
    samples = samples[: 48_123 if chunk == 1 else len(samples) - 137]  # not a whole number of frames
    gap, width = causal_fitted_mouth(Audio.from_array(samples), request.render.fps, request.motion)
    motion, audio = LiveMotion(reference.landmarks, (SIZE, SIZE), request), AudioStream()
    live, k = [], 0
    for at in range(0, len(samples), chunk):
        audio.add(samples[at : at + chunk], 16_000)
        while motion.ready(k, audio.total):
            live.append(np.concatenate(motion.mouth_at(k, audio)))
            k += 1
        audio.forget_before(motion.first_needed(k))
    live += [np.concatenate(motion.mouth_at(i, audio)) for i in range(k, len(gap))]  # the stream's end
    live = np.array(live)
    assert len(live) == len(gap) and gap.max() > 0.05 and np.ptp(width) > 0.05  # real speech moves the mouth
    assert np.abs(live[:, 0] - gap).max() <= 1e-4 and np.abs(live[:, 1] - width).max() <= 1e-4


def test_silence_gives_frames_a_resting_mouth_and_a_moving_face(pt, reference, speech):
    with pt.live([reference], size=SIZE) as session:
        frames = _pushed(session, np.zeros(16_000 * 4, np.float32), [320])
    with pt.live([reference], size=SIZE) as session:
        speaking = np.median([f.mouth_open for f in _pushed(session, speech, [320])])
    assert len(frames) == 100
    resting = np.array([f.mouth_open for f in frames[25:]])  # after the first second: still, and less open
    assert np.ptp(resting) < 0.01 and resting.max() < 0.8 * speaking, (resting.max(), speaking)
    stack = np.stack([f.image for f in frames]).astype(np.int16)
    change = np.abs(np.diff(stack, axis=0)).reshape(len(frames) - 1, -1).mean(axis=1)
    assert (change > 0.05).mean() > 0.5  # the face keeps moving: no frozen picture in a pause


def test_a_second_reference_lends_its_shut_mouth_live(pt, reference, speech):
    """As offline: a photo of the same face with a shut mouth (a dark mark on its chin) shows on the
    shut-mouth frames, below the nose only."""
    from portraittalk.face import mesh
    from portraittalk.face.reference import analyse_reference

    with pt.live([reference], size=SIZE, head_sway=0.0, mouth_gain=0.0) as session:  # the lips together
        shut_photo = _pushed(session, np.zeros(16_000, np.float32), [320])[0].image
    h = mesh.face_height(reference.landmarks)
    chin = np.round(reference.landmarks[mesh.CHIN] - [0, 0.06 * h]).astype(int)
    marked = shut_photo.copy()
    marked[chin[1] - 3 : chin[1] + 3, chin[0] - 3 : chin[0] + 3] = 0
    shut = analyse_reference(marked, "shut, marked", size=SIZE)
    assert shut.mouth_aperture < 0.5 * reference.mouth_aperture, (shut.mouth_aperture, reference.mouth_aperture)
    with pt.live([reference], size=SIZE) as session:
        alone = _pushed(session, speech, [320])
    with pt.live([reference, shut], size=SIZE) as session:
        both = _pushed(session, speech, [320])
    brow = int(reference.landmarks[mesh.NOSE_TIP, 1] - 0.15 * h)
    assert max(np.abs(a.image[:brow].astype(int) - b.image[:brow]).max() for a, b in zip(alone, both)) <= 1
    near = (slice(chin[1] - 8, chin[1] + 8), slice(chin[0] - 8, chin[0] + 8))
    dark = np.array([int((b.image[near].max(axis=2) < 50).sum()) - int((a.image[near].max(axis=2) < 50).sum())
                     for a, b in zip(alone, both)])  # fmt: skip
    opening, marked = np.array([f.mouth_open for f in alone]), dark > 10
    assert marked.sum() >= 3 and (~marked).sum() >= 10, dark
    assert opening[marked].mean() < 0.7 * opening[~marked].mean(), (opening[marked], opening[~marked].mean())


def test_a_live_frame_is_the_warp_engines_frame_of_its_motion(pt, reference, speech):
    """The renderer built once and handed one frame's track at a time draws what a renderer built for
    that frame alone draws (the head turned on the photo's depth, as offline)."""
    from portraittalk.engines.warp import WarpRenderer

    with pt.live([reference], size=SIZE) as session:
        drawn, follow = [], session._renderer.follow
        session._renderer.follow = lambda track, weights: (drawn.append(track), follow(track, weights))
        frames = _pushed(session, speech[:24_000], [320])
    assert len(frames) == len(drawn) == 38 and np.ptp([d.head[0, 2] for d in drawn]) > 0.5  # the head turns
    for frame, track in list(zip(frames, drawn))[::6]:
        assert np.array_equal(frame.image, WarpRenderer([reference], track).frame(0)), frame.index


def test_cli_streams_a_file_in_real_time_and_prints_the_latency(tmp_path):
    audio = speech_excerpt(tmp_path / "speech.wav", 2.0)
    out = tmp_path / "live.mp4"
    result = run_cli("live", "--ref", str(PORTRAIT), "--audio", str(audio), "--out", str(out), "--size", "128")
    assert result.returncode == 0, result.stderr
    assert "frames: 50 of 50 expected; latency median" in result.stdout and "p95" in result.stdout
    info = probe_video(out)
    assert info.frame_count == 50 and abs(info.audio_duration - 2.0) < 0.05
    bad = run_cli("live", "--ref", str(PORTRAIT), "--audio", str(tmp_path / "missing.wav"))
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == ["error: audio file 'missing.wav' does not "
                                                                      "exist or is not a file."]  # fmt: skip
