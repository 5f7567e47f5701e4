"""MediaPipe without the second it spends importing matplotlib.pyplot.

``import mediapipe`` imports every legacy solution, and ``solutions.drawing_utils`` imports
``matplotlib.pyplot`` for its ``plot_landmarks`` alone, which PortraitTalk never calls: about a
second of every start-up on a 2-core machine. While mediapipe imports, ``matplotlib.pyplot`` is a
stand-in that loads the real pyplot the first time anything is asked of it; afterwards the real
one is imported as usual by anyone who wants it.
"""
from __future__ import annotations

import importlib
import sys
import types


class _LazyPyplot(types.ModuleType):
    def __getattr__(self, name: str):
        if sys.modules.get("matplotlib.pyplot") is self:
            del sys.modules["matplotlib.pyplot"]
        return getattr(importlib.import_module("matplotlib.pyplot"), name)


def mediapipe() -> types.ModuleType:
    """The ``mediapipe`` package (imported once)."""
    if "mediapipe" not in sys.modules and "matplotlib.pyplot" not in sys.modules:
        stand_in = _LazyPyplot("matplotlib.pyplot")
        sys.modules["matplotlib.pyplot"] = stand_in
        try:
            importlib.import_module("mediapipe")
        finally:
            if sys.modules.get("matplotlib.pyplot") is stand_in:
                del sys.modules["matplotlib.pyplot"]
    return importlib.import_module("mediapipe")
