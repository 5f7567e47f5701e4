"""The app's named endpoints, driven with gradio_client against a launched server."""
from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from portraittalk.media import load_audio, probe_video
from portraittalk.ui.views import CURVES

ASSETS = Path(__file__).resolve().parents[2] / "assets"
PORTRAIT = ASSETS / "portraits" / "astronaut.png"
SECOND = ASSETS / "portraits" / "man.jpg"
SPEECH = ASSETS / "speech" / "en_mbp.wav"


def _video_path(value) -> str:
    return value["video"] if isinstance(value, dict) else value


@pytest.fixture(scope="module")
def generated(client):
    """/generate with only the required inputs: every other parameter keeps its default."""
    return client.predict(references=[handle_file(str(PORTRAIT))], audio=handle_file(str(SPEECH)), prompt="",
                          api_name="/generate")  # fmt: skip


def test_generate_returns_playable_mp4_with_audio_of_the_speech_length(generated):
    video, download, seed, settings, note = generated
    info = probe_video(_video_path(video))
    speech = load_audio(SPEECH).duration
    assert (info.video_codec, info.pixel_format, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height, info.fps) == (512, 512, 25.0)
    assert info.duration == pytest.approx(speech, abs=0.1)
    assert info.audio_duration == pytest.approx(speech, abs=0.1)
    assert probe_video(download).frame_count == info.frame_count
    assert seed == 0
    assert settings["engine"] == "warp" and settings["controls"] == {"w1": 1.0, "w2": 1.0, "w3": 1.0}
    assert note.startswith("Rendered with **warp**: the diffusion engine is not installed on this server")
    assert str(ASSETS.parent) not in str(settings) + note


def test_generate_honours_settings_and_several_references(client):
    video, _, seed, settings, _ = client.predict(
        references=[handle_file(str(PORTRAIT)), handle_file(str(SECOND))], audio=handle_file(str(SPEECH)),
        prompt="smiling", engine="warp", w1=1.5, seed=7, size=256, fps=20, api_name="/generate")  # fmt: skip
    info = probe_video(_video_path(video))
    assert (info.width, info.fps, seed) == (256, 20.0, 7)
    assert settings["references"] == 2 and settings["controls"]["w1"] == 1.5 and settings["prompt"] == "smiling"
    assert settings["render"]["size"] == 256 and settings["seed"] == 7
    assert "ignored by the warp engine: prompt (only the diffusion engine uses it)" in settings["notes"]


@pytest.mark.parametrize("setting,value,message", [
    ("w1", -1, "W1 must be between 0 and 3 (got -1)"),
    ("steps", 0, "Steps must be between 1 and 200 (got 0)"),
    ("size", 33, "Size must be between 64 and 2048 (got 33)"),
])  # fmt: skip
def test_bad_values_are_refused_with_one_message(client, setting, value, message):
    with pytest.raises(AppError, match=message.replace("(", r"\(").replace(")", r"\)")):
        client.predict(references=[handle_file(str(PORTRAIT))], audio=handle_file(str(SPEECH)), api_name="/generate",
                       **{setting: value})


def test_evaluate_returns_metrics_and_curves(client, generated):
    """A result against a second take of the same speech (another seed: other blinks and head motion)."""
    other = client.predict(references=[handle_file(str(PORTRAIT))], audio=handle_file(str(SPEECH)), seed=3,
                           api_name="/generate")[0]  # fmt: skip
    table, curves = client.predict(generated=handle_file(_video_path(generated[0])),
                                   ground_truth=handle_file(_video_path(other)),
                                   references=[handle_file(str(PORTRAIT))], api_name="/evaluate")  # fmt: skip
    values = {row[0]: row[1] for row in table["data"]}
    # The two takes share the mouth, not the head: its motion is seeded, so the two heads' frame-to-frame
    # motions are unrelated (C near 0.5) and apart by a few pixels (S below 1). Measured 0.41.
    assert 0.3 < values["ADFD"] <= 1.0 and 0 < values["S (spatial)"] <= 1 and 0 < values["C (motion)"] <= 1
    assert values["ADFD"] == pytest.approx(values["S (spatial)"] * values["C (motion)"], abs=1e-3)
    assert values["LMD mouth (px)"] >= 0 and values["PSNR (dB)"] > 10 and 0 < values["SSIM"] <= 1
    assert values["identity similarity"] is not None
    assert set(CURVES.values()) == {row[2] for row in curves["data"]}


@pytest.mark.parametrize("case, refs, audio, message", [
    ("no face", ["rocket"], None, "no face found in 'rocket.png'"),
    ("corrupt image", ["corrupt"], None, "not an image we can read"),
    ("not audio", None, "notes", "it is not audio we can decode"),
    ("too long", None, "long", "is 63 s long, over the limit of 60 s"),
    ("too short", None, "short", "the speech in 'short.wav' is 0.2 s long; give at least 0.5 s of speech."),
    ("oversize photo", ["huge"], None, "'huge.png' is 12000×12000 pixels (144 megapixels), over the limit of 40 "
     "megapixels; downscale it to at most 40 megapixels (6324×6324 keeps its shape) with any image editor"),
])  # fmt: skip
def test_bad_inputs_give_clear_messages(client, bad_inputs, case, refs, audio, message):
    references = [handle_file(str(bad_inputs[r])) for r in refs] if refs else [handle_file(str(PORTRAIT))]
    speech = handle_file(str(bad_inputs[audio])) if audio else handle_file(str(SPEECH))
    with pytest.raises(AppError) as err:
        client.predict(references=references, audio=speech, api_name="/generate")
    text = str(err.value)
    assert message.lower() in text.lower(), text
    assert "Traceback" not in text and 'File "' not in text


def test_too_many_references_are_refused(client):
    refs = [handle_file(str(PORTRAIT))] * 9
    with pytest.raises(AppError, match="at most 8"):
        client.predict(references=refs, audio=handle_file(str(SPEECH)), api_name="/generate")


def test_unavailable_engine_says_why_without_server_paths(client):
    with pytest.raises(AppError, match="diffusion engine cannot run: .*portraittalk weights download sd15") as err:
        client.predict(references=[handle_file(str(PORTRAIT))], audio=handle_file(str(SPEECH)),
                       engine="diffusion", api_name="/generate")  # fmt: skip
    assert "missing from the server's weights folder" in str(err.value)
    assert str(ASSETS.parent) not in str(err.value)


def test_a_full_queue_is_refused_with_a_message(app_module, tmp_path):
    """One generation at a time and a queue of one: a third simultaneous job is turned away."""
    from gradio_client import Client
    from gradio_client.utils import QueueError

    from portraittalk.ui.handlers import ServeLimits

    demo = app_module.build_app(limits=ServeLimits(queue_size=1), output_root=tmp_path)
    _, url, _ = app_module.launch(demo, port=None, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False)
        jobs = [client.submit(references=[handle_file(str(PORTRAIT))], audio=handle_file(str(SPEECH)),
                              api_name="/generate") for _ in range(3)]  # fmt: skip
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(job.result(timeout=120)[2])
            except QueueError as exc:
                outcomes.append(str(exc))
    finally:
        demo.close()
    assert "Queue is full! Please try again." in outcomes
    assert 0 in outcomes
