"""Typed configuration: the one place where defaults live.

Every layer (pipeline, engines, CLI, app) takes these dataclasses instead of repeating defaults.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """What inputs we accept; larger inputs are refused with a clear error."""

    max_image_pixels: int = 40_000_000  # ~ a 7700x5200 photo; decompression bombs are far above
    max_audio_seconds: float = 900.0  # 15 min; the app lowers this
    min_audio_seconds: float = 0.04  # one video frame at 25 fps
    max_references: int = 8


@dataclass(frozen=True)
class Controls:
    """The paper's condition weights w1..w3 (Eq. 2), shared by both engines. 1.0 = as trained.

    w1: how strongly the audio-driven structure (landmarks) is followed.
    w2: how firmly the head stays at the reference placement.
    w3: temporal smoothness (how much frame t leans on frame t-1).
    """

    w1: float = 1.0
    w2: float = 1.0
    w3: float = 1.0

    def __post_init__(self) -> None:
        for name in ("w1", "w2", "w3"):
            value = getattr(self, name)
            if not 0.0 <= value <= 3.0:
                from .errors import InputError

                raise InputError(f"{name} must be between 0 and 3 (got {value}); 1.0 is the default.")


@dataclass(frozen=True)
class RenderConfig:
    """Output geometry and timing."""

    size: int = 512  # square crop around the face
    fps: float = 25.0
    full_frame: bool = False  # paste the animated face back into the whole photo
    crop_margin: float = 0.9  # extra space around the face box, relative to its size


@dataclass(frozen=True)
class MotionConfig:
    """Audio-to-motion behaviour (warp engine and diffusion engine share it)."""

    seed: int = 0
    mouth_gain: float = 1.0  # scales jaw/lip amplitude
    blink_interval_s: float = 3.5  # mean time between blinks
    head_motion: float = 1.0  # 0 = still head
    smoothing_s: float = 0.04  # base temporal smoothing; w3 scales it


@dataclass(frozen=True)
class DiffusionConfig:
    """Sampling settings for the diffusion engine."""

    steps: int = 25
    guidance_scale: float = 5.0
    scheduler: str = "dpm++"  # "ddim" | "dpm++"
    identity_scale: float = 0.6  # lambda of the decoupled cross-attention
    identity_mode: str = "concat"  # "concat" tokens of several references | "blend" embeddings
    dtype: str = "auto"  # "auto" (bf16 on CUDA, fp32 on CPU) | "fp32" | "fp16" | "bf16"
    cpu_offload: bool = False
    negative_prompt: str = "blurry, deformed, lowres, bad teeth, watermark"


@dataclass(frozen=True)
class GenerateConfig:
    """Everything one generation needs besides its inputs."""

    render: RenderConfig = field(default_factory=RenderConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    controls: Controls = field(default_factory=Controls)
    limits: Limits = field(default_factory=Limits)
