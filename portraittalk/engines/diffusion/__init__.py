"""The paper's renderer: IdentityNet + AnimateNet on Stable Diffusion 1.5 (see docs/diffusion.md).

One folder per job: ``models/`` (the networks), ``checkpoints/`` (the weights folder's layout:
reading, loading, saving, converting and importing checkpoints, and whether the engine can run),
the engine itself (``engine.py``, ``pipeline.py``, ``stability.py``) and ``tiny.py`` (a tiny
random weight set for tests and CPU demos).

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
