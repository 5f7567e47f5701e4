"""From acoustic features to the per-frame drivers of the mouth: jaw and lips (head, brows, eyes: :mod:`.head`)."""
from __future__ import annotations

import numpy as np

from ..config import MotionConfig
from ..media.audio import Audio
from .acoustic import AcousticFeatures, frame_count
from .causal_mouth import LOOKAHEAD_FRAMES, MODEL_FPS, PAUSE_REFERENCE_S, at_fps, causal_mouth_model
from .controls import smooth
from .geometry import MAX_GAP
from .features import SAMPLE_RATE
from .mouth_model import mouth_model


def acoustic_mouth(feat: AcousticFeatures, fps: float, cfg: MotionConfig) -> tuple[np.ndarray, np.ndarray]:
    """The loudness model: (inner-lip gap in face heights, relative width change) per frame.

    Opening follows loudness; nasal murmur and stop closures shut the lips; the spectral balance
    spreads or rounds them. Not smoothed here: the engine smooths the expression when it renders (w3).
    """
    # Quiet sound (breath, the tail of a word) keeps the lips shut: open from 10 % loudness up.
    opening = np.clip((feat.loudness - 0.1) / 0.9, 0.0, None) * bilabial_closure(feat, fps)
    opening = np.clip(opening * cfg.mouth_gain, 0.0, 1.2)
    spread = smooth(feat.front.astype(np.float32), 1.0) * np.clip(opening * 2.0, 0.0, 1.0)
    return (opening * MAX_GAP).astype(np.float32), (0.12 * spread).astype(np.float32)


def fitted_mouth(audio: Audio, feat: AcousticFeatures, fps: float, cfg: MotionConfig) -> tuple[np.ndarray, np.ndarray]:
    """The fitted model (:mod:`.mouth_model`): (inner-lip gap in face heights, relative width change).

    Its standard scores become a real speaker's opening and width; the acoustic closure cues still
    shut the lips for m/b/p, and pauses rest with the lips together.
    """
    model = mouth_model()
    n = len(feat.energy)
    z_open, z_width = model.predict(audio.resampled(SAMPLE_RATE).samples, n, fps)
    gap = np.clip(model.opening_mean + model.opening_std * z_open, 0.0, None)
    gap = gap * bilabial_closure(feat, fps) * pause_gate(feat.loudness, fps)
    return drawn_mouth(gap, z_width, model.width_std, cfg)


def drawn_mouth(gap: np.ndarray, z_width: np.ndarray, width_std: float,
                cfg: MotionConfig) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """A mouth model's opening (face heights) and width (standard scores) as drawn: the gain applied, the
    opening at most 1.5 x MAX_GAP, the width change within +-0.2 and only as the lips part. One rule for
    the fitted and causal models, offline and live."""
    gap = np.clip(gap * cfg.mouth_gain, 0.0, 1.5 * MAX_GAP)
    width = np.clip(width_std * z_width * cfg.mouth_gain, -0.2, 0.2) * np.clip(gap / (0.3 * MAX_GAP), 0.0, 1.0)
    return gap.astype(np.float32), width.astype(np.float32)


def causal_fitted_mouth(audio: Audio, fps: float, cfg: MotionConfig) -> tuple[np.ndarray, np.ndarray]:
    """The causal model (:mod:`.causal_mouth`, the one live streaming runs): (inner-lip gap in face
    heights, relative width change).

    Its standard scores become a real speaker's opening and width; in pauses the lips rest where
    real speakers rest theirs (:func:`pause_rest`). Causal like the model: a frame reads at most
    ``causal_mouth.LOOKAHEAD_S`` of sound past its start and ``CONTEXT_S`` before it.
    """
    model = causal_mouth_model()
    z_open, z_width, loudness_db = model.predict_native(audio.resampled(SAMPLE_RATE).samples)
    rest = pause_rest(loudness_db)
    gap = np.clip(model.opening_mean + model.opening_std * z_open, 0.0, None) * (1.0 - rest) + model.rest_opening * rest
    z_width = z_width * (1.0 - rest)
    n = frame_count(audio.duration, fps)
    gap, z_width = at_fps(gap, n, fps), at_fps(z_width, n, fps)
    return drawn_mouth(gap, z_width, model.width_std, cfg)


