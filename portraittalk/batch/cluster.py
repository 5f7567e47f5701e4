"""The Ray backend: each job is a Ray task; a Ray worker process keeps its generator between
tasks (one engine per worker). Each portrait is put in the object store once and every task that
uses it reads it from there. Inputs and outputs must be on a path every node sees.

A cluster with GPUs gives each task one GPU (Ray sets ``CUDA_VISIBLE_DEVICES``), so the diffusion
engine runs one video per GPU; without GPUs each task takes one CPU.
"""
from __future__ import annotations

import logging
from typing import Any, Hashable, Optional

from ..errors import InputError
from ..face.reference import Reference
from .status import FAILED
from .worker import Outcome, Task, render

LOCAL = "local"  # start a Ray instance inside this process (one machine, for trying it out)
CONNECT_TIMEOUT_S = 5.0


class RayTasks:
    def __init__(self, address: str, workers: Optional[int] = None) -> None:
        try:
            import ray
        except ImportError:
            raise InputError("--ray needs Ray: pip install 'portraittalk[ray]'.") from None
        self._ray = ray
        self._owns_connection = not ray.is_initialized()
        if self._owns_connection:
            _check_reachable(address)
            try:
                ray.init(address=None if address == LOCAL else address, log_to_driver=False,
                         logging_level=logging.WARNING, include_dashboard=False)  # fmt: skip
            except ConnectionError as exc:
                raise InputError(f"cannot reach a Ray cluster at '{address}' ({exc}); start one with "
                                 "`ray start --head` or give its address.") from None  # fmt: skip
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        slots = gpus or int(resources.get("CPU", 1))
        self._capacity = max(1, min(workers, slots) if workers else slots)
        self._render = ray.remote(render).options(num_cpus=1, num_gpus=1 if gpus else 0, max_retries=0)
        self._stored: dict[Hashable, Any] = {}
        self._pending: dict[Any, int] = {}  # ObjectRef -> handle
        self._next_handle = 0

    def has_room(self) -> bool:
        return len(self._pending) < self._capacity

    def submit(self, task: Task, references: list[Reference]) -> int:
        stored = []
        for key, ref in zip(task.reference_keys, references):
            if key not in self._stored:
                self._stored[key] = self._ray.put(ref)
            stored.append(self._stored[key])
        self._next_handle += 1
        self._pending[self._render.remote(task, *stored)] = self._next_handle
        return self._next_handle

    def forget(self, key: Hashable) -> None:
        """No later job uses this portrait: let the object store free it."""
        self._stored.pop(key, None)

    def wait(self) -> list[tuple[int, Outcome]]:
        ready, _ = self._ray.wait(list(self._pending), num_returns=1)
        finished = []
        for ref in ready:
            handle = self._pending.pop(ref)
            try:
                finished.append((handle, self._ray.get(ref)))
            except self._ray.exceptions.RayError as exc:  # the worker or its node died
                finished.append((handle, Outcome(FAILED, f"the Ray task failed ({type(exc).__name__})")))
        return finished

    def interrupt(self) -> None:
        for ref in self._pending:
            self._ray.cancel(ref)  # raises KeyboardInterrupt in the task: its writer removes the partial file

    def close(self) -> None:
        if self._pending:
            self.interrupt()
            self._ray.wait(list(self._pending), num_returns=len(self._pending), timeout=20)
            self._pending.clear()
        self._stored.clear()
        if self._owns_connection:
            self._ray.shutdown()


def _check_reachable(address: str) -> None:
    """A HOST:PORT (or ray://HOST:PORT) nobody answers at: say so now (Ray itself retries for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local": Ray finds the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise InputError(f"cannot reach a Ray cluster at '{address}' ({exc.strerror or exc}); start one with "
                         "`ray start --head` or check the address.") from None  # fmt: skip
