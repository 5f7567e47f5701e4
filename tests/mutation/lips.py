"""Plausible bugs in the speech-to-lips model: its data, timing, causality and pauses."""
from __future__ import annotations

from mutation.mutate import Mutant  # noqa: F401

MUTANTS: list = []
