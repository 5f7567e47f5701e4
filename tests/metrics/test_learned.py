"""Learned metrics: reported unavailable without weights; computed by the real loading code when the
weights folder holds (tiny, randomly initialised) models that these tests build and save."""
from __future__ import annotations

import json
import string

import numpy as np
import pytest

from portraittalk.metrics import learned
from portraittalk.metrics.learned.inception import inception_v3
from portraittalk.metrics.evaluate import evaluate
from portraittalk.weights import Weights

ALL = {"fid", "e_fid", "fvd", "syncnet", "clip_t", "dino"}


@pytest.fixture
def weights(tmp_path) -> Weights:
    root = tmp_path / "weights"
    root.mkdir()
    return Weights(root)


def save_tiny_clip(weights) -> None:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    folder = weights.path("clip")
    folder.mkdir(parents=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in string.ascii_lowercase:
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    (weights.root / "vocab.json").write_text(json.dumps(vocab))
    (weights.root / "merges.txt").write_text("#version: 0.2\n")
    text = dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                  num_attention_heads=2)  # fmt: skip
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(folder)
    CLIPTokenizer(str(weights.root / "vocab.json"), str(weights.root / "merges.txt")).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)


def save_tiny_dino(weights) -> None:
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    folder = weights.path("dino")
    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=37)  # fmt: skip
    ViTModel(cfg, add_pooling_layer=False).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)


def save_tiny_i3d(weights) -> None:
    """A TorchScript module with the StyleGAN-V I3D call signature: colour mean and spread per clip."""
    import torch

    class TinyI3D(torch.nn.Module):
        def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                    return_features: bool = False) -> torch.Tensor:  # fmt: skip
            if rescale:
                x = x / 127.5 - 1.0
            return torch.cat([x.mean(dim=(2, 3, 4)), x.std(dim=(2, 3, 4))], dim=1)

    folder = weights.path("i3d")
    folder.mkdir(parents=True)
    torch.jit.script(TinyI3D()).save(str(folder / "i3d_torchscript.pt"))


def test_everything_unavailable_without_weights(weights):
    ready, skipped = learned.build_metrics(prompt="a person", reference=None, weights=weights)
    assert ready == [] and set(skipped) == ALL
    for name, out in skipped.items():
        assert out == {"value": None, "available": False, "reason": out["reason"]}
        assert "weights not found in " + str(weights.root) in out["reason"], name


def test_clip_t_needs_a_prompt(weights):
    save_tiny_clip(weights)
    _, skipped = learned.build_metrics(prompt=None, reference=None, weights=weights)
    assert skipped["clip_t"]["reason"].startswith("no prompt given")


def test_tiny_models_make_clip_t_dino_and_fvd_available(weights, clips):
    save_tiny_clip(weights)
    save_tiny_dino(weights)
    save_tiny_i3d(weights)
    r = evaluate(clips["reencoded"], clips["gt"], prompt="an astronaut talking", samples=5, weights=weights)
    out = r.learned
    assert list(out) == ["fid", "e_fid", "fvd", "syncnet", "clip_t", "dino"]
    for name in ("clip_t", "dino", "fvd"):
        assert out[name]["available"] is True and np.isfinite(out[name]["value"]), (name, out[name])
    assert out["clip_t"]["frames"] == 5 and -1 <= out["clip_t"]["value"] <= 1
    assert out["dino"]["against"] == "ground_truth" and out["dino"]["value"] > 0.9  # near-identical frames
    assert out["fvd"]["clips"] == 3 and out["fvd"]["value"] < 1e-3  # colour statistics barely change
    for name in ("fid", "e_fid", "syncnet"):
        assert out[name]["available"] is False
    json.dumps(r.to_dict(), allow_nan=False)


def test_clip_t_depends_on_the_prompt(weights):
    save_tiny_clip(weights)
    frame = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    values = []
    for prompt in ("a red car", "zzzz"):
        m = learned.ClipTMetric(weights.path("clip"), prompt)
        m.update(frame, frame, None, None, sampled=True)
        m.update(frame, frame, None, None, sampled=False)  # not sampled: ignored
        res = m.result()
        assert res["frames"] == 1
        values.append(res["value"])
    assert values[0] != pytest.approx(values[1])


def test_dino_against_the_reference(weights):
    save_tiny_dino(weights)
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    m = learned.DinoMetric(weights.path("dino"), ref)
    m.update(ref, rng.integers(0, 256, (48, 48, 3), dtype=np.uint8), None, None, sampled=True)
    assert m.result()["value"] == pytest.approx(1.0, abs=1e-5)
    assert m.result()["against"] == "reference"


def test_inception_fid_loads_a_checkpoint_by_name(weights):
    import torch
    from safetensors.torch import save_file

    folder = weights.path("inception")
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    net = inception_v3()
    for m in net.modules():  # PyTorch's default init lets activations vanish over 94 layers
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"pretrained_cfg": {"mean": [0.5] * 3, "std": [0.5] * 3}}))
    ready, skipped = learned.build_metrics(None, None, weights=weights)
    assert [m.name for m in ready] == ["fid", "e_fid"]
    fid = ready[0]
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (80, 80, 3), dtype=np.uint8) for _ in range(2)]
    for f in frames:
        fid.update(f, f, None, None, sampled=True)
    same = fid.result()
    assert same["available"] and same["frames"] == 2 and same["value"] < 1e-3
    fid2 = learned.FrechetMetric("fid", fid.net, face_crop=False)
    for f in frames:
        fid2.update(f, np.zeros_like(f), None, None, sampled=True)
    assert fid2.result()["value"] > 1.0
    efid, box = ready[1], np.array([[20.0, 24.0], [60.0, 70.0]])  # E-FID: face crops from each video's points
    for f in frames:
        efid.update(f, f, box, box, sampled=True)
    efid.update(frames[0], frames[0], None, box, sampled=True)  # no generated face: skipped, counted
    res = efid.result()
    assert res["frames"] == 2 and res["pairs_without_face"] == 1 and res["value"] < 1e-3


def test_wrong_inception_checkpoint_is_a_clear_error(weights):
    import torch
    from safetensors.torch import save_file

    from portraittalk.errors import MissingWeightsError

    folder = weights.path("inception")
    folder.mkdir(parents=True)
    save_file({"fc.weight": torch.zeros(2, 2)}, str(folder / "model.safetensors"))
    with pytest.raises(MissingWeightsError, match="is not an Inception-v3 checkpoint"):
        learned.build_metrics(None, None, weights=weights)


def test_frechet_distance_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, size=(20000, 1))
    b = rng.normal(3, 2, size=(20000, 1))
    # 1-D: (μ1 − μ2)² + σ1² + σ2² − 2σ1σ2 = 9 + 1 = 10
    assert learned.frechet_distance(a, b) == pytest.approx(10.0, rel=0.03)
    assert learned.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("na, nb, dim", [(4, 5, 6), (7, 9, 100), (50, 60, 5)])
def test_frechet_distance_matches_scipy_sqrtm(na, nb, dim):
    from scipy import linalg

    rng = np.random.default_rng(na)
    a = rng.normal(size=(na, dim))
    b = rng.normal(1, 2, size=(nb, dim)) @ rng.normal(size=(dim, dim))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    diff = a.mean(0) - b.mean(0)
    expected = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(np.real(linalg.sqrtm(s1 @ s2)))
    assert learned.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
