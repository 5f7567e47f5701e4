"""Job control for a shared server: cancel flags, a per-job time limit, and output housekeeping."""
from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from ..errors import CancelledError

StageReporter = Callable[[str, int, int], None]


class JobControl:
    """Cancel flags keyed by session, so the Cancel button stops the job of the session that pressed it.

    Why: Gradio's ``cancels=`` only stops waiting for the event; the worker thread keeps running
    until the pipeline's progress callback notices. The callback raising :class:`CancelledError`
    is the pipeline's documented way to stop.
    """

    def __init__(self, time_limit_s: float) -> None:
        self.time_limit_s = time_limit_s
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> threading.Event:
        flag = threading.Event()
        with self._lock:
            self._flags[session] = flag
        return flag

    def cancel(self, session: str) -> bool:
        """Flag the session's running job; False when it has none."""
        with self._lock:
            flag = self._flags.get(session)
        if flag is None:
            return False
        flag.set()
        return True

    def finish(self, session: str, flag: threading.Event) -> None:
        with self._lock:
            if self._flags.get(session) is flag:
                del self._flags[session]

    def progress(self, flag: threading.Event, report: Optional[StageReporter] = None) -> StageReporter:
        """A pipeline progress callback that forwards stages and stops on cancel or time-out."""
        deadline = time.monotonic() + self.time_limit_s

        def callback(stage: str, done: int, total: int) -> None:
            if flag.is_set():
                raise CancelledError("generation cancelled.")
            if time.monotonic() > deadline:
                raise CancelledError(
                    f"generation stopped: it ran past this server's limit of {self.time_limit_s:.0f} s per job; "
                    "try shorter audio or a smaller output size."
                )
            if report is not None:
                report(stage, done, total)

        return callback


class OutputFolder:
    """Where generated files go; files older than ``max_age_s`` are deleted before each new job."""

    def __init__(self, root: Path, max_age_s: float) -> None:
        self.root = Path(root)
        self.max_age_s = max_age_s

    def new_path(self, suffix: str = ".mp4", stem: str = "portraittalk") -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}{suffix}"

    def clean(self) -> int:
        """Delete old outputs; returns how many files went."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - self.max_age_s
        removed = 0
        for path in self.root.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # another job cleaned it first
                pass
        return removed
