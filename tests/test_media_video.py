"""MP4 writing: H.264 yuv420p + AAC, duration = audio, streamed, nothing left behind on error."""
from __future__ import annotations

import numpy as np
import pytest

from portraittalk.errors import VideoError
from portraittalk.media import VideoWriter, load_audio, probe_video, read_video

from shared_inputs import SPEECH


def _frames(n: int, w: int, h: int):
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, : (i * 7) % w] = (200, 80, 40)
        yield f


def test_writes_browser_playable_mp4_with_audio(tmp_path):
    audio = load_audio(SPEECH)
    fps = 25.0
    n = int(round(audio.duration * fps))
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps, (160, 120), audio) as w:
        for f in _frames(n, 160, 120):
            w.write(f)
    info = probe_video(out)
    assert (info.video_codec, info.pixel_format, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height) == (160, 120)
    assert info.frame_count == n
    assert abs(info.duration - audio.duration) <= 1.0 / fps
    assert abs(info.audio_duration - audio.duration) <= 1.0 / fps
    frames = list(read_video(out))
    assert len(frames) == n and frames[0][1].shape == (120, 160, 3)
    assert frames[1][0] == pytest.approx(1 / fps, abs=1e-3)


def test_odd_sizes_are_padded_to_even(tmp_path):
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 25, (101, 77)) as w:
        for f in _frames(10, 101, 77):
            w.write(f)
    info = probe_video(out)
    assert (info.width % 2, info.height % 2) == (0, 0) and info.audio_codec is None


def test_nothing_half_written_on_error(tmp_path):
    out = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 25, (64, 64)) as w:
            w.write(np.zeros((64, 64, 3), np.uint8))
            raise RuntimeError("render failed")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_survives_a_failed_job(tmp_path):
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"previous video")
    w = VideoWriter(out, 25, (64, 64))
    w.abort()
    assert out.read_bytes() == b"previous video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]


def test_streaming_memory_is_flat(tmp_path):
    import tracemalloc

    def peak_for(n: int) -> int:
        tracemalloc.start()
        with VideoWriter(tmp_path / f"s{n}.mp4", 25, (256, 256), preset="ultrafast") as w:
            for f in _frames(n, 256, 256):
                w.write(f)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    short, long = peak_for(25), peak_for(250)
    assert long < short + 2_000_000, (short, long)  # 10x the frames, no growth beyond noise


def test_unreadable_video_errors(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError, match="not a video we can read"):
        probe_video(bad)
    with pytest.raises(VideoError, match="does not exist"):
        read_video(tmp_path / "none.mp4")


def test_an_encoder_that_dies_mid_stream_is_an_error_and_leaves_nothing(tmp_path):
    """Frames go to the encoder through a feeder thread: if ffmpeg dies, the caller gets a VideoError
    (never a hang on a full queue) and no file is left."""
    out = tmp_path / "dead.mp4"
    w = VideoWriter(out, 25, (64, 64))
    w.write(np.zeros((64, 64, 3), np.uint8))
    w._proc.kill()
    with pytest.raises(VideoError, match="encoder stopped|failed"):
        for f in _frames(200, 64, 64):
            w.write(f)
        w.close()
    assert list(tmp_path.iterdir()) == []


def test_the_encoder_yields_the_cpu_to_the_renderer(tmp_path):
    """The encoder process runs below the caller's priority (rendering is the critical path; on two
    cores an encoder at equal priority slows the renderer), and the video is still whole."""
    import os

    from portraittalk.media.video import ENCODER_NICENESS

    frame = np.full((64, 64, 3), 128, np.uint8)
    with VideoWriter(tmp_path / "nice.mp4", 25, (64, 64)) as writer:
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, writer._proc.pid) == min(own + ENCODER_NICENESS, 19)
        for _ in range(10):
            writer.write(frame)
    assert probe_video(tmp_path / "nice.mp4").frame_count == 10
