"""MediaPipe without the half second it spends importing matplotlib.

``import mediapipe`` imports every legacy solution, and ``solutions.drawing_utils`` imports
``matplotlib.pyplot`` for its ``plot_landmarks`` alone, which PortraitTalk never calls: about half a
second of every start-up on a 2-core machine (matplotlib itself, then pyplot). While mediapipe
imports, ``matplotlib`` and ``matplotlib.pyplot`` are stand-ins that load the real module the first
time anything is asked of them; afterwards the real ones are imported as usual by anyone who wants
them.
"""
from __future__ import annotations

import importlib
import sys
import types


class _LazyModule(types.ModuleType):
    """Stands in for a module during mediapipe's import; loads the real one on first use."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


class _LazyMatplotlib(_LazyModule):
    def __getattr__(self, name: str):
        if name == "pyplot" and isinstance(sys.modules.get("matplotlib.pyplot"), _LazyModule):
            return sys.modules["matplotlib.pyplot"]  # `import matplotlib.pyplot as plt` asks for it
        return super().__getattr__(name)


def mediapipe() -> types.ModuleType:
    """The ``mediapipe`` package (imported once)."""
    if "mediapipe" not in sys.modules:
        stand_ins = {name: module for name, module in (("matplotlib", _LazyMatplotlib("matplotlib")),
                                                       ("matplotlib.pyplot", _LazyModule("matplotlib.pyplot")))
                     if name not in sys.modules}  # fmt: skip
        sys.modules.update(stand_ins)
        try:
            importlib.import_module("mediapipe")
        finally:
            for name, module in stand_ins.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
    return importlib.import_module("mediapipe")
