"""The paper's renderer: IdentityNet + AnimateNet on Stable Diffusion 1.5 (see docs/diffusion.md).

Importing this package does not import torch: :func:`diffusion_status` answers from the weights
folder alone, and :class:`DiffusionEngine` loads torch/diffusers when first touched.
"""
from __future__ import annotations

from .checkpoints.status import diffusion_status

__all__ = ["DiffusionEngine", "diffusion_status", "from_pretrained"]


def __getattr__(name: str):
    if name == "DiffusionEngine":
        from .engine import DiffusionEngine

        return DiffusionEngine
    if name == "from_pretrained":
        from .engine import DiffusionEngine

        return DiffusionEngine.from_pretrained
    raise AttributeError(name)
