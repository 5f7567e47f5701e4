"""Short real-face test videos: the astronaut portrait moved by smooth random head motion."""
from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "assets" / "portraits" / "astronaut.png"


def head_motion(frames: int, seed: int = 0) -> np.ndarray:
    """(frames, 4): dx, dy (fraction of the size), roll (deg), scale − 1; smooth but not periodic."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(frames + 20, 4)).cumsum(axis=0)
    kernel = np.hanning(9) / np.hanning(9).sum()
    smooth = np.stack([np.convolve(raw[:, j], kernel, mode="same") for j in range(4)], axis=1)[10:10 + frames]
    smooth -= smooth[0]
    return smooth * np.array([0.012, 0.012, 1.8, 0.012])


def render_frames(size: int, motion: np.ndarray) -> list[np.ndarray]:
    import cv2

    from portraittalk.media import load_image

    base = cv2.resize(load_image(PORTRAIT), (size, size), interpolation=cv2.INTER_AREA)
    out = []
    for dx, dy, roll, ds in motion:
        m = cv2.getRotationMatrix2D((size / 2, size / 2), roll, 1.0 + ds)
        m[:, 2] += (dx * size, dy * size)
        out.append(cv2.warpAffine(base, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out


def write_video(path: Path, frames: list[np.ndarray], fps: float, crf: int = 18) -> Path:
    from portraittalk.media import VideoWriter

    h, w = frames[0].shape[:2]
    with VideoWriter(path, fps, (w, h), crf=crf) as writer:
        for f in frames:
            writer.write(f)
    return path


def make_clip(path: Path, seconds: float = 2.0, fps: float = 25.0, size: int = 512, delay: int = 0,
              seed: int = 0, crf: int = 18) -> Path:
    """A clip whose head motion at time t is the motion of a 25 fps master at t (minus ``delay`` frames)."""
    frames = int(round(seconds * fps))
    master = head_motion(int(round(seconds * 25)) + 1, seed)
    t = np.clip(np.arange(frames) / fps * 25 - delay, 0, len(master) - 1)
    # interpolate the master motion at the clip's own frame times (other frame rates)
    motion = np.stack([np.interp(t, np.arange(len(master)), master[:, j]) for j in range(4)], axis=1)
    return write_video(path, render_frames(size, motion), fps, crf)
