"""One model manager per process: loads PortraitTalk the first time it is needed and keeps it."""
from __future__ import annotations

import functools
import threading
from typing import Any, Optional

from ..config import RuntimeConfig
from ..engines.registry import engine_status
from ..weights import COMPONENTS, Weights


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

    def engine_status(self) -> dict[str, tuple[bool, str]]:
        """``{"warp": (True, why), "diffusion": (False, why)}``."""
        return engine_status(self.weights)

    def device_info(self) -> dict[str, str]:
        """Where and in what precision the engines run (torch is imported here, not at start-up)."""
        import torch

        from ..runtime import dtype_name, resolve_device

        device = resolve_device(self.runtime.device)
        shown = f"{device} ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else device
        return {"device": shown, "dtype": dtype_name(self.runtime.dtype, device), "torch": torch.__version__}

    def status_markdown(self) -> str:
        """The status panel's text: device, dtype, and each engine's availability with the reason."""
        info = self.device_info()
        lines = [f"**Device:** {info['device']} · **dtype:** {info['dtype']} · **torch:** {info['torch']}", ""]
        for name, (ok, why) in self.engine_status().items():
            lines.append(f"- **{name}**: {'available' if ok else 'unavailable'} — {why}")
        return "\n".join(lines)

    def how_to_get(self, used_by: str = "diffusion engine") -> str:
        """Markdown list: each missing component that ``used_by`` needs, and the command that gets it."""
        lines = []
        for c in COMPONENTS:
            if c.used_by == used_by and not self.weights.present(c.name):
                lines.append(f"- **{c.name}** ({c.purpose}): {c.how}")
        return "\n".join(lines)

    def weights_table(self) -> list[list[str]]:
        """Rows for the weights table (name, present, purpose, used by, source, path)."""
        return [[r["name"], r["present"], r["purpose"], r["used_by"], r["source"], r["path"]]
                for r in self.weights.status_rows()]  # fmt: skip


WEIGHTS_HEADERS = ["component", "present", "purpose", "used by", "source / how to get", "path"]


@functools.lru_cache(maxsize=None)
def shared_manager() -> ModelManager:
    """The process's one manager: every app built in this process shares its loaded engines."""
    return ModelManager()
