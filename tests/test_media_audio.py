"""Audio decoding: many formats to 16 kHz mono float32 with exact durations; clear refusals."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from portraittalk.errors import AudioError
from portraittalk.media import load_audio

from shared_inputs import PORTRAIT, SPEECH, ffmpeg, speech_excerpt

SPEECH_SECONDS = sf.info(str(SPEECH)).duration


@pytest.fixture(scope="module")
def encodings(tmp_path_factory):
    d = tmp_path_factory.mktemp("enc")
    out = {
        "mp3_stereo": d / "speech.mp3", "flac": d / "speech.flac", "ogg": d / "speech.ogg",
        "wav_8k": d / "speech_8k.wav", "m4a": d / "speech.m4a", "wav_48k_stereo": d / "speech48.wav",
    }  # fmt: skip
    ffmpeg("-i", str(SPEECH), "-ac", "2", "-b:a", "128k", str(out["mp3_stereo"]))
    ffmpeg("-i", str(SPEECH), str(out["flac"]))
    ffmpeg("-i", str(SPEECH), "-c:a", "libvorbis", str(out["ogg"]))
    ffmpeg("-i", str(SPEECH), "-ar", "8000", str(out["wav_8k"]))
    ffmpeg("-i", str(SPEECH), "-c:a", "aac", str(out["m4a"]))
    ffmpeg("-i", str(SPEECH), "-ar", "48000", "-ac", "2", str(out["wav_48k_stereo"]))
    return out


def _envelope(x: np.ndarray, sr: int = 16000) -> np.ndarray:
    hop = sr // 50
    n = len(x) // hop
    return np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(axis=1))


def test_wav_reference():
    a = load_audio(SPEECH)
    assert a.sample_rate == 16000 and a.samples.dtype == np.float32 and a.samples.ndim == 1
    assert a.duration == pytest.approx(SPEECH_SECONDS, abs=1e-6)
    assert abs(len(a.samples) / 16000 - a.duration) < 0.01


@pytest.mark.parametrize("kind", ["mp3_stereo", "flac", "ogg", "wav_8k", "m4a", "wav_48k_stereo"])
def test_formats_decode_to_the_same_speech(encodings, kind):
    ref = load_audio(SPEECH)
    a = load_audio(encodings[kind])
    assert a.sample_rate == 16000 and a.samples.ndim == 1
    assert a.duration == pytest.approx(ref.duration, abs=0.06)  # codec padding at most ~50 ms
    # Same speech: the loudness envelopes line up (best lag within 60 ms) and correlate.
    e1, e2 = _envelope(ref.samples), _envelope(a.samples)
    n = min(len(e1), len(e2))
    best = max(np.corrcoef(e1[: n - 3], e2[k : n - 3 + k])[0, 1] for k in range(3))
    assert best > 0.9


def test_resampler_is_band_limited(tmp_path):
    # A 7 kHz tone survives 48k -> 16k; an 11 kHz tone (above the new Nyquist) must not alias to 5 kHz.
    sr = 48000
    t = np.arange(sr * 2) / sr
    for freq, keep in ((7000, True), (11000, False)):
        path = tmp_path / f"tone{freq}.wav"
        sf.write(path, 0.5 * np.sin(2 * np.pi * freq * t), sr)
        a = load_audio(path)
        rms = float(np.sqrt(np.mean(a.samples[1000:-1000] ** 2)))
        assert (rms > 0.3) if keep else (rms < 0.01), (freq, rms)


def test_video_audio_track(tmp_path):
    video = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=64x64:d=3", "-i", str(SPEECH), "-shortest",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(video))  # fmt: skip
    a = load_audio(video)
    assert a.duration == pytest.approx(min(3.0, SPEECH_SECONDS), abs=0.1)


def test_silence_is_valid(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000 * 2, np.float32), 16000)
    a = load_audio(path)
    assert a.duration == pytest.approx(2.0) and not a.samples.any()


def test_ten_minute_silence_loads_in_bounded_memory(tmp_path):
    import tracemalloc

    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", 44100, 2, subtype="PCM_16") as f:
        block = np.zeros((44100 * 10, 2), np.int16)
        for _ in range(60):
            f.write(block)
    tracemalloc.start()
    a = load_audio(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert a.duration == pytest.approx(600.0)
    result_bytes = a.samples.nbytes  # 600 s x 16 kHz x 4 B = 38 MB
    # Decoding 44.1 kHz stereo whole would need >= 200 MB as float64; streaming needs ~the result.
    assert peak < result_bytes + 30e6, peak


def test_bad_audio_gets_clear_errors(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="is empty"):
        load_audio(empty)
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="give at least 0.5 s of speech"):
        load_audio(zero)
    with pytest.raises(AudioError, match="cannot be used as audio"):
        load_audio(PORTRAIT)
    noise = tmp_path / "noise.mp3"
    noise.write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError):
        load_audio(noise)
    with pytest.raises(AudioError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="over the limit of 2 s"):
        load_audio(SPEECH, max_seconds=2)


def test_too_long_through_ffmpeg(tmp_path):
    m4a = tmp_path / "long.m4a"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "12", "-c:a", "aac", str(m4a))
    with pytest.raises(AudioError, match="over the limit of 5 s"):
        load_audio(m4a, max_seconds=5)


def test_speech_shorter_than_half_a_second_is_refused_with_the_minimum(tmp_path):
    """0.2 s of speech (a syllable) would make a 5-frame video; the minimum, 0.5 s, is accepted."""
    short = speech_excerpt(tmp_path / "short.wav", 0.2)
    with pytest.raises(AudioError) as refused:
        load_audio(short)
    assert str(refused.value) == "the speech in 'short.wav' is 0.2 s long; give at least 0.5 s of speech."
    assert load_audio(speech_excerpt(tmp_path / "half.wav", 0.5)).duration == pytest.approx(0.5)
    m4a = tmp_path / "short.m4a"  # through ffmpeg: its length is what it decodes to
    ffmpeg("-i", str(short), "-c:a", "aac", str(m4a))
    with pytest.raises(AudioError, match=r"^the speech in 'short\.m4a' is 0\.2 s long; give at least 0\.5 s"):
        load_audio(m4a)


def test_the_api_refuses_short_speech_and_writes_nothing(tmp_path):
    from portraittalk import PortraitTalk

    short = speech_excerpt(tmp_path / "short.wav", 0.2)
    with pytest.raises(AudioError, match=r"^the speech in 'short\.wav' is 0\.2 s long; give at least 0\.5 s"):
        PortraitTalk.from_pretrained().generate([PORTRAIT], short, size=128, output=tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == [short]
