"""One home for every setting: the request object, controls applied at render time, a weights folder
per generator, and the CLI derived from the config."""
from __future__ import annotations

import os
import re
from dataclasses import asdict

import numpy as np
import pytest

from portraittalk import PortraitTalk
from portraittalk.config import FLAT, Controls, GenerateRequest, MotionConfig
from portraittalk.errors import InputError
from portraittalk.face import mesh
from portraittalk.face.landmarks import FaceMeshDetector
from portraittalk.media import Audio, load_audio, read_video
from portraittalk.motion.controls import apply_controls
from portraittalk.weights import ENV_VAR, Weights

from shared_inputs import PORTRAIT, SPEECH, run_cli
from tiny_onnx import write_tiny_segmenter


def test_a_saved_track_does_not_depend_on_the_controls(tmp_path):
    """`--save-track` with w1 = w2 = w3 = 0 writes exactly the track that 1/1/1 writes."""
    tracks = []
    for w in ("0", "1"):
        track = tmp_path / f"w{w}.npz"
        r = run_cli("generate", "--ref", str(PORTRAIT), "--audio", str(SPEECH), "--out", str(tmp_path / f"w{w}.mp4"),
                    "--size", "128", "--quiet", "--w1", w, "--w2", w, "--w3", w, "--save-track", str(track))  # fmt: skip
        assert r.returncode == 0, r.stderr
        tracks.append(np.load(track))
    assert set(tracks[0].files) == set(tracks[1].files)
    for key in tracks[0].files:
        assert np.array_equal(tracks[0][key], tracks[1][key]), key


@pytest.fixture(scope="module")
def closed_mouth_photo():
    """The astronaut with her lips together (her photo smiles with open lips): a portrait on which
    opening the mouth is the only mouth movement, so its size is proportional to w1."""
    pt = PortraitTalk(Weights.resolve())
    ref = pt.analyse([PORTRAIT], 256, GenerateRequest().render.crop_margin)[0]
    silence = Audio.from_array(np.zeros(16000, np.float32))
    track = pt.motion(silence, ref, GenerateRequest(motion=MotionConfig(head_sway=0.0)))
    track.blink[:] = 0
    result = pt.generate([ref.image], silence, track=track, size=256)
    return result.frames[-1]


def test_rerendering_one_track_with_w1_0_1_2_scales_the_mouth_0_1_2(tmp_path, closed_mouth_photo):
    """One track, three renders: how far MediaPipe sees the mouth open beyond the photo's own
    opening, on the frames where the speech opens it, is about 0, x and 2x."""
    pt = PortraitTalk(Weights.resolve())
    audio = load_audio(SPEECH)
    ref = pt.analyse([closed_mouth_photo], 256, GenerateRequest().render.crop_margin)[0]
    track = pt.motion(audio, ref, GenerateRequest(motion=MotionConfig(head_sway=0.0)))
    speaking = mesh.mouth_aperture(apply_controls(track, Controls(), 0.04).landmarks) > ref.mouth_aperture + 0.015
    assert speaking.sum() > 20
    spreads = {}
    for w1 in (0.0, 1.0, 2.0):
        result = pt.generate([closed_mouth_photo], audio, track=track, size=256, w1=w1,
                             output=tmp_path / f"w1-{w1:g}.mp4")  # fmt: skip
        with FaceMeshDetector(static=False) as det:
            seen = np.array([mesh.mouth_aperture(det.detect(frame).points) for _, frame in read_video(result.video_path)])
        spreads[w1] = float(np.abs(seen[speaking] - ref.mouth_aperture).mean())
    assert spreads[1.0] > 0.02, spreads
    assert spreads[0.0] < 0.15 * spreads[1.0], spreads
    # The landmarks open 1.9x as far at w1 = 2 (a closing is never scaled past lips together);
    # MediaPipe reads a wide drawn-open mouth a little short of that (~1.6x).
    assert 1.45 < spreads[2.0] / spreads[1.0] < 2.4, spreads


