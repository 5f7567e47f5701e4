"""Saving and loading: the registry layout, module-name keys, identical outputs after a round trip."""
from __future__ import annotations

import shutil

import pytest
import torch

from .conftest import inputs


def _outputs(models):
    from portraittalk.engines.diffusion.models.denoiser import Denoiser

    x = inputs()
    face = models.identitynet.face_projection.tokens(x["face_embeds"], "concat")
    with torch.no_grad():
        return Denoiser(models.identitynet, models.animatenet)(
            x["sample"], x["timestep"], x["text_embeds"], face, 0.7, x["structure"], x["contour"],
            x["previous_latent"], (1.0, 0.5, 2.0))


def _perturb(module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=g))


def test_tiny_set_is_complete_and_loads(tiny_dir):
    from portraittalk.engines.diffusion import diffusion_status
    from portraittalk.weights import Weights
    from portraittalk.engines.diffusion.checkpoints.load import load_models

    for name in ("sd15", "portraittalk", "audio2motion"):
        assert Weights(tiny_dir).present(name), name
    ok, reason = diffusion_status(Weights(tiny_dir))
    assert ok, reason
    models = load_models(tiny_dir / "sd15", tiny_dir / "portraittalk")
    assert not any(p.requires_grad for p in models.identitynet.parameters())
    ids = models.tokenizer(["a photo"], return_tensors="pt").input_ids
    assert models.text_encoder(ids)[0].shape[-1] == models.identitynet.unet.config.cross_attention_dim


def test_round_trip_gives_identical_outputs(tiny_dir, tmp_path):
    from portraittalk.engines.diffusion.checkpoints.load import load_models, save_adapters

    models = load_models(tiny_dir / "sd15", tiny_dir / "portraittalk")
    _perturb(models.identitynet.face_projection, 1)
    _perturb(models.animatenet, 2)
    for name, proc in models.identitynet.unet.attn_processors.items():
        if name.endswith("attn2.processor"):
            _perturb(proc, 3)
    before = _outputs(models)
    shutil.copytree(tiny_dir / "sd15", tmp_path / "sd15")
    save_adapters(tmp_path / "portraittalk", models.identitynet, models.animatenet)
    again = load_models(tmp_path / "sd15", tmp_path / "portraittalk")
    assert torch.equal(_outputs(again), before)


def test_fine_tuned_backbone_travels_with_the_adapters(tiny_dir, tmp_path):
    from portraittalk.engines.diffusion.checkpoints.load import load_models, save_adapters

    models = load_models(tiny_dir / "sd15", tiny_dir / "portraittalk")
    _perturb(models.identitynet.unet, 4)  # as after stage-1 fine-tuning
    before = _outputs(models)
    save_adapters(tmp_path / "portraittalk", models.identitynet, models.animatenet, include_unet=True)
    again = load_models(tiny_dir / "sd15", tmp_path / "portraittalk")
    assert torch.equal(_outputs(again), before)


def test_saved_weights_are_keyed_by_module_name(tiny_dir):
    from safetensors import safe_open

    with safe_open(str(tiny_dir / "portraittalk" / "identitynet.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_face.weight" in keys
    assert {"face_projection.inputs.128.weight", "face_projection.inputs.512.weight", "face_projection.norm.weight"} <= keys
    assert not any(".attn1." in k for k in keys)
    assert not any(k.startswith("unet.") and ".processor." not in k for k in keys)  # no backbone by default
    with safe_open(str(tiny_dir / "portraittalk" / "animatenet" / "diffusion_pytorch_model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert "controlnet.mid_block.attentions.0.transformer_blocks.0.attn2.processor.w_temporal" in keys
    assert "controlnet.controlnet_cond_embedding.contour.conv_out.weight" in keys


def test_adapters_for_another_base_are_refused(tiny_dir, tmp_path):
    from portraittalk.engines.diffusion.checkpoints.load import load_models
    from portraittalk.errors import MissingWeightsError
    from safetensors.torch import load_file, save_file

    shutil.copytree(tiny_dir / "portraittalk", tmp_path / "portraittalk")
    state = load_file(str(tmp_path / "portraittalk" / "identitynet.safetensors"))
    state["unet.not_a_layer.weight"] = torch.zeros(1)
    save_file(state, str(tmp_path / "portraittalk" / "identitynet.safetensors"))
    with pytest.raises(MissingWeightsError, match="does not match"):
        load_models(tiny_dir / "sd15", tmp_path / "portraittalk")


def test_missing_weights_say_what_is_missing(tmp_path):
    from portraittalk.engines.diffusion import DiffusionEngine, diffusion_status
    from portraittalk.errors import MissingWeightsError

    from portraittalk.weights import Weights

    ok, reason = diffusion_status(Weights(tmp_path))
    assert not ok and "Stable Diffusion 1.5" in reason and str(tmp_path) in reason
    with pytest.raises(MissingWeightsError, match="sd15"):
        DiffusionEngine.from_pretrained(Weights(tmp_path))
