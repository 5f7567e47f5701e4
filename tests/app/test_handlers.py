"""The app's plumbing without a browser: cheap import, cancel, time limit, housekeeping, conflict grid."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from portraittalk.errors import CancelledError
from portraittalk.ui.handlers import Handlers, ServeLimits
from portraittalk.ui.jobs import JobControl, OutputFolder
from portraittalk.ui.manager import ModelManager

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "assets" / "portraits" / "astronaut.png"
SPEECH = ROOT / "assets" / "speech" / "en_mbp.wav"


def _python(code: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})  # fmt: skip


def test_import_app_loads_neither_gradio_nor_torch():
    out = _python("import sys, app; print(sorted(m for m in ('gradio', 'torch', 'mediapipe') if m in sys.modules))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_job_control_stops_on_cancel_and_on_time_limit():
    jobs = JobControl(time_limit_s=60)
    flag = jobs.start("a")
    seen = []
    callback = jobs.progress(flag, lambda *args: seen.append(args))
    callback("rendering", 1, 10)
    assert seen == [("rendering", 1, 10)]
    assert jobs.cancel("b") is False and jobs.cancel("a") is True
    with pytest.raises(CancelledError, match="cancelled"):
        callback("rendering", 2, 10)
    jobs.finish("a", flag)
    assert jobs.cancel("a") is False
    late = JobControl(time_limit_s=0).progress(JobControl(0).start("c"))
    time.sleep(0.01)
    with pytest.raises(CancelledError, match="limit of 0 s per job"):
        late("rendering", 0, 10)


def test_old_outputs_are_cleaned(tmp_path):
    folder = OutputFolder(tmp_path, max_age_s=60)
    old, new = folder.new_path(), folder.new_path()
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (time.time() - 120, time.time() - 120))
    assert folder.clean() == 1
    assert not old.exists() and new.exists()


def test_cancel_stops_a_running_generation(tmp_path):
    """Pressing Cancel mid-render stops the pipeline and leaves no partial file behind; the page gets
    an empty result and the note, not an error (the user asked for it)."""
    h = Handlers(ModelManager(), ServeLimits(), tmp_path)
    request = SimpleNamespace(session_hash="session-1")
    stages = []

    def progress(value, desc=None, **kwargs):
        stages.append(desc)
        if desc == "rendering":
            h.cancel(request)

    video, download, *_, note, _ = h.generate([str(PORTRAIT)], str(SPEECH), request=request, progress=progress)
    assert video is None and download is None and note.startswith("**Cancelled.**"), note
    assert "rendering" in stages and "encoding" not in stages
    assert not list(tmp_path.glob("*.mp4"))
    assert not h.manager.run_lock.locked()


def test_conflict_grid_with_tiny_diffusion_weights(tmp_path):
    """Prompt × identity-scale grid of first frames, with the random tiny weights in the real layout."""
    from portraittalk.engines.diffusion.tiny import make_tiny_weights

    make_tiny_weights(tmp_path / "weights")
    grid_png = ROOT / "artifacts" / "conflict-grid-tiny.png"
    code = f"""
