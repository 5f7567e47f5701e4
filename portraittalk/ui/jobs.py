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
        self._failures: dict[str, str] = {}
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

    def failed(self, session: str, message: str) -> None:
        """Keep why the session's last job failed, for the note under the result (the toast goes after 10 s)."""
        with self._lock:
            self._failures[session] = message

    def failure(self, session: str) -> Optional[str]:
        """Why the session's last job failed (once), or None."""
        with self._lock:
            return self._failures.pop(session, None)

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


# Each stage's share of a whole job (the pipeline's stages, in order), measured with the warp engine:
# rendering (and pasting into the whole photo, and the diffusion engine's sampling) is nearly all of it.
STAGE_SHARES = {"analysing faces": 0.05, "audio → motion": 0.10, "rendering": 0.80, "encoding": 0.05}


class JobProgress:
    """The pipeline's stage reports as one fraction of the whole job, and the seconds left.

    Why: each stage counts from 0 to its own total; shown as is, the bar restarts at every stage and
    says nothing of how long the job takes. The time left is the rendering rate so far times the
    frames still to render (nothing is guessed before the first frames are done).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rendering_from: Optional[tuple[float, int]] = None  # (when, frames done) at the first report
        self.fraction = 0.0

    def update(self, stage: str, done: int, total: int) -> tuple[float, str]:
        """(fraction of the whole job, the stage with the time left) for one stage report."""
        names = list(STAGE_SHARES)
        if stage in STAGE_SHARES:
            before = sum(STAGE_SHARES[name] for name in names[: names.index(stage)])
            self.fraction = max(self.fraction, before + STAGE_SHARES[stage] * min(done, total) / max(total, 1))
        if stage != "rendering":
            return self.fraction, stage
        now = self._clock()
        if self._rendering_from is None:
            self._rendering_from = (now, done)
        since, first = self._rendering_from
        if done <= first:
            return self.fraction, stage
        left = (now - since) / (done - first) * (total - done)
        return self.fraction, f"{stage} · about {max(1, round(left))} s left"


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
