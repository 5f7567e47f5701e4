"""The local backend: worker processes on this machine, each rendering one job at a time.

Workers are spawned (not forked: MediaPipe, torch and ffmpeg threads do not survive a fork). A
worker ignores Ctrl-C between jobs and stops its job on the first one (the video writer removes
the partial file); a worker whose parent is gone (killed) stops its job the same way and exits.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
from typing import Any, Hashable, Optional

from ..face.reference import Reference
from .status import FAILED
from .worker import Outcome, Task

STOP_GRACE_S = 20.0  # how long an interrupted worker may take to clean up before it is killed


class LocalPool:
    def __init__(self, workers: int) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._results: Any = self._ctx.Queue()
        self._workers: list[_Worker] = []
        self._size = max(1, workers)
        self._next_handle = 0

    def has_room(self) -> bool:
        return len(self._workers) < self._size or any(w.handle is None for w in self._workers)

    def submit(self, task: Task, references: list[Reference]) -> int:
        worker = next((w for w in self._workers if w.handle is None), None)
        if worker is None:
            worker = _Worker(self._ctx, len(self._workers), self._results)
            self._workers.append(worker)
        self._next_handle += 1
        worker.handle = self._next_handle
        worker.tasks.put((task, references))
        return self._next_handle

    def forget(self, key: Hashable) -> None:
        """Nothing to free here: each worker keeps only its latest few portraits (worker.KEPT_REFERENCES)."""

    def wait(self) -> list[tuple[int, Outcome]]:
        """Block until at least one job in flight has finished; (handle, outcome) pairs."""
        while True:
            try:
                index, outcome = self._results.get(timeout=0.5)
            except queue.Empty:
                lost = self._dead_workers()
                if lost:
                    return lost
                continue
            worker = self._workers[index]
            handle, worker.handle = worker.handle, None
            return [(handle, outcome)]

    def _dead_workers(self) -> list[tuple[int, Outcome]]:
        """Jobs whose worker died (killed, out of memory): failed, and the worker is replaced."""
        lost = []
        for i, w in enumerate(self._workers):
            if w.handle is not None and not w.process.is_alive():
                reason = f"the worker process died (exit code {w.process.exitcode})"
                lost.append((w.handle, Outcome(FAILED, reason)))
                self._workers[i] = _Worker(self._ctx, i, self._results)
        return lost

    def interrupt(self) -> None:
        """Stop the jobs in flight (a terminal's Ctrl-C reaches the workers already; a signal sent to
        this process alone does not). A worker takes a repeated interrupt once."""
        for w in self._workers:
            if w.handle is not None and w.process.is_alive():
                os.kill(w.process.pid, signal.SIGINT)

    def close(self) -> None:
        """Let every worker finish (after :meth:`interrupt`: stop) and exit."""
        if any(w.handle is not None for w in self._workers):
            self.interrupt()
        for w in self._workers:
            w.tasks.put(None)
        deadline = time.monotonic() + STOP_GRACE_S
        for w in self._workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
        self._workers = []


class _Worker:
    def __init__(self, ctx: Any, index: int, results: Any) -> None:
        self.tasks = ctx.Queue()
        self.handle: Optional[int] = None
        self.process = ctx.Process(target=_serve, args=(index, self.tasks, results, os.getpid()), daemon=True,
                                   name=f"portraittalk-batch-{index}")  # fmt: skip
        self.process.start()


def _serve(index: int, tasks: Any, results: Any, parent: int) -> None:
    """A worker's loop: one job at a time until told to stop or orphaned."""
    from .worker import render

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    while os.getppid() == parent:
        try:
            item = tasks.get(timeout=0.5)
        except queue.Empty:
            continue
        if item is None:
            return
        signal.signal(signal.SIGINT, _interrupt_once)
        try:
            outcome = render(item[0], *item[1])
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        results.put((index, outcome))


def _interrupt_once(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _watch_parent(parent: int) -> None:
    """The batch was killed (no Ctrl-C, no clean-up): stop this worker's job as Ctrl-C would."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGINT)
