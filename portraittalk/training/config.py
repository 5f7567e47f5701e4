"""Training settings: one typed home for every default, two presets and config files.

``paper`` is the paper's recipe (Sec. IV-B: AdamW, lr 5e-6, batch 32, 10 / 100 / 50 epochs for
IdentityNet / AnimateNet / jointly) on SD1.5 at 512 px; ``tiny`` is the same code path sized for
CI on a CPU (the tiny random models of ``portraittalk weights make-tiny``). A config file (JSON or
TOML) names a preset as ``base`` and overrides fields section by section::

    base = "paper"
    seed = 1
    [diffusion]
    micro_batch = 2
    [motion]
    window = 64
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Union

from ..config import RenderConfig, _Section, setting
from ..errors import InputError

DIFFUSION_STAGES = ("identity", "animate", "joint")
MOUTH_STAGES = ("mouth", "causal-mouth")  # the "fitted" (training.mouth) and "causal" (training.causal_mouth) mouths
STAGES = (*DIFFUSION_STAGES, "audio2motion", *MOUTH_STAGES)
STAGE_NUMBER = {"identity": 1, "animate": 2, "joint": 3}  # portraittalk.training.stages numbering


@dataclass(frozen=True)
class DiffusionTraining(_Section):
    """IdentityNet / AnimateNet stages (paper Sec. IV-B)."""

    resolution: int = setting(512, "training frame side in pixels (the base model's: 512 for SD1.5)",
                              minimum=64, maximum=1024, multiple_of=8)  # fmt: skip
    batch_size: int = setting(32, "global batch per optimiser step (paper: 32), reached by gradient accumulation",
                              minimum=1, maximum=4096)  # fmt: skip
    micro_batch: int = setting(4, "samples per device per forward pass", minimum=1, maximum=512)
    lr: float = setting(5e-6, "AdamW learning rate (paper: 5e-6)", minimum=0.0, maximum=1.0)
    weight_decay: float = setting(1e-2, "AdamW weight decay", minimum=0.0, maximum=1.0)
    warmup_steps: int = setting(0, "linear learning-rate warm-up, in optimiser steps", minimum=0)
    max_grad_norm: float = setting(1.0, "gradient clipping norm (0 = off)", minimum=0.0)
    mixed_precision: str = setting("bf16", "autocast precision on GPUs (the CPU always trains in fp32)",
                                   choices=("no", "bf16", "fp16"))  # fmt: skip
    gradient_checkpointing: bool = setting(True, "recompute activations in backward (less memory, ~25 % slower)")
    epochs_identity: int = setting(10, "stage 1 epochs (paper: 10)", minimum=1)
    epochs_animate: int = setting(100, "stage 2 epochs (paper: 100)", minimum=1)
    epochs_joint: int = setting(50, "stage 3 epochs (paper: 50)", minimum=1)
    joint_objective: str = setting("mask", "stage 3 loss: mask = Eq. (1) on corrupted frames, eps = Eq. (3)",
                                   choices=("mask", "eps"))  # fmt: skip
    drop_text: float = setting(0.05, "probability of training without the prompt (for CFG)", minimum=0.0, maximum=1.0)
    drop_face: float = setting(0.05, "probability of training with a zero face embedding", minimum=0.0, maximum=1.0)
    drop_both: float = setting(0.05, "probability of dropping prompt and face together", minimum=0.0, maximum=1.0)
    mask_regions: int = setting(4, "Eq. (1): noise rectangles per frame", minimum=1, maximum=32)
    mask_max_fraction: float = setting(0.4, "Eq. (1): largest rectangle side, as a fraction of the frame side",
                                       minimum=0.01, maximum=1.0)  # fmt: skip
    adapters: str = setting("sd15", "architecture of fresh adapters when the base weights have none",
                            choices=("sd15", "tiny"))  # fmt: skip

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.drop_text + self.drop_face + self.drop_both > 1.0:
            raise InputError("drop_text + drop_face + drop_both must be at most 1.")

    def epochs(self, stage: str) -> int:
        return int(getattr(self, f"epochs_{stage}"))

    def objective(self, stage: str) -> str:
        """'mask' (Eq. 1) or 'eps' (Eq. 3): IdentityNet trains on masked frames, AnimateNet on clean ones."""
        return {"identity": "mask", "animate": "eps", "joint": self.joint_objective}[stage]


@dataclass(frozen=True)
class MotionTraining(_Section):
    """The audio-to-motion VAE (GeneFace++'s losses: annealed KL, landmark MSE, smoothness)."""

    architecture: str = setting("default", "Audio2MotionConfig size when starting fresh", choices=("default", "tiny"))
    features: str = setting("auto", "speech features: auto = HuBERT when the data has them, else log-mel",
                            choices=("auto", "mel", "hubert"))  # fmt: skip
    window: int = setting(64, "frames per training window (25 fps)", minimum=8, maximum=4096, multiple_of=4)
    window_stride: int = setting(16, "frames between window starts", minimum=1)
    batch_size: int = setting(32, "windows per optimiser step", minimum=1, maximum=4096)
    micro_batch: int = setting(32, "windows per device per forward pass", minimum=1, maximum=4096)
    lr: float = setting(2e-4, "AdamW learning rate", minimum=0.0, maximum=1.0)
    weight_decay: float = setting(1e-2, "AdamW weight decay", minimum=0.0, maximum=1.0)
    warmup_steps: int = setting(0, "linear learning-rate warm-up, in optimiser steps", minimum=0)
    max_grad_norm: float = setting(1.0, "gradient clipping norm (0 = off)", minimum=0.0)
    epochs: int = setting(200, "passes over the windows", minimum=1)
    kl_max: float = setting(0.02, "final KL weight (GeneFace++: 0.02)", minimum=0.0)
    kl_anneal_steps: int = setting(2000, "steps over which the KL weight rises linearly from 0", minimum=0)
    lip_weight: float = setting(1.0, "extra landmark-loss weight on the lips (they carry the speech)", minimum=0.0)
    smooth_weight: float = setting(0.1, "weight of the second-difference (jitter) penalty", minimum=0.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.window % 4:
            raise InputError("motion.window must be a multiple of 4 (the VAE's latent stride).")


@dataclass(frozen=True)
class TrainConfig(_Section):
    """Everything one ``portraittalk train`` run uses besides its data and weights."""

    name: str = setting("paper", "preset this configuration started from")
    seed: int = setting(0, "seed of every random draw (noise, masks, dropout, order)", minimum=0, maximum=2**31 - 1)
    checkpoint_every: int = setting(500, "optimiser steps between checkpoints (and weight exports)", minimum=1)
    checkpoints_kept: int = setting(3, "newest checkpoints kept in RUN/checkpoints", minimum=1)
    log_every: int = setting(10, "optimiser steps between rows of RUN/logs/curves.csv", minimum=1)
    num_workers: int = setting(4, "data-loading worker processes per device (0 = in the main process)", minimum=0)
    diffusion: DiffusionTraining = field(default_factory=DiffusionTraining)
    motion: MotionTraining = field(default_factory=MotionTraining)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SECTIONS = {"diffusion": DiffusionTraining, "motion": MotionTraining}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "tiny": {
        "checkpoint_every": 50, "log_every": 1, "num_workers": 0,
        "diffusion": {"resolution": 64, "batch_size": 4, "micro_batch": 2, "lr": 1e-3, "mixed_precision": "no",
                      "epochs_identity": 1, "epochs_animate": 1, "epochs_joint": 1, "adapters": "tiny"},
        "motion": {"architecture": "tiny", "window": 16, "window_stride": 4, "batch_size": 16, "micro_batch": 16,
                   "lr": 1e-3, "epochs": 20, "kl_anneal_steps": 100},
    },
}  # fmt: skip


def _build(values: Mapping[str, Any], origin: str) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"{origin}: unknown training setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
    kwargs = dict(values)
    for name, kind in SECTIONS.items():
        section = kwargs.get(name, {})
        if not isinstance(section, Mapping):
            raise InputError(f"{origin}: '{name}' must be a table of settings.")
        allowed = {f.name for f in fields(kind)}
        bad = sorted(set(section) - allowed)
        if bad:
            raise InputError(f"{origin}: unknown {name} setting(s) {', '.join(bad)}; known: {', '.join(sorted(allowed))}.")
        kwargs[name] = kind(**section)
    return TrainConfig(**kwargs)


def _merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, Mapping) else value
    return out


def preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise InputError(f"unknown training config '{name}'; presets: {', '.join(PRESETS)} (or a .json/.toml file).")
    return _build({"name": name, **PRESETS[name]}, f"preset '{name}'")


def load_config(spec: Union[str, Path, None]) -> TrainConfig:
    """A preset name ("paper", "tiny") or a JSON/TOML file that overrides one (its ``base``, default "paper")."""
    if spec is None:
        return preset("paper")
    text = str(spec)
    if text in PRESETS:
        return preset(text)
    path = Path(text)
    if not path.is_file():
        raise InputError(f"training config '{text}' is neither a preset ({', '.join(PRESETS)}) nor a file.")
    try:
        if path.suffix.lower() == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                raise InputError(f"TOML configs need Python 3.11 or newer; write '{path.name}' as JSON.") from None
            values = tomllib.loads(path.read_text())
        else:
            values = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"training config '{path.name}' cannot be parsed ({exc}).") from None
    if not isinstance(values, Mapping):
        raise InputError(f"training config '{path.name}' must hold a table of settings.")
    values = dict(values)
    base = str(values.pop("base", "paper"))
    if base not in PRESETS:
        raise InputError(f"{path.name}: base must be one of {', '.join(PRESETS)} (got {base!r}).")
    return _build(_merge({"name": base, **PRESETS[base]}, values), f"'{path.name}'")


def from_dict(values: Mapping[str, Any]) -> TrainConfig:
    """Rebuild a saved configuration (``TrainConfig.to_dict()``), e.g. from a run's training.json."""
    return _build(values, "saved training config")


@dataclass(frozen=True)
class PreprocessSettings(_Section):
    """How ``portraittalk preprocess`` turns videos into clips; a data folder keeps one set of these."""

    size: int = setting(512, "side of the square face crop in pixels", minimum=64, maximum=2048, multiple_of=8)
    margin: float = setting(RenderConfig.crop_margin, "space around the face in the crop, as at generation (render.crop_margin)",
                            minimum=0.2, maximum=3.0)  # fmt: skip
    reference_frames: int = setting(4, "frames whose face embeddings are stored as the clip's references",
                                    minimum=1, maximum=64)  # fmt: skip
    min_face_fraction: float = setting(0.5, "a video with a face in fewer of its frames is skipped",
                                       minimum=0.0, maximum=1.0)  # fmt: skip
    max_gap: int = setting(5, "gaps of at most this many frames without a face are interpolated", minimum=0)
    max_seconds: float = setting(3600.0, "longer videos are skipped", minimum=1.0)
