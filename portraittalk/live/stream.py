"""A recording streamed into a live session as a microphone would deliver it, and what came back when.

The CLI's ``live --audio`` and ``benchmarks/live_latency.py`` measure with this. A frame's latency
is from the moment its last sample was spoken (chunk j is spoken by ``start + (j + 1) × chunk``, and
pushed then, or at once when the session is behind) to the moment its push returned it: the
lookahead the session waits for plus the time it took to draw.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..media.audio import SAMPLE_RATE
from .motion import frame_start
from .session import LiveFrame, LiveSession

LATE_S = 0.25  # a player showing frames this long after their sound drops a later one


@dataclass
class StreamReport:
    """What streaming a recording gave: frames against the frames owed, and each frame's latency."""

    seconds: float  # the recording's length
    chunk_s: float
    paced: bool  # chunks pushed in real time (else as fast as the session takes them)
    frames_expected: int  # as many as an offline video of the recording has
    frames_out: int
    wall_s: float  # from the first push to the last frame
    latencies: np.ndarray = field(repr=False)  # (frames returned by push,) seconds

    @property
    def missing(self) -> int:
        return self.frames_expected - self.frames_out

    @property
    def late(self) -> int:
        """Frames more than :data:`LATE_S` behind their sound: a player holding that delay drops them."""
        return int((self.latencies > LATE_S).sum())

    def latency(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if len(self.latencies) else float("nan")

    def summary(self) -> str:
        text = f"frames: {self.frames_out} of {self.frames_expected} expected"
        if self.paced:
            text += (f"; latency median {self.latency(50) * 1000:.0f} ms, p95 {self.latency(95) * 1000:.0f} ms, "
                     f"max {self.latency(100) * 1000:.0f} ms; {self.late} frame(s) dropped "
                     f"(over {LATE_S * 1000:.0f} ms late)")  # fmt: skip
        else:
            text += f"; {self.seconds / self.wall_s:.1f}x real time (not paced)"
        return text

    def as_dict(self) -> dict:
        return {"seconds": round(self.seconds, 3), "chunk_ms": round(self.chunk_s * 1000, 3), "paced": self.paced,
                "frames_expected": self.frames_expected, "frames_out": self.frames_out, "missing": self.missing,
                "latency_median_ms": round(self.latency(50) * 1000, 1),
                "latency_p95_ms": round(self.latency(95) * 1000, 1),
                "latency_max_ms": round(self.latency(100) * 1000, 1), "late_frames": self.late,
                "late_threshold_ms": LATE_S * 1000, "wall_s": round(self.wall_s, 3)}  # fmt: skip


def stream(session: LiveSession, samples: np.ndarray, chunk_s: float = 0.02, paced: bool = True,
           on_frame: Optional[Callable[[LiveFrame], None]] = None) -> StreamReport:  # fmt: skip
    """Push 16 kHz ``samples`` in chunks of ``chunk_s``, in real time when ``paced``; ``on_frame`` gets
    every frame as it comes (to show or encode it). The stream is finished at the end."""
    chunk = max(1, int(round(chunk_s * SAMPLE_RATE)))
    fps = session.fps
    latencies: list[float] = []
    emit = on_frame or (lambda frame: None)
    frames_out = 0
    began = time.perf_counter()
    for first in range(0, len(samples), chunk):
        spoken = began + min(first + chunk, len(samples)) / SAMPLE_RATE
        if paced:
            wait = spoken - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        frames = session.push(samples[first : first + chunk])
        returned = time.perf_counter()
        for frame in frames:
            if paced:
                latencies.append(returned - (began + frame_start(frame.index + 1, fps) / SAMPLE_RATE))
            emit(frame)
        frames_out += len(frames)
    for frame in session.finish():  # the last frames: their lookahead is past the recording's end
        emit(frame)
        frames_out += 1
    wall = time.perf_counter() - began
    expected = max(1, int(round(len(samples) / SAMPLE_RATE * fps)))
    return StreamReport(len(samples) / SAMPLE_RATE, chunk / SAMPLE_RATE, paced, expected, frames_out, wall,
                        np.asarray(latencies))  # fmt: skip
