"""AnimateNet (Sec. III-B): a ControlNet-style trainable copy of IdentityNet's encoder.

Conditions, per frame:
- structure: the target landmarks drawn as a colour-coded mesh (``draw_condition``), RGB in [0, 1];
  enters like a ControlNet hint (``controlnet_cond``) and as the structure attention tokens;
- identity / head placement: the previous frame's coarse head contour, 1 channel in [0, 1]; enters
  through a shallow conv branch ending in a zero conv, and as the identity attention tokens;
- temporal: the previous frame's VAE latent (the frame just generated, or the reference for frame 0);
  enters as the temporal attention tokens.
Outputs go into IdentityNet through ControlNet's zero-initialised 1x1 convs, so a fresh AnimateNet
changes nothing. Saved with diffusers' ``save_pretrained`` (config.json + safetensors).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from diffusers import ControlNetModel, UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.controlnets.controlnet import ControlNetConditioningEmbedding
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from .attention import AnimateAttnProcessor, install_processors

_UNET_PARTS = ("conv_in", "time_proj", "time_embedding", "down_blocks", "mid_block")


class HintEmbedding(nn.Module):
    """ControlNet's hint embedding for the structure image plus a shallow branch for the contour,
    both ending in zero convs; takes the 4-channel ``[structure RGB, contour]`` stack."""

    def __init__(self, out_channels: int, structure_channels: Sequence[int], contour_channels: Sequence[int]) -> None:
        super().__init__()
        self.structure = ControlNetConditioningEmbedding(out_channels, 3, tuple(structure_channels))
        self.contour = ControlNetConditioningEmbedding(out_channels, 1, tuple(contour_channels))

    def forward(self, hint: torch.Tensor) -> torch.Tensor:
        return self.structure(hint[:, :3]) + self.contour(hint[:, 3:])


class ConditionTokens(nn.Module):
    """A condition map -> ``grid²`` tokens of the cross-attention width (strided convs, pool, LayerNorm)."""

    def __init__(self, in_channels: int, width: int, grid: int, downsample: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, 32, 3, padding=1), nn.SiLU()]
        for _ in range(downsample):
            layers += [nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.SiLU()]
        self.convs = nn.Sequential(*layers)
        self.grid = grid
        self.proj = nn.Linear(32, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.convs(image.to(self.proj.weight.dtype)), self.grid)
        return self.norm(self.proj(x.flatten(2).transpose(1, 2)))


class AnimateNet(ModelMixin, ConfigMixin):
    """``controlnet`` (a ``ControlNetModel`` with tri-attention processors and a structure+contour hint
    embedding) plus one token encoder per condition."""

    config_name = "config.json"

    @register_to_config
    def __init__(self, controlnet_config: dict, contour_channels: Sequence[int] = (8, 16, 32, 64),
                 token_grid: int = 8, latent_channels: int = 4) -> None:  # fmt: skip
        super().__init__()
        cfg = {k: v for k, v in dict(controlnet_config).items() if not k.startswith("_")}
        self.controlnet = ControlNetModel.from_config({**cfg, "conditioning_channels": 4})
        width = self.controlnet.config.cross_attention_dim
        hint_channels = tuple(self.controlnet.config.conditioning_embedding_out_channels)
        self.controlnet.controlnet_cond_embedding = HintEmbedding(
            self.controlnet.config.block_out_channels[0], hint_channels, contour_channels)
        downsample = len(hint_channels) - 1  # image -> latent resolution
        self.structure_tokens = ConditionTokens(3, width, token_grid, downsample)
        self.identity_tokens = ConditionTokens(1, width, token_grid, downsample)
        self.temporal_tokens = ConditionTokens(latent_channels, width, token_grid, 0)
        install_processors(self.controlnet, AnimateAttnProcessor)

    @classmethod
    def from_unet(cls, unet: UNet2DConditionModel, hint_channels: Optional[Sequence[int]] = None,
                  **kwargs: Any) -> "AnimateNet":  # fmt: skip
        """Encoder copied from IdentityNet's UNet (as ``ControlNetModel.from_unet``); processors' K/V
        start as copies of each layer's text K/V. ``hint_channels`` overrides ControlNet's hint
        embedding widths; ``kwargs`` go to :class:`AnimateNet`."""
        extra = {"conditioning_embedding_out_channels": tuple(hint_channels)} if hint_channels else {}
        with torch.device("meta"):  # only the config is needed from this one
            template = ControlNetModel.from_unet(unet, load_weights_from_unet=False, **extra)
        model = cls(dict(template.config), latent_channels=unet.config.in_channels, **kwargs)
        for part in _UNET_PARTS:  # the UNet may carry IdentityNet's processors: copy everything else
            state = {k: v for k, v in getattr(unet, part).state_dict().items() if ".processor." not in k}
            missing, unexpected = getattr(model.controlnet, part).load_state_dict(state, strict=False)
            if unexpected or any(".processor." not in k for k in missing):
                raise ValueError(f"cannot copy the UNet's {part} into AnimateNet: {(unexpected or missing)[:3]}")
        install_processors(model.controlnet, AnimateAttnProcessor)  # re-copy K/V from the copied weights
        return torch.nn.Module.to(model, device=unet.device, dtype=unet.dtype)  # ModelMixin.to warns on dtype

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, text_embeds: torch.Tensor,
                structure: torch.Tensor, contour: torch.Tensor, previous_latent: torch.Tensor,
                condition_scales: Optional[Sequence[float]] = None
                ) -> tuple[list[torch.Tensor], torch.Tensor]:  # fmt: skip
        """Residuals for IdentityNet: (down residuals, mid residual).

        ``structure`` (B,3,H,W) and ``contour`` (B,1,H,W) in [0, 1] at image resolution,
        ``previous_latent`` (B,4,h,w) scaled latent. ``condition_scales`` = the caller's (w1, w2, w3).
        """
        scales = tuple(float(s) for s in (condition_scales or (1.0, 1.0, 1.0)))
        kwargs = {"structure_tokens": self.structure_tokens(structure) if scales[0] else None,
                  "identity_tokens": self.identity_tokens(contour) if scales[1] else None,
                  "temporal_tokens": self.temporal_tokens(previous_latent) if scales[2] else None,
                  "condition_scales": scales}  # fmt: skip
        hint = torch.cat([structure, contour], dim=1).to(self.dtype)
        down, mid = self.controlnet(sample, timestep, encoder_hidden_states=text_embeds, controlnet_cond=hint,
                                    cross_attention_kwargs=kwargs, return_dict=False)  # fmt: skip
        return list(down), mid
