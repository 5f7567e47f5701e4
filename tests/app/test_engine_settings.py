"""What the app and the notes say an engine ignores is true: the registry's table, checked on frames."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from portraittalk.config import FLAT, GenerateRequest
from portraittalk.engines.registry import ENGINES, entry, ignored_changes, ignored_note
from portraittalk.ui.widgets import engine_info

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "assets" / "portraits" / "astronaut.png"
SPEECH = ROOT / "assets" / "speech" / "en_mbp.wav"


def another_value(name: str):
    """A valid value of the setting that is not its default."""
    spec = FLAT[name]
    if spec.choices:
        return next(c for c in spec.choices if c != spec.default)
    if spec.type is bool:
        return not spec.default
    if spec.type is str:
        return "an oil painting, warm light" if name != "device" else "cpu"
    if spec.type is float:  # half way to a bound
        bound = spec.maximum if spec.maximum is not None and spec.maximum > spec.default else spec.minimum
        return (spec.default + bound) / 2
    step = spec.multiple_of or 1
    return spec.default + step if spec.maximum is None or spec.default + step <= spec.maximum else spec.default - step


def test_the_table_names_real_settings_of_known_engines():
    assert all(name in FLAT for e in ENGINES for name in e.ignored_settings)
    warp = entry("warp").ignored_settings
    assert "prompt" in warp and "size" not in warp


def test_the_warp_engine_renders_the_same_frames_whatever_it_is_said_to_ignore():
    """Every setting in the table changed at once: identical frames. A used one (w1): other frames."""
    from portraittalk import PortraitTalk
    from portraittalk.engines.warp import WarpEngine
    from portraittalk.media import Audio, load_audio
    from portraittalk.weights import Weights

    pt = PortraitTalk(Weights(ROOT / "no-weights-here"))
    base = GenerateRequest.from_flat({"engine": "warp", "size": 64})
    changed = base.updated(**{name: another_value(name) for name in entry("warp").ignored_settings})
    assert ignored_changes("warp", changed) == list(entry("warp").ignored_settings)
    refs = pt.analyse([PORTRAIT], 64, base.render.crop_margin)
    track = pt.motion(Audio.from_array(load_audio(SPEECH).samples[:12000]), refs[0], base)  # 0.75 s
    engine = WarpEngine()

    def frames(request: GenerateRequest) -> np.ndarray:
        return np.stack(list(engine.render(refs, track, request)))

    as_asked = frames(base)
    assert np.array_equal(as_asked, frames(changed))
    assert not np.array_equal(as_asked, frames(base.updated(w1=2.0)))


def test_the_result_notes_and_the_widgets_say_what_was_ignored(tmp_path):
    from portraittalk import PortraitTalk
    from portraittalk.media import Audio, load_audio
    from portraittalk.weights import Weights

    request = GenerateRequest.from_flat({"prompt": "oil painting", "steps": 40})
    assert ignored_note("warp", request) == ("ignored by the warp engine: prompt, steps "
                                             "(only the diffusion engine uses them)")  # fmt: skip
    assert ignored_note("warp", GenerateRequest()) is None and ignored_note("diffusion", request) is None
    speech = Audio.from_array(load_audio(SPEECH).samples[:8000])  # half a second
    result = PortraitTalk(Weights(tmp_path)).generate([PORTRAIT], speech, prompt="oil painting", engine="warp",
                                                      size=64, output=tmp_path / "out.mp4")  # fmt: skip
    assert "ignored by the warp engine: prompt (only the diffusion engine uses it)" in result.notes
    assert engine_info("prompt", "warp").startswith("Ignored by the warp engine")
    assert engine_info("steps", "diffusion") == "Diffusion steps per frame"


@pytest.mark.parametrize("name", ["prompt", "steps", "size"])
def test_a_setting_the_engine_uses_is_not_reported(name):
    request = GenerateRequest().updated(**{name: another_value(name)})
    assert (ignored_note("warp", request) is None) == (name not in entry("warp").ignored_settings)
