"""Training stages freeze the right parts; the mask reconstruction target restores the clean latent."""
from __future__ import annotations

import pytest
import torch

from .conftest import inputs, open_zero_convs

UNUSED = ("face_projection.inputs.512.",)  # the 512-d input layer sees no 128-d embeddings


def _grads(stage: int, identitynet, animatenet):
    from portraittalk.engines.diffusion.models.denoiser import Denoiser
    from portraittalk.training.stages import STAGE_CONDITION_SCALES, configure_stage

    params = configure_stage(stage, identitynet, animatenet)
    x = inputs(batch=1)
    face = identitynet.face_projection.tokens(x["face_embeds"], "concat")
    net = Denoiser(identitynet, animatenet if stage > 1 else None)
    out = net(x["sample"], x["timestep"], x["text_embeds"], face, 1.0, x["structure"], x["contour"],
              x["previous_latent"], STAGE_CONDITION_SCALES[stage])
    out.square().mean().backward()
    trainable = {id(p) for p in params}
    named = [(f"identitynet.{n}", p) for n, p in identitynet.named_parameters()]
    named += [(f"animatenet.{n}", p) for n, p in animatenet.named_parameters()]
    return named, trainable


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_frozen_parts_get_no_grad_and_trainable_parts_do(tiny_nets, stage):
    from portraittalk.training.stages import is_temporal

    _, identitynet, animatenet = tiny_nets
    open_zero_convs(animatenet)  # fresh zero convs would block every gradient into AnimateNet
    named, trainable = _grads(stage, identitynet, animatenet)
    for name, p in named:
        in_animate = name.startswith("animatenet.")
        expected = {1: not in_animate, 2: in_animate and not is_temporal(name[len("animatenet."):]), 3: True}[stage]
        assert (id(p) in trainable) == expected == p.requires_grad, name
        if not expected:
            assert p.grad is None, name
        elif not any(u in name for u in UNUSED):
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    if stage == 2:
        assert any("temporal" in n for n, p in named if not p.requires_grad)


def test_mask_target_restores_the_clean_latent():
    from diffusers import DDPMScheduler
    from portraittalk.training.losses import masked_diffusion_target

    alphas = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012).alphas_cumprod
    g = torch.Generator().manual_seed(0)
    clean, masked = torch.randn(3, 4, 8, 8, generator=g), torch.randn(3, 4, 8, 8, generator=g)
    t = torch.tensor([10, 500, 990])
    noisy, target = masked_diffusion_target(clean, masked, alphas, t, g)
    a = alphas[t].view(-1, 1, 1, 1)
    x0 = (noisy - (1 - a).sqrt() * target) / a.sqrt()  # what an epsilon sampler reads from a perfect prediction
    assert torch.allclose(x0, clean, atol=1e-4)
    eps = torch.randn(clean.shape, generator=torch.Generator().manual_seed(5))
    _, target = masked_diffusion_target(clean, clean, alphas, t, torch.Generator().manual_seed(5))
    assert torch.allclose(target, eps, atol=1e-4)  # nothing masked: the plain Eq. (3) target


def test_mask_reconstruction_loss_trains_identitynet(tiny_nets):
    from portraittalk.engines.diffusion.tiny import SCHEDULER, build_vae
    from portraittalk.training.losses import corrupt, masked_diffusion_target, random_region_mask
    from portraittalk.training.stages import configure_stage
    from diffusers import DDPMScheduler

    _, identitynet, animatenet = tiny_nets
    vae = build_vae("tiny")
    params = configure_stage(1, identitynet, animatenet, frozen=(vae,))
    alphas = DDPMScheduler(**{k: v for k, v in SCHEDULER.items() if k in ("beta_start", "beta_end", "beta_schedule")}).alphas_cumprod
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    mask = random_region_mask(2, 64, 64, g)
    assert 0 < mask.mean() < 0.8 and set(mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(corrupt(images, mask, g)[mask.expand_as(images) == 0], images[mask.expand_as(images) == 0])
    text = torch.randn(2, 77, 32, generator=g)
    face = identitynet.face_projection(torch.randn(2, 128, generator=g))
    encode = lambda x: vae.encode(x).latent_dist.mean * vae.config.scaling_factor  # noqa: E731
    with torch.no_grad():  # as DiffusionTask.inputs does: the frozen VAE encodes the clean and the corrupted frame
        clean, masked = encode(images), encode(corrupt(images, mask, g))
    t = torch.randint(0, len(alphas), (2,), generator=g)
    noisy, target = masked_diffusion_target(clean, masked, alphas, t, g)
    loss = torch.nn.functional.mse_loss(identitynet(noisy, t, text, face, 1.0).float(), target.float())
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in identitynet.unet.parameters())
    assert all(p.grad is None for p in vae.parameters()) and len(params) == len(list(identitynet.parameters()))
