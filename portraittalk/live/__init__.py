"""Live: speech pushed as it arrives -> the portrait's frames, a fixed lookahead behind the sound.

``session = PortraitTalk(...).live(references, **settings)``; ``session.push(samples, rate)`` ->
:class:`LiveFrame` s; ``session.close()``. See :mod:`.session`.
"""
from __future__ import annotations

from .session import LiveFrame, LiveSession

__all__ = ["LiveFrame", "LiveSession"]
