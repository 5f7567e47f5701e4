"""One model manager per process: loads PortraitTalk the first time it is needed and keeps it."""
from __future__ import annotations

import functools
import threading
from typing import Any, Optional

from ..config import RuntimeConfig
from ..engines.registry import choose_engine, engine_status
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

    @property
    def loaded(self) -> bool:
        return self._pt is not None

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
        """``{"warp": (True, why), "diffusion": (False, why)}``, the reasons as the page may show them."""
        return {name: (ok, self.public(why)) for name, (ok, why) in engine_status(self.weights).items()}

    def engine_in_use(self, requested: str) -> str:
        """The engine a generation asking for ``requested`` (auto, warp, diffusion) renders with."""
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
        what the diffusion engine's absence hides."""
        info = self.device_info()
        lines = [f"**Device:** {info['device']} · **dtype:** {info['dtype']} · **torch:** {info['torch']}", ""]
        engines = self.engine_status()
        for name, (ok, why) in engines.items():
            lines.append(f"- **{name}**: {'available' if ok else 'unavailable'} — {why}")
        if not engines["diffusion"][0]:
            lines += ["", "What the diffusion engine needs and this server lacks:", self.how_to_get(), "",
                      CONFLICT_HIDDEN]  # fmt: skip
        return "\n".join(lines)

    def how_to_get(self, used_by: str = "diffusion engine") -> str:
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
                   "diffusion engine follows a prompt.")  # fmt: skip


@functools.lru_cache(maxsize=None)
def shared_manager() -> ModelManager:
    """The process's one manager: every app built in this process shares its loaded engines."""
    return ModelManager()
