"""What the benchmarks measure on videos, written apart from what they measure (the yardstick must
not share code with the motion model): MediaPipe on decoded frames, a loudness envelope, the mouth's
opening and width, contact sheets."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

EYE_OUTER = (33, 263)  # a scale that does not move with the mouth or the jaw


def loudness_envelope(samples: np.ndarray, sr: int, fps: float, n: int) -> np.ndarray:
    """RMS of a 40 ms window centred on each frame."""
    half = int(0.02 * sr)
    centres = ((np.arange(n) + 0.5) / fps * sr).astype(int)
    return np.array([np.sqrt(np.mean(samples[max(c - half, 0) : c + half] ** 2) + 1e-12) for c in centres])


def landmarks_of(frames: Sequence[np.ndarray]) -> np.ndarray:
    """(T, 478, 2) MediaPipe landmarks of consecutive video frames (tracking mode), NaN where no face."""
    from portraittalk.face.landmarks import FaceMeshDetector

    out = np.full((len(frames), 478, 2), np.nan, np.float32)
    with FaceMeshDetector(static=False) as det:
        for i, frame in enumerate(frames):
            faces = det.all_faces(frame)
            if faces:
                out[i] = faces[0].points
    return out


def mouth_opening_width(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inner-lip gap and corner-to-corner width, both over the outer eye-corner distance (a scale
    that neither the jaw nor the lips move)."""
    scale = np.linalg.norm(points[:, EYE_OUTER[0]] - points[:, EYE_OUTER[1]], axis=1)
    gap = np.linalg.norm(points[:, 13] - points[:, 14], axis=1) / scale
    width = np.linalg.norm(points[:, 61] - points[:, 291], axis=1) / scale
    return gap, width


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) < 1e-9 or np.std(b[ok]) < 1e-9:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def best_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Pearson r of a[t] vs b[t - lag] at the lag (|lag| <= max_lag) that maximises it."""
    best = (-1.0, 0)
    for lag in range(-max_lag, max_lag + 1):
        r = pearson(a[max(lag, 0) : len(a) + min(lag, 0)], b[max(-lag, 0) : len(b) + min(-lag, 0)])
        if r == r and r > best[0]:
            best = (r, lag)
    return best


def contact_sheet(tiles: Sequence[tuple[np.ndarray, str]], path: Path, cols: int = 6, side: int = 192,
                  title: str = "", colour: tuple[int, int, int] = (255, 255, 255)) -> Path:  # fmt: skip
    """Labelled tiles in a grid (a title line on top), saved as PNG."""
    from PIL import Image, ImageDraw

    rows = (len(tiles) + cols - 1) // cols
    top = 18 if title else 0
    sheet = Image.new("RGB", (side * cols, side * rows + top), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((4, 3), title, fill=colour)
    for k, (image, label) in enumerate(tiles):
        x, y = (k % cols) * side, (k // cols) * side + top
        sheet.paste(Image.fromarray(image).resize((side, side)), (x, y))
        if label:
            draw.rectangle((x, y, x + side, y + 13), fill=(0, 0, 0))
            draw.text((x + 3, y + 1), label, fill=(255, 255, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
