"""The ``portraittalk`` component's ``config.json``: its one reader, and what it records.

Read without torch (the engine's status reads it); written by ``load.save_adapters`` and by the importer.
"""
from __future__ import annotations

import json
from pathlib import Path

from ....errors import MissingWeightsError

ADAPTER_FORMAT = "portraittalk-adapters/1"
DLIB_DIM = 128  # dlib's face descriptor width: the offline identity backend, usable where the adapters take it


def read_adapter_config(folder: Path) -> dict:
    """``folder/config.json`` as a dict, or a :class:`MissingWeightsError` saying what to do when it
    cannot be read or is not a PortraitTalk adapter config."""
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MissingWeightsError(f"{path} cannot be read ({exc}); move the folder away and import or train the "
                                  "adapters again.") from None  # fmt: skip
    if not isinstance(config, dict) or config.get("format") != ADAPTER_FORMAT:
        raise MissingWeightsError(f"{path} is not a PortraitTalk adapter config (expected format {ADAPTER_FORMAT}); "
                                  "move the folder away and import or train the adapters again.")  # fmt: skip
    return config


def embedding_widths(config: dict) -> list[int]:
    """The face-embedding widths the adapters' projection accepts (empty: no IdentityNet yet)."""
    return list(config.get("face_projection", {}).get("embed_dims", []))
