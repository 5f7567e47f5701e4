"""Plausible bugs in head, brow and eye motion from speech, and the warp rendering yaw and pitch."""
from __future__ import annotations

from mutation.mutate import Mutant  # noqa: F401

MUTANTS: list = []
