"""Plausible bugs in head, brow and eye motion from speech, and the warp rendering yaw and pitch."""
from __future__ import annotations

from mutation.mutate import Mutant

HEAD_TESTS = ("tests/test_head_motion.py",)

MUTANTS = [
    Mutant("head: yaw turns the nose the wrong way", "portraittalk/motion/geometry.py",
           "    out[..., 0] = cy[:, None] * x - (sy * sp)[:, None] * y - (sy * cp)[:, None] * z[None] + pivot[0]\n",
           "    out[..., 0] = cy[:, None] * x - (sy * sp)[:, None] * y + (sy * cp)[:, None] * z[None] + pivot[0]\n",
           HEAD_TESTS),
    Mutant("head: the warp ignores pitch", "portraittalk/engines/warp/field.py",
           "        if np.any(head[:, [PITCH, YAW]]):\n", "        if np.any(head[:, [YAW]]):\n", HEAD_TESTS),
    Mutant("head: the warp turns the face on a flat depth", "portraittalk/engines/warp/field.py",
           "        self.z = relative_depth(ref, reference.depth)", "        self.z = relative_depth(ref, None)",
           HEAD_TESTS),
    Mutant("head: lips and lids turned at their own depths (the upper lip slides over the lower)",
           "portraittalk/motion/geometry.py", "        z[part] = z[part].mean()\n", "        pass\n", HEAD_TESTS),
    Mutant("head: brows driven by a constant", "portraittalk/motion/head.py",
           "        return HeadFrame(head.astype(np.float32), float(x[BROW]),",
           "        return HeadFrame(head.astype(np.float32), 0.004,", HEAD_TESTS),
    Mutant("head: brows fall on emphasis", "portraittalk/motion/head.py",
           "        drive = onset * p.onset_gain + rise", "        drive = -onset * p.onset_gain + rise", HEAD_TESTS),
    Mutant("head: the seed ignored", "portraittalk/motion/head.py",
           "        self.rng = np.random.default_rng(seed)\n", "        self.rng = np.random.default_rng(0)\n", HEAD_TESTS),
    Mutant("head: a stale step state (the frame counter never advances: no blinks after the first, no saccades)",
           "portraittalk/motion/head.py", "        self.t += 1\n", "", HEAD_TESTS),
    Mutant("head: the chunk form starts over (a live chunk forgets the frames before it)", "portraittalk/motion/head.py",
           "        frames = [self.step(l, f) for l, f in",
           "        frames = [HeadMotion(self.fps, self.face_height, self.config, 0, self.params).step(l, f) for l, f in",
           HEAD_TESTS),
    Mutant("head: the loudness level against the whole clip's peak (looks ahead)", "portraittalk/motion/head.py",
           "        return HeadMotion(fps, face_height, config, seed).run(loudness, pitch)\n",
           "        return HeadMotion(fps, face_height, config, seed).run(loudness - loudness.max() - FIRST_PEAK_DB, pitch)\n",
           HEAD_TESTS),
    Mutant("head: silence as lively as speech", "portraittalk/motion/head.py",
           "        gain = p.pause_ratio + (1.0 - p.pause_ratio) * min(self.activity / 0.5, 1.0)\n",
           "        gain = 1.0\n", HEAD_TESTS),
    Mutant("head: w2 leaves pitch and yaw alone", "portraittalk/motion/controls.py",
           "head=track.head * head_amplitude(controls.w2)",
           "head=track.head * np.array([head_amplitude(controls.w2), 1, 1, *[head_amplitude(controls.w2)] * 3], np.float32)",
           HEAD_TESTS),
    Mutant("head: brows moved at the eyes' height (the lids dragged up)", "portraittalk/motion/geometry.py",
           "            vertical = np.where(loc[:, 1] > y_low, below * below * (3 - 2 * below), 1.0 - 0.6 * above)\n",
           "            vertical = np.where(loc[:, 1] > y_low, 1.0, 1.0 - 0.6 * above)\n", HEAD_TESTS),
    Mutant("head: no gaze in the track", "portraittalk/motion/offline.py",
           " + rig.gaze(moves.gaze)\n", "\n", HEAD_TESTS),
]
