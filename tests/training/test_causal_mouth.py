"""The causal-mouth stage: `portraittalk train --stage causal-mouth` fits the causal motion model's networks
from real talking-head clips (a tiny subset of benchmarks/data/clips/fit here, a few steps)."""
from __future__ import annotations

import json
import shutil

import numpy as np

from shared_inputs import ROOT, run_cli

CLIPS = ("en_mead_w040.mp4", "en_retalking_2_man_map.mp4", "xx_retalking_4_woman.mp4")  # three speakers, 5-6 s each


def test_the_causal_mouth_stage_writes_a_model_that_follows_its_clips(tmp_path):
    """Trained briefly on three clips, the written model loads as the package loads the shipped one,
    predicts finite values and its opening follows the real openings of the clips it learned from."""
    from portraittalk.motion.causal_mouth import CausalMouthModel
    from portraittalk.training.causal_mouth import measure_clips

    data = tmp_path / "clips"
    data.mkdir()
    for name in CLIPS:
        shutil.copy(ROOT / "benchmarks" / "data" / "clips" / "fit" / name, data / name)
    run = tmp_path / "run"
    r = run_cli("train", "--stage", "causal-mouth", "--data", str(data), "--output", str(run), "--max-steps", "120",
                "--quiet", timeout=900)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "trained causal-mouth to step 120/120" in r.stdout and "causal_mouth.npz" in r.stdout
    model = CausalMouthModel.load(run / "causal_mouth.npz")
    assert len(model.members) == 3 and model.outputs == ("opening", "width", "chin")
    report = json.loads((run / "causal_mouth_report.json").read_text())
    assert report["clips"] == len(CLIPS) and set(report["offsets"]) == {n[:-4] for n in CLIPS}
    r_open = []
    for clip in measure_clips(data):
        predicted = model.forward(clip["mel"])
        assert predicted.shape == (len(clip["y"]), 3) and np.isfinite(predicted).all()
        ok = np.isfinite(clip["y"][:, 0])
        r_open.append(np.corrcoef(predicted[ok, 0], clip["y"][ok, 0])[0, 1])
    assert np.mean(r_open) > 0.3, r_open