from pathlib import Path
from portraittalk.media.image import save_image
from portraittalk.ui.handlers import Handlers, ServeLimits
from portraittalk.ui.manager import ModelManager
h = Handlers(ModelManager(), ServeLimits(), Path({str(tmp_path / 'out')!r}))
grid = h.conflicts({str(PORTRAIT)!r}, "an oil painting", "0.3, 0.9", 0, 2, progress=lambda *a, **k: None)
Path({str(grid_png.parent)!r}).mkdir(exist_ok=True)
save_image({str(grid_png)!r}, grid)
print(grid.shape)
"""
    out = _python(code, env={"PORTRAITTALK_WEIGHTS": str(tmp_path / "weights")})  # read once, by the manager
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "(292, 732, 3)"  # 36 + 256 rows, 220 + 2×256 columns


def test_motion_view_draws_the_track_on_the_face_of_a_whole_photo_result(tmp_path, monkeypatch):
    """Whole-photo results: the crop-space track is mapped back into the photo, onto the face."""
    import numpy as np

    from portraittalk.media import probe_video, read_video

    h = Handlers(ModelManager(), ServeLimits(), tmp_path)
    video, *_, state = h.generate([str(PORTRAIT)], str(SPEECH), size=256, full_frame=True,
                                  request=SimpleNamespace(session_hash="m"), progress=lambda *a, **k: None)  # fmt: skip
    def no_second_analysis(*args, **kwargs):
        raise AssertionError("the motion view analysed the photo again")

    monkeypatch.setattr(h.manager.get(), "analyse", no_second_analysis)  # the result carries its crop
    overlay = h.motion(state)
    monkeypatch.undo()
    src, drawn = probe_video(video), probe_video(overlay)
    assert (drawn.width, drawn.height, drawn.frame_count) == (src.width, src.height, src.frame_count)
    assert drawn.audio_codec == "aac"
    (_, a), (_, b) = next(iter(read_video(video))), next(iter(read_video(overlay)))
    ys, xs = np.nonzero(np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 60)
    face = h.manager.get().analyse([str(PORTRAIT)], 256, 0.9)[0].photo_landmarks
    assert len(xs) > 0.01 * src.width * src.height
    # the mesh sits on the face in the photo (the astronaut's face is well above the photo's centre)
    assert np.hypot(xs.mean() - face[:, 0].mean(), ys.mean() - face[:, 1].mean()) < 0.03 * src.width


def test_the_note_under_a_flagged_result_says_what_looks_wrong(tmp_path, monkeypatch):
    """A video the artifact check flags (here a track whose jaw drops far wider than a mouth opens)
    is still shown, and the note under it names the problem and what to try; a clean one has no such line."""
    from portraittalk.config import MotionConfig
    from portraittalk.face import mesh
    from portraittalk.face.reference import analyse_reference
    from portraittalk.media import load_audio, load_image
    from portraittalk.motion.offline import audio_to_motion

    h = Handlers(ModelManager(), ServeLimits(), tmp_path)
    session = SimpleNamespace(session_hash="q")
    _, _, _, _, clean, _ = h.generate([str(PORTRAIT)], str(SPEECH), size=128, request=session,
                                      progress=lambda *a, **k: None)  # fmt: skip
    assert clean.startswith("Rendered with **warp**") and "Check the result" not in clean

    ref = analyse_reference(load_image(PORTRAIT), "astronaut", size=128)
    track = audio_to_motion(load_audio(SPEECH), ref.landmarks, (128, 128), config=MotionConfig(head_sway=0.0))
    lower = [i for i in range(468) if track.reference[i, 1] > track.reference[mesh.LOWER_LIP_INNER, 1] - 1]
    track.expression[:, lower, 1] += 0.18 * mesh.face_height(ref.landmarks)
    pt = h.manager.get()
    monkeypatch.setattr(pt, "generate", functools.partial(pt.generate, track=track))
    video, _, _, _, note, _ = h.generate([str(PORTRAIT)], str(SPEECH), size=128, request=session,
                                         progress=lambda *a, **k: None)  # fmt: skip
    assert Path(video).is_file()
    flagged = [line for line in note.splitlines() if line.startswith("- **Check the result:**")]
    assert any("gapes wider than a mouth can open" in line for line in flagged), note
    assert all("; try " in line for line in flagged)


def test_generate_endpoint_parameters_are_the_request_settings():
    """Every /generate parameter after the inputs is a flat setting of GenerateRequest, with its default."""
    import inspect

    from portraittalk.config import FLAT

    params = inspect.signature(Handlers._generate).parameters
    settings = [name for name in params if name not in ("self", "references", "audio", "request", "progress")]
    assert settings and all(name in FLAT for name in settings), settings
    for name in settings:
        if name != "prompt":  # None: the prompt box may be left empty
            assert params[name].default == FLAT[name].default, name


def test_public_text_names_the_weights_folder_in_words_and_cuts_other_paths_to_their_name(tmp_path):
    from portraittalk.ui.public import public_text

    weights = tmp_path / "weights"
    shown = public_text(f"Stable Diffusion 1.5 base is missing (expected in {weights}/sd15); run `portraittalk "
                        f"weights download sd15`. Could not read /tmp/gradio/3f2a/rocket.png or {weights}.", weights)
    assert shown == ("Stable Diffusion 1.5 base is missing (expected in the server's weights folder); run "
                     "`portraittalk weights download sd15`. Could not read rocket.png or the server's weights folder.")
    kept = "w1/w2 at 1.0, docs/metrics.md, https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert public_text(kept, weights) == kept


def test_status_and_weights_table_show_no_server_path(tmp_path):
    from portraittalk.weights import Weights

    manager = ModelManager(Weights(tmp_path / "weights"))
    text = manager.status_markdown() + str(manager.weights_table()) + str(manager.engine_status())
    assert str(tmp_path) not in text and "/" + tmp_path.parts[1] not in text
    assert "server's weights folder" in manager.engine_status()["diffusion"][1]
    assert "portraittalk weights download sd15" in text and "Conflict explorer" in text


def test_a_setting_slider_keeps_its_setting_when_gradio_rebuilds_it():
    """An event that changes a slider's help line makes Gradio rebuild it from its constructor arguments;
    the rebuilt one still checks its own setting (it once checked '' and refused every value)."""
    from portraittalk.ui.widgets import SettingSlider, setting_slider

    slider = setting_slider("steps", "Diffusion steps", 1, render=False)
    rebuilt = SettingSlider(**{**slider.constructor_args, "info": "Ignored by the warp engine.", "render": False})
    assert rebuilt.setting == "steps" and rebuilt.preprocess(30) == 30
    with pytest.raises(gr.Error, match=r"Steps must be between 1 and 200 \(got 0\)"):
        rebuilt.preprocess(0)
    assert set(slider.get_config()) == set(gr.Slider(render=False).get_config())


def test_an_unreadable_reference_leaves_the_list_with_its_message(tmp_path, bad_inputs):
    h = Handlers(ModelManager(), ServeLimits(), tmp_path)
    with pytest.warns(UserWarning, match="'corrupt.png' is not an image we can read"):
        kept, thumbnails = h.references_changed([str(PORTRAIT), str(bad_inputs["corrupt"])])
    assert kept == [str(PORTRAIT)] and thumbnails.visible
    skip, thumbnails = h.references_changed([str(PORTRAIT)])
    assert skip == gr.skip() and thumbnails.visible
    assert h.references_changed([])[1].visible is False


def test_the_metrics_table_says_how_to_read_each_number(tmp_path):
    from types import SimpleNamespace

    import numpy as np

    from portraittalk.ui.views import metrics_table

    result = SimpleNamespace(
        adfd=SimpleNamespace(adfd=0.6, spatial=0.9, motion=0.66, frames=66),
        lmd=SimpleNamespace(mouth_px=6.0, face_px=3.8), psnr=np.array([30.0]), ssim=np.array([0.9]),
        identity={"value": 0.98, "available": True, "backend": "dlib"},
        notes=[f"no face in frame 3 of {tmp_path}/x.mp4"])
    rows = metrics_table(result, lambda text: text.replace(str(tmp_path) + "/", ""))
    reading = {row[0]: row[2] for row in rows}
    assert all(("higher is better" in r) != ("lower is better" in r) for name, r in reading.items() if name != "note")
    assert "0.87–0.99" in reading["ADFD"] and "0.77–0.89" in reading["identity similarity"]
    assert "·" not in "".join(reading.values())  # no formulas: they stay in docs/metrics.md
    assert reading["note"] == "no face in frame 3 of x.mp4"


def test_the_app_refuses_short_speech_and_oversize_photos_in_the_products_words(tmp_path):
    """The upload check takes an oversize photo out of the list with the limit and what to do; Generate
    says the same, and refuses speech under the minimum length with that minimum."""
    from shared_inputs import oversize_png, speech_excerpt

    h = Handlers(ModelManager(), ServeLimits(), tmp_path / "out")
    huge, short = oversize_png(tmp_path / "huge.png"), speech_excerpt(tmp_path / "short.wav", 0.2)
    words = (r"'huge\.png' is 12000×12000 pixels \(144 megapixels\), over the limit of 40 megapixels; "
             r"downscale it to at most 40 megapixels \(6324×6324 keeps its shape\) with any image editor")
    with pytest.warns(UserWarning, match=words) as shown:
        kept, _ = h.references_changed([str(PORTRAIT), str(huge)])
    assert kept == [str(PORTRAIT)] and "bomb" not in str(shown[0].message)
    request, progress = SimpleNamespace(session_hash="limits"), lambda *a, **k: None
    with pytest.raises(gr.Error, match=words):
        h.generate([str(huge)], str(SPEECH), request=request, progress=progress)
    with pytest.raises(gr.Error) as refused:
        h.generate([str(PORTRAIT)], str(short), request=request, progress=progress)
    assert refused.value.message == "The speech in 'short.wav' is 0.2 s long; give at least 0.5 s of speech."
    assert not list((tmp_path / "out").glob("*.mp4"))
