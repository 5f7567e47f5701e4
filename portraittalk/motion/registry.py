"""The motion models, peers behind one contract, and the one place that chooses among them.

A motion model reads :class:`Speech` (the audio, its acoustic features, the face's rig) and returns
a :class:`MouthMotion`: per frame, the displacements of the 478 points in the reference's own
placement and the inner-lip opening. :func:`.offline.audio_to_motion` adds blinks and head sway to
whichever model's mouth and makes the MotionTrack. Adding a model: a module with its function and
one :class:`MotionModel` entry in ``MODELS`` (see docs/architecture.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..config import MotionConfig
from ..errors import InputError
from ..media.audio import Audio
from ..weights import Weights
from .acoustic import AcousticFeatures
from .drivers import acoustic_mouth, causal_fitted_mouth, fitted_mouth
from .geometry import FaceRig

AUTO = "auto"  # learned when its weights are present, else fitted
CAUSAL = "causal"  # the model live streaming runs (:mod:`.causal_mouth`: its lookahead bounds the delay)


@dataclass(frozen=True)
class Speech:
    """What every motion model reads."""

    audio: Audio  # 16 kHz
    features: AcousticFeatures  # one row per output frame
    rig: FaceRig  # the reference's rest landmarks and how its mouth moves
    fps: float
    config: MotionConfig
    seed: int
    weights: Optional[Weights]

    def __len__(self) -> int:
        return len(self.features.energy)


@dataclass(frozen=True)
class MouthMotion:
    """What every motion model returns."""

    displacement: np.ndarray  # (T, 478, 2) float32 output pixels, in the reference's placement
    opening: np.ndarray  # (T,) inner-lip gap, face heights (MotionTrack.mouth_open = opening / MAX_GAP)


@dataclass(frozen=True)
class MotionModel:
    """One registry entry: a model's name, what it is, the weights component it needs (None: ships
    with the package) and its function."""

    name: str
    summary: str
    needs: Optional[str]
    mouth: Callable[[Speech], MouthMotion]


def _rigged(speech: Speech, gap: np.ndarray, width: np.ndarray) -> MouthMotion:
    """A mouth given as an inner-lip gap and a width change, drawn by the face's rig."""
    return MouthMotion(speech.rig.mouth(gap, width), gap)


def _fitted(speech: Speech) -> MouthMotion:
    return _rigged(speech, *fitted_mouth(speech.audio, speech.features, speech.fps, speech.config))


def _causal(speech: Speech) -> MouthMotion:
    return _rigged(speech, *causal_fitted_mouth(speech.audio, speech.fps, speech.config))


def _acoustic(speech: Speech) -> MouthMotion:
    return _rigged(speech, *acoustic_mouth(speech.features, speech.fps, speech.config))


def _learned(speech: Speech) -> MouthMotion:
    """The VAE's offsets (face heights, per landmark), held at their last frame to the track's length."""
    from .vae import predict_motion

    rig = speech.rig
    offsets = predict_motion(speech.audio, rig.reference, fps=speech.fps, seed=speech.seed, weights=speech.weights)
    offsets = offsets[np.minimum(np.arange(len(speech)), len(offsets) - 1)]
    displacement = (offsets * rig.frame.scale).astype(np.float32)
    return MouthMotion(displacement, rig.opening(displacement))


MODELS = {m.name: m for m in (
    MotionModel("fitted", "the mouth model fitted on real talking clips (ships with the package; any language)",
                None, _fitted),
    MotionModel(CAUSAL, "the causal mouth model live streaming runs (0.12 s lookahead; ships with the package): "
                "stiller pauses and firmer m/b/p closures than fitted, lower lip-sync r on held-out real clips",
                None, _causal),
    MotionModel("acoustic", "the older loudness model", None, _acoustic),
    MotionModel("learned", "the audio-to-motion VAE (the audio2motion weights)", "audio2motion", _learned),
)}  # fmt: skip


def choose_model(name: str, weights: Optional[Weights]) -> MotionModel:
    """The model ``name`` asks for; ``"auto"``: learned when its weights are present, else fitted."""
    if name == AUTO:
        learned = MODELS["learned"]
        return learned if weights is not None and weights.present(learned.needs) else MODELS["fitted"]
    if name not in MODELS:
        raise InputError(f"unknown motion model '{name}' (choose {', '.join([AUTO, *MODELS])}).")
    return MODELS[name]
