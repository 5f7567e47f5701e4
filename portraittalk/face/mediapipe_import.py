"""MediaPipe without the 0.6 s it spends importing what PortraitTalk never uses.

``import mediapipe`` imports every legacy solution, and ``solutions.drawing_utils`` imports
``matplotlib.pyplot`` for its ``plot_landmarks`` alone (0.4 s on a 2-core machine: matplotlib
itself, then pyplot); it also imports the whole Tasks API (0.25 s), while PortraitTalk uses the
legacy solutions only. While mediapipe imports, those modules are stand-ins that load the real
module the first time anything is asked of them; afterwards the real ones are imported as usual by
anyone who wants them.
"""
from __future__ import annotations

import importlib
import sys
import types

# Stand-ins while mediapipe imports: module -> its stand-in child (`import a.b as c` asks a for b).
_SKIPPED = {"matplotlib": "pyplot", "matplotlib.pyplot": None, "mediapipe.tasks": "python", "mediapipe.tasks.python": None}


class _LazyModule(types.ModuleType):
    """Stands in for a module during mediapipe's import; loads the real one on first use."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        child = _SKIPPED.get(self.__name__)
        if name == child and isinstance(sys.modules.get(f"{self.__name__}.{child}"), _LazyModule):
            return sys.modules[f"{self.__name__}.{child}"]
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def mediapipe() -> types.ModuleType:
    """The ``mediapipe`` package (imported once)."""
    if "mediapipe" not in sys.modules:
        stand_ins = {name: _LazyModule(name) for name in _SKIPPED if name not in sys.modules}
        sys.modules.update(stand_ins)
        try:
            mp = importlib.import_module("mediapipe")
        finally:
            for name, module in stand_ins.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
        if "mediapipe.tasks" in stand_ins:
            # mediapipe binds `mediapipe.tasks` to `mediapipe.tasks.python`; importing the (empty) real
            # package now keeps that binding from changing when someone imports from it later.
            tasks = mp.tasks
            importlib.import_module("mediapipe.tasks")
            mp.tasks = tasks
    return importlib.import_module("mediapipe")
