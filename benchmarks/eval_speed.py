"""How fast `portraittalk eval` runs: two 25 s 512×512 clips of a real face, JSON on stdout.

The clips are made here (the astronaut portrait under smooth random head motion; the "generated"
one is the same motion delayed by 2 frames and encoded at another quality), so the benchmark needs
nothing but the repository. Reports frame pairs per second and the time of each stage; landmark
extraction (MediaPipe, two videos) is expected to dominate.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PORTRAIT = ROOT / "assets" / "portraits" / "astronaut.png"


def make_clip(path: Path, seconds: float, fps: float, size: int, delay: int, crf: int) -> Path:
    import cv2

    from portraittalk.media import VideoWriter, load_image

    n = int(round(seconds * fps))
    rng = np.random.default_rng(0)
    walk = rng.normal(size=(n + 40, 4)).cumsum(axis=0)
    kernel = np.hanning(9) / np.hanning(9).sum()
    motion = np.stack([np.convolve(walk[:, j], kernel, mode="same") for j in range(4)], axis=1)[20:20 + n]
    motion = (motion - motion[0]) * np.array([0.004, 0.004, 0.6, 0.002])
    motion = np.clip(motion, [-0.08, -0.08, -12, -0.1], [0.08, 0.08, 12, 0.1])  # keep the face in the frame
    base = cv2.resize(load_image(PORTRAIT), (size, size), interpolation=cv2.INTER_AREA)
    with VideoWriter(path, fps, (size, size), crf=crf) as writer:
        for dx, dy, roll, ds in motion[np.clip(np.arange(n) - delay, 0, None)]:
            m = cv2.getRotationMatrix2D((size / 2, size / 2), roll, 1.0 + ds)
            m[:, 2] += (dx * size, dy * size)
            writer.write(cv2.warpAffine(base, m, (size, size), borderMode=cv2.BORDER_REFLECT))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--reference", action="store_true", help="also score identity against the portrait")
    args = parser.parse_args()

    from portraittalk.metrics.evaluate import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        gt = make_clip(Path(tmp) / "gt.mp4", args.seconds, 25.0, args.size, delay=0, crf=18)
        gen = make_clip(Path(tmp) / "gen.mp4", args.seconds, 25.0, args.size, delay=2, crf=23)
        made = time.perf_counter() - start
        result = evaluate(gen, gt, reference=PORTRAIT if args.reference else None)
    t = result.timings
    stages = {k: v for k, v in t.items() if k != "total"}
    print(json.dumps({
        "benchmark": "eval_speed", "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "videos": f"2 x {args.seconds:g} s, {args.size}x{args.size}, 25 fps", "frame_pairs": result.frames,
        "seconds": round(t["total"], 2), "frame_pairs_per_second": round(result.frames / t["total"], 2),
        "stages_s": {k: round(v, 2) for k, v in stages.items()},
        "stage_share": {k: round(v / t["total"], 3) for k, v in stages.items()},
        "stages_cpu_s": {k: round(v, 2) for k, v in result.cpu_timings.items()},
        "load_average_1min": round(os.getloadavg()[0], 2),
        "adfd": round(result.adfd.adfd, 4), "making_videos_s": round(made, 2),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