def test_two_generators_with_different_weight_folders_each_see_their_own(tmp_path, monkeypatch):
    """A rembg model in one folder only: that generator's references are masked by it, the other's by
    MediaPipe; the process environment is never written."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    with_rembg, without = tmp_path / "a", tmp_path / "b"
    write_tiny_segmenter(with_rembg / "rembg" / "u2net_human_seg.onnx")
    without.mkdir()
    a = PortraitTalk.from_pretrained(weights_dir=with_rembg)
    b = PortraitTalk.from_pretrained(weights_dir=without)
    assert ENV_VAR not in os.environ
    assert (a.weights.root, b.weights.root) == (with_rembg.resolve(), without.resolve())
    ref_a = a.analyse([PORTRAIT], 256, 0.9)[0]
    ref_b = b.analyse([PORTRAIT], 256, 0.9)[0]
    red = ref_a.image[..., 0].astype(np.float32).ravel()
    assert np.corrcoef(ref_a.person_mask().ravel(), red)[0, 1] > 0.9  # the tiny model: it 'segments' by red
    assert np.corrcoef(ref_b.person_mask().ravel(), red)[0, 1] < 0.8  # MediaPipe's person
    assert a.engine_status()["diffusion"][1].count(str(with_rembg.resolve())) == 1
    assert str(without.resolve()) in b.engine_status()["diffusion"][1]


def test_generate_help_shows_every_default_from_the_config():
    r = run_cli("generate", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())  # argparse wraps lines
    for spec in FLAT.values():
        pattern = re.escape(spec.flag) + r"\b.*?\(default: " + re.escape(repr(spec.default))
        assert re.search(pattern, text), spec.name


@pytest.mark.parametrize("flag,value,message", [
    ("--w1", "-1", "w1 must be between 0 and 3 (got -1)"),
    ("--steps", "0", "steps must be between 1 and 200 (got 0)"),
    ("--size", "33", "size must be between 64 and 2048 (got 33)"),
    ("--size", "100", "size must be a multiple of 8 (got 100)"),
    ("--device", "tpu", "device must be auto, cpu, cuda or cuda:N"),
])  # fmt: skip
def test_bad_values_give_one_clear_error_in_the_cli(tmp_path, flag, value, message):
    out = tmp_path / "out.mp4"
    r = run_cli("generate", "--ref", str(PORTRAIT), "--audio", str(SPEECH), "--out", str(out), flag, value)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], r.stderr
    assert not out.exists()


def test_the_request_validates_once_and_round_trips():
    with pytest.raises(InputError, match="w3 must be between 0 and 3"):
        Controls(w3=4)
    with pytest.raises(InputError, match="steps must be a whole number"):
        GenerateRequest.from_flat({"steps": 2.5})
    with pytest.raises(InputError, match="unknown setting 'stepz'"):
        GenerateRequest.from_flat({"stepz": 2})
    with pytest.raises(InputError, match="unknown engine 'fast'; choose one of auto, warp, diffusion"):
        PortraitTalk().generate([PORTRAIT], SPEECH, engine="fast")  # refused before any work, by the registry
    request = GenerateRequest.from_flat({"size": 256, "w1": 0.5, "steps": 30.0, "full_frame": 1})
    assert (request.render.size, request.controls.w1, request.sampling.steps) == (256, 0.5, 30)
    assert isinstance(request.sampling.steps, int) and request.render.full_frame is True
    assert GenerateRequest(**asdict(request)) == request
    assert request.flat()["w1"] == 0.5 and set(request.flat()) == set(FLAT)


def test_result_settings_are_the_request(tmp_path):
    pt = PortraitTalk.from_pretrained()
    result = pt.generate([PORTRAIT], SPEECH, prompt="grey hair", seed=3, size=128, w2=2.0, output=tmp_path / "a.mp4")
    expected = GenerateRequest.from_flat({"prompt": "grey hair", "seed": 3, "size": 128, "w2": 2.0})
    assert result.settings == asdict(expected)
    assert result.seed == 3 and result.engine == "warp"


def test_too_many_or_no_portraits_read_the_same_in_the_api_the_app_and_a_batch_job(tmp_path):
    """One wording, from one place: the API raises it, the app shows it, a batch job lists it."""
    from types import SimpleNamespace

    import gradio as gr

    from portraittalk.batch.jobs import Job, find_problems
    from portraittalk.config import Limits
    from portraittalk.ui.handlers import Handlers, ServeLimits
    from portraittalk.ui.manager import ModelManager

    portrait, speech = str(PORTRAIT), str(SPEECH)
    nine = "9 reference images given; at most 8 are taken. Remove some and try again."
    with pytest.raises(InputError) as api:
        PortraitTalk.from_pretrained(engine="warp").generate([portrait] * 9, speech)
    assert str(api.value) == nine
    handlers = Handlers(ModelManager(), ServeLimits(), tmp_path)
    with pytest.raises(gr.Error) as app:
        handlers.generate([portrait] * 9, speech, request=SimpleNamespace(session_hash="s"))
    assert nine[1:] in str(app.value)
    job = Job(id="j", references=(PORTRAIT,) * 9, audio=SPEECH, output="j.mp4")
    assert find_problems([job], GenerateRequest(), Limits()) == {"j": nine}
    with pytest.raises(InputError, match="add at least one reference portrait"):
        PortraitTalk.from_pretrained(engine="warp").generate([], speech)
