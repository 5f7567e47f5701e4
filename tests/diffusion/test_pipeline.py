"""The one-frame DiffusionPipeline with a stub denoiser whose prediction is known: guidance
direction, which half gets what, the img2img rule of the stability method, callbacks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn


class StubDenoiser(nn.Module):
    """Predicts ``0.1·sample + text[0, 0] + face[0, 0]`` per batch row: pixel-wise, and the prompt and
    face halves are told apart by their values."""

    animatenet = None

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))  # device and dtype come from a parameter
        self.calls: list[dict] = []

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    @property
    def dtype(self) -> torch.dtype:
        return self.anchor.dtype

    def forward(self, sample, timestep, text, face, face_scale, structure, contour, previous, scales, conditioning):
        self.calls.append({"text": text[:, 0, 0].tolist(), "face": face[:, 0, 0].tolist(), "scale": face_scale})
        return 0.1 * sample + (text[:, 0, 0] + face[:, 0, 0]).view(-1, 1, 1, 1)


def _pipe(scheduler: str = "ddim"):
    from portraittalk.engines.diffusion.engine import make_scheduler
    from portraittalk.engines.diffusion.pipeline import PortraitTalkFramePipeline
    from portraittalk.engines.diffusion.tiny import SCHEDULER

    return PortraitTalkFramePipeline(None, None, None, StubDenoiser(), make_scheduler(scheduler, SCHEDULER))


def _run(pipe, **kw):
    g = torch.Generator().manual_seed(0)
    args = {"prompt_embeds": torch.ones(1, 77, 8), "negative_prompt_embeds": torch.zeros(1, 77, 8),
            "face_tokens": torch.full((1, 4, 8), 0.5), "negative_face_tokens": torch.full((1, 4, 8), -0.5),
            "structure": None, "contour": None, "previous_latents": torch.zeros(1, 4, 8, 8),
            "noise": torch.randn(1, 4, 8, 8, generator=g), "num_inference_steps": 6, "output_type": "latent"}  # fmt: skip
    return pipe(**{**args, **kw})


def test_guidance_pushes_from_the_negative_half_towards_the_prompt(monkeypatch):
    pipe = _pipe()
    seen = []
    step = pipe.scheduler.step
    monkeypatch.setattr(pipe.scheduler, "step", lambda pred, t, x, **kw: (seen.append((pred, x)), step(pred, t, x, **kw))[1])
    _run(pipe, guidance_scale=4.0, identity_scale=0.7)
    for pred, latents in seen:  # uncond = 0.1x + 0 - 0.5, cond = 0.1x + 1 + 0.5: uncond + 4 (cond - uncond)
        assert torch.allclose(pred, 0.1 * latents - 0.5 + 4.0 * 2.0, atol=1e-5)
    calls = pipe.denoiser.calls
    assert all(c["text"] == [0.0, 1.0] and c["face"] == [-0.5, 0.5] and c["scale"] == 0.7 for c in calls)
    seen.clear()
    _run(pipe, guidance_scale=1.0)  # no guidance: only the prompt half runs
    assert pipe.denoiser.calls[-1]["text"] == [1.0] and pipe.denoiser.calls[-1]["face"] == [0.5]
    assert all(torch.allclose(pred, 0.1 * x + 1.5, atol=1e-5) for pred, x in seen)


def _img2img(scheduler_name: str, init, noise, strength: float, steps: int):
    """diffusers' img2img rule by hand: start at step N - int(N·strength) from the init noised there."""
    from portraittalk.engines.diffusion.engine import make_scheduler
    from portraittalk.engines.diffusion.tiny import SCHEDULER

    scheduler = make_scheduler(scheduler_name, SCHEDULER)
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps[steps - int(steps * strength):]
    latents = scheduler.add_noise(init, noise, timesteps[:1])
    for t in timesteps:
        latents = scheduler.step(0.1 * latents + 1.5, t, latents).prev_sample
    return latents


@pytest.mark.parametrize("scheduler", ["ddim", "dpm++"])
def test_each_pixel_follows_img2img_from_its_own_start(scheduler):
    """One strength everywhere is exactly img2img; per-pixel strengths give each region its own
    img2img (the stub is pixel-wise); pixels that never start end as the init itself."""
    g = torch.Generator().manual_seed(1)
    init, noise = torch.randn(1, 4, 8, 8, generator=g), torch.randn(1, 4, 8, 8, generator=g)
    pipe = _pipe(scheduler)
    uniform = _run(pipe, guidance_scale=1.0, init_latents=init, strength=np.full((8, 8), 0.5), noise=noise)
    expected = _img2img(scheduler, init, noise, 0.5, 6)
    assert torch.allclose(uniform.latents, expected, atol=1e-5)
    if scheduler == "dpm++":
        return  # multistep history differs once regions start at different steps; DDIM is exact
    strength = np.full((8, 8), 0.5)
    strength[:, :3], strength[:, 6:] = 0.9, 0.1  # 0.1 * 6 steps < 1: never starts
    mixed = _run(pipe, guidance_scale=1.0, init_latents=init, strength=strength, noise=noise).latents
    assert torch.allclose(mixed[..., :3], _img2img("ddim", init, noise, 0.9, 6)[..., :3], atol=1e-5)
    assert torch.allclose(mixed[..., 3:6], expected[..., 3:6], atol=1e-5)
    assert torch.equal(mixed[..., 6:], init[..., 6:])


def test_callbacks_count_the_steps_run_and_can_cancel():
    from portraittalk.errors import CancelledError

    pipe = _pipe()
    steps = []
    strength = np.full((8, 8), 0.5)
    strength[2:4, 2:4] = 0.75  # the mouth: starts earliest
    _run(pipe, init_latents=torch.zeros(1, 4, 8, 8), strength=strength, num_inference_steps=8,
         callback_on_step_end=lambda p, i, t, kw: (steps.append(i), kw)[1])  # fmt: skip
    assert steps == list(range(2, 8)) and pipe.steps_to_run(8, strength) == 6

    def cancel(p, i, t, kw):
        raise CancelledError("stopped")

    with pytest.raises(CancelledError):
        _run(pipe, callback_on_step_end=cancel)


def test_the_mouth_gets_more_strength_than_the_rest(references):
    from portraittalk.engines.diffusion.stability import MOUTH_EXTRA, mouth_region, strength_map
    from portraittalk.face import mesh

    ref = references[0]
    points = ref.landmarks * (512 / ref.size)
    strength = strength_map(points, 512, 64, 0.6)
    region = mouth_region(points, 512, 64)
    lips = np.round(points[np.unique(mesh.connections("LIPS"))] / 8).astype(int)
    assert region[lips[:, 1], lips[:, 0]].min() > 0.5  # the lips are in it
    assert strength[lips[:, 1], lips[:, 0]].min() > 0.7  # and get more freedom than the rest
    assert strength.max() == pytest.approx(0.6 + 0.4 * MOUTH_EXTRA) and strength.min() == 0.6
    eyes = np.round(points[[mesh.LEFT_IRIS_CENTER, mesh.RIGHT_IRIS_CENTER]] / 8).astype(int)
    assert (strength[eyes[:, 1], eyes[:, 0]] == 0.6).all()  # the eyes are not
