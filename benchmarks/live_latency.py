"""Live latency: a minute of real speech pushed into a live session in 20 ms chunks, in real time.

What a visitor of the Live tab gets, measured without the browser: the frames out against the
frames owed (25 fps, none missing), each frame's latency from the moment its last sample was
spoken to the moment the session returned it (the lookahead included), the process's peak memory
and its growth over the run, and how closely the live mouth follows the offline mouth of the same
sound (the drawn opening, controls applied): the offline "causal" model's (the one live runs: how
faithfully the stream reproduces it) and the offline default's ("fitted": what a video made offline
shows). Variants: the frames only; and the frames encoded in a
thread as WebRTC would (VP8 and H.264 through PyAV's libvpx / libx264, real-time settings), sharing
the CPU with the session. The speech is the held-out clips of benchmarks/data/speech joined to 60 s;
the portrait a held-out photo. Writes docs/measured/live_latency.json (and a contact sheet of
frames beside it).

    python benchmarks/live_latency.py [--seconds 60] [--sizes 256,512] [--variants plain,vp8,h264] [--soak 600]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import subprocess
import threading
import time
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "benchmarks" / "data" / "speech" / "heldout"
PORTRAIT = ROOT / "benchmarks" / "data" / "portraits" / "heldout" / "photo_latina_woman_neutral.jpg"
OUT = ROOT / "docs" / "measured" / "live_latency.json"
OFFLINE_MODELS = ("causal", "fitted")  # live against offline: the same model, and the offline default


def speech_of(seconds: float) -> np.ndarray:
    """Real speech, 16 kHz: the held-out clips joined (with their own pauses) to ``seconds``."""
    from portraittalk.media import load_audio

    clips = [load_audio(p).samples for p in sorted(SPEECH.glob("*.flac"))]
    out, n = [], int(seconds * 16000)
    while sum(len(c) for c in out) < n:
        out.extend(clips)
    return np.concatenate(out)[:n]


class MemoryWatch:
    """The process's resident memory, sampled every 0.25 s in a thread: peak, and the first and last tenth."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.process.memory_info().rss))
            self._stop.wait(0.25)

    def report(self) -> dict:
        rss = np.array([r for _, r in self.samples], np.float64) / 2**20
        tenth = max(1, len(rss) // 10)
        return {"peak_rss_mb": round(float(rss.max()), 1), "first_tenth_mb": round(float(rss[:tenth].mean()), 1),
                "last_tenth_mb": round(float(rss[-tenth:].mean()), 1),
                "growth_mb": round(float(rss[-tenth:].mean() - rss[:tenth].mean()), 1)}  # fmt: skip


class Encoder:
    """Frames encoded in a thread as a WebRTC sender would (real-time settings), fed through a queue."""

    # One encoder thread each (the session has the other core): libvpx's default thread pool spins on a
    # busy 2-core machine (72 ms a 256 px frame, against 3 ms with one thread).
    SETTINGS = {"vp8": ("libvpx", {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "threads": "1"}),
                "h264": ("libx264", {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline",
                                     "threads": "1"})}  # fmt: skip

    def __init__(self, kind: str, size: tuple[int, int], fps: float) -> None:
        import av

        name, options = self.SETTINGS[kind]
        self.codec = av.CodecContext.create(name, "w")
        self.codec.width, self.codec.height = size
        self.codec.pix_fmt = "yuv420p"
        self.codec.bit_rate = 1_000_000
        self.codec.time_base = Fraction(1, int(round(fps)))
        self.codec.options = options
        self.queue: queue.Queue = queue.Queue()
        self.encoded = 0
        self.bytes = 0
        self.busy_s = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def put(self, frame) -> None:
        self.queue.put(frame)

    def _run(self) -> None:
        import av

        while True:
            item = self.queue.get()
            if item is None:
                break
            began = time.perf_counter()
            picture = av.VideoFrame.from_ndarray(item.image, format="rgb24").reformat(format="yuv420p")
            picture.pts = item.index
            for packet in self.codec.encode(picture):
                self.bytes += packet.size
            self.encoded += 1
            self.busy_s += time.perf_counter() - began

    def close(self) -> dict:
        waiting = self.queue.qsize()
        self.queue.put(None)
        self._thread.join()
        return {"frames_encoded": self.encoded, "backlog_at_end": waiting,
                "encode_ms_per_frame": round(self.busy_s / max(self.encoded, 1) * 1000, 2),
                "kbit_per_s": round(self.bytes * 8 / 1000 / max(self.encoded / 25.0, 1e-9), 1)}  # fmt: skip


def run_variant(pt, reference, samples: np.ndarray, variant: str, keep: list) -> dict:
    """One real-time stream of ``samples``; frames kept (a few) for the contact sheet."""
    from portraittalk.live.stream import stream

    with pt.live([reference], size=reference.size) as session:
        encoder = None if variant == "plain" else Encoder(variant, session.frame_size, session.fps)
        mouth: list[float] = []

        def on_frame(frame) -> None:
            mouth.append(frame.mouth_open)
            if encoder is not None:
                encoder.put(frame)
            if variant == "plain" and frame.index % 250 == 125 and frame.index < 1500:
                keep.append(frame.image)

        with MemoryWatch() as memory:
            report = stream(session, samples, 0.02, paced=True, on_frame=on_frame)
            encoded = encoder.close() if encoder is not None else None
    result = {"variant": variant, "size": reference.size, **report.as_dict(), "memory": memory.report(),
              "lookahead_ms": session.lookahead_s * 1000}
    if encoded:
        result["encoder"] = encoded
    result["mouth"] = np.asarray(mouth)
    return result


def soak(pt, reference, samples: np.ndarray, seconds: float) -> dict:
    """Memory over a long session, pushed as fast as it goes (not paced): RSS at each tenth."""
    import psutil

    process = psutil.Process()
    chunk, total = 320, int(seconds * 16000)
    marks = []
    began = time.perf_counter()
    with pt.live([reference], size=reference.size) as session:
        for i, at in enumerate(range(0, total, chunk)):
            j = at % len(samples)
            session.push(samples[j : j + chunk] if j + chunk <= len(samples) else np.zeros(chunk, np.float32))
            if i % max(1, total // chunk // 10) == 0:
                marks.append(round(process.memory_info().rss / 2**20, 1))
        frames = session.frames_out
    return {"seconds": seconds, "frames": frames, "wall_s": round(time.perf_counter() - began, 1),
            "rss_mb_each_tenth": marks, "growth_mb": round(marks[-1] - marks[1], 1)}  # fmt: skip


def offline_mouth(pt, reference, samples: np.ndarray, model: str) -> np.ndarray:
    """The offline video's drawn mouth opening for the same sound with motion model ``model`` (controls
    applied as the warp engine does)."""
    from portraittalk.media.audio import Audio
    from portraittalk.motion.controls import apply_controls

    request = pt.defaults.updated(size=reference.size, motion_model=model)
    track = pt.motion(Audio.from_array(samples), reference, request)
    return apply_controls(track, request.controls, request.render.smoothing_s).mouth_open


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sizes", default="256,512",
                        help="frame sizes (px): 256 is the app's Live tab, 512 the default")
    parser.add_argument("--variants", default="plain,vp8,h264", help="at the first size; the others run plain")
    parser.add_argument("--soak", type=float, default=0.0, help="also a long unpaced session of this many seconds")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from portraittalk import PortraitTalk

    pt = PortraitTalk.from_pretrained(engine="warp")
    samples = speech_of(args.seconds)
    started = datetime.now(timezone.utc)
    results, keep = [], []
    sizes = [int(v) for v in args.sizes.split(",")]
    for size in sizes:
        reference = pt.analyse([PORTRAIT], size, pt.defaults.render.crop_margin)[0]
        offline = {model: offline_mouth(pt, reference, samples, model) for model in OFFLINE_MODELS}
        for variant in args.variants.split(",") if size == sizes[0] else ["plain"]:
            load_before = os.getloadavg()[0]
            result = run_variant(pt, reference, samples, variant, keep)
            live = result.pop("mouth")
            for model, mouth in offline.items():
                n = min(len(live), len(mouth))
                result[f"mouth_r_vs_offline_{model}"] = round(float(np.corrcoef(live[:n], mouth[:n])[0, 1]), 3)
            result["load_1min_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            results.append(result)
            print(json.dumps(result))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    report = {"what": "live session: 20 ms chunks of real speech pushed in real time; latency = frame returned - "
                      "its last sample spoken (lookahead included)",  # fmt: skip
              "when_utc": started.strftime("%Y-%m-%d %H:%M"), "commit": commit.strip(),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "note": "shared 2-core machine, other jobs running: see each run's load"},
              "speech": f"benchmarks/data/speech/heldout joined to {args.seconds:g} s",
              "portrait": str(PORTRAIT.relative_to(ROOT)), "runs": results}  # fmt: skip
    if args.soak:
        report["soak"] = soak(pt, reference, samples, args.soak)
        print(json.dumps(report["soak"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if keep:  # a row of frames, 10 s apart, from each plain run
        from PIL import Image

        tiles = [np.asarray(Image.fromarray(image).resize((256, 256))) for image in keep]
        per_row = max(1, len(tiles) // len(sizes))
        rows = [np.concatenate(tiles[i : i + per_row], axis=1) for i in range(0, len(tiles), per_row)]
        Image.fromarray(np.concatenate(rows, axis=0)).save(args.out.with_suffix(".jpg"), quality=85)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
