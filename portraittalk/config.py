"""Typed configuration: the one place where defaults, bounds and help texts live.

A generation is described by one frozen :class:`GenerateRequest` (nested typed sections). Each
field is declared with :func:`setting`, which records its help text and its bounds; the sections
validate themselves from that record in ``__post_init__``, the CLI builds its flags from it and the
app its widgets, so a default or a bound is written exactly once (here).

Every field also has a *flat name* (its own name; unique across the sections): ``size``, ``w1``,
``steps``... :meth:`GenerateRequest.from_flat` and :meth:`GenerateRequest.updated` take those.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any, Iterator, Mapping, Optional, Sequence

DEFAULT_NEGATIVE_PROMPT = "blurry, deformed, lowres, bad teeth, watermark"


def setting(default: Any, help: str, *, minimum: Optional[float] = None, maximum: Optional[float] = None,
            choices: Optional[Sequence[str]] = None, multiple_of: Optional[int] = None,
            aliases: Sequence[str] = ()) -> Any:  # fmt: skip
    """A dataclass field with its help text and bounds (``aliases``: extra CLI flag names)."""
    choices = tuple(choices) if choices else None
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices,
            "multiple_of": multiple_of, "aliases": tuple(aliases)}  # fmt: skip
    return field(default=default, metadata=meta)


def _validate(section: Any) -> None:
    """Coerce each field to its declared type and check its bounds; one user-facing error."""
    from .errors import InputError

    for f in fields(section):
        if not f.metadata:
            continue
        name, value, meta, kind = f.name, getattr(section, f.name), f.metadata, type(f.default)
        if kind is bool:
            if not isinstance(value, (bool, int)) or value not in (0, 1):
                raise InputError(f"{name} must be true or false (got {value!r}).")
            value = bool(value)
        elif kind in (int, float):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InputError(f"{name} must be a number (got {value!r}).") from None
            if number != number:  # NaN
                raise InputError(f"{name} must be a number (got {value!r}).")
            if kind is int:
                if number != int(number):
                    raise InputError(f"{name} must be a whole number (got {value!r}).")
                number = int(number)
            value = number
            lo, hi = meta["minimum"], meta["maximum"]
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                bounds = f"between {lo:g} and {hi:g}" if lo is not None and hi is not None else (
                    f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
                raise InputError(f"{name} must be {bounds} (got {value:g}); {f.default!r} is the default.")
            if meta["multiple_of"] and value % meta["multiple_of"]:
                raise InputError(f"{name} must be a multiple of {meta['multiple_of']} (got {value:g}); "
                                 f"{f.default!r} is the default.")  # fmt: skip
        elif kind is str:
            if not isinstance(value, str):
                raise InputError(f"{name} must be text (got {value!r}).")
            if meta["choices"] and value not in meta["choices"]:
                raise InputError(f"{name} must be one of {', '.join(meta['choices'])} (got {value!r}).")
        object.__setattr__(section, name, value)


class _Section:
    """Validation on construction, for every config dataclass below."""

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class Limits:
    """What inputs the package accepts; other inputs are refused with a clear error. Not part of a
    request: a server (the app) sets its own, stricter ones.

    ``min_audio_seconds``, 0.5 s: a short word ("yes", "no") with the mouth opening and closing around
    it lasts about that long; a shorter recording holds a syllable at most (usually a truncated upload
    or a tap on the microphone button), and its video (under 13 frames at 25 fps) ends before a viewer
    sees the lips move.
    """

    max_image_pixels: int = 40_000_000  # ~ a 7700x5200 photo; decompression bombs are far above
    max_audio_seconds: float = 900.0  # 15 min; the app lowers this
    min_audio_seconds: float = 0.5  # the shortest speech a user may give (see above)
    max_references: int = 8


def reference_count_problem(count: int, most: int) -> Optional[str]:
    """What is wrong with ``count`` reference portraits when at most ``most`` are taken (None: nothing);
    one wording for the API, the app and batch jobs."""
    if count == 0:
        return "add at least one reference portrait (JPEG, PNG, WebP or BMP)."
    if count > most:
        return f"{count} reference images given; at most {most} are taken. Remove some and try again."
    return None


@dataclass(frozen=True)
class Controls(_Section):
    """The paper's condition weights w1..w3 (Eq. 2). 1.0 = the default (as trained).

    They are applied by the engine when it renders, never baked into the MotionTrack, so one
    saved track re-renders with any controls. What each engine does with them:

    ====  ==================================================  ==============================
          warp engine                                         diffusion engine
    ====  ==================================================  ==============================
    w1    scales the expression (mouth, jaw) displacements    structure attention scale
    w2    head sway × clip(2 − w2, 0, 2) (2 or more = still)  identity/placement attn. scale
    w3    expression smoothing σ = ``smoothing_s`` × w3       temporal attention scale
    ====  ==================================================  ==============================
    """

    w1: float = setting(1.0, "structure: how strongly the face follows the speech (warp: mouth motion x w1; "
                        "0 = the photo's mouth)", minimum=0.0, maximum=3.0)  # fmt: skip
    w2: float = setting(1.0, "head placement: how firmly the head stays where the photo has it (warp: head "
                        "sway x clip(2 - w2, 0, 2))", minimum=0.0, maximum=3.0)  # fmt: skip
    w3: float = setting(1.0, "temporal: smoothness from frame to frame (warp: mouth smoothing x w3)",
                        minimum=0.0, maximum=3.0)  # fmt: skip


@dataclass(frozen=True)
class RenderConfig(_Section):
    """Output geometry and timing."""

    size: int = setting(512, "output side in pixels (a square crop around the face)", minimum=64, maximum=2048,
                        multiple_of=8)  # fmt: skip
    fps: float = setting(25.0, "frames per second", minimum=1.0, maximum=60.0)
    full_frame: bool = setting(False, "paste the animated face back into the whole photo")
    crop_margin: float = setting(0.9, "space around the face in the crop, relative to the face's size",
                                 minimum=0.2, maximum=3.0)  # fmt: skip
    smoothing_s: float = setting(0.04, "expression smoothing (Gaussian sigma, seconds) at w3 = 1",
                                 minimum=0.0, maximum=0.5)  # fmt: skip


@dataclass(frozen=True)
class MotionConfig(_Section):
    """Speech -> motion (the MotionTrack). Nothing here depends on the engine or the controls."""

    motion_model: str = setting("auto", "audio-to-motion model: fitted (the mouth model fitted on real talking "
                                "clips that ships with the package; offline, any language), causal (the one live "
                                "streaming runs: 0.12 s lookahead, stiller pauses, lower lip-sync r), acoustic (the "
                                "older loudness model), learned (the audio2motion weights), auto = learned when its "
                                "weights are present, else fitted",
                                choices=("auto", "fitted", "causal", "acoustic", "learned"))  # fmt: skip
    mouth_gain: float = setting(1.0, "jaw and lip amplitude of the fitted and acoustic models", minimum=0.0,
                                maximum=3.0)  # fmt: skip
    blink_interval_s: float = setting(3.5, "mean time between blinks (seconds)", minimum=0.5, maximum=60.0)
    head_sway: float = setting(1.0, "amplitude of the idle head sway (0 = still)", minimum=0.0, maximum=3.0)


@dataclass(frozen=True)
class SamplingConfig(_Section):
    """Per-call sampling settings of the diffusion engine (changing them reloads nothing)."""

    steps: int = setting(25, "diffusion steps per frame", minimum=1, maximum=200)
    guidance_scale: float = setting(5.0, "classifier-free guidance scale (1 = no guidance)", minimum=1.0,
                                    maximum=30.0, aliases=("--guidance",))  # fmt: skip
    scheduler: str = setting("dpm++", "sampler", choices=("dpm++", "ddim"))
    identity_scale: float = setting(0.6, "lambda of the decoupled face cross-attention", minimum=0.0, maximum=3.0)
    identity_mode: str = setting("concat", "several references: concatenate their face tokens, or blend their "
                                 "embeddings", choices=("concat", "blend"))  # fmt: skip
    conditioning_scale: float = setting(1.0, "AnimateNet's (the landmark ControlNet's) strength, x the scale recorded "
                                        "with the weights (0 = off)", minimum=0.0, maximum=3.0)  # fmt: skip
    denoise_strength: float = setting(0.6, "how much of each frame diffusion redraws over the warp engine's frame "
                                      "(the mouth gets more); 1 = no warp frame, each frame from noise", minimum=0.0,
                                      maximum=1.0)  # fmt: skip


@dataclass(frozen=True)
class RuntimeConfig(_Section):
    """Where and how models are loaded. Changing one of these rebuilds the engine that uses them."""

    device: str = setting("auto", "where models run: auto (a CUDA GPU when there is one), cpu, cuda, cuda:N")
    dtype: str = setting("auto", "diffusion precision: auto = bf16 on CUDA, fp32 on the CPU",
                         choices=("auto", "fp32", "fp16", "bf16"))  # fmt: skip
    cpu_offload: bool = setting(False, "keep diffusion models on the CPU until each is needed (less GPU memory)")

    def __post_init__(self) -> None:
        from .errors import InputError

        super().__post_init__()
        head, _, index = self.device.partition(":")
        if head not in ("auto", "cpu", "cuda") or (index and (head != "cuda" or not index.isdigit())):
            raise InputError(f"device must be auto, cpu, cuda or cuda:N (got {self.device!r}).")


SECTIONS = {"controls": Controls, "render": RenderConfig, "motion": MotionConfig, "sampling": SamplingConfig,
            "runtime": RuntimeConfig}  # fmt: skip


@dataclass(frozen=True)
class GenerateRequest(_Section):
    """Everything one generation needs besides its inputs (references, audio). ``asdict`` of it is
    ``result.settings``."""

    prompt: str = setting("", "appearance edit, e.g. 'with grey hair, in a library' (diffusion engine)")
    negative_prompt: str = setting(DEFAULT_NEGATIVE_PROMPT, "what to steer away from (diffusion engine)")
    seed: int = setting(0, "random seed (motion and sampling); the same seed gives the same video",
                        minimum=0, maximum=2**32 - 1)  # fmt: skip
    # Which names exist is the engine registry's to say (engines/registry.py checks them where a
    # request meets an engine): this module sits below every engine and imports none.
    engine: str = setting("auto", "render engine: auto = diffusion when its weights and a GPU are there, else warp")
    face_index: int = setting(0, "which face when a photo shows several (0 = the largest)", minimum=0, maximum=63)
    controls: Controls = field(default_factory=Controls)
    render: RenderConfig = field(default_factory=RenderConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, kind in SECTIONS.items():
            value = getattr(self, name)
            if isinstance(value, Mapping):  # e.g. a saved settings dict
                object.__setattr__(self, name, kind(**value))
            elif not isinstance(value, kind):
                from .errors import InputError

                raise InputError(f"{name} must be a {kind.__name__} (got {type(value).__name__}).")

    @classmethod
    def from_flat(cls, values: Mapping[str, Any]) -> "GenerateRequest":
        """Build from flat names (``{"size": 256, "w1": 0.5}``); missing ones keep their default."""
        return cls().updated(**values)

    def updated(self, **values: Any) -> "GenerateRequest":
        """A copy with some fields changed, by flat name; ``None`` values are ignored."""
        from .errors import InputError

        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            if value is None:
                continue
            if name not in FLAT:
                raise InputError(f"unknown setting '{name}'; known: {', '.join(FLAT)}.")
            section = FLAT[name].section
            if section is None:
                top[name] = value
            else:
                nested.setdefault(section, {})[name] = value
        for section, changes in nested.items():
            top[section] = dataclasses.replace(getattr(self, section), **changes)
        return dataclasses.replace(self, **top) if top else self

    def flat(self) -> dict[str, Any]:
        """Every setting by flat name."""
        return {name: spec.get(self) for name, spec in FLAT.items()}


@dataclass(frozen=True)
class FlatSetting:
    """One field of a request under its flat name: where it lives and what it accepts."""

    name: str
    section: Optional[str]  # None: a top-level field of GenerateRequest
    default: Any
    help: str
    minimum: Optional[float]
    maximum: Optional[float]
    choices: Optional[Sequence[str]]
    multiple_of: Optional[int]
    aliases: tuple[str, ...]

    @property
    def type(self) -> type:
        return type(self.default)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def get(self, request: GenerateRequest) -> Any:
        owner = request if self.section is None else getattr(request, self.section)
        return getattr(owner, self.name)


def _flat_settings() -> Iterator[FlatSetting]:
    def specs(cls: type, section: Optional[str]) -> Iterator[FlatSetting]:
        for f in fields(cls):
            if f.metadata:
                m = f.metadata
                yield FlatSetting(f.name, section, f.default, m["help"], m["minimum"], m["maximum"], m["choices"],
                                  m["multiple_of"], m["aliases"])  # fmt: skip

    yield from specs(GenerateRequest, None)
    for name, cls in SECTIONS.items():
        yield from specs(cls, name)


FLAT: dict[str, FlatSetting] = {s.name: s for s in _flat_settings()}
if len(FLAT) != sum(1 for _ in _flat_settings()):
    raise RuntimeError("flat setting names must be unique across GenerateRequest's sections")
