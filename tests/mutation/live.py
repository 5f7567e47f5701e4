"""Plausible bugs in live streaming: the session, chunking, latency and the Live tab."""
from __future__ import annotations

from mutation.mutate import Mutant  # noqa: F401

MUTANTS: list = []
