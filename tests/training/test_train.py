"""`portraittalk train`: each stage learns, frozen parts stay bitwise, checkpoints reload to identical
outputs, resume continues, and a run folder is a weights folder `generate` uses."""
from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from portraittalk.errors import InputError
from portraittalk.training.config import load_config, preset
from portraittalk.training.trainer import Trainer, train
from portraittalk.weights import Weights

from shared_inputs import PORTRAIT, ROOT, SPEECH

HERE = Path(__file__).resolve().parent


def _models_of(task) -> dict[str, torch.nn.Module]:
    if task.stage == "audio2motion":
        return {"audio2motion": task.model}
    m = task.models
    return {"identitynet": m.identitynet, "animatenet": m.animatenet, "vae": m.vae, "text_encoder": m.text_encoder}


def _snapshot(task, trainable: bool) -> dict[str, torch.Tensor]:
    return {f"{k}.{n}": p.detach().clone() for k, module in _models_of(task).items()
            for n, p in module.named_parameters() if p.requires_grad == trainable}  # fmt: skip


@pytest.mark.parametrize("stage", ["identity", "animate", "joint", "audio2motion"])
def test_each_stage_learns_a_fixed_batch_and_leaves_frozen_parts_bitwise(stage, data_dir, tiny_weights, tmp_path):
    from portraittalk.training.stages import is_temporal

    trainer = Trainer(stage, data_dir, Weights(tiny_weights), tmp_path / "run", preset("tiny"), progress=False)
    frozen, start = _snapshot(trainer.task, False), _snapshot(trainer.task, True)
    expect_frozen = {"identity": lambda n: not n.startswith("identitynet.") or ".inputs.512." in n,
                     "animate": lambda n: not n.startswith("animatenet.") or is_temporal(n[len("animatenet."):]),
                     "joint": lambda n: n.startswith(("vae.", "text_encoder.")) or ".inputs.512." in n,
                     "audio2motion": lambda n: False}[stage]  # fmt: skip
    assert {n for n in frozen} == {n for n in {**frozen, **start} if expect_frozen(n)}
    stream = trainer.batches()
    batches = [next(stream) for _ in range(trainer.accumulation)]
    losses = []
    for i in range(8):
        loss, _ = trainer.accumulate(batches)
        if i == 0:  # every trainable tensor takes part (DDP needs that), no frozen one does
            params = dict(trainer.task.model.named_parameters())
            assert all(p.grad is not None for p in params.values() if p.requires_grad), stage
            assert all(p.grad is None for p in params.values() if not p.requires_grad), stage
        trainer.optimiser_step()
        losses.append(loss)
    assert all(math.isfinite(v) for v in losses) and losses[-1] < 0.8 * losses[0], losses
    assert sum(b < a for a, b in zip(losses, losses[1:])) >= 6, losses  # falling, not just noisy
    after_frozen, after = _snapshot(trainer.task, False), _snapshot(trainer.task, True)
    assert all(torch.equal(frozen[n], after_frozen[n]) for n in frozen)
    changed = [n for n in start if not torch.equal(start[n], after[n])]
    assert len(changed) > 0.9 * len(start), sorted(set(start) - set(changed))[:5]


def test_stage_one_regresses_eq1_and_drops_conditions_for_cfg(data_dir, tiny_weights, tmp_path):
    config = preset("tiny")
    config = replace(config, diffusion=replace(config.diffusion, drop_text=0.25, drop_face=0.25, drop_both=0.25))
    trainer = Trainer("identity", data_dir, Weights(tiny_weights), tmp_path / "run", config, progress=False)
    task = trainer.task
    batch = next(iter(torch.utils.data.DataLoader(trainer.dataset, batch_size=16, shuffle=True,
                                                  generator=torch.Generator().manual_seed(0))))  # fmt: skip
    kwargs, target = task.inputs(batch)
    clean, masked = task._encode(batch["image"]), task._encode(batch["masked"])
    a = task.alphas[kwargs["timestep"]].view(-1, 1, 1, 1)
    eps = torch.stack([task.draws(seed, clean.shape[1:])[2] for seed in batch["seed"].tolist()])
    # Eq. (1): the network sees the noised *corrupted* latent and regresses the noise that leads an
    # epsilon sampler back to the *clean* one.
    assert not torch.allclose(masked, clean, atol=1e-2)
    assert torch.allclose(kwargs["sample"], a.sqrt() * masked + (1 - a).sqrt() * eps, atol=1e-5)
    assert torch.allclose((kwargs["sample"] - (1 - a).sqrt() * target) / a.sqrt(), clean, atol=1e-3)
    # CFG dropout: an empty prompt and/or a zero face embedding, each combination present.
    empty = task._text([""])[0]
    no_text = [torch.equal(kwargs["text"][i], empty) for i in range(16)]
    no_face = [bool((kwargs["face"][i] == 0).all()) for i in range(16)]
    combos = set(zip(no_text, no_face))
    assert combos == {(False, False), (True, False), (False, True), (True, True)}, combos
    kept = [i for i in range(16) if not no_face[i]]
    assert torch.equal(kwargs["face"][kept], batch["face"][kept].float())


