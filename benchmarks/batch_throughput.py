"""Batch throughput: clips per minute for one job list run four ways on this machine, in one run.

20 jobs of 8 s of real speech (windows of the tune set's clips, joined), alternating the two asset
portraits, each job its own seed; the warp engine at ``--size``. The same jobs are made by

* 20 separate ``portraittalk generate`` calls, one after another (each imports and analyses anew),
* ``portraittalk batch --workers 1`` and ``--workers 2`` (local worker processes),
* ``portraittalk batch --ray local`` (a Ray instance started by the command; its start-up counts),

each timed end to end as a user would see it (process start to the last MP4), into a fresh folder.
The machine is shared: the load average before and after each run is recorded beside its time.
Prints one JSON object and writes it to ``--json``.

    python benchmarks/batch_throughput.py [--jobs 20] [--seconds 8] [--size 256]
                                          [--json docs/measured/batch_throughput.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PORTRAITS = [ROOT / "assets" / "portraits" / "astronaut.png", ROOT / "assets" / "portraits" / "man.jpg"]
SPEECH = ROOT / "benchmarks" / "data" / "speech" / "tune"


def speech_clips(folder: Path, count: int, seconds: float) -> list[Path]:
    """``count`` different ``seconds``-long windows of the tune set's speech, joined end to end."""
    import soundfile as sf

    from portraittalk.media import load_audio

    joined = np.concatenate([load_audio(p).samples for p in sorted(SPEECH.glob("*.flac"))])
    n = int(seconds * 16000)
    starts = np.linspace(0, len(joined) - n, count).astype(int)
    paths = []
    for i, start in enumerate(starts):
        paths.append(folder / f"speech{i:02d}.wav")
        sf.write(paths[-1], joined[start : start + n], 16000)
    return paths


def write_jobs(folder: Path, speech: list[Path], size: int) -> Path:
    path = folder / "jobs.jsonl"
    rows = [{"ref": str(PORTRAITS[i % 2]), "audio": str(audio), "out": f"clip{i:02d}", "seed": i, "size": size}
            for i, audio in enumerate(speech)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def timed(commands: list[list[str]], outputs: list[Path]) -> dict:
    """Run the commands one after another; wall time, clips per minute, the load around them."""
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    for cmd in commands:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])} failed: {proc.stderr[-2000:]}")
    wall = time.perf_counter() - start
    missing = [p.name for p in outputs if not p.is_file()]
    if missing:
        raise RuntimeError(f"not written: {missing}")
    return {"wall_s": round(wall, 1), "clips_per_minute": round(len(outputs) / wall * 60, 2),
            "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8.0, help="speech per job")
    parser.add_argument("--size", type=int, default=256, help="video side in pixels")
    parser.add_argument("--no-ray", action="store_true", help="leave out the Ray run")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()

    cli = [sys.executable, "-m", "portraittalk"]
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        tmp_dir = Path(tmp)
        speech = speech_clips(tmp_dir, args.jobs, args.seconds)
        jobs = write_jobs(tmp_dir, speech, args.size)
        runs = {}

        out = tmp_dir / "separate"
        outputs = [out / f"clip{i:02d}.mp4" for i in range(args.jobs)]
        runs["separate generate calls"] = timed(
            [cli + ["generate", "--ref", str(PORTRAITS[i % 2]), "--audio", str(audio), "--out", str(outputs[i]),
                    "--seed", str(i), "--size", str(args.size), "--quiet"] for i, audio in enumerate(speech)],
            outputs)  # fmt: skip
        modes = {"batch --workers 1": ["--workers", "1"], "batch --workers 2": ["--workers", "2"]}
        if not args.no_ray:
            modes["batch --ray local"] = ["--ray", "local"]
        for name, flags in modes.items():
            out = tmp_dir / name.replace(" ", "_")
            runs[name] = timed([cli + ["batch", str(jobs), "--out", str(out), "--quiet", *flags]],
                               [out / f"clip{i:02d}.mp4" for i in range(args.jobs)])  # fmt: skip

    result = {
        "what": f"{args.jobs} jobs of {args.seconds:g} s real speech, warp engine, {args.size} px, two portraits "
                "alternating; end-to-end wall time per way of running them",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "runs": runs,
        "note": "a shared machine: other processes ran beside these (see the load averages); numbers are noisy",
    }  # fmt: skip
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
