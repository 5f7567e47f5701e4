"""Run a job list: check it, skip what an earlier run finished, analyse each portrait once, hand
the jobs to a backend (local processes or Ray) and record each result as it arrives."""
from __future__ import annotations

import fcntl
import os
import time
from collections import Counter, deque
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, Optional, Protocol, Union

from ..config import GenerateRequest
from ..errors import InputError, PortraitTalkError
from ..face.reference import Reference
from .jobs import Job, find_problems, jobs_from_rows
from .status import DONE, FAILED, JobResult, append_status, read_status
from .worker import INTERRUPTED, Generator, Outcome, Setup, Task

LOCK_FILE = ".batch.lock"
Started = Callable[[int, int], None]  # (jobs to run now, jobs an earlier run finished)


class Backend(Protocol):
    """Where jobs run: :class:`~.local.LocalPool` or :class:`~.cluster.RayTasks`."""

    def has_room(self) -> bool: ...  # another job can start now
    def submit(self, task: Task, references: list[Reference]) -> int: ...  # a handle
    def forget(self, key: Hashable) -> None: ...  # no later job uses this portrait
    def wait(self) -> list[tuple[int, Outcome]]: ...  # blocks until a job in flight ends
    def interrupt(self) -> None: ...  # stop the jobs in flight
    def close(self) -> None: ...


def run_batch(pt: Generator, jobs: Iterable[Union[Job, Mapping[str, Any]]], out_dir: Path,
              workers: Optional[int] = None, ray: Optional[str] = None, retry_failed: bool = False,
              skip_invalid: bool = False, started: Optional[Started] = None) -> Iterator[JobResult]:  # fmt: skip
    """See :meth:`PortraitTalk.generate_many`. Invalid jobs stop everything before anything starts
    (an :class:`InputError` with one line per job) unless ``skip_invalid``: then they are recorded
    as failed. ``started`` is told how many jobs will run once the list is checked."""
    jobs = _as_jobs(jobs)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _only_run(out_dir):
        earlier = read_status(out_dir)
        todo = [job for job in jobs if not _finished(job, earlier.get(job.id), out_dir, retry_failed)]
        problems = find_problems(todo, pt.defaults, pt.limits)
        if problems and not skip_invalid:
            lines = [f"{_where(job)}: {problems[job.id]}" for job in todo if job.id in problems]
            raise InputError(f"{len(lines)} of {len(jobs)} jobs cannot run (nothing was started; --skip-invalid "
                             "runs the others):\n  " + "\n  ".join(lines))  # fmt: skip
        runnable = [job for job in todo if job.id not in problems]
        _remove_partial_files(out_dir, runnable)
        backend = _backend(ray, workers, len(runnable)) if runnable else None  # a cluster is reached first
        try:
            if started is not None:
                started(len(todo), len(jobs) - len(todo))
            for job in todo:
                if job.id in problems:
                    yield _record(out_dir, JobResult(job.id, FAILED, problems[job.id]))
            if backend is not None:
                yield from _run(pt, runnable, out_dir, backend)
        finally:
            if backend is not None:
                backend.close()


def _backend(ray: Optional[str], workers: Optional[int], jobs: int) -> Backend:
    if ray:
        from .cluster import RayTasks

        return RayTasks(ray, workers)
    from .local import LocalPool

    return LocalPool(min(workers or os.cpu_count() or 1, jobs))


def _run(pt: Generator, jobs: list[Job], out_dir: Path, backend: Backend) -> Iterator[JobResult]:
    setup = Setup(type(pt), pt.weights, pt.defaults, pt.limits)
    cache = ReferenceCache(pt, jobs, forget=backend.forget)
    queued = deque(jobs)
    in_flight: dict[int, tuple[Job, float, int]] = {}  # handle -> (job, analysis seconds, portraits analysed)
    try:
        while queued or in_flight:
            while queued and backend.has_room():
                job = queued.popleft()
                start, analysed_before = time.perf_counter(), cache.analyses
                try:
                    keys, refs = cache.references(job)
                except PortraitTalkError as exc:
                    yield _record(out_dir, JobResult(job.id, FAILED, str(exc), _seconds(time.perf_counter() - start),
                                                     analysed=cache.analyses - analysed_before))  # fmt: skip
                    continue
                handle = backend.submit(Task(job, out_dir / job.output, setup, keys), refs)
                in_flight[handle] = (job, time.perf_counter() - start, cache.analyses - analysed_before)
            if not in_flight:
                continue
            for handle, outcome in backend.wait():
                job, analysis_s, analysed = in_flight.pop(handle)
                if outcome.status == INTERRUPTED:  # Ctrl-C reached a worker first: the whole batch stops
                    raise KeyboardInterrupt
                output = str(out_dir / job.output) if outcome.status == DONE else None
                yield _record(out_dir, JobResult(job.id, outcome.status, outcome.reason,
                                                 _seconds(analysis_s + outcome.seconds), output, analysed))  # fmt: skip
    except KeyboardInterrupt:
        backend.interrupt()
        raise


