"""``batch.jsonl``: one JSON line per finished job, appended as it finishes; the last line of a job
wins. A run killed mid-write leaves at most one torn last line, which is ignored."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

STATUS_FILE = "batch.jsonl"
DONE, FAILED = "done", "failed"


@dataclass(frozen=True)
class JobResult:
    """How one job ended: ``done`` (``output`` written) or ``failed`` (``reason`` says why)."""

    job: str  # the job's id
    status: str  # DONE or FAILED
    reason: str = ""
    seconds: float = 0.0  # analysis + generation
    output: Optional[str] = None  # the video's path, when done
    analysed: int = 0  # portraits analysed for this job (0: all reused from earlier jobs)


def read_status(out_dir: Path) -> dict[str, JobResult]:
    """{job id: its latest result} from ``out_dir/batch.jsonl`` (empty when there is none)."""
    path = Path(out_dir) / STATUS_FILE
    latest: dict[str, JobResult] = {}
    if not path.is_file():
        return latest
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = JobResult(**json.loads(line))
        except (ValueError, TypeError):  # a torn last line, or a line someone edited by hand
            continue
        latest[record.job] = record
    return latest


def append_status(out_dir: Path, result: JobResult) -> None:
    """Append one line with a single write (O_APPEND: whole lines, even from several writers) and
    flush it to disk before the job counts as finished."""
    line = (json.dumps(asdict(result), ensure_ascii=False) + "\n").encode()
    fd = os.open(Path(out_dir) / STATUS_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        end = os.fstat(fd).st_size
        if end and os.pread(fd, 1, end - 1) != b"\n":  # a torn line: end it, or this record joins it
            line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