def _denoiser_outputs(identitynet, animatenet, embed: int = 128) -> torch.Tensor:
    from portraittalk.engines.diffusion.models.denoiser import Denoiser

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 8, 8, generator=g)
    text = torch.randn(2, 77, 32, generator=g)
    face = identitynet.face_projection(torch.randn(2, embed, generator=g))
    structure, contour = torch.rand(2, 3, 64, 64, generator=g), torch.rand(2, 1, 64, 64, generator=g)
    previous = torch.randn(2, 4, 8, 8, generator=g)
    with torch.no_grad():
        return Denoiser(identitynet, animatenet)(x, torch.tensor(400), text, face, 1.0, structure, contour, previous)


@pytest.fixture(scope="module")
def identity_run(data_dir, base_without_adapters, tmp_path_factory):
    """Stage 1 from fresh adapters on the base UNet; the trainer kept for its in-memory models."""
    trainer = Trainer("identity", data_dir, Weights(base_without_adapters), tmp_path_factory.mktemp("r") / "identity",
                      preset("tiny"), max_steps=3, progress=False)  # fmt: skip
    result = trainer.fit()
    assert result.step == 3 and math.isfinite(result.last_loss)
    return trainer


@pytest.fixture(scope="module")
def animate_run(identity_run, data_dir, tmp_path_factory):
    """Stage 2 starting from the stage-1 run folder (a run is a weights folder)."""
    trainer = Trainer("animate", data_dir, Weights(identity_run.run.root), tmp_path_factory.mktemp("r") / "animate",
                      preset("tiny"), max_steps=2, progress=False)  # fmt: skip
    trainer.fit()
    return trainer


