"""The one device and dtype resolver: what "auto" means, for every part that runs a network.

torch is imported only when a question needs it, so the warp path never pays for it.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .errors import EngineUnavailableError

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)
DTYPE_NAMES = ("fp32", "fp16", "bf16")


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(name: str = "auto") -> str:
    """``"auto"``: ``"cuda"`` when a CUDA GPU is there, else ``"cpu"``. A named GPU that is not
    there is an :class:`EngineUnavailableError`."""
    if name in ("auto", "", None):
        return "cuda" if cuda_available() else "cpu"
    if name.startswith("cuda"):
        if not cuda_available():
            raise EngineUnavailableError(f"device '{name}' was asked for, but no CUDA GPU is available here; "
                                         "use --device cpu or auto.")  # fmt: skip
        import torch

        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise EngineUnavailableError(f"device '{name}' does not exist: this machine has "
                                         f"{torch.cuda.device_count()} CUDA GPU(s).")  # fmt: skip
    return name


def dtype_name(name: str, device: str) -> str:
    """The precision a dtype setting means on ``device``: "auto" = bf16 on CUDA, fp32 elsewhere;
    fp16 and bf16 need a GPU (CPU kernels are missing or slow), so they fall back to fp32 there."""
    on_gpu = device.startswith("cuda")
    if name == "auto":
        return "bf16" if on_gpu else "fp32"
    if name not in DTYPE_NAMES:
        from .errors import InputError

        raise InputError(f"dtype must be auto, {', '.join(DTYPE_NAMES)} (got {name!r}).")
    if name != "fp32" and not on_gpu:
        log.info("%s needs a GPU; using fp32 on %s", name, device)
        return "fp32"
    return name


def torch_dtype(name: str, device: str) -> "torch.dtype":
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype_name(name, device)]
