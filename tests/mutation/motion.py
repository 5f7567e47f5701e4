"""Plausible bugs in speech -> motion and in the controls applied to a track."""
from __future__ import annotations

from mutation.mutate import Mutant

MOTION_TESTS = ("tests/test_motion.py", "tests/test_settings.py", "tests/test_warp_and_api.py")

MUTANTS = [
    Mutant("motion: flipped expression sign", "portraittalk/motion/offline.py",
           "    local = rig.reference[None] + disp\n", "    local = rig.reference[None] - disp\n", MOTION_TESTS),
    Mutant("motion: frozen head (no sway in the track)", "portraittalk/motion/offline.py",
           "    mats = head_transform(head, head_pivot(rig.reference))\n",
           "    mats = head_transform(head * 0, head_pivot(rig.reference))\n", MOTION_TESTS),
    Mutant("motion: no nasal closure", "portraittalk/motion/drivers.py",
           "    opening = opening * (1.0 - 0.85 * feat.nasal)\n", "    opening = opening * 1.0\n", MOTION_TESTS),
    Mutant("motion: no stop closure", "portraittalk/motion/drivers.py",
           "    opening = np.where(closure, opening * 0.2, opening)\n", "    opening = opening\n", MOTION_TESTS),
    Mutant("controls: w1 ignored", "portraittalk/motion/controls.py",
           "    gain = controls.w1 * np.ones(len(track))\n", "    gain = np.ones(len(track))\n", MOTION_TESTS),
    Mutant("controls: w2 ignored", "portraittalk/motion/controls.py",
           "track.head * head_amplitude(controls.w2)", "track.head", MOTION_TESTS),
    Mutant("controls: w3 ignored", "portraittalk/motion/controls.py",
           "    expression[:, speech] = smooth(moved, smoothing_s * track.fps * controls.w3)\n",
           "    expression[:, speech] = smooth(moved, smoothing_s * track.fps)\n", MOTION_TESTS),
    Mutant("controls: blinks scaled by w1 too", "portraittalk/motion/controls.py",
           "    speech = np.setdiff1d(np.arange(expression.shape[1]), mesh.eye_points())\n",
           "    speech = np.arange(expression.shape[1])\n", MOTION_TESTS),
    Mutant("controls: no lip-crossing guard", "portraittalk/motion/controls.py",
           "    if controls.w1 > 1.0:\n", "    if False:\n", MOTION_TESTS),
]
