"""Whether the diffusion engine can run, answered without importing torch."""
from __future__ import annotations

import importlib.util

from ...weights import Weights

NEEDED = ("sd15", "portraittalk")


def diffusion_status(weights: Weights) -> tuple[bool, str]:
    """(True, what will be used) when every needed component is present, else (False, why not)."""
    for module in ("torch", "diffusers", "transformers"):
        if importlib.util.find_spec(module) is None:
            return False, f"the diffusion engine needs the Python package '{module}'; run `make setup`."
    for name in NEEDED:
        if not weights.present(name):
            return False, weights.missing_message(name)
    return True, f"Stable Diffusion 1.5 base and PortraitTalk adapters found in {weights.root}."