PAUSE_BELOW_DB = 30.0  # a frame this far under the loudest of the last PAUSE_REFERENCE_S is quiet
SILENCE_DB = -15.0  # quieter than this (white noise at about -57 dBFS) is quiet whatever came before
PAUSE_AFTER_FRAMES = 4  # quiet frames (at 25 fps) before the lips settle: a stop's closure is shorter
PAUSE_EASE = np.array([0.4, 0.3, 0.2, 0.1])  # the settling and parting spread over 4 frames (causal)


def pause_rest(loudness_db: np.ndarray) -> np.ndarray:
    """(T,) per 25 fps frame: 1 in a pause (this frame, the ``PAUSE_AFTER_FRAMES`` before it and the
    lookahead after it all quiet), 0 in speech, eased over a few frames so the lips neither snap nor
    chatter. Causal: reads the loudness up to LOOKAHEAD_FRAMES ahead and PAUSE_REFERENCE_S back."""
    n = len(loudness_db)
    ref_frames = int(round(PAUSE_REFERENCE_S * MODEL_FPS))
    # The loudest of the past only: a frame's quiet is read LOOKAHEAD_FRAMES ahead below, and a louder frame
    # after it must not count, or the gate would hear 2 * LOOKAHEAD_FRAMES ahead (more than a live stream has).
    padded = np.concatenate([np.full(ref_frames, -np.inf), loudness_db])
    windows = np.lib.stride_tricks.sliding_window_view(padded, ref_frames + 1)
    quiet = (loudness_db < windows.max(axis=1) - PAUSE_BELOW_DB) | (loudness_db < SILENCE_DB)
    quiet = np.append(quiet, np.ones(LOOKAHEAD_FRAMES, bool))
    need = PAUSE_AFTER_FRAMES + 1 + LOOKAHEAD_FRAMES
    # Before the clip: quiet (a clip that starts silent rests from its first frame).
    run = np.convolve(np.concatenate([np.ones(PAUSE_AFTER_FRAMES), quiet]).astype(float), np.ones(need), "valid")
    pause = (run[:n] >= need - 0.5).astype(np.float64)
    eased = np.convolve(np.concatenate([np.full(len(PAUSE_EASE) - 1, pause[:1].sum()), pause]), PAUSE_EASE, "valid")
    return eased.astype(np.float32)


def bilabial_closure(feat: AcousticFeatures, fps: float) -> np.ndarray:
    """(T,) 1 = lips free, down to ~0.15: a nasal murmur (/m/) or a stop closure (/b/, /p/: a sharp
    dip between louder frames) presses them together."""
    closed = 1.0 - 0.85 * feat.nasal
    local_max = _running_max(feat.loudness, max(3, int(round(fps * 0.12))) | 1)
    stop = (feat.loudness < 0.3 * local_max) & (local_max > 0.25)
    return np.where(stop, 0.2 * closed, closed).astype(np.float32)


def _running_max(x: np.ndarray, size: int) -> np.ndarray:
    """Maximum over a centred window of odd ``size`` (edges mirrored)."""
    half = size // 2
    padded = np.pad(x, half, mode="symmetric")
    return np.lib.stride_tricks.sliding_window_view(padded, size).max(axis=1)


def pause_gate(loudness: np.ndarray, fps: float, min_pause_s: float = 0.3) -> np.ndarray:
    """(T,) 0 inside pauses (near-silence lasting at least ``min_pause_s``), 1 in speech, with a
    short ramp so the lips close and part smoothly. A viewer expects the lips together when the
    speaker pauses; real speakers part them nearly as much in pauses as in speech (fit clips,
    MediaPipe: median gap 0.044 in 0.3-0.5 s pauses, 0.054 in speech), so this costs correlation
    with real mouths (fit clips, out of fold: r 0.19 with it, 0.28 closing only from 0.5 s)."""
    quiet = loudness < 0.05
    gate = np.ones(len(loudness), np.float32)
    start = None
    for t, q in enumerate(np.append(quiet, False)):
        if q and start is None:
            start = t
        elif not q and start is not None:
            if t - start >= min_pause_s * fps:
                gate[start:t] = 0.0
            start = None
    return smooth(gate, 0.06 * fps)
