"""Plausible bugs in the diffusion engine (filled in with its tests)."""
from __future__ import annotations

from mutation.mutate import Mutant

DIFFUSION_TESTS = ("tests/diffusion",)

MUTANTS: list[Mutant] = [
    Mutant("diffusion: CFG halves swapped", "portraittalk/engines/diffusion/engine.py",
           "                uncond, cond = pred.chunk(2)\n", "                cond, uncond = pred.chunk(2)\n",
           DIFFUSION_TESTS),
]
