"""Plausible bugs in the causal lips model (motion/causal_mouth.py): its data, timing, causality, pauses."""
from __future__ import annotations

from mutation.mutate import Mutant

T = "tests/test_lips.py::"
WINDOW = (T + "test_a_window_of_the_stream_gives_the_whole_clips_mouth",)
REACH = (T + "test_the_mouth_reads_no_further_ahead_or_back_than_it_declares",)
OFFSETS = (T + "test_each_source_has_one_offset_and_grid_lips_part_on_the_word",)
PAUSES = (T + "test_pauses_rest_the_lips_still",)
SHIPPED = (T + "test_the_shipped_model_comes_with_the_package",)
FOLLOWS = (T + "test_the_opening_follows_a_real_speaker_and_the_width_does_not_lead_it",)
_MM = "portraittalk/motion/causal_mouth.py"
_DR = "portraittalk/motion/drivers.py"
_TR = "portraittalk/training/causal_mouth.py"

MUTANTS = [
    Mutant("lips: the network's lookahead ignored (frame k reads only up to k)", _MM,
           "        return out[LOOKAHEAD_FRAMES:]\n", "        return out[: len(mel)]\n", SHIPPED + REACH),
    Mutant("lips: the network reads a frame further ahead than it declares", _MM,
           "        x = np.concatenate([x, np.repeat(x[:, -1:], LOOKAHEAD_FRAMES, axis=1)], axis=1)\n"
           "        out = np.mean([self._member(w, x) for w in self.members], axis=0)\n"
           "        return out[LOOKAHEAD_FRAMES:]\n",
           "        x = np.concatenate([x, np.repeat(x[:, -1:], LOOKAHEAD_FRAMES + 1, axis=1)], axis=1)\n"
           "        out = np.mean([self._member(w, x) for w in self.members], axis=0)\n"
           "        return out[LOOKAHEAD_FRAMES + 1 :]\n", REACH),
    Mutant("lips: the running level since the clip's start (an unbounded past)", _MM,
           "    lo = np.maximum(k + 1 - LEVEL_FRAMES, 0)\n", "    lo = np.zeros_like(k)\n", WINDOW),
    Mutant("lips: the log-mel normalised by the clip's own statistics (not causal)", _MM,
           "        x = network_input(mel, self.mel_mean, self.mel_std).T\n",
           "        x = network_input(mel, mel.mean(axis=0), mel.std(axis=0) + 1e-3).T\n", WINDOW),
    Mutant("lips: opening and width outputs swapped", _MM,
           "        return z[:, 0], z[:, 1], frame_loudness_db(mel)\n",
           "        return z[:, 1], z[:, 0], frame_loudness_db(mel)\n", FOLLOWS),
    Mutant("lips: the pause rest removed", _DR,
           "    rest = pause_rest(loudness_db)\n", "    rest = 0.0 * pause_rest(loudness_db)\n", PAUSES),
    Mutant("lips: pauses detected on the loudness of the past only (the lips part late)", _DR,
           "    quiet = np.append(quiet, np.ones(LOOKAHEAD_FRAMES, bool))\n",
           "    quiet = np.append(quiet, np.ones(LOOKAHEAD_FRAMES, bool))\n"
           "    quiet = np.concatenate([np.zeros(LOOKAHEAD_FRAMES, bool), quiet[: len(quiet) - LOOKAHEAD_FRAMES]])\n", PAUSES),
    Mutant("lips: the offset applied with the wrong sign", _TR,
           "    t = np.arange(len(y)) + clip[\"offset\"]\n", "    t = np.arange(len(y)) - clip[\"offset\"]\n", OFFSETS),
    Mutant("lips: one offset per clip (each GRID speaker its own) instead of per source", _TR,
           "    return {name: (s1 if name.startswith(\"grid_other\") else",
           "    return {name: (s[\"offset_frames\"] if name.startswith(\"grid_other\") else", OFFSETS),
]  # fmt: skip
