"""The one list of render engines: each engine's name, what it needs, whether it can run, what it
ignores, whether "auto" picks it, and how it is built. Everything else (the config's choices, the
CLI, the app, ``weights status``, the result's notes) reads this list.

To add an engine: a module with an :class:`~portraittalk.engines.base.Engine` subclass and one
:class:`EngineEntry` here (or :func:`register_engine` at run time). Nothing heavy is imported here:
each entry's ``status`` answers from the weights folder and ``build`` imports its engine.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from ..config import FLAT, GenerateRequest, RuntimeConfig
from ..errors import EngineUnavailableError, InputError
from ..weights import Weights

if TYPE_CHECKING:  # pragma: no cover
    from .base import Engine

AUTO = "auto"
Check = Callable[[Weights], "tuple[bool, str]"]


@dataclass(frozen=True)
class EngineEntry:
    """One engine as the rest of the package sees it.

    ``ignored_settings`` are the flat setting names the engine never reads (every other setting
    changes its video): the app's help lines and the result's notes say so. ``auto`` says whether
    "auto" may pick it here, and why (not); entries with a higher ``auto_rank`` are tried first, and
    an entry without ``auto`` is only used when asked for by name.
    """

    name: str
    summary: str  # what it does with a photo, for a help line: "it animates your photo as it is"
    needs: str  # what it needs to run, in words, for `weights status`: "nothing"
    status: Check  # (can it run with these weights, why (not))
    build: Callable[[Weights, RuntimeConfig], "Engine"]  # runtime (device, dtype, offload) is fixed for its life
    ignored_settings: tuple[str, ...] = ()
    auto: Optional[Callable[[Weights, RuntimeConfig], "tuple[bool, str]"]] = None
    auto_rank: int = 0
    auto_when: str = ""  # when "auto" picks it, in words, for the app's help: "on a GPU"


def _runs_anywhere(*_: object) -> tuple[bool, str]:
    return True, "runs on the CPU with no downloads"


def _build_warp(weights: Weights, runtime: RuntimeConfig) -> "Engine":
    from .warp import WarpEngine

    return WarpEngine()


def _diffusion_status(weights: Weights) -> tuple[bool, str]:
    from .diffusion import diffusion_status

    return diffusion_status(weights)


def _diffusion_auto(weights: Weights, runtime: RuntimeConfig) -> tuple[bool, str]:
    ok, why = _diffusion_status(weights)
    if not ok:
        return False, f"diffusion engine unavailable: {why}"
    from ..runtime import resolve_device

    if not resolve_device(runtime.device).startswith("cuda"):
        return False, ("diffusion weights are present but there is no CUDA GPU (it would take minutes per frame); "
                       "choose the diffusion engine to force it")  # fmt: skip
    return True, "diffusion weights are present and a CUDA GPU is available"


def _build_diffusion(weights: Weights, runtime: RuntimeConfig) -> "Engine":
    """The diffusion engine, starting each frame from the warp engine's frame of the same track."""
    from .diffusion import DiffusionEngine

    return DiffusionEngine.from_pretrained(weights, runtime, start_frames=entry("warp").build(weights, runtime))


ENGINES: list[EngineEntry] = [
    # The warp engine animates the photo itself: nothing of the diffusion sampler, the prompt or the
    # model loading reaches it (tests/app/test_engine_settings.py checks it on frames).
    EngineEntry("warp", "it animates your photo as it is", "nothing (CPU, no downloads)", _runs_anywhere,
                _build_warp, ignored_settings=("prompt", "negative_prompt") + tuple(
                    name for name, spec in FLAT.items() if spec.section in ("sampling", "runtime")),
                auto=_runs_anywhere),
    EngineEntry("diffusion", "it paints every frame with Stable Diffusion",
                "Stable Diffusion 1.5 and the PortraitTalk adapters (a CUDA GPU for usable speed)",
                _diffusion_status, _build_diffusion, auto=_diffusion_auto, auto_rank=1, auto_when="on a GPU"),
]  # fmt: skip


def register_engine(new: EngineEntry) -> None:
    """Add an engine (or replace the one of that name); the CLI, the app and the config see it."""
    ENGINES[:] = [e for e in ENGINES if e.name != new.name] + [new]


def engine_names() -> tuple[str, ...]:
    return tuple(e.name for e in ENGINES)


def engine_choices() -> tuple[str, ...]:
    """What a request's ``engine`` may be: "auto" and every engine's name (the config's choices)."""
    return (AUTO,) + engine_names()


def entry(name: str) -> EngineEntry:
    for e in ENGINES:
        if e.name == name:
            return e
    raise InputError(f"unknown engine '{name}'; choose one of {', '.join(engine_choices())}.")


def ignored_changes(engine: str, request: GenerateRequest) -> list[str]:
    """The settings of ``request`` that differ from their default but that ``engine`` ignores."""
    return [name for name in entry(engine).ignored_settings if FLAT[name].get(request) != FLAT[name].default]


def ignored_note(engine: str, request: GenerateRequest) -> Optional[str]:
    """One line for the result's notes when the user set something ``engine`` ignores, else None."""
    names = ignored_changes(engine, request)
    if not names:
        return None
    users = [e.name for e in ENGINES if e.name != engine and not set(names) & set(e.ignored_settings)]
    used_by = f" (only the {users[0]} engine uses {'it' if len(names) == 1 else 'them'})" if len(users) == 1 else ""
    return f"ignored by the {engine} engine: {', '.join(names)}{used_by}"


def auto_order() -> list[EngineEntry]:
    """The engines "auto" may pick, the one it tries first first."""
    return sorted((e for e in ENGINES if e.auto is not None), key=lambda e: -e.auto_rank)


def engine_reading(*settings: str) -> Optional[EngineEntry]:
    """The first engine that reads every one of ``settings`` (e.g. the one that follows a prompt)."""
    return next((e for e in ENGINES if not set(settings) & set(e.ignored_settings)), None)


def engine_status(weights: Weights) -> dict[str, tuple[bool, str]]:
    """``{name: (can run, why (not))}`` for every engine, in the registry's order."""
    return {e.name: e.status(weights) for e in ENGINES}


def choose_engine(requested: str, weights: Weights, runtime: RuntimeConfig) -> tuple[str, str]:
    """(engine, reason) for a request of "auto" or an engine's name. "auto" takes the highest-ranked
    engine whose ``auto`` check passes; the reason is why the ones above it were passed over."""
    if requested != AUTO:
        ok, why = entry(requested).status(weights)
        if not ok:
            raise EngineUnavailableError(f"the {requested} engine cannot run: {why}")
        return requested, "requested"
    passed_over = []
    for e in auto_order():
        ok, why = e.auto(weights, runtime)
        if ok:
            return e.name, "; ".join(passed_over) or why
        passed_over.append(why)
    raise EngineUnavailableError("no engine can run here: " + "; ".join(passed_over))


def build_engine(name: str, weights: Weights, runtime: RuntimeConfig) -> "Engine":
    """A ready engine. ``runtime`` (device, dtype, offload) is fixed for its life: a different one
    needs a new engine (:class:`~portraittalk.pipeline.PortraitTalk` keeps one per runtime)."""
    return entry(name).build(weights, runtime)
