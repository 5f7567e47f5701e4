"""The stage-1 mask reconstruction target (Eq. 1), of which the plain denoising target (Eq. 3) is the
unmasked case; :class:`~portraittalk.training.diffusion_task.DiffusionTask` regresses it with an MSE.

Eq. (1) writes ``|| eps - eps_theta(z_m_t, t, c) ||²`` with ``z_m_t`` the noisy *masked* latent,
while the text says the network must restore the *original* content. Taken literally (noise
``z_m`` and regress the noise that was added) the model learns to denoise towards the corrupted
image and never restores anything. We keep the equation's form - the network sees the noised
masked latent and predicts a noise - but regress the noise that explains ``z_m_t`` in terms of
the clean latent ``z_0``:

    z_m_t = sqrt(a_t) z_m + sqrt(1 - a_t) eps
    eps*  = (z_m_t - sqrt(a_t) z_0) / sqrt(1 - a_t) = eps + sqrt(a_t / (1 - a_t)) (z_m - z_0)

so the usual epsilon sampler step lands on the clean image. Equivalently it is the x0 loss
``||z0_hat - z_0||²`` with the standard SNR weighting of epsilon-prediction. Unmasked regions
(``z_m = z_0``) get exactly the Eq. (3) target ``eps``.
"""
from __future__ import annotations

from typing import Optional

import torch


def random_region_mask(batch: int, height: int, width: int, generator: Optional[torch.Generator] = None,
                       regions: int = 4, max_fraction: float = 0.4) -> torch.Tensor:  # fmt: skip
    """(B, 1, H, W) float mask, 1 = corrupted: up to ``regions`` random rectangles per image, each
    side at most ``max_fraction`` of the image side."""
    mask = torch.zeros(batch, 1, height, width)
    r = torch.rand(batch, regions, 4, generator=generator)
    for b in range(batch):
        for y, x, h, w in r[b].tolist():
            rh, rw = max(1, int(h * max_fraction * height)), max(1, int(w * max_fraction * width))
            top, left = int(y * (height - rh)), int(x * (width - rw))
            mask[b, :, top:top + rh, left:left + rw] = 1.0
    return mask


def corrupt(images: torch.Tensor, mask: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Replace the masked pixels of (B, 3, H, W) images in [-1, 1] with Gaussian noise (not zeros:
    noise matches what a denoiser is built to remove)."""
    noise = torch.randn(images.shape, generator=generator).to(images)
    return images * (1 - mask) + noise * mask


def masked_diffusion_target(clean: torch.Tensor, masked: torch.Tensor, alphas_cumprod: torch.Tensor,
                            timesteps: torch.Tensor, generator: Optional[torch.Generator] = None,
                            noise: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(noisy masked latent z_m_t, target eps*) for latents ``clean`` (z_0) and ``masked`` (z_m);
    ``noise`` is eps (default: drawn from ``generator``)."""
    a = alphas_cumprod.to(clean.device)[timesteps].float().view(-1, 1, 1, 1)
    eps = (torch.randn(clean.shape, generator=generator) if noise is None else noise).to(clean)
    noisy = a.sqrt() * masked + (1 - a).sqrt() * eps
    target = (noisy - a.sqrt() * clean) / (1 - a).sqrt()
    return noisy, target
