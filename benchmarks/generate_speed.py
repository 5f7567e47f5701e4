"""Speed and memory of the offline main job (warp engine) on this machine.

Prints JSON: end-to-end wall time of `portraittalk generate` (process start to finished MP4) for a
25 s and a 100 s clip at 512x512, the ratio to the audio duration, peak memory of the process tree
(Python + ffmpeg), and render-only frames per second (median of 3 runs, no encoding).

    python benchmarks/generate_speed.py
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT / "assets" / "portraits" / "astronaut.png"


def speech_of(seconds: float, path: Path) -> Path:
    """Loop the project's speech clips (with their pauses) to the wanted length."""
    import soundfile as sf

    from portraittalk.media import load_audio

    clips = [load_audio(p).samples for p in sorted((ROOT / "assets" / "speech").glob("*.wav"))]
    out, n = [], int(seconds * 16000)
    while sum(len(c) for c in out) < n:
        out.extend(clips)
    sf.write(path, np.concatenate(out)[:n], 16000)
    return path


def end_to_end(audio: Path, out: Path) -> dict:
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "portraittalk", "generate", "--ref", str(PORTRAIT),
                             "--audio", str(audio), "--out", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    parent, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            rss = parent.memory_info().rss + sum(c.memory_info().rss for c in parent.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.read().decode())
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak / 2**20, 1)}


def render_only(audio: Path, repeats: int = 3) -> float:
    from portraittalk.config import GenerateRequest
    from portraittalk.engines.warp import WarpEngine
    from portraittalk.face.reference import analyse_reference
    from portraittalk.media import load_audio, load_image
    from portraittalk.motion.offline import audio_to_motion

    ref = analyse_reference(load_image(PORTRAIT), "astronaut")
    track = audio_to_motion(load_audio(audio), ref.landmarks, (512, 512))
    ref.person_mask()  # analysis, not rendering
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = sum(1 for _ in WarpEngine().render([ref], track, GenerateRequest()))
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        report = {"machine": f"{__import__('os').cpu_count()} cores", "size": 512}
        for seconds in (25, 100):
            audio = speech_of(seconds, tmp / f"speech{seconds}.wav")
            r = end_to_end(audio, tmp / f"out{seconds}.mp4")
            r["faster_than_real_time"] = round(seconds / r["wall_s"], 2)
            report[f"clip_{seconds}s"] = r
        report["render_only_fps_median"] = round(render_only(tmp / "speech25.wav"), 1)
        report["memory_ratio_100s_vs_25s"] = round(report["clip_100s"]["peak_rss_mb"] / report["clip_25s"]["peak_rss_mb"], 2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
