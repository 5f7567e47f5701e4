"""Training configuration: the paper's recipe, the CI preset, files that override them, clear errors."""
from __future__ import annotations

import json

import pytest

from portraittalk.errors import InputError
from portraittalk.training.config import from_dict, load_config, preset


def test_paper_preset_is_the_papers_recipe():
    paper = load_config(None)
    d = paper.diffusion
    assert paper == preset("paper") and d.lr == 5e-6 and d.batch_size == 32 and d.resolution == 512
    assert (d.epochs("identity"), d.epochs("animate"), d.epochs("joint")) == (10, 100, 50)
    assert d.mixed_precision == "bf16" and d.gradient_checkpointing and d.adapters == "sd15"
    assert (d.objective("identity"), d.objective("animate")) == ("mask", "eps")  # Eq. (1) / Eq. (3)
    assert paper.motion.kl_max == 0.02 and paper.motion.window % 4 == 0
    tiny = preset("tiny")
    assert tiny.diffusion.resolution == 64 and tiny.diffusion.adapters == "tiny" and tiny.motion.architecture == "tiny"
    assert from_dict(tiny.to_dict()) == tiny


def test_files_override_a_preset(tmp_path):
    toml = tmp_path / "mine.toml"
    toml.write_text('base = "tiny"\nseed = 3\n[diffusion]\nmicro_batch = 1\nlr = 2e-5\n[motion]\nwindow = 32\n')
    cfg = load_config(toml)
    assert cfg.name == "tiny" and cfg.seed == 3 and cfg.diffusion.micro_batch == 1 and cfg.diffusion.lr == 2e-5
    assert cfg.diffusion.resolution == 64 and cfg.motion.window == 32 and cfg.motion.architecture == "tiny"
    js = tmp_path / "mine.json"
    js.write_text(json.dumps({"diffusion": {"epochs_animate": 3}}))
    assert load_config(js).diffusion.epochs_animate == 3 and load_config(js).diffusion.lr == 5e-6  # base: paper


@pytest.mark.parametrize("text, message", [
    ('{"diffusion": {"learning_rate": 1}}', "unknown diffusion setting"),
    ('{"sed": 1}', "unknown training setting"),
    ('{"motion": {"window": 30}}', "multiple of 4"),
    ('{"diffusion": {"lr": -1}}', "lr must be"),
    ('{"base": "huge"}', "base must be one of"),
    ('{"diffusion": {"drop_text": 0.6, "drop_face": 0.6}}', "at most 1"),
    ("not json", "cannot be parsed"),
])  # fmt: skip
def test_bad_configs_are_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_config(path)


def test_unknown_preset():
    with pytest.raises(InputError, match="neither a preset"):
        load_config("huge")
