"""Plausible bugs in the warp engine and in the artifact check that guards every generation."""
from __future__ import annotations

from mutation.mutate import Mutant

WARP_TESTS = ("tests/test_warp_and_api.py", "tests/test_settings.py", "tests/test_quality.py")
QUALITY_TESTS = ("tests/test_quality.py", "tests/test_warp_and_api.py", "tests/test_cli.py")

MUTANTS = [
    Mutant("warp: no mouth interior", "portraittalk/engines/warp/__init__.py",
           "            frame = paint_mouth(frame, lm, face_h, teeth, main.ref_gap, style, grain)\n", "", WARP_TESTS),
    Mutant("warp: controls not applied", "portraittalk/engines/warp/__init__.py",
           "        track = apply_controls(track, request.controls, request.render.smoothing_s)\n", "", WARP_TESTS),
    Mutant("warp: frozen head (head field ignored)", "portraittalk/engines/warp/field.py",
           "            field[box] += self.alpha * cv2.transform(moved, head)\n", "", WARP_TESTS),
    Mutant("warp: second reference never used", "portraittalk/engines/warp/__init__.py",
           "            for k in np.nonzero(weights[t, 1:] > 0.01)[0] + 1:\n", "            for k in []:\n", WARP_TESTS),
    Mutant("warp: unbounded field (a broken track tears the frame)", "portraittalk/engines/warp/field.py",
           "(t, disp * np.minimum(1.0, MAX_DISPLACEMENT * self.face_height / np.maximum(norm, 1e-9)))",
           "(t, disp)", WARP_TESTS),
    Mutant("warp: a black-and-white photo gets a coloured mouth", "portraittalk/engines/warp/mouth.py",
           "        greyscale = bool(face.any() and np.percentile(chroma[face], 90) < GREYSCALE_CHROMA)\n",
           "        greyscale = False\n", WARP_TESTS),
    Mutant("warp: the interior leaves the lips", "portraittalk/engines/warp/mouth.py",
           "    mask = cv2.resize(np.minimum(mask, outer), (w, h), interpolation=cv2.INTER_AREA)",
           "    mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)", WARP_TESTS),
    Mutant("warp: teeth fill the whole opening", "portraittalk/engines/warp/mouth.py",
           "TEETH_SHARE = 0.55", "TEETH_SHARE = 1.0", WARP_TESTS),
    Mutant("warp: stale expression (the first frame's, every frame)", "portraittalk/engines/warp/field.py",
           "        if self._expression[0] != t:\n", "        if self._expression[0] < 0:\n", WARP_TESTS),
    Mutant("warp: no fixed-point refinement of the backward map", "portraittalk/engines/warp/field.py",
           "        src = grid - cv2.remap(fwd, idx, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)\n",
           "        src = grid - fwd\n",
           WARP_TESTS),
    Mutant("warp: no exact map around the lips (the smooth grid everywhere)", "portraittalk/engines/warp/field.py",
           "        self._exact_mouth(full, t, (x0, y0))\n", "", WARP_TESTS),
    Mutant("quality: the column is not measured", "portraittalk/quality/artifacts.py",
           '        self.measures["column"].values.append(column)\n',
           '        self.measures["column"].values.append(0.0)\n', QUALITY_TESTS),
    Mutant("quality: fangs are not measured", "portraittalk/quality/artifacts.py",
           "        teeth = _reach_outside(bright, seed, lips) / self.face_h\n", "        teeth = 0.0\n", QUALITY_TESTS),
    Mutant("quality: the interior colour is not measured", "portraittalk/quality/artifacts.py",
           "            colour = max(0.0, float(np.partition(chroma, q75)[q75]) - self.face_chroma)\n",
           "            colour = 0.0\n", QUALITY_TESTS),
    Mutant("quality: a gaping mouth is not measured", "portraittalk/quality/artifacts.py",
           "        cavity = float(_grown(dark, seed).sum()) / self.face_h**2\n", "        cavity = 0.0\n", QUALITY_TESTS),
    Mutant("quality: the still region is not measured", "portraittalk/quality/artifacts.py",
           '            self.measures["still_change"].values.append(float((np.abs(now - self.ref_small) > NEW).mean()))\n',
           '            self.measures["still_change"].values.append(0.0)\n', QUALITY_TESTS),
    Mutant("quality: every frame bad but never flagged", "portraittalk/quality/artifacts.py",
           "            if bad.sum() >= need:\n", "            if bad.sum() > len(bad):\n", QUALITY_TESTS),
    Mutant("pipeline: the quality verdict is dropped", "portraittalk/pipeline.py",
           "        quality = check.result()\n", "        quality = Quality()\n", QUALITY_TESTS),
]
