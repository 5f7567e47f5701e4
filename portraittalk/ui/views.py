"""Result views the app shows: the landmark track over the video, the conflict-explorer grid, a
ground truth the browser can play, and the metrics with how to read them."""
from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np

from ..media import VideoWriter

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import GenerationResult


def motion_overlay(result: "GenerationResult", output: Path) -> Path:
    """Write the result's video with the mesh of where its engine drew the face on each frame (same
    timing, same audio), from the result's own frames: no decode of its MP4, no new face analysis."""
    from ..face.draw import draw_preview

    to_video = result.crop.to_source if result.full_frame else np.asarray
    size = result.crop.source_size if result.full_frame else result.drawn.frame_size
    with VideoWriter(output, result.fps, size, audio=result.audio) as writer:
        for frame, points in zip(result.iter_frames(), result.drawn.landmarks):
            writer.write(draw_preview(frame, to_video(points)))
    return output


# Video codecs every browser the app supports plays in an MP4 (MPEG-4 Part 2, HDTF's, is not one).
PLAYABLE_CODECS = {"h264", "vp8", "vp9", "av1"}


def playable_preview(video: Path, output: Path) -> Optional[Path]:
    """An H.264 copy of ``video`` at ``output`` when the browser cannot play its codec, else None.

    Why: the metrics read any codec ffmpeg decodes, but the page's player shows a blank box for the
    others; the copy is only for the eyes (the metrics keep reading the original).
    """
    from ..media.ffmpeg import ffmpeg_exe

    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(video)], capture_output=True, text=True)
    codec = re.search(r"Video: (\w+)", probe.stderr)
    if codec is None or codec.group(1) in PLAYABLE_CODECS:
        return None
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-crf", "18", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:a", "aac", "-movflags", "+faststart",
                    str(output)], check=True, capture_output=True)  # fmt: skip
    return output


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


def stacked_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table whose cells carry their column's name, so that on a phone each row can be shown as
    a card of labelled lines (the app's CSS) instead of columns that scroll sideways. `code` spans in
    the cells are kept."""
    def cell(value: Any) -> str:
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape("" if value is None else str(value)))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td data-label="{html.escape(h)}">{cell(v)}</td>' for h, v in zip(headers, row))
                   + "</tr>" for row in rows)  # fmt: skip
    return f'<table class="stacked"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# How to read each number, in the words of a creator; docs/metrics.md has the definitions, and the
# measurements these sentences quote (ADFD's noise floor, dlib's scale for two different people).
READING = {
    "ADFD": "higher is better (1 = the same face motion). Even a re-encoded copy of the same video scores "
            "0.87–0.99, depending on size and motion; the right motion 3 frames late scores about 0.5–0.6. It "
            "follows the whole head, not only the lips: a still or differently moving head against a moving real "
            "speaker scores near zero even when the lips match (LMD mouth says how the lips do)",
    "S (spatial)": "higher is better: where the face landmarks are (1 = the same places)",
    "C (motion)": "higher is better: which way they move from frame to frame (1 = the same way, 0.5 = unrelated)",
    "LMD mouth (px)": "lower is better: mean distance of the lip points, in the ground truth's pixels",
    "LMD face (px)": "lower is better: the same over all face points",
    "PSNR (dB)": "higher is better: how close the pixels are (100 = identical frames)",
    "SSIM": "higher is better: how close the image structure is (1 = identical frames)",
    "identity similarity": "higher is better: how much the face looks like the first reference",
}
DLIB_SCALE = ("two different people score 0.77–0.89; it tells who the face is, not whether the picture is "
              "clean")  # fmt: skip


def metrics_table(result: Any, public: Callable[[str], str] = str) -> list[list[Any]]:
    """[metric, value, how to read it] rows of an :class:`~portraittalk.metrics.evaluate.EvalResult`;
    ``public`` cleans the package's notes for the page."""
    def num(v: Optional[float]) -> Optional[float]:
        return None if v is None or not np.isfinite(v) else round(float(v), 4)

    a, lmd, ident = result.adfd, result.lmd, result.identity
    values = {"ADFD": a.adfd, "S (spatial)": a.spatial, "C (motion)": a.motion, "LMD mouth (px)": lmd.mouth_px,
              "LMD face (px)": lmd.face_px, "PSNR (dB)": float(np.mean(result.psnr)),
              "SSIM": float(np.mean(result.ssim)), "identity similarity": ident.get("value")}  # fmt: skip
    rows = [[name, num(value), READING[name]] for name, value in values.items()]
    rows[0][2] += f" ({a.frames} frames compared)"
    if not ident.get("available"):
        rows[-1][2] = public(ident.get("reason", ""))
    elif ident.get("backend") == "dlib":
        rows[-1][2] += f" (dlib: {DLIB_SCALE})"
    rows += [["note", None, public(n)] for n in result.notes]
    return rows


CURVES = {"S": "S: landmark positions", "C": "C: motion directions", "SSIM": "SSIM: image structure"}
CURVE_COLORS = dict(zip(CURVES.values(), ("#4c78a8", "#f58518", "#e45756")))


def curve_legend() -> str:
    """The curves' legend as HTML that wraps on a narrow screen (the plot's own runs off the side)."""
    return "".join(f'<span class="curve-key"><b style="color:{color}">━━</b> {name}</span>'
                   for name, color in CURVE_COLORS.items())  # fmt: skip


def metric_curves(result: Any) -> dict[str, list]:
    """Long-format per-frame curves (time, value, curve) of S_t, C_t and SSIM, all in [0, 1]; each
    curve's name says what it follows, for the plot's legend."""
    times = np.asarray(result.times, np.float64)
    out: dict[str, list] = {"time_s": [], "value": [], "curve": []}
    for key, curve in (("S", result.adfd.spatial_curve), ("C", result.adfd.motion_curve), ("SSIM", result.ssim)):
        for t, v in zip(times, np.asarray(curve, np.float64)):
            if np.isfinite(v):
                out["time_s"].append(round(float(t), 4))
                out["value"].append(float(v))
                out["curve"].append(CURVES[key])
    return out
