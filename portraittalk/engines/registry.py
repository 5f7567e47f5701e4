"""The one list of render engines: whether each can run, which one "auto" picks, and how to build it.

Nothing heavy is imported here: the diffusion engine's status is answered from the weights folder
and torch is only imported to look for a GPU when the diffusion weights are present.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..config import ENGINE_CHOICES, FLAT, GenerateRequest, RuntimeConfig
from ..errors import EngineUnavailableError, InputError
from ..weights import Weights

if TYPE_CHECKING:  # pragma: no cover
    from .base import Engine

ENGINES = tuple(name for name in ENGINE_CHOICES if name != "auto")  # ("warp", "diffusion")

# The settings (flat names) each engine never reads; every other setting changes its video. The warp
# engine animates the photo itself: nothing of the diffusion sampler, the prompt or the model loading
# reaches it. The app and the result's notes say so (tests/app/test_engine_settings.py checks it).
IGNORED_SETTINGS: dict[str, tuple[str, ...]] = {
    "warp": ("prompt", "negative_prompt") + tuple(name for name, spec in FLAT.items()
                                                  if spec.section in ("sampling", "runtime")),
    "diffusion": (),
}


def ignored_changes(engine: str, request: GenerateRequest) -> list[str]:
    """The settings of ``request`` that differ from their default but that ``engine`` ignores."""
    return [name for name in IGNORED_SETTINGS[engine] if FLAT[name].get(request) != FLAT[name].default]


def ignored_note(engine: str, request: GenerateRequest) -> Optional[str]:
    """One line for the result's notes when the user set something ``engine`` ignores, else None."""
    names = ignored_changes(engine, request)
    if not names:
        return None
    users = [e for e in ENGINES if e != engine and not set(names) & set(IGNORED_SETTINGS[e])]
    used_by = f" (only the {users[0]} engine uses {'it' if len(names) == 1 else 'them'})" if len(users) == 1 else ""
    return f"ignored by the {engine} engine: {', '.join(names)}{used_by}"


def engine_status(weights: Weights) -> dict[str, tuple[bool, str]]:
    """``{"warp": (True, why), "diffusion": (ok, why)}``: which engines can run with these weights."""
    from .diffusion.status import diffusion_status

    return {"warp": (True, "runs on the CPU with no downloads"), "diffusion": diffusion_status(weights)}


def choose_engine(requested: str, weights: Weights, runtime: RuntimeConfig) -> tuple[str, str]:
    """(engine, reason) for a request of "auto", "warp" or "diffusion"."""
    if requested not in ENGINE_CHOICES:
        raise InputError(f"unknown engine '{requested}'; choose one of {', '.join(ENGINE_CHOICES)}.")
    if requested == "warp":
        return "warp", "requested"
    ok, why = engine_status(weights)["diffusion"]
    if requested == "diffusion":
        if not ok:
            raise EngineUnavailableError(f"the diffusion engine cannot run: {why}")
        return "diffusion", "requested"
    if not ok:
        return "warp", f"diffusion engine unavailable: {why}"
    from ..runtime import resolve_device

    if not resolve_device(runtime.device).startswith("cuda"):
        return "warp", ("diffusion weights are present but there is no CUDA GPU (it would take minutes per "
                        "frame); choose the diffusion engine to force it")  # fmt: skip
    return "diffusion", "diffusion weights are present and a CUDA GPU is available"


def build_engine(name: str, weights: Weights, runtime: RuntimeConfig) -> "Engine":
    """A ready engine. ``runtime`` (device, dtype, offload) is fixed for its life: a different one
    needs a new engine (:class:`~portraittalk.pipeline.PortraitTalk` keeps one per runtime)."""
    if name == "warp":
        from .warp import WarpEngine

        return WarpEngine()
    if name == "diffusion":
        from .diffusion import DiffusionEngine

        return DiffusionEngine.from_pretrained(weights, runtime)
    raise InputError(f"unknown engine '{name}'; choose one of {', '.join(ENGINES)}.")
