"""Plausible bugs in the warp engine."""
from __future__ import annotations

from mutation.mutate import Mutant

WARP_TESTS = ("tests/test_warp_and_api.py", "tests/test_settings.py")

MUTANTS = [
    Mutant("warp: no mouth interior", "portraittalk/engines/warp/__init__.py",
           "            frame = paint_mouth(frame, lm, face_h, teeth, main.ref_gap)\n", "", WARP_TESTS),
    Mutant("warp: controls not applied", "portraittalk/engines/warp/__init__.py",
           "        track = apply_controls(track, request.controls, request.render.smoothing_s)\n", "", WARP_TESTS),
    Mutant("warp: frozen head (head field ignored)", "portraittalk/engines/warp/field.py",
           "            field[self.head_box] += self.alpha * cv2.transform(moved, head)\n", "", WARP_TESTS),
    Mutant("warp: second reference never used", "portraittalk/engines/warp/__init__.py",
           "            for k in np.nonzero(weights[t, 1:] > 0.01)[0] + 1:\n", "            for k in []:\n", WARP_TESTS),
]
