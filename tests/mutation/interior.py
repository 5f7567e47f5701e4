"""Plausible bugs in the mouth interior from real mouths and the lip boundary."""
from __future__ import annotations

from mutation.mutate import Mutant  # noqa: F401

MUTANTS: list = []