class ReferenceCache:
    """Each portrait is analysed once per batch (here, in the caller's process) and reused by every
    job that uses it. The key is what the analysis depends on: the file (path, modification time,
    byte size) and the request's crop (size, crop margin, face index). A portrait is dropped once
    no later job needs it; a failed analysis (no face) is remembered as such."""

    def __init__(self, pt: Generator, jobs: list[Job], forget: Callable[[Hashable], None]) -> None:
        self.pt = pt
        self.analyses = 0  # portraits analysed so far
        self._forget = forget
        self._kept: dict[Hashable, Union[Reference, PortraitTalkError]] = {}
        self._uses = Counter(key for job in jobs for key in self._keys(job))

    def references(self, job: Job) -> tuple[tuple[Hashable, ...], list[Reference]]:
        request = self.pt.defaults.updated(**job.settings)
        keys = self._keys(job, request)
        try:
            return keys, [self._reference(key, path, request) for key, path in zip(keys, job.references)]
        finally:
            for key in keys:
                self._uses[key] -= 1
                if self._uses[key] <= 0:
                    self._kept.pop(key, None)
                    self._forget(key)

    def _keys(self, job: Job, request: Optional[GenerateRequest] = None) -> tuple[Hashable, ...]:
        request = request or self.pt.defaults.updated(**job.settings)
        keys = []
        for path in job.references:
            stat = path.stat()
            keys.append((str(path.resolve()), stat.st_mtime_ns, stat.st_size, request.render.size,
                         request.render.crop_margin, request.face_index))  # fmt: skip
        return tuple(keys)

    def _reference(self, key: Hashable, path: Path, request: GenerateRequest) -> Reference:
        if key not in self._kept:
            self.analyses += 1
            try:
                self._kept[key] = self.pt.analyse([path], request.render.size, request.render.crop_margin,
                                                  request.face_index)[0]  # fmt: skip
            except PortraitTalkError as exc:
                self._kept[key] = exc
        kept = self._kept[key]
        if isinstance(kept, PortraitTalkError):
            raise kept
        return kept


def _as_jobs(jobs: Iterable[Union[Job, Mapping[str, Any]]]) -> list[Job]:
    """Jobs as given; rows (mappings) become jobs with paths relative to the current folder."""
    items = list(jobs)
    rows = [(f"job {i + 1}", item) for i, item in enumerate(items) if not isinstance(item, Job)]
    made = iter(jobs_from_rows(rows, Path.cwd()))
    return [item if isinstance(item, Job) else next(made) for item in items]


def _finished(job: Job, last: Optional[JobResult], out_dir: Path, retry_failed: bool) -> bool:
    """Done (and its video is still there), or failed and not to be retried."""
    if last is None:
        return False
    if last.status == DONE:
        return (out_dir / job.output).is_file()
    return not retry_failed


def _remove_partial_files(out_dir: Path, jobs: list[Job]) -> None:
    """The video writer's temporary files left by a killed run (``.<name>.<random>.mp4``)."""
    for job in jobs:
        out = out_dir / job.output
        for partial in out.parent.glob(f".{out.stem}.*.mp4"):
            partial.unlink(missing_ok=True)


@contextmanager
def _only_run(out_dir: Path) -> Iterator[None]:
    """One batch at a time per output folder (the lock goes with the process, even when killed)."""
    with open(out_dir / LOCK_FILE, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"another batch is writing to '{out_dir}'; wait for it or use another --out.") from None
        yield


def _record(out_dir: Path, result: JobResult) -> JobResult:
    append_status(out_dir, result)
    return result


def _where(job: Job) -> str:
    return f"{job.source} ({job.id})" if job.source else job.id


def _seconds(value: float) -> float:
    return round(value, 2)
