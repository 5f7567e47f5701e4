"""Whether the diffusion engine can run, answered without importing torch."""
from __future__ import annotations

import importlib.util
import json

from ...weights import Weights

NEEDED = ("sd15", "portraittalk")
DLIB_DIM = 128


def diffusion_status(weights: Weights) -> tuple[bool, str]:
    """(True, what will be used) when every needed component is present, else (False, why not)."""
    for module in ("torch", "diffusers", "transformers"):
        if importlib.util.find_spec(module) is None:
            return False, f"the diffusion engine needs the Python package '{module}'; run `make setup`."
    for name in NEEDED:
        if not weights.present(name):
            return False, weights.missing_message(name)
    config_file = weights.path("portraittalk") / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        return False, f"{config_file} cannot be read ({exc}); import or train the adapters again."
    widths = config.get("face_projection", {}).get("embed_dims", [])
    if widths and DLIB_DIM not in widths and not weights.present("insightface"):
        return False, ("the PortraitTalk adapters take ArcFace face embeddings (IP-Adapter-FaceID) and dlib's cannot "
                       "stand in: run `portraittalk weights download insightface`.")  # fmt: skip
    imported = "; ".join(f"{part} imported from {record.get('source')}"
                         for part, record in config.get("imported", {}).items())  # fmt: skip
    return True, (f"Stable Diffusion 1.5 base and PortraitTalk adapters found in {weights.root}"
                  + (f" ({imported})." if imported else "."))  # fmt: skip
