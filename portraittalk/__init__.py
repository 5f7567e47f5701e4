"""PortraitTalk: reference portraits + speech (+ a text prompt) -> a talking-face video.

``from portraittalk import PortraitTalk`` is cheap: heavy libraries load when first used.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["PortraitTalk", "GenerationResult", "__version__"]


def __getattr__(name: str):
    if name in ("PortraitTalk", "GenerationResult"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
