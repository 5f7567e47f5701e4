"""Whether the diffusion engine can run, answered without importing torch."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

from ...weights import is_present, missing_message, weights_dir as default_weights_dir

NEEDED = ("sd15", "portraittalk")


def diffusion_status(weights_dir: Optional[Path] = None) -> tuple[bool, str]:
    """(True, what will be used) when every needed component is present, else (False, why not)."""
    for module in ("torch", "diffusers", "transformers"):
        if importlib.util.find_spec(module) is None:
            return False, f"the diffusion engine needs the Python package '{module}'; run `make setup`."
    for name in NEEDED:
        if not is_present(name, weights_dir):
            return False, missing_message(name, weights_dir)
    root = Path(weights_dir or default_weights_dir()).expanduser()
    return True, f"Stable Diffusion 1.5 base and PortraitTalk adapters found in {root}."
