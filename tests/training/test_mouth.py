"""The mouth stage: `portraittalk train --stage mouth` fits the fitted motion model's networks from
real talking-head clips (a tiny subset of benchmarks/data/clips/fit here, a few steps)."""
from __future__ import annotations

import json
import shutil

import numpy as np

from shared_inputs import ROOT, run_cli

CLIPS = ("en_mead_w040.mp4", "en_retalking_2_man_map.mp4", "xx_retalking_4_woman.mp4")  # three speakers, 5-6 s each


def test_the_mouth_stage_writes_a_model_that_follows_its_clips(tmp_path):
    """Trained briefly on three clips, the written model loads as the package loads the shipped one,
    predicts finite values and its opening follows the real openings of the clips it learned from."""
    from portraittalk.motion.mouth_model import MouthModel
    from portraittalk.training.mouth import measure_clip

    data = tmp_path / "clips"
    data.mkdir()
    for name in CLIPS:
        shutil.copy(ROOT / "benchmarks" / "data" / "clips" / "fit" / name, data / name)
    run = tmp_path / "run"
    r = run_cli("train", "--stage", "mouth", "--data", str(data), "--output", str(run), "--max-steps", "120",
                "--quiet", timeout=900)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "trained mouth to step 120/120" in r.stdout and "mouth_model.npz" in r.stdout
    model = MouthModel.load(run / "mouth_model.npz")
    assert len(model.members) == 3 and model.outputs == ("opening", "width", "chin")
    assert json.loads((run / "mouth_report.json").read_text())["clips"] == [n[:-4] for n in CLIPS]
    r_open = []
    for name in CLIPS:
        clip = measure_clip(data / name, run / "landmarks")
        predicted = model.forward(clip["mel"])
        assert predicted.shape == (len(clip["y"]), 3) and np.isfinite(predicted).all()
        r_open.append(np.corrcoef(predicted[:, 0], clip["y"][:, 0])[0, 1])
    assert np.mean(r_open) > 0.3, r_open
