"""A third engine is one module (here, this one) plus one registry entry: the CLI's choices, a real
generation, `weights status` and the app's Engine choice all show it, and no other file changes."""
from __future__ import annotations

import sys
from typing import Iterator, Sequence

import numpy as np
import pytest

from portraittalk.cli import main
from portraittalk.config import FLAT, Controls, GenerateRequest, RuntimeConfig
from portraittalk.engines import registry
from portraittalk.engines.base import Engine, ProgressFn, no_progress
from portraittalk.engines.registry import EngineEntry, register_engine
from portraittalk.face.reference import Reference
from portraittalk.media import read_video
from portraittalk.motion.track import MotionTrack
from portraittalk.weights import Weights

from shared_inputs import PORTRAIT, ROOT, SPEECH


class StillEngine(Engine):
    """Shows the first reference, still, in every frame."""

    name = "still"
    still_background = True

    def drawn(self, track: MotionTrack, request: GenerateRequest) -> MotionTrack:
        """The photo's mouth (w1 = 0) and placement (w2 = 2): the face stays where the photo has it."""
        from portraittalk.motion.controls import apply_controls

        return apply_controls(track, Controls(w1=0.0, w2=2.0), request.render.smoothing_s)

    def frames(self, references: Sequence[Reference], drawn: MotionTrack, request: GenerateRequest,
               progress: ProgressFn = no_progress) -> Iterator[np.ndarray]:  # fmt: skip
        for t in range(len(drawn)):
            progress("rendering", t + 1, len(drawn))
            yield references[0].image


STILL = EngineEntry("still", "it shows your photo, still", "nothing", lambda weights: (True, "always ready"),
                    lambda weights, runtime: StillEngine(),
                    ignored_settings=("prompt", "negative_prompt") + tuple(
                        name for name, spec in FLAT.items() if spec.section in ("controls", "sampling", "runtime")))


@pytest.fixture()
def still_engine() -> Iterator[None]:
    before = list(registry.ENGINES)
    register_engine(STILL)
    yield
    registry.ENGINES[:] = before


def test_the_cli_offers_and_renders_a_registered_engine(still_engine, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--help"])
    assert exit_.value.code == 0
    assert "{auto,warp,diffusion,still}" in capsys.readouterr().out

    out = tmp_path / "still.mp4"
    code = main(["-v", "generate", "--ref", str(PORTRAIT), "--audio", str(SPEECH), "--out", str(out), "--engine",
                 "still", "--size", "64", "--quiet", "--weights", str(tmp_path / "weights")])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "engine: still" in err and "diffusion" not in err
    frames = np.stack([frame for _, frame in read_video(out)]).astype(np.float32)
    assert len(frames) > 20
    assert np.abs(frames - frames[0]).mean(axis=(1, 2, 3)).max() < 1.5  # one picture, up to codec noise
    from portraittalk.face.reference import analyse_reference
    from portraittalk.media import load_image

    crop = analyse_reference(load_image(PORTRAIT), "astronaut", size=64).image.astype(np.float32)
    assert frames.shape[1:] == crop.shape and np.corrcoef(frames[0].ravel(), crop.ravel())[0, 1] > 0.98  # the crop


def test_weights_status_lists_a_registered_engine(still_engine, tmp_path, capsys):
    assert main(["weights", "status", "--weights", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split() == ["still", "needs", "nothing:", "ready"] for line in lines), lines


def test_the_app_offers_a_registered_engine(still_engine, tmp_path):
    from portraittalk.ui.manager import ModelManager

    sys.path.insert(0, str(ROOT))
    import app

    demo = app.build_app(ModelManager(Weights(tmp_path / "weights"), RuntimeConfig(device="cpu")),
                         output_root=tmp_path / "outputs")  # fmt: skip
    radio = next(c["props"] for c in demo.config["components"] if c["props"].get("elem_id") == "engine")
    assert [value for _, value in radio["choices"]] == ["auto", "warp", "diffusion", "still"]
    assert ["still", "still"] in [list(choice) for choice in radio["choices"]]  # offered as available
