"""`portraittalk preprocess VIDEO_DIR --out DATA [--prompts prompts.csv] [--workers N]`."""
from __future__ import annotations

import argparse
import os
from dataclasses import fields
from pathlib import Path

from .common import add_weights_argument, weights_from


def register(sub: argparse._SubParsersAction) -> None:
    from ..training.config import PreprocessSettings

    p = sub.add_parser("preprocess", help="turn talking-head videos into training data",
                       description="Resample to 25 fps, crop the face, track landmarks, masks, contours, speech "
                       "features and face embeddings of every video in VIDEO_DIR. Resumable: finished videos "
                       "are skipped; corrupt or faceless ones are reported and skipped.")  # fmt: skip
    p.add_argument("video_dir", type=Path, help="folder of videos (searched recursively)")
    p.add_argument("--out", type=Path, required=True, help="the data folder to write (DATA)")
    p.add_argument("--prompts", type=Path, help="CSV with columns video,prompt (video: file name or stem)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="videos processed in parallel")
    p.add_argument("--retry-failed", action="store_true", help="try again the videos that failed before")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_weights_argument(p)
    group = p.add_argument_group("settings (defaults from portraittalk.training.config.PreprocessSettings)")
    for f in fields(PreprocessSettings):
        group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=type(f.default), default=None,
                           help=f"{f.metadata['help']} (default: {f.default!r})".replace("%", "%%"))  # fmt: skip
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..errors import InputError
    from ..training.config import PreprocessSettings
    from ..training.preprocess import preprocess

    chosen = {f.name: getattr(args, f.name) for f in fields(PreprocessSettings) if getattr(args, f.name) is not None}
    settings = PreprocessSettings(**chosen)
    bar = tqdm(unit="video", desc="preprocess", disable=args.quiet)

    def progress(result, done: int, total: int) -> None:
        bar.total = total
        bar.update(1)
        if result.status == "failed":
            bar.write(f"skipped {Path(result.source).name}: {result.message}")

    try:
        results = preprocess(args.video_dir, args.out, args.prompts, args.workers, settings, weights_from(args),
                             args.retry_failed, progress)  # fmt: skip
    finally:
        bar.close()
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    frames = sum(r.frames for r in results if r.status == "done")
    print(f"{args.out}: {counts['done']} video(s) processed ({frames} frames), {counts['skipped']} already done, "
          f"{counts['failed']} failed (see {args.out / 'manifest.json'})")  # fmt: skip
    for r in results:
        if r.status == "failed":
            print(f"  failed: {Path(r.source).name}: {r.message}")
    if not counts["done"] and not counts["skipped"]:
        raise InputError(f"no video in {args.video_dir} could be used; the reasons are listed above.")
    return 0
