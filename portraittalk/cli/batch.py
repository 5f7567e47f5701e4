"""`portraittalk batch JOBS --out DIR [--workers N] [--ray ADDRESS|auto|local] [--skip-invalid] [--retry-failed]`.

Exit status: 0 when every job of the list is done, 1 when some failed (DIR/batch.jsonl says why),
2 when the list cannot run, 130 when interrupted (a rerun resumes).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_weights_argument, weights_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="make many videos from a job list (resumable; local processes or Ray)",
                       description="One video per row of JOBS (.csv or .jsonl: ref, audio, optional out, prompt "
                       "and any generate setting by name, e.g. size, seed, w1) into DIR. DIR/batch.jsonl records "
                       "each finished job; a rerun skips what is done.")  # fmt: skip
    p.add_argument("jobs", type=Path, metavar="JOBS", help="the job list (.csv or .jsonl)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for the videos and batch.jsonl")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: the number of cores; with "
                   "--ray: at most the cluster's CPUs, or GPUs when it has them)")  # fmt: skip
    p.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster: auto (the one this machine belongs to), "
                   "its address (host:6379 or ray://host:10001), or local (a Ray instance started here)")  # fmt: skip
    p.add_argument("--skip-invalid", action="store_true", help="run the valid jobs when some are invalid "
                   "(the invalid ones are recorded as failed)")  # fmt: skip
    p.add_argument("--retry-failed", action="store_true", help="run the jobs an earlier run recorded as failed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_weights_argument(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .. import PortraitTalk
    from ..batch import DONE, FAILED, read_jobs, read_status, run_batch
    from ..errors import InputError

    if args.workers is not None and args.workers < 1:
        raise InputError("--workers must be at least 1.")
    jobs = read_jobs(args.jobs)
    pt = PortraitTalk(weights_from(args))
    bar = tqdm(total=0, unit="clip", desc="batch", file=sys.stderr, disable=True)

    def started(to_run: int, finished_before: int) -> None:
        nonlocal bar
        if finished_before:
            print(f"{finished_before} of {len(jobs)} jobs finished in an earlier run: skipped", file=sys.stderr)
        bar = tqdm(total=to_run, unit="clip", desc="batch", file=sys.stderr, disable=args.quiet or not to_run,
                   dynamic_ncols=True)  # fmt: skip

    failed = 0
    results = run_batch(pt, jobs, args.out, workers=args.workers, ray=args.ray, retry_failed=args.retry_failed,
                        skip_invalid=args.skip_invalid, started=started)  # fmt: skip
    try:
        for result in results:
            if result.status == FAILED:
                failed += 1
                bar.write(f"failed: {result.job}: {result.reason}", file=sys.stderr)
            bar.set_postfix(failed=failed, refresh=False)
            bar.update()
    except KeyboardInterrupt:
        print("interrupted: finished videos are kept; run the same command again to resume.", file=sys.stderr)
        return 130
    finally:
        results.close()  # an interrupt outside the batch's own code still stops its workers here
        bar.close()
    latest = read_status(args.out)
    done = sum(1 for job in jobs if job.id in latest and latest[job.id].status == DONE)
    print(f"{done} of {len(jobs)} jobs done, {len(jobs) - done} failed ({args.out / 'batch.jsonl'})")
    return 0 if done == len(jobs) else 1
