"""Result views the app shows: the landmark track over the video, and the conflict-explorer grid."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..media import Audio, VideoWriter, read_video
from ..motion.track import MotionTrack


def motion_overlay(video: Path, track: MotionTrack, output: Path, audio: Optional[Audio] = None,
                   to_video: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> Path:  # fmt: skip
    """Write ``video`` with the MotionTrack's mesh drawn on each frame (same timing, same audio).

    ``to_video`` maps track points into video pixels (whole-photo results); by default the track's
    frame is stretched onto the video's.
    """
    from ..face.draw import draw_preview

    frames = read_video(video)
    tw, th = track.frame_size
    scale = np.array([frames.width / tw, frames.height / th], np.float32)
    last = len(track) - 1
    with VideoWriter(output, frames.fps, (frames.width, frames.height), audio=audio) as writer:
        for i, (_, frame) in enumerate(frames):
            points = track.landmarks[min(i, last)]
            writer.write(draw_preview(frame, to_video(points) if to_video else points * scale))
    return output


def first_frame(video: Path) -> np.ndarray:
    """The first decoded frame of a video (the conflict explorer compares these)."""
    for _, frame in read_video(video):
        return frame
    raise ValueError(f"{video} has no frames")


def label_grid(tiles: Sequence[Sequence[np.ndarray]], rows: Sequence[str], cols: Sequence[str],
               tile: int = 256) -> np.ndarray:  # fmt: skip
    """Tiles (rows × cols) resized to ``tile`` px, with row and column captions, as one RGB image."""
    import cv2

    left, top = 220, 36
    grid = np.full((top + tile * len(rows), left + tile * len(cols), 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for j, name in enumerate(cols):
        cv2.putText(grid, name, (left + j * tile + 8, 24), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    for i, name in enumerate(rows):
        y = top + i * tile
        cv2.putText(grid, name[:24], (8, y + tile // 2), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        for j, img in enumerate(tiles[i]):
            grid[y:y + tile, left + j * tile:left + (j + 1) * tile] = cv2.resize(img, (tile, tile),
                                                                               interpolation=cv2.INTER_AREA)
    return grid


def metrics_table(result: Any) -> list[list[Any]]:
    """[metric, value, note] rows of an :class:`~portraittalk.metrics.evaluate.EvalResult`."""
    def num(v: Optional[float]) -> Optional[float]:
        return None if v is None or not np.isfinite(v) else round(float(v), 4)

    a, lmd, ident = result.adfd, result.lmd, result.identity
    rows = [["ADFD", num(a.adfd), f"(w1·S)×(w2·C), {a.frames} frames"],
            ["S (spatial)", num(a.spatial), "1 = same landmark positions"],
            ["C (motion)", num(a.motion), "1 = same motion directions"],
            ["LMD mouth (px)", num(lmd.mouth_px), "lower is better"],
            ["LMD face (px)", num(lmd.face_px), "lower is better"],
            ["PSNR (dB)", num(float(np.mean(result.psnr))), ""],
            ["SSIM", num(float(np.mean(result.ssim))), ""],
            ["identity similarity", num(ident.get("value")),
             ident.get("backend", "") if ident.get("available") else ident.get("reason", "")]]
    rows += [["note", None, n] for n in result.notes]
    return rows


def metric_curves(result: Any) -> dict[str, list]:
    """Long-format per-frame curves (time, value, curve) of S_t, C_t and SSIM, all in [0, 1]."""
    times = np.asarray(result.times, np.float64)
    out: dict[str, list] = {"time_s": [], "value": [], "curve": []}
    for name, curve in (("S", result.adfd.spatial_curve), ("C", result.adfd.motion_curve), ("SSIM", result.ssim)):
        for t, v in zip(times, np.asarray(curve, np.float64)):
            if np.isfinite(v):
                out["time_s"].append(round(float(t), 4))
                out["value"].append(float(v))
                out["curve"].append(name)
    return out
