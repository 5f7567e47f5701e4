"""The `portraittalk` command as a user runs it: landmarks, weights, generate, and every bad input."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import soundfile as sf

from portraittalk.media import probe_video
from portraittalk.motion.track import MotionTrack

from shared_inputs import PAUSES, PORTRAIT, SECOND_PORTRAIT, SPEECH, ffmpeg, oversize_png, run_cli, speech_excerpt


def _one_error_line(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_landmarks_of_an_image(tmp_path):
    out = tmp_path / "face.npz"
    r = run_cli("landmarks", str(PORTRAIT), "--out", str(out))
    assert r.returncode == 0, r.stderr
    d = np.load(out)
    assert d["landmarks"].shape == (1, 478, 2) and tuple(d["frame_size"]) == (512, 512)
    r = run_cli("landmarks", str(PORTRAIT), "--out", str(out), "--preview", str(tmp_path / "mesh.png"))
    assert r.returncode == 0 and (tmp_path / "mesh.png").stat().st_size > 10_000
    r = run_cli("landmarks", str(PORTRAIT), "--out", str(out), "--preview", str(tmp_path / "mesh.mp4"))
    assert "the preview of an image is an image" in _one_error_line(r)


def test_landmarks_of_a_video_with_preview(tmp_path, talking_clip):
    out, preview = tmp_path / "track.npz", tmp_path / "preview.mp4"
    r = run_cli("landmarks", str(talking_clip), "--out", str(out), "--preview", str(preview))
    assert r.returncode == 0, r.stderr
    d = np.load(out)
    info = probe_video(talking_clip)
    assert d["landmarks"].shape == (info.frame_count, 478, 2) and d["found"].all()
    assert float(d["fps"]) == 25.0
    p = probe_video(preview)
    assert p.frame_count == info.frame_count and p.audio_codec == "aac"


def test_weights_status_and_download_without_network(tmp_path):
    r = run_cli("weights", "status")
    assert r.returncode == 0
    for name in ("sd15", "portraittalk", "insightface", "hubert", "rembg", "audio2motion"):
        assert name in r.stdout
    r = run_cli("weights", "status", "--weights", str(tmp_path / "empty"))
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[1] == "default engine: auto (picks warp here)", r.stdout
    assert lines[2].split() == ["warp", "needs", "nothing", "(CPU,", "no", "downloads):", "ready"]
    assert lines[3].split()[0] == "diffusion" and lines[3].endswith("not ready")
    # what the diffusion engine lacks, all of it, and one command that fetches it, before the components
    assert all(f"{name}:" in lines[4] for name in ("sd15", "portraittalk", "insightface")), lines[4]
    assert "`portraittalk weights download sd15 ip-adapter-faceid controlnet-face insightface`" in lines[4]
    assert lines[5] == "components:"
    r = run_cli("weights", "download", "hubert", timeout=120)
    line = _one_error_line(r)
    assert "could not download 'hubert'" in line
    line = _one_error_line(run_cli("weights", "download", "portraittalk"))
    assert "no public download" in line
    line = _one_error_line(run_cli("weights", "download", "nonsense"))
    assert "unknown weights component" in line


def test_asking_for_the_diffusion_engine_without_weights_names_everything_missing(tmp_path):
    r = run_cli("generate", "--ref", str(PORTRAIT), "--audio", str(SPEECH), "--out", str(tmp_path / "x.mp4"),
                "--engine", "diffusion", "--weights", str(tmp_path / "empty"))  # fmt: skip
    line = _one_error_line(r)
    assert line.startswith("error: the diffusion engine cannot run: 3 components are missing"), line
    for name in ("sd15", "portraittalk", "insightface"):
        assert f"{name}: " in line, name
    assert "portraittalk weights download sd15 ip-adapter-faceid controlnet-face insightface" in line
    assert not (tmp_path / "x.mp4").exists()


def test_generate_with_track_and_two_references(tmp_path):
    out, track = tmp_path / "two.mp4", tmp_path / "t.npz"
    r = run_cli("generate", "--ref", str(PORTRAIT), "--ref", str(SECOND_PORTRAIT), "--audio", str(PAUSES),
                "--out", str(out), "--size", "256", "--save-track", str(track), "--seed", "3")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "engine: warp" in r.stderr.splitlines()  # nothing else installed: no word about other engines
    assert "diffusion" not in r.stderr, r.stderr
    info = probe_video(out)
    dur = sf.info(str(PAUSES)).duration
    assert (info.video_codec, info.audio_codec, info.width) == ("h264", "aac", 256)
    assert abs(info.duration - dur) <= 1 / 25
    assert MotionTrack.load(track).landmarks.shape == (info.frame_count, 478, 2)
    # Re-rendering the saved track at another size gives the same number of frames.
    out2 = tmp_path / "again.mp4"
    r = run_cli("generate", "--ref", str(PORTRAIT), "--audio", str(PAUSES), "--out", str(out2),
                "--size", "128", "--track", str(track), "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert probe_video(out2).frame_count == info.frame_count


def test_full_frame_output(tmp_path):
    out = tmp_path / "full.mp4"
    r = run_cli("generate", "--ref", str(SECOND_PORTRAIT), "--audio", str(SPEECH), "--out", str(out),
                "--full-frame", "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr
    info = probe_video(out)
    assert (info.width, info.height) == (344, 344)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    from skimage import data
    from PIL import Image

    Image.fromarray(data.coffee()).save(d / "coffee.png")
    cut = PORTRAIT.read_bytes()
    (d / "cut.png").write_bytes(cut[: len(cut) // 3])
    (d / "notes.wav").write_text("these are my notes, not audio\n" * 50)
    speech_excerpt(d / "short.wav", 0.2)
    oversize_png(d / "huge.png")
    return d


@pytest.mark.parametrize("ref,audio,expect", [
    ("coffee.png", SPEECH, "no face found in 'coffee.png'"),
    ("cut.png", SPEECH, "'cut.png' is corrupt or truncated"),
    ("missing.jpg", SPEECH, "'missing.jpg' does not exist"),
    (PORTRAIT, "notes.wav", "'notes.wav' cannot be used as audio"),
    (PORTRAIT, "short.wav", "error: the speech in 'short.wav' is 0.2 s long; give at least 0.5 s of speech."),
    ("huge.png", SPEECH, "error: 'huge.png' is 12000×12000 pixels (144 megapixels), over the limit of 40 megapixels; "
     "downscale it to at most 40 megapixels (6324×6324 keeps its shape) with any image editor"),
    (PORTRAIT, "missing.wav", "'missing.wav' does not exist"),
])  # fmt: skip
def test_bad_input_one_clear_line_and_nothing_left(tmp_path, bad_inputs, ref, audio, expect):
    out = tmp_path / "out.mp4"
    ref_path = ref if not isinstance(ref, str) else bad_inputs / ref
    audio_path = audio if not isinstance(audio, str) else bad_inputs / audio
    r = run_cli("generate", "--ref", str(ref_path), "--audio", str(audio_path), "--out", str(out), "--quiet")
    assert expect in _one_error_line(r)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_valid_but_awkward_inputs_make_videos(tmp_path):
    """0.5 s of speech (the minimum), silence, 8 kHz stereo mp3, a 100-px face, a sideways photo: all give videos."""
    from PIL import Image

    from portraittalk.face.mesh import mouth_aperture
    from portraittalk.media import load_image

    short = speech_excerpt(tmp_path / "short.wav", 0.5)
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(32000, np.float32), 16000)
    mp3 = tmp_path / "speech8k.mp3"
    ffmpeg("-i", str(SPEECH), "-ar", "8000", "-ac", "2", str(mp3))
    tiny = tmp_path / "tiny.png"
    Image.fromarray(load_image(PORTRAIT)).resize((300, 300)).save(tiny)  # face ~100 px
    sideways = tmp_path / "sideways.jpg"
    Image.fromarray(np.ascontiguousarray(np.rot90(load_image(PORTRAIT)))).save(sideways)
    for ref, audio in ((PORTRAIT, short), (PORTRAIT, silence), (tiny, mp3), (sideways, short)):
        out = tmp_path / f"{ref.stem}-{audio.stem}.mp4"
        track = tmp_path / f"{ref.stem}-{audio.stem}.npz"
        r = run_cli("generate", "--ref", str(ref), "--audio", str(audio), "--out", str(out), "--size", "256",
                    "--quiet", "--save-track", str(track))  # fmt: skip
        assert r.returncode == 0, r.stderr
        info = probe_video(out)
        assert info.frame_count >= 1 and info.audio_codec == "aac"
        if audio == silence:
            lm = MotionTrack.load(track).landmarks
            assert mouth_aperture(lm).max() < 0.01  # silence: the mouth stays shut


@pytest.mark.parametrize("umask", [0o022, 0o027], ids=["umask-022", "umask-027"])
def test_the_video_gets_the_mode_of_any_file_the_user_creates(tmp_path, umask):
    """0666 less the umask (0644 under the usual 022), not the owner-only 0600 of a temporary file."""
    out = tmp_path / "mode.mp4"
    user_umask = os.umask(umask)  # the CLI inherits it
    try:
        r = run_cli("generate", "--ref", str(PORTRAIT), "--audio", str(speech_excerpt(tmp_path / "s.wav", 1.0)),
                    "--out", str(out), "--size", "64", "--quiet")  # fmt: skip
    finally:
        os.umask(user_umask)
    assert r.returncode == 0, r.stderr
    assert oct(stat.S_IMODE(out.stat().st_mode)) == oct(0o666 & ~umask)


def test_usage_errors():
    r = run_cli("generate", "--ref", str(PORTRAIT))
    assert r.returncode == 2 and "required" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("generate", "--ref", str(PORTRAIT), "--audio", str(SPEECH), "--out", "/tmp/x.mp4", "--w1", "9")
    assert "w1 must be between 0 and 3" in _one_error_line(r)


def test_a_flagged_video_gets_one_warning_line_each_and_exit_code_0(tmp_path):
    """A hand-edited track that opens the jaw far wider than a mouth opens: the video is still written
    (exit 0), and the artifact check says what looks wrong and what to try, one `warning:` line each."""
    from portraittalk.config import MotionConfig
    from portraittalk.face import mesh
    from portraittalk.face.reference import analyse_reference
    from portraittalk.media import load_audio, load_image
    from portraittalk.motion.offline import audio_to_motion

    ref = analyse_reference(load_image(PORTRAIT), "astronaut", size=128)
    track = audio_to_motion(load_audio(SPEECH), ref.landmarks, (128, 128), config=MotionConfig(head_sway=0.0))
    h = mesh.face_height(ref.landmarks)
    lower = [i for i in range(468) if track.reference[i, 1] > track.reference[mesh.LOWER_LIP_INNER, 1] - 1]
    track.expression[:, lower, 1] += 0.18 * h  # the jaw dropped by nearly a fifth of the face
    path = track.save(tmp_path / "gaping.npz")
    out = tmp_path / "gaping.mp4"
    r = run_cli("generate", "--ref", str(PORTRAIT), "--audio", str(SPEECH), "--out", str(out), "--size", "128",
                "--track", str(path), "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: ")]
    assert warnings and any("gapes wider than a mouth can open" in w for w in warnings), r.stderr
    assert all("; try " in w for w in warnings) and out.is_file()
