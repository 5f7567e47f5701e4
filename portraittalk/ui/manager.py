"""One model manager per process: loads PortraitTalk the first time it is needed and keeps it."""
from __future__ import annotations

import functools
import threading
from typing import Any, Optional

from ..config import RuntimeConfig
from ..engines.registry import auto_order, choose_engine, engine_reading, engine_status
from ..errors import EngineUnavailableError
from ..weights import COMPONENTS, Weights
from .public import public_text


class ModelManager:
    """Lazily built :class:`~portraittalk.PortraitTalk`, shared by every session.

    Why: loading an engine costs seconds (minutes for diffusion); the app must start instantly
    and pay that once. ``run_lock`` serialises generations even when a cancelled job's thread
    is still unwinding after Gradio has freed its queue slot. The weights folder is resolved once,
    here (the app's edge).
    """

    def __init__(self, weights: Optional[Weights] = None, runtime: RuntimeConfig = RuntimeConfig()) -> None:
        self.weights = weights if weights is not None else Weights.resolve()
        self.runtime = runtime
        self.run_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._pt: Any = None

    def get(self) -> Any:
        """The shared PortraitTalk, built on first use."""
        if self._pt is None:
            with self._load_lock:
                if self._pt is None:
                    from .. import PortraitTalk
                    from ..config import GenerateRequest

                    self._pt = PortraitTalk(self.weights, GenerateRequest(runtime=self.runtime))
        return self._pt

    def public(self, text: str) -> str:
        """``text`` as the page may show it: no server paths (see :mod:`.public`)."""
        return public_text(text, self.weights.root)

    def engine_status(self) -> dict[str, tuple[bool, str]]:
        """``{engine: (can run, why (not))}``, the reasons as the page may show them."""
        return {name: (ok, self.public(why)) for name, (ok, why) in engine_status(self.weights).items()}

    def engine_help(self) -> str:
        """The Engine choice's help line: what "auto" picks, or which engines this server lacks."""
        engines = self.engine_status()
        missing = [name for name, (ok, _) in engines.items() if not ok]
        if not missing:
            return "auto = " + ", else ".join(f"{e.name} {e.auto_when}".strip() for e in auto_order())
        runs = [name for name, (ok, _) in engines.items() if ok]
        return (f"Only {' and '.join(runs)} run{'s' if len(runs) == 1 else ''} here: {_not_installed(missing)} on "
                "this server (the Status tab says what it needs).")  # fmt: skip

    def auto_passed_over(self, chosen: str) -> str:
        """Why "auto" rendered with ``chosen`` on this server, when engines it prefers are not installed
        here (else ""): the page's words, not the package's (which name folders)."""
        engines = self.engine_status()
        ranked = [e.name for e in auto_order()]
        above = ranked[: ranked.index(chosen)] if chosen in ranked else []
        missing = [name for name in above if not engines[name][0]]
        return f"{_not_installed(missing)} on this server (the Status tab says what it needs)" if missing else ""

    def prompt_engine(self) -> tuple[str, bool, str]:
        """(name, can run, why (not)) of the engine that follows a prompt and the identity scale (the
        Conflict explorer renders with it)."""
        found = engine_reading("prompt", "identity_scale")
        if found is None:
            return "", False, "no engine follows a prompt"
        ok, why = self.engine_status()[found.name]
        return found.name, ok, why

    def engine_in_use(self, requested: str) -> str:
        """The engine a generation asking for ``requested`` ("auto" or an engine's name) renders with."""
        try:
            return choose_engine(requested, self.weights, self.runtime)[0]
        except EngineUnavailableError:  # asked for by name: the generation itself says why it cannot run
            return requested

    def device_info(self) -> dict[str, str]:
        """Where and in what precision the engines run (torch is imported here, not at start-up)."""
        import torch

        from ..runtime import dtype_name, resolve_device

        device = resolve_device(self.runtime.device)
        shown = f"{device} ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else device
        return {"device": shown, "dtype": dtype_name(self.runtime.dtype, device), "torch": torch.__version__}

    def status_markdown(self) -> str:
        """The status panel's text: device, dtype, each engine's availability with the reason, and
        what a missing engine's absence hides."""
        info = self.device_info()
        lines = [f"**Device:** {info['device']} · **dtype:** {info['dtype']} · **torch:** {info['torch']}", ""]
        engines = self.engine_status()
        for name, (ok, why) in engines.items():
            lines.append(f"- **{name}**: {'available' if ok else 'unavailable'} — {why}")
        for name, (ok, _) in engines.items():
            needs = self.how_to_get(f"{name} engine")
            if not ok and needs:
                lines += ["", f"What the {name} engine needs and this server lacks:", needs]
        prompt_engine, prompt_ok, _ = self.prompt_engine()
        if not prompt_ok:
            lines += ["", CONFLICT_HIDDEN.format(engine=prompt_engine)]
        return "\n".join(lines)

    def how_to_get(self, used_by: str) -> str:
        """Markdown list: each missing component that ``used_by`` needs, and how to get it."""
        lines = []
        for c in COMPONENTS:
            if c.used_by == used_by and not self.weights.present(c.name):
                lines.append(f"- **{c.name}** ({c.purpose}): {self.public(c.how)}")
        return "\n".join(lines)

    def weights_table(self) -> list[list[str]]:
        """Rows for the weights table (name, present, what it is, used by, how to get); no paths."""
        return [[c.name, "yes" if self.weights.present(c.name) else "no", c.purpose, c.used_by, self.public(c.how)]
                for c in COMPONENTS]  # fmt: skip


WEIGHTS_HEADERS = ["component", "present", "what it is", "used by", "how to get it"]
CONFLICT_HIDDEN = ("The **Conflict explorer** tab is hidden: it compares prompts against identity, and only the "
                   "{engine} engine follows a prompt.")  # fmt: skip


def _not_installed(names: list[str]) -> str:
    """"the diffusion engine is not installed" (or "the a and b engines are ...")."""
    return f"the {' and '.join(names)} engine{'s are' if len(names) > 1 else ' is'} not installed"


@functools.lru_cache(maxsize=None)
def shared_manager() -> ModelManager:
    """The process's one manager: every app built in this process shares its loaded engines."""
    return ModelManager()
