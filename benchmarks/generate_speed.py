"""Speed and memory of the offline main job (warp engine), the new engine beside an old one.

End to end = `portraittalk generate` from process start to the finished MP4, 512x512, on 25 s and
100 s of real speech (the speech clips of benchmarks/data, joined). The old engine (default:
main's commit bebd3d3) runs from a temporary git worktree with the same Python; old and new run
alternately ``--repeats`` times and the medians are compared (the machine is shared: one run each
would measure the neighbours). Also: peak memory of the process tree (Python + ffmpeg) against the
audio's length, render-only frames per second, and how much rendering and encoding overlap
(1 = the encoder costs no extra wall time, 0 = they take turns). Prints JSON.

    python benchmarks/generate_speed.py [--old bebd3d3] [--repeats 3] [--no-old]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT / "assets" / "portraits" / "astronaut.png"
SPEECH = ROOT / "benchmarks" / "data" / "speech" / "tune"


def speech_of(seconds: float, path: Path) -> Path:
    """Real speech: the tune set's clips joined (with their own pauses) to the wanted length."""
    import soundfile as sf

    from portraittalk.media import load_audio

    clips = [load_audio(p).samples for p in sorted(SPEECH.glob("*.flac"))]
    out, n = [], int(seconds * 16000)
    while sum(len(c) for c in out) < n:
        out.extend(clips)
    sf.write(path, np.concatenate(out)[:n], 16000)
    return path


def end_to_end(audio: Path, out: Path, package_root: Path) -> dict:
    """One `generate` run of the package found at ``package_root``: wall time and peak memory."""
    import psutil

    env = {**os.environ, "PYTHONPATH": str(package_root)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "portraittalk", "generate", "--ref", str(PORTRAIT),
                             "--audio", str(audio), "--out", str(out), "--quiet"], cwd=package_root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    parent, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            rss = parent.memory_info().rss + sum(c.memory_info().rss for c in parent.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.read().decode())
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak / 2**20, 1), "file_mb": round(out.stat().st_size / 2**20, 2)}


def render_and_encode(audio_path: Path, tmp: Path) -> dict:
    """In this process: render only, encode only (the same frames again), and both as the pipeline
    does them; the overlap is how much of the shorter one the pipeline hides."""
    from portraittalk.config import GenerateRequest
    from portraittalk.engines.warp import WarpEngine
    from portraittalk.face.reference import analyse_reference
    from portraittalk.media import VideoWriter, load_audio, load_image
    from portraittalk.motion.offline import audio_to_motion

    ref = analyse_reference(load_image(PORTRAIT), "astronaut")
    audio = load_audio(audio_path)
    track = audio_to_motion(audio, ref.landmarks, (512, 512))
    ref.person_mask()  # analysis, not rendering
    start = time.perf_counter()
    kept = [f for i, f in enumerate(WarpEngine().render([ref], track, GenerateRequest())) if i < 100]
    render = time.perf_counter() - start
    start = time.perf_counter()
    with VideoWriter(tmp / "encode.mp4", 25, (512, 512), audio) as writer:
        for i in range(len(track)):
            writer.write(kept[i % len(kept)])
    encode = time.perf_counter() - start
    start = time.perf_counter()
    with VideoWriter(tmp / "both.mp4", 25, (512, 512), audio) as writer:
        for frame in WarpEngine().render([ref], track, GenerateRequest()):
            writer.write(frame)
    both = time.perf_counter() - start
    return {"render_only_s": round(render, 2), "render_fps": round(len(track) / render, 1),
            "encode_only_s": round(encode, 2), "render_and_encode_s": round(both, 2),
            "overlap": round((render + encode - both) / min(render, encode), 2)}  # fmt: skip


def old_checkout(rev: str, tmp: Path) -> Path:
    path = tmp / "old"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="bebd3d3", help="git revision of the engine to compare against")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-old", action="store_true", help="measure the new engine only")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pt-speed-"))
    old = None
    try:
        old = None if args.no_old else old_checkout(args.old, tmp)
        engines = {"new": ROOT} | ({} if old is None else {f"old ({args.old})": old})
        report: dict = {"machine": f"{os.cpu_count()} cores", "size": 512, "repeats": args.repeats}
        for seconds in (25, 100):
            audio = speech_of(seconds, tmp / f"speech{seconds}.wav")
            runs: dict[str, list[dict]] = {name: [] for name in engines}
            for _ in range(args.repeats):  # alternately, so both see the same neighbours
                for name, root in engines.items():
                    runs[name].append(end_to_end(audio, tmp / f"out{seconds}.mp4", root))
            block = {}
            for name, rs in runs.items():
                wall = statistics.median(r["wall_s"] for r in rs)
                block[name] = {"wall_s_median": wall, "walls": [r["wall_s"] for r in rs],
                               "faster_than_real_time": round(seconds / wall, 2),
                               "peak_rss_mb": max(r["peak_rss_mb"] for r in rs), "file_mb": rs[-1]["file_mb"]}  # fmt: skip
            if old is not None:
                block["speedup_new_vs_old"] = round(block[f"old ({args.old})"]["wall_s_median"] / block["new"]["wall_s_median"], 2)
            report[f"clip_{seconds}s"] = block
        report["memory_ratio_100s_vs_25s"] = round(report["clip_100s"]["new"]["peak_rss_mb"]
                                                   / report["clip_25s"]["new"]["peak_rss_mb"], 2)  # fmt: skip
        report["render_and_encoder_25s"] = render_and_encode(tmp / "speech25.wav", tmp)
        print(json.dumps(report, indent=2))
    finally:
        if old is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
