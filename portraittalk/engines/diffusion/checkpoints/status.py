"""Whether the diffusion engine can run, answered without importing torch."""
from __future__ import annotations

import importlib.util

from ....errors import MissingWeightsError
from ....weights import COMPONENTS, Weights, component
from .adapter_config import DLIB_DIM, embedding_widths, read_adapter_config

NEEDED = ("sd15", "portraittalk")
PACKAGES = ("torch", "diffusers", "transformers")
ARCFACE = "insightface"  # the public adapters (IP-Adapter-FaceID) take its embeddings; dlib's cannot stand in


def missing_components(weights: Weights) -> list[str]:
    """The components the diffusion engine lacks in ``weights``, in download order: ``NEEDED``, and
    ArcFace when the adapters present (or the public ones that would be imported) take only its embeddings."""
    names = [name for name in NEEDED if not weights.present(name)]
    if not weights.present(ARCFACE):
        if "portraittalk" in names:
            names.append(ARCFACE)
        elif not names:
            widths = embedding_widths(read_adapter_config(weights.path("portraittalk")))
            if widths and DLIB_DIM not in widths:
                names.append(ARCFACE)
    return names


def diffusion_status(weights: Weights) -> tuple[bool, str]:
    """(True, what will be used) when everything is there, else (False, everything that is missing
    and the one command that gets it)."""
    packages = [module for module in PACKAGES if importlib.util.find_spec(module) is None]
    if packages:
        return False, f"the diffusion engine needs the Python package(s) {', '.join(packages)}; run `make setup`."
    try:
        names = missing_components(weights)
        config = read_adapter_config(weights.path("portraittalk")) if not names else {}
    except MissingWeightsError as exc:
        return False, str(exc)
    if names == [ARCFACE]:
        return False, ("the PortraitTalk adapters take ArcFace face embeddings (IP-Adapter-FaceID) and dlib's cannot "
                       "stand in: run `portraittalk weights download insightface`.")  # fmt: skip
    if len(names) == 1:
        return False, weights.missing_message(names[0])
    if names:
        fetch = [n for n in names if component(n).source]
        trained = ""
        if "portraittalk" in names:  # the public checkpoints imported into it (which needs sd15 first)
            at = 1 if "sd15" in fetch else 0
            fetch[at:at] = [c.name for c in COMPONENTS if c.import_as]
            trained = " (the adapters can also be trained: docs/diffusion.md)"
        listed = "; ".join(f"{name}: {component(name).purpose}" for name in names)
        return False, (f"{len(names)} components are missing from {weights.root}: {listed}. Run `portraittalk weights "
                       f"download {' '.join(fetch)}`{trained}.")  # fmt: skip
    imported = "; ".join(f"{part} imported from {record.get('source')}"
                         for part, record in config.get("imported", {}).items())  # fmt: skip
    return True, (f"Stable Diffusion 1.5 base and PortraitTalk adapters found in {weights.root}"
                  + (f" ({imported})." if imported else "."))  # fmt: skip
