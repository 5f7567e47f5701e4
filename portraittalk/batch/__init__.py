"""Batch generation: a job list (CSV or JSON Lines) rendered into one folder, resumable, on local
worker processes or on a Ray cluster. ``PortraitTalk.generate_many`` and ``portraittalk batch``
are the entry points."""
from __future__ import annotations

from .jobs import Job, read_jobs
from .runner import run_batch
from .status import DONE, FAILED, STATUS_FILE, JobResult, read_status

__all__ = ["Job", "JobResult", "read_jobs", "run_batch", "read_status", "STATUS_FILE", "DONE", "FAILED"]