def test_run_folder_is_a_weights_folder_that_reloads_to_identical_outputs(identity_run, base_without_adapters):
    from portraittalk.engines.diffusion.checkpoints.load import load_models

    run = identity_run.run.root
    assert (run / "sd15").is_symlink() and (run / "sd15").resolve() == (base_without_adapters / "sd15").resolve()
    assert not (run / "portraittalk").is_symlink() and Weights(run).present("portraittalk")
    assert not list(run.glob(".portraittalk*"))  # no temporary export left
    info = json.loads((run / "training.json").read_text())
    assert info["step"] == 3 and info["stage"] == "identity" and info["initialised_from"].startswith("fresh tiny")
    assert json.loads((run / "portraittalk" / "config.json").read_text())["identitynet_includes_unet"] is True
    with (run / "logs" / "curves.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3] and all(float(r["lr"]) == 1e-3 for r in rows)
    assert (run / "logs" / "curves.png").stat().st_size > 1000
    [checkpoint] = (run / "checkpoints").iterdir()
    assert checkpoint.name == "step-0000003"
    stored = load_file(str(checkpoint / "trainable.safetensors"))
    trainable = {n for n, p in identity_run.task.model.named_parameters() if p.requires_grad}
    assert set(stored) == trainable and len(trainable) < len(list(identity_run.task.model.parameters()))
    models = load_models(run / "sd15", run / "portraittalk")
    task = identity_run.task.models
    assert torch.equal(_denoiser_outputs(models.identitynet, models.animatenet),
                       _denoiser_outputs(task.identitynet, task.animatenet))


def test_stage_two_from_a_stage_one_run_keeps_identitynet_bitwise(identity_run, animate_run):
    from portraittalk.training.stages import is_temporal

    first = load_file(str(identity_run.run.root / "portraittalk" / "identitynet.safetensors"))
    second = load_file(str(animate_run.run.root / "portraittalk" / "identitynet.safetensors"))
    assert set(first) == set(second) and any(k.startswith("unet.conv_in") for k in second)  # fine-tuned UNet kept
    assert all(torch.equal(first[k], second[k]) for k in first)
    before = identity_run.task.models.animatenet.state_dict()
    after = animate_run.task.models.animatenet.state_dict()
    temporal = [k for k in after if is_temporal(k)]
    assert temporal and all(torch.equal(before[k], after[k]) for k in temporal)
    assert not torch.equal(before["structure_tokens.proj.weight"], after["structure_tokens.proj.weight"])
    linked = animate_run.run.root / "sd15"
    assert linked.is_symlink() and linked.resolve() == (identity_run.run.root / "sd15").resolve()


def test_generate_with_the_run_folder(animate_run, tmp_path):
    from portraittalk import PortraitTalk
    from portraittalk.media import load_audio
    from portraittalk.media.audio import Audio

    audio = load_audio(SPEECH)
    audio = Audio.from_array(audio.samples[:16000])
    pt = PortraitTalk.from_pretrained(animate_run.run.root, engine="diffusion")
    result = pt.generate([PORTRAIT], audio, size=64, steps=1, fps=5, output=tmp_path / "out.mp4")
    assert result.engine == "diffusion" and result.frames.shape == (5, 64, 64, 3)
    assert result.frames.std() > 3  # a picture, not a flat frame


def test_resume_continues_the_step_count_and_matches_an_uninterrupted_run(data_dir, tiny_weights, tmp_path):
    config = replace(preset("tiny"), checkpoint_every=2, log_every=1)
    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps({"base": "tiny", "checkpoint_every": 2}))
    weights = Weights(tiny_weights)
    straight = Trainer("joint", data_dir, weights, tmp_path / "straight", config, max_steps=4, progress=False)
    straight.fit()
    train("joint", data_dir, weights, tmp_path / "resumed", config, max_steps=2, progress=False)
    with pytest.raises(InputError, match="already holds a training run; pass --resume"):
        train("joint", data_dir, weights, tmp_path / "resumed", config, max_steps=4, progress=False)
    with pytest.raises(InputError, match="is a 'joint' run; resume it with --stage joint"):
        train("animate", data_dir, weights, tmp_path / "resumed", config, resume=True, progress=False)
    with pytest.raises(InputError, match="started with another configuration"):
        train("joint", data_dir, weights, tmp_path / "resumed", preset("tiny"), 4, True, True, progress=False)
    result = train("joint", data_dir, weights, tmp_path / "resumed", load_config(config_file), max_steps=4,
                   resume=True, explicit_config=True, progress=False)  # fmt: skip
    assert (result.step, result.total_steps) == (4, 4)
    run = tmp_path / "resumed"
    assert json.loads((run / "training.json").read_text())["step"] == 4
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-0000002", "step-0000004"]
    with (run / "logs" / "curves.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3, 4]
    resumed = load_file(str(run / "checkpoints" / "step-0000004" / "trainable.safetensors"))
    uninterrupted = load_file(str(tmp_path / "straight" / "checkpoints" / "step-0000004" / "trainable.safetensors"))
    assert resumed.keys() == uninterrupted.keys()
    worst = max(float((resumed[k] - uninterrupted[k]).abs().max()) for k in resumed)
    assert worst < 1e-6


def test_a_start_that_fails_before_its_first_checkpoint_can_start_again(data_dir, tiny_weights, tmp_path,
                                                                           monkeypatch):  # fmt: skip
    import portraittalk.training.trainer as trainer_module
    from portraittalk.errors import MissingWeightsError

    with pytest.raises(MissingWeightsError, match="Stable Diffusion 1.5 base"):
        train("identity", data_dir, Weights(tmp_path / "nothing"), tmp_path / "run", preset("tiny"), 1, progress=False)
    assert not (tmp_path / "run").exists()  # refused before writing anything

    def broken(*args, **kwargs):
        raise InputError("the data does not fit")

    monkeypatch.setattr(trainer_module, "build_task", broken)
    with pytest.raises(InputError, match="does not fit"):
        train("audio2motion", data_dir, Weights(tiny_weights), tmp_path / "run", preset("tiny"), 1, progress=False)
    monkeypatch.undo()
    result = train("audio2motion", data_dir, Weights(tiny_weights), tmp_path / "run", preset("tiny"), 1, progress=False)
    assert result.step == 1 and (tmp_path / "run" / "checkpoints" / "step-0000001").is_dir()


def test_two_processes_on_gloo_give_the_one_process_gradients(data_dir, tiny_weights, tmp_path):
    """The same global batch of 4: one process accumulating 2 x 2, two processes 2 each (DDP). The
    audio-to-motion stage keeps the two worker processes light (no diffusers to import); the diffusion
    stages run the same loop, and every trainable tensor of theirs gets a gradient each step (what
    DDP needs; asserted above)."""
    from .ddp_worker import step_gradients

    one, trainer = step_gradients("audio2motion", data_dir, tiny_weights, tmp_path / "one", micro_batch=2)
    assert trainer.accumulation == 2 and trainer.accelerator.num_processes == 1
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    out = tmp_path / "two"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(HERE / "ddp_worker.py"), "audio2motion", str(data_dir), str(tiny_weights), str(out)],
                          capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = load_file(str(out / "gradients.safetensors"))
    assert json.loads((out / "world.json").read_text()) == {"processes": 2, "accumulation": 1, "backend": "gloo"}
    assert one.keys() == two.keys() and len(one) > 10
    for name in one:
        assert torch.allclose(one[name], two[name], rtol=1e-4, atol=1e-7), name
    assert any(float(v.abs().max()) > 0 for v in one.values())
