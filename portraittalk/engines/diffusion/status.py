"""Whether the diffusion engine can run, answered without importing torch."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

from ...errors import MissingWeightsError
from ...weights import component, weights_dir as default_weights_dir

NEEDED = ("sd15", "portraittalk")


def component_folder(name: str, weights_dir: Optional[Path] = None) -> tuple[Path, bool]:
    """(folder, present) of a registry component under ``weights_dir`` (default: the registry's folder)."""
    c = component(name)
    path = Path(weights_dir or default_weights_dir()).expanduser() / c.folder
    present = all(any((path / alt).exists() for alt in req.split("|")) for req in c.required_files)
    return path, present


def _missing(name: str, path: Path) -> str:
    c = component(name)
    how = c.how_to_get or f"run `portraittalk weights download {c.name}`"
    return f"{c.purpose} is missing (expected in {path}); {how}."


def require_component(name: str, weights_dir: Optional[Path] = None) -> Path:
    """The component's folder under ``weights_dir``, or :class:`MissingWeightsError` saying how to get it."""
    path, present = component_folder(name, weights_dir)
    if not present:
        raise MissingWeightsError(_missing(name, path))
    return path


def diffusion_status(weights_dir: Optional[Path] = None) -> tuple[bool, str]:
    """(True, what will be used) when every needed component is present, else (False, why not)."""
    for module in ("torch", "diffusers", "transformers"):
        if importlib.util.find_spec(module) is None:
            return False, f"the diffusion engine needs the Python package '{module}'; run `make setup`."
    for name in NEEDED:
        path, present = component_folder(name, weights_dir)
        if not present:
            return False, _missing(name, path)
    root = Path(weights_dir or default_weights_dir()).expanduser()
    return True, f"Stable Diffusion 1.5 base and PortraitTalk adapters found in {root}."
