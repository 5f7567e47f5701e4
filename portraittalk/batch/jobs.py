"""A job list: one generation per row of a CSV or JSON Lines file, settings by their flat names.

Columns: ``ref`` (one path, or several separated by ``;`` in CSV / a list in JSON), ``audio``,
optional ``out`` (the video's name inside the output folder; default ``<portrait>-<speech>.mp4``)
and any setting of :data:`portraittalk.config.FLAT` (``prompt``, ``seed``, ``size``, ``w1``...).
Relative paths are read from the job file's folder. A row's id is its output name without ``.mp4``.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping, Optional, Union

from ..config import FLAT, GenerateRequest, Limits, reference_count_problem
from ..engines.registry import AUTO, entry
from ..errors import InputError

FILE_COLUMNS = ("ref", "audio", "out")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Job:
    """One generation of a batch. ``problem`` is set when the row could not even be read."""

    id: str
    references: tuple[Path, ...]
    audio: Path
    output: str  # relative to the output folder, ends in .mp4
    settings: Mapping[str, Any] = field(default_factory=dict)  # flat names, prompt and seed included
    source: str = ""  # where the row came from, for messages: "jobs.csv line 3"
    problem: Optional[str] = None


def read_jobs(path: Union[str, os.PathLike]) -> list[Job]:
    """Parse a ``.csv`` or ``.jsonl`` job file (no files are checked here: see :func:`find_problems`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"job list '{path}' does not exist.")
    text = path.read_text(encoding="utf-8-sig")
    rows: list[tuple[str, Union[Mapping[str, Any], str]]] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        for row in reader:
            cells = {k.strip(): v.strip() for k, v in row.items() if k is not None and v is not None and v.strip()}
            if cells:
                rows.append((f"{path.name} line {reader.line_num}", cells))
    elif path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                row = f"not a JSON object ({exc.msg})"
            rows.append((f"{path.name} line {n}", row if isinstance(row, (dict, str)) else "not a JSON object"))
    else:
        raise InputError(f"job list '{path.name}' must be a .csv or a .jsonl file.")
    if not rows:
        raise InputError(f"job list '{path.name}' has no jobs.")
    return jobs_from_rows(rows, path.parent)


def jobs_from_rows(rows: Iterable[tuple[str, Union[Mapping[str, Any], str]]], base: Path) -> list[Job]:
    """Jobs from (source, row) pairs; a row that is a string is that row's problem. Default output
    names are made unique in row order (``-2``, ``-3``...), so they stay the same on every rerun."""
    jobs: list[Job] = []
    taken: set[str] = set()
    for source, row in rows:
        if isinstance(row, str):
            job = Job(_unique(f"row-{len(jobs) + 1}", taken), (), Path(), "", {}, source, row)
        else:
            job = _job(row, base, source, taken)
        taken.add(job.id)
        jobs.append(job)
    return jobs


def _job(row: Mapping[str, Any], base: Path, source: str, taken: set[str]) -> Job:
    refs = row.get("ref")
    ref_list = refs if isinstance(refs, list) else [p for p in str(refs or "").split(";") if p.strip()]
    references = tuple(base / Path(str(p).strip()).expanduser() for p in ref_list)
    audio = base / Path(str(row.get("audio") or "")).expanduser()
    problem = None
    if not references:
        problem = "no 'ref' (a portrait) given"
    elif not row.get("audio"):
        problem = "no 'audio' given"
    out = str(row.get("out") or "").strip()
    if out:
        name = PurePosixPath(out if out.lower().endswith(".mp4") else out + ".mp4")
        if name.is_absolute() or ".." in name.parts:
            problem = problem or f"out '{out}' must be a name inside the output folder"
        job_id = str(name.with_suffix(""))
        if job_id in taken:
            problem = problem or f"out '{out}' is also another job's output"
            job_id = _unique(job_id, taken)  # its own line in the status file, not the other job's
    else:
        stem = f"{references[0].stem}-{audio.stem}" if references else "job"
        job_id = _unique(stem, taken)
    settings = {k: _typed(k, v) for k, v in row.items() if k not in FILE_COLUMNS}
    return Job(job_id, references, audio, job_id + ".mp4", settings, source, problem)


def _unique(stem: str, taken: set[str]) -> str:
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    return name


def _typed(name: str, value: Any) -> Any:
    """CSV cells are text: a boolean setting reads true/false, yes/no, 1/0 (numbers coerce in the config)."""
    spec = FLAT.get(name)
    if spec is not None and spec.type is bool and isinstance(value, str):
        lowered = value.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else value
    return value


def find_problems(jobs: Iterable[Job], defaults: GenerateRequest, limits: Limits) -> dict[str, str]:
    """{job id: why it cannot run} for every job whose files are missing or settings are wrong."""
    problems: dict[str, str] = {}
    for job in jobs:
        reason = job.problem or _problem(job, defaults, limits)
        if reason:
            problems[job.id] = reason
    return problems


def _problem(job: Job, defaults: GenerateRequest, limits: Limits) -> Optional[str]:
    problem = reference_count_problem(len(job.references), limits.max_references)
    if problem:
        return problem
    for path in (*job.references, job.audio):
        if not path.is_file():
            return f"'{path}' does not exist"
    try:
        request = defaults.updated(**job.settings)
        if request.engine != AUTO:
            entry(request.engine)  # an engine of that name exists (whether it runs is known only where it runs)
    except InputError as exc:
        return str(exc)
    return None
