"""Which parameters each training stage updates (paper, Sec. IV-B).

1. IdentityNet: the UNet backbone, the face projection and the face K/V (mask reconstruction loss).
2. AnimateNet without temporal attention: everything in AnimateNet except the temporal token
   encoder, the temporal K/V and ``w_temporal`` (and the temporal condition is switched off).
3. Everything jointly: IdentityNet + AnimateNet.
The VAE and the text encoder are never trained.
"""
from __future__ import annotations

from typing import Optional

from torch import nn

STAGES = (1, 2, 3)
STAGE_CONDITION_SCALES = {1: (0.0, 0.0, 0.0), 2: (1.0, 1.0, 0.0), 3: (1.0, 1.0, 1.0)}  # (w1, w2, w3) while training


def is_temporal(name: str) -> bool:
    """AnimateNet parameters that belong to the temporal condition."""
    return name.startswith("temporal_tokens.") or name.endswith(("_temporal.weight", ".w_temporal"))


def stage_parameters(stage: int, identitynet: nn.Module, animatenet: Optional[nn.Module]) -> list[nn.Parameter]:
    """The parameters stage ``stage`` trains (named tensors of the modules passed in)."""
    if stage not in STAGES:
        raise ValueError(f"training stage must be one of {STAGES} (got {stage})")
    params = list(identitynet.parameters()) if stage in (1, 3) else []
    if stage in (2, 3):
        if animatenet is None:
            raise ValueError(f"stage {stage} trains AnimateNet; pass one")
        params += [p for n, p in animatenet.named_parameters() if stage == 3 or not is_temporal(n)]
    return params


def configure_stage(stage: int, identitynet: nn.Module, animatenet: Optional[nn.Module],
                    frozen: tuple[nn.Module, ...] = ()) -> list[nn.Parameter]:  # fmt: skip
    """Freeze everything (including ``frozen``, e.g. VAE and text encoder), unfreeze the stage's
    parameters and return them for the optimiser."""
    for module in (identitynet, animatenet, *frozen):
        if module is not None:
            module.requires_grad_(False)
    params = stage_parameters(stage, identitynet, animatenet)
    for p in params:
        p.requires_grad_(True)
    return params
