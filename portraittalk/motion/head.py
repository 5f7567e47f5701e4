"""Head pose, brows, gaze and blinks from speech: a causal, seeded generator advanced frame by frame.

Each channel (roll, pitch, yaw, dx, dy, scale, brow height, gaze x, gaze y) is smooth random motion
(white noise through two equal one-pole low-passes) whose amplitude follows how much the speaker is
speaking (quieter in pauses, never still), plus a fitted response to emphasis: the onsets of
loudness and the rise of the voice's pitch. Amplitudes, time constants, the pause ratio and the
emphasis weights are fitted on the real fit clips (:mod:`portraittalk.training.head_fit` refits
``head_params.json`` from ``benchmarks/data/motion_corpus/fit.npz``). Blinks come at gamma-distributed
intervals around ``MotionConfig.blink_interval_s``; gaze holds, then jumps (saccades).

Everything a frame needs is in the past (no look-ahead, no whole-clip normalisation), so a live
session stepping :class:`HeadMotion` frame by frame and the offline :func:`head_drivers` over a whole
clip give the same motion for the same seed.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import MotionConfig
from ..media.audio import Audio

PARAMS_FILE = Path(__file__).with_name("head_params.json")
CHANNELS = ("roll", "pitch", "yaw", "dx", "dy", "scale", "brow", "gaze_x", "gaze_y")
HEAD_CHANNELS = 6  # the first six are a track's head row (:data:`.track.HEAD_PARAMS`)
BROW, GAZE_X, GAZE_Y = 6, 7, 8
BLINK_PROFILE = np.array([0.35, 0.8, 1.0, 0.85, 0.5, 0.2], np.float32)  # ~0.24 s at 25 fps
LOUDNESS_RANGE_DB = 40.0  # speech level 0..1 spans this far below the running peak
PEAK_DECAY_DB_S = 1.5  # the running peak sinks this fast in a pause (a louder voice raises it at once)
FIRST_PEAK_DB = -20.0  # where the running peak starts (dBFS of ordinary speech), before any sound
LEVEL_TAU_S = 0.5  # speaking activity (the amplitude's driver): loudness level smoothed over this
PITCH_TAU_S = 2.0  # the voice's running mean log-pitch
PITCH_SPREAD = 0.15  # typical std of log-pitch within a speaker (pitch rise 1 = +15 %)
SACCADE_GAP_S = (0.4, 2.5)  # gaze holds for a gamma-distributed time with this mean, at least the minimum


@dataclass(frozen=True)
class HeadParams:
    """Fitted statistics per channel (:data:`CHANNELS`; angles in degrees, lengths in face heights,
    gaze in eye widths)."""

    sigma: np.ndarray  # (C,) amplitude while speaking (std of the random part)
    tau_s: np.ndarray  # (C,) time constant of each of the two low-passes, seconds
    pause_ratio: float  # amplitude in pauses / in speech
    onset_gain: np.ndarray  # (C,) response to a loudness onset (per unit of level rise)
    pitch_gain: np.ndarray  # (C,) response to the pitch rising (per PITCH_SPREAD)
    response_tau_s: float  # how long an emphasis response lasts

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> "HeadParams":
        data = json.loads(Path(path).read_text())
        return cls(**{k: np.asarray(v, np.float64) if isinstance(v, list) else float(v)
                      for k, v in data["params"].items()})  # fmt: skip

    def as_json(self) -> dict:
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.__dict__.items()}


@functools.lru_cache(maxsize=1)
def fitted_params() -> HeadParams:
    return HeadParams.load()


@dataclass
class HeadFrame:
    """One frame of head motion: the head row (6,: roll, pitch, yaw deg, dx, dy px, scale − 1), brow
    raise (face heights, + up), gaze (2,: eye widths, + right / down) and blink (0 open .. 1 shut)."""

    head: np.ndarray
    brow: float
    gaze: np.ndarray
    blink: float


@dataclass
class HeadDrivers:
    """Whole-clip head motion, frame by frame (:class:`HeadFrame` stacked)."""

    head: np.ndarray  # (T, 6) float32
    brow: np.ndarray  # (T,) float32
    gaze: np.ndarray  # (T, 2) float32
    blink: np.ndarray  # (T,) float32


class HeadMotion:
    """The causal generator: ``step(loudness_db, pitch_hz)`` gives the next frame's :class:`HeadFrame`.

    ``loudness_db`` is the frame's RMS level in dBFS (:func:`speech_drivers`), ``pitch_hz`` its
    fundamental (0 = unvoiced). ``config.head_sway`` scales the head (not brows, gaze or blinks);
    the engine's w2 scales it again when it renders.
    """

    def __init__(self, fps: float, face_height: float, config: MotionConfig = MotionConfig(), seed: int = 0,
                 params: HeadParams | None = None) -> None:  # fmt: skip
        self.fps, self.face_height, self.config = float(fps), float(face_height), config
        self.params = p = params or fitted_params()
        self.rng = np.random.default_rng(seed)
        self.a = np.exp(-1.0 / (p.tau_s * self.fps))  # (C,) per-step pole of the low-passes
        # Unit stationary std of white noise through both poles: (1-a)^2 (1+a^2) / (1-a^2)^3.
        self.norm = 1.0 / np.sqrt((1 - self.a) ** 2 * (1 + self.a**2) / (1 - self.a**2) ** 3)
        self.u = np.zeros(len(CHANNELS))
        self.y = self.rng.standard_normal(len(CHANNELS)) / self.norm  # start mid-motion, not from rest
        self.response = np.zeros((2, len(CHANNELS)))  # emphasis responses: two poles, like the noise
        self.b = float(np.exp(-1.0 / (p.response_tau_s * self.fps)))
        self.peak_db = FIRST_PEAK_DB
        self.level = 0.0  # smoothed 0..1 loudness level (emphasis onsets)
        self.activity = 0.0  # slower: how much the speaker is speaking (the amplitude)
        self.log_pitch = None  # running mean of the voice's log-pitch
        self.next_blink = self.rng.uniform(0.6, 1.8) * self.fps
        self.blink_at = -len(BLINK_PROFILE)
        self.gaze_target = np.zeros(2)
        self.next_saccade = self.rng.uniform(*SACCADE_GAP_S) * self.fps
        self.t = 0

    def step(self, loudness_db: float, pitch_hz: float) -> HeadFrame:
        p, dt = self.params, 1.0 / self.fps
        # Loudness level against a running peak: causal, so a clip's loudest moment is never needed.
        db = float(loudness_db)
        self.peak_db = max(db, self.peak_db - PEAK_DECAY_DB_S * dt)
        level = float(np.clip((db - self.peak_db + LOUDNESS_RANGE_DB) / LOUDNESS_RANGE_DB, 0.0, 1.0))
        previous = self.level
        self.level += (level - self.level) * (1.0 - np.exp(-2.0 * dt / 0.08))  # ~2 frames
        self.activity += (level - self.activity) * (1.0 - np.exp(-dt / LEVEL_TAU_S))
        onset = max(self.level - previous, 0.0)
        rise = 0.0
        if pitch_hz > 0:
            lp = float(np.log(float(pitch_hz)))
            if self.log_pitch is None:
                self.log_pitch = lp
            rise = float(np.clip((lp - self.log_pitch) / PITCH_SPREAD, -3.0, 3.0))
            self.log_pitch += (lp - self.log_pitch) * (1.0 - np.exp(-dt / PITCH_TAU_S))
        drive = onset * p.onset_gain + rise * p.pitch_gain * (1.0 - self.b)
        self.response[0] = self.b * self.response[0] + drive
        self.response[1] = self.b * self.response[1] + (1.0 - self.b) * self.response[0]
        # Smooth random motion whose amplitude follows the speaking activity.
        self.u = self.a * self.u + self.rng.standard_normal(len(CHANNELS))
        self.y = self.a * self.y + (1 - self.a) * self.u
        gain = p.pause_ratio + (1.0 - p.pause_ratio) * min(self.activity / 0.5, 1.0)
        x = p.sigma * gain * self.y * self.norm + self.response[1]
        head = x[:HEAD_CHANNELS] * self.config.head_sway
        head[3:5] *= self.face_height  # dx, dy: face heights -> pixels
        return HeadFrame(head.astype(np.float32), float(x[BROW]), self._gaze(x[[GAZE_X, GAZE_Y]]), self._blink())

    def _gaze(self, drift: np.ndarray) -> np.ndarray:
        """Fixations with jumps between them (saccades over two frames), plus the fitted drift."""
        if self.t >= self.next_saccade:
            self.gaze_target = self.rng.standard_normal(2) * self.params.sigma[[GAZE_X, GAZE_Y]]
            lo, mean = SACCADE_GAP_S
            self.next_saccade = self.t + max(lo, self.rng.gamma(4.0, mean / 4.0)) * self.fps
        self.t += 1
        return (self.gaze_target + 0.5 * drift).astype(np.float32)

    def _blink(self) -> float:
        k = self.t - 1 - self.blink_at
        if self.t - 1 >= self.next_blink:
            self.blink_at, k = self.t - 1, 0
            self.next_blink += max(1.2, self.rng.gamma(4.0, self.config.blink_interval_s / 4.0)) * self.fps
        return float(BLINK_PROFILE[k]) if 0 <= k < len(BLINK_PROFILE) else 0.0

    def run(self, loudness_db: np.ndarray, pitch_hz: np.ndarray) -> HeadDrivers:
        """The chunk form: ``step`` over each frame of the arrays (same state, same result)."""
        frames = [self.step(l, f) for l, f in zip(np.asarray(loudness_db, float), np.asarray(pitch_hz, float))]
        if not frames:
            return HeadDrivers(np.zeros((0, 6), np.float32), np.zeros(0, np.float32), np.zeros((0, 2), np.float32),
                               np.zeros(0, np.float32))  # fmt: skip
        return HeadDrivers(np.stack([f.head for f in frames]), np.array([f.brow for f in frames], np.float32),
                           np.stack([f.gaze for f in frames]), np.array([f.blink for f in frames], np.float32))  # fmt: skip


def speech_drivers(audio: Audio, n_frames: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(loudness dBFS, pitch Hz) per frame: what :meth:`HeadMotion.step` reads. Each frame's values
    come from 60 ms of sound around it (the motion corpus's own measures, which the fit used)."""
    from ..training.motion_corpus import pitch_track
    from .acoustic import rms_envelope

    loudness = 20.0 * np.log10(np.maximum(rms_envelope(audio, fps, n_frames), 1e-5))
    return loudness.astype(np.float32), pitch_track(audio, n_frames, fps)


def head_drivers(audio: Audio, n_frames: int, fps: float, face_height: float, config: MotionConfig = MotionConfig(),
                 seed: int = 0) -> HeadDrivers:  # fmt: skip
    """The whole clip's head motion: a fresh :class:`HeadMotion` stepped over every frame."""
    loudness, pitch = speech_drivers(audio, n_frames, fps)
    return HeadMotion(fps, face_height, config, seed).run(loudness, pitch)
