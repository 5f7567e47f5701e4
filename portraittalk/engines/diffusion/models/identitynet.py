"""IdentityNet: the SD1.5 UNet with decoupled face cross-attention on every ``attn2`` (Sec. III-A).

The UNet is diffusers' own ``UNet2DConditionModel``, loaded from the base weights; PortraitTalk adds a
:class:`FaceProjection` and one :class:`FaceAttnProcessor` per cross-attention layer. Saved weights are
keyed by module name (``face_projection.*``, ``unet.<layer>.attn2.processor.to_k_face.weight``), and
may also carry fine-tuned ``unet.*`` backbone weights (stage 1 fine-tunes the whole UNet) or a LoRA of
the backbone (``lora.<linear>.down`` / ``.up``, e.g. IP-Adapter-FaceID's rank-128 one), merged into
the UNet's weights when loaded (``W += up @ down``, no runtime cost).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import load_file, save_file
from torch import nn

from ....errors import MissingWeightsError
from .attention import FaceAttnProcessor, install_processors
from .face_projection import FaceProjection

LORA_PREFIX = "lora."


def merge_lora(unet: UNet2DConditionModel, lora: Mapping[str, torch.Tensor]) -> None:
    """Add ``up @ down`` to each named Linear of ``unet`` (keys ``lora.<linear path>.down|up``, scale 1)."""
    names = sorted({key[len(LORA_PREFIX):].rsplit(".", 1)[0] for key in lora})
    with torch.no_grad():
        for name in names:
            try:
                layer = unet.get_submodule(name)
                down, up = lora[f"{LORA_PREFIX}{name}.down"], lora[f"{LORA_PREFIX}{name}.up"]
            except (AttributeError, KeyError):
                raise MissingWeightsError(f"the LoRA names '{name}', which this UNet does not have (or half of "
                                          "its pair is missing); the weights were made for another base.") from None
            delta = up.float() @ down.float()
            if delta.shape != layer.weight.shape:
                raise MissingWeightsError(f"the LoRA for '{name}' is {tuple(delta.shape)}, the layer "
                                          f"{tuple(layer.weight.shape)}; the weights were made for another base.")
            layer.weight.add_(delta.to(layer.weight))


class IdentityNet(nn.Module):
    def __init__(self, unet: UNet2DConditionModel, face_projection: FaceProjection) -> None:
        super().__init__()
        self.unet = unet
        self.face_projection = face_projection
        self.lora: dict[str, torch.Tensor] = {}  # merged into ``unet``; kept to be saved again with the adapters
        install_processors(unet, FaceAttnProcessor)

    @classmethod
    def from_unet(cls, unet: UNet2DConditionModel, embed_dims: Sequence[int] = (512, 128),
                  num_tokens: int = 4) -> "IdentityNet":  # fmt: skip
        """Fresh adapters on a base UNet (face K/V initialised from the layer's text K/V)."""
        proj = FaceProjection(embed_dims, unet.config.cross_attention_dim, num_tokens)
        return cls(unet, proj.to(device=unet.device, dtype=unet.dtype))

    def adapter_state_dict(self, include_unet: bool = False) -> dict[str, torch.Tensor]:
        """The PortraitTalk parameters (projection + face K/V); with ``include_unet`` the backbone too."""
        return {k: v for k, v in self.state_dict().items()
                if include_unet or not k.startswith("unet.") or ".processor." in k}  # fmt: skip

    def save_adapters(self, path: Path, include_unet: bool = False) -> None:
        """The adapters, plus the merged LoRA's factors unless the (merged) backbone is saved itself."""
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.adapter_state_dict(include_unet).items()}
        if not include_unet:
            tensors.update({k: v.contiguous().cpu() for k, v in self.lora.items()})
        save_file(tensors, str(path), metadata={"format": "pt", "face_projection": "see config.json"})

    def load_adapters(self, path: Path) -> None:
        """Load ``identitynet.safetensors``; every adapter key must be there, backbone keys are optional,
        a LoRA is merged into the backbone."""
        state = load_file(str(path))
        lora = {k: state.pop(k) for k in [k for k in state if k.startswith(LORA_PREFIX)]}
        own = self.state_dict()
        unexpected = sorted(set(state) - set(own))
        missing = sorted(set(self.adapter_state_dict()) - set(state))
        if unexpected or missing:
            raise MissingWeightsError(
                f"{path.name} does not match this IdentityNet ({len(missing)} missing, {len(unexpected)} unknown "
                f"tensors, e.g. {(missing or unexpected)[0]}); the adapters were trained for another base model."
            )
        self.load_state_dict(state, strict=False)
        merge_lora(self.unet, lora)
        self.lora = lora

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, text_embeds: torch.Tensor,
                face_tokens: Optional[torch.Tensor] = None, face_scale: float = 1.0,
                down_residuals: Optional[Sequence[torch.Tensor]] = None,
                mid_residual: Optional[torch.Tensor] = None) -> torch.Tensor:  # fmt: skip
        """Predicted noise. ``face_tokens`` come from :attr:`face_projection`; the residuals from AnimateNet."""
        return self.unet(sample, timestep, encoder_hidden_states=text_embeds,
                         cross_attention_kwargs={"face_tokens": face_tokens, "face_scale": face_scale},
                         down_block_additional_residuals=down_residuals,
                         mid_block_additional_residual=mid_residual, return_dict=False)[0]  # fmt: skip
