"""AnimateNet (Sec. III-B): a ControlNet-style trainable copy of IdentityNet's encoder.

Conditions, per frame:
- structure: the target landmarks drawn as a colour-coded mesh (``draw_condition``), RGB in [0, 1];
  enters like a ControlNet hint (``controlnet_cond``) and as the structure attention tokens;
- identity / head placement: the previous frame's coarse head contour, 1 channel in [0, 1]; enters
  through a shallow conv branch ending in a zero conv, and as the identity attention tokens;
- temporal: the previous frame's VAE latent (the frame just generated, or the reference for frame 0);
  enters as the temporal attention tokens.
Outputs go into IdentityNet through ControlNet's zero-initialised 1x1 convs, so a fresh AnimateNet
changes nothing. Saved with diffusers' ``save_pretrained`` (config.json + safetensors); the config
also records how the structure image must be drawn (``drawing_style``) and the residual scale the
weights want (``conditioning_scale``).

:meth:`AnimateNet.from_controlnet` turns a public ControlNet (e.g. CrucibleAI's MediaPipe-face one)
into the structure branch: its hint embedding becomes the structure half of ours, and the parts it
never trained (Eq. (2) attention with ``w = 0``, contour branch ending in a zero conv) are inert, so
it computes exactly what the ControlNet computes until trained weights replace them.
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

from ....face.draw import DRAWING_STYLES
from .attention import CONDITIONS, AnimateAttnProcessor, install_processors

_UNET_PARTS = ("conv_in", "time_proj", "time_embedding", "down_blocks", "mid_block")
_HINT = "controlnet_cond_embedding."


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
                 token_grid: int = 8, latent_channels: int = 4, drawing_style: str = "portraittalk",
                 conditioning_scale: float = 1.0) -> None:  # fmt: skip
        super().__init__()
        if drawing_style not in DRAWING_STYLES:
            raise ValueError(f"drawing_style must be one of {DRAWING_STYLES} (got {drawing_style!r})")
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

    @classmethod
    def from_controlnet(cls, controlnet: ControlNetModel, drawing_style: str,
                        conditioning_scale: float = 1.0, **kwargs: Any) -> "AnimateNet":  # fmt: skip
        """A public ControlNet as AnimateNet's structure branch (see the module docstring): its
        weights as they are (hint embedding renamed under ``structure``), Eq. (2) K/V copied from the
        text K/V with ``w = 0``, a fresh contour branch whose last conv is zero."""
        cfg = {k: v for k, v in controlnet.config.items() if not k.startswith("_")}  # no _name_or_path
        if cfg.get("conditioning_channels", 3) != 3:
            raise ValueError("AnimateNet's structure branch takes an RGB ControlNet hint")
        model = cls(cfg, drawing_style=drawing_style, conditioning_scale=conditioning_scale,
                    latent_channels=cfg["in_channels"], **kwargs)  # fmt: skip
        state = {(k.replace(_HINT, _HINT + "structure.", 1) if k.startswith(_HINT) else k): v
                 for k, v in controlnet.state_dict().items()}  # fmt: skip
        missing, unexpected = model.controlnet.load_state_dict(state, strict=False)
        untrained = (".processor.", _HINT + "contour.")
        if unexpected or any(not any(part in k for part in untrained) for k in missing):
            raise ValueError(f"cannot load this ControlNet into AnimateNet: {(unexpected or missing)[:3]}")
        install_processors(model.controlnet, AnimateAttnProcessor)  # K/V from the loaded text K/V
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name.rsplit(".", 1)[-1] in {f"w_{c}" for c in CONDITIONS}:
                    param.zero_()
        return torch.nn.Module.to(model, dtype=controlnet.dtype)

    @property
    def condition_attention_trained(self) -> bool:
        """False while every Eq. (2) weight is 0 (an imported ControlNet): then w1–w3 change nothing."""
        return any(bool(p.detach().abs().sum() > 0) for n, p in self.named_parameters()
                   if n.rsplit(".", 1)[-1].startswith("w_"))  # fmt: skip

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, text_embeds: torch.Tensor,
                structure: torch.Tensor, contour: torch.Tensor, previous_latent: torch.Tensor,
                condition_scales: Optional[Sequence[float]] = None, conditioning_scale: float = 1.0
                ) -> tuple[list[torch.Tensor], torch.Tensor]:  # fmt: skip
        """Residuals for IdentityNet: (down residuals, mid residual).

        ``structure`` (B,3,H,W) and ``contour`` (B,1,H,W) in [0, 1] at image resolution,
        ``previous_latent`` (B,4,h,w) scaled latent. ``condition_scales`` = the caller's (w1, w2, w3);
        the residuals are scaled by ``conditioning_scale`` × the weights' own ``config.conditioning_scale``.
        """
        scales = tuple(float(s) for s in (condition_scales or (1.0, 1.0, 1.0)))
        kwargs = {"structure_tokens": self.structure_tokens(structure) if scales[0] else None,
                  "identity_tokens": self.identity_tokens(contour) if scales[1] else None,
                  "temporal_tokens": self.temporal_tokens(previous_latent) if scales[2] else None,
                  "condition_scales": scales}  # fmt: skip
        hint = torch.cat([structure, contour], dim=1).to(self.dtype)
        down, mid = self.controlnet(sample, timestep, encoder_hidden_states=text_embeds, controlnet_cond=hint,
                                    conditioning_scale=conditioning_scale * self.config.conditioning_scale,
                                    cross_attention_kwargs=kwargs, return_dict=False)  # fmt: skip
        return list(down), mid
