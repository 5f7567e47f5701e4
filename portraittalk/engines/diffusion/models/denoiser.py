"""One noise prediction of the full model: AnimateNet's residuals fed into IdentityNet.

A single module so the engine can offload it as one unit and training can freeze parts of it.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from .animatenet import AnimateNet
from .identitynet import IdentityNet


class Denoiser(nn.Module):
    def __init__(self, identitynet: IdentityNet, animatenet: Optional[AnimateNet]) -> None:
        super().__init__()
        self.identitynet = identitynet
        self.animatenet = animatenet

    @property
    def device(self) -> torch.device:
        """Where the weights are (what a diffusers pipeline asks its components)."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, text_embeds: torch.Tensor,
                face_tokens: Optional[torch.Tensor], face_scale: float, structure: Optional[torch.Tensor],
                contour: Optional[torch.Tensor], previous_latent: torch.Tensor,
                condition_scales: Sequence[float] = (1.0, 1.0, 1.0), conditioning_scale: float = 1.0
                ) -> torch.Tensor:  # fmt: skip
        """Predicted noise; conditions as in :meth:`AnimateNet.forward`, ``face_tokens`` from the projection.
        Without an AnimateNet (or at ``conditioning_scale == 0``) it is IdentityNet alone."""
        down = mid = None
        if self.animatenet is not None and conditioning_scale != 0:
            down, mid = self.animatenet(sample, timestep, text_embeds, structure, contour, previous_latent,
                                        condition_scales, conditioning_scale)  # fmt: skip
        return self.identitynet(sample, timestep, text_embeds, face_tokens, face_scale, down, mid)
