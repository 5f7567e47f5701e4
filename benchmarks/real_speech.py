"""The generated talking head against the real speaker: first frame + the clip's own sound -> generate
-> the same per-frame measures on both videos.

For each real talking-head clip (``benchmarks/data/clips/eval``; never used for fitting), MediaPipe
tracks the real frames and the generated ones, and the motion corpus's own measures
(:func:`portraittalk.training.motion_corpus.clip_features`: the inner-lip gap in the face's frame,
3-D head roll/pitch/yaw, brow height) are taken on both. Per clip:

- mouth: Pearson r of the generated and the real lip gap at lag 0 (what a viewer sees), the best r
  within ±6 frames and that lag (> 0: the generated mouth moves later than the real one);
- the 99th percentile of the frame-to-frame change of the gap (face heights), generated and real;
- std over the clip of roll, pitch, yaw and brow height, generated ÷ real;
- a sheet (``<clip>.jpg``): real | generated frames at six times, with their mouths enlarged.

Both shipped mouth models are generated and measured (``MODELS``: "fitted", the offline default, and
"causal", the one live streaming runs), so the notes can say what the causal model's lookahead costs.
The previous engine runs beside them in the same run (``--baseline REV``: that commit checked out in a
git worktree under /tmp, generating in its own process), so the notes can say new against old. The
JSON summary has the medians over the clips:

    python benchmarks/real_speech.py [--set eval|fit] [--baseline REV] [--out outputs/real_speech]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import best_lag, pearson  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT / "benchmarks" / "data" / "clips"
MAX_LAG = 6
MOTION = ("roll", "pitch", "yaw", "brow_height")
SHEET_TIMES = 6
MOUTH = (61, 291, 0, 17)  # corners, upper and lower lip's outer middle
MODELS = ("fitted", "causal")  # the motion models measured (portraittalk.motion.registry)


def measures(video: Path) -> tuple[dict[str, np.ndarray], np.ndarray, list[np.ndarray]]:
    """The corpus's per-frame measures of a video, its 2-D landmarks and its frames."""
    from portraittalk.media import read_video
    from portraittalk.training.motion_corpus import clip_features, track_landmarks

    points = track_landmarks(video)
    frames = [f for _, f in read_video(video)]
    return clip_features(points, None), points[..., :2], frames


def p99_change(x: np.ndarray) -> float:
    d = np.abs(np.diff(x))
    return float(np.percentile(d[np.isfinite(d)], 99))


def compare(real: dict[str, np.ndarray], gen: dict[str, np.ndarray]) -> dict:
    n = min(len(real["lip_gap"]), len(gen["lip_gap"]))
    a, b = real["lip_gap"][:n], gen["lip_gap"][:n]
    r_best, lag = best_lag(a, b, MAX_LAG)
    row = {"r_open": round(pearson(a, b), 3), "r_open_best_lag": round(r_best, 3), "best_lag": lag,
           "p99_gap_change": round(p99_change(b), 4),
           "p99_gap_change_ratio": round(p99_change(b) / max(p99_change(a), 1e-9), 2)}  # fmt: skip
    for k in MOTION:
        row[f"{k}_std_ratio"] = round(float(np.nanstd(gen[k][:n]) / max(np.nanstd(real[k][:n]), 1e-9)), 2)
    return row


def generate_current(pt, first: Path, clip: Path, out: Path, model: str) -> Path:
    video = out / f"{clip.stem}.{model}.mp4"
    pt.generate([str(first)], clip, output=video, seed=0, motion_model=model)
    return video


def baseline_worktree(rev: str) -> Path:
    """The commit ``rev`` checked out (detached) in a worktree under /tmp, reused between runs."""
    sha = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    tree = Path(tempfile.gettempdir()) / f"portraittalk-baseline-{sha[:10]}"
    if not tree.is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
    return tree


def generate_baseline(tree: Path, first: Path, clip: Path, out: Path) -> Path:
    video = out / f"{clip.stem}.old.mp4"
    code = ("import sys; from portraittalk import PortraitTalk; from portraittalk.engines.warp import WarpEngine; "
            "PortraitTalk.from_pretrained(engine=WarpEngine.name).generate([sys.argv[1]], sys.argv[2], "
            "output=sys.argv[3], seed=0)")  # fmt: skip
    subprocess.run([sys.executable, "-c", code, str(first), str(clip), str(video)], cwd=tree, check=True,
                   env={**__import__("os").environ, "PYTHONPATH": str(tree)}, capture_output=True)  # fmt: skip
    return video


def _box(points: np.ndarray, ids, pad: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    p = points[list(ids)] if ids is not None else points
    c = np.nanmean(p, axis=0)
    half = pad * max(float(np.nanmax(np.ptp(p, axis=0))), 8.0) / 2
    x0, y0 = int(max(c[0] - half, 0)), int(max(c[1] - half, 0))
    x1, y1 = int(min(c[0] + half, shape[1])), int(min(c[1] + half, shape[0]))
    return x0, y0, x1, y1


def _crop(frame: np.ndarray, points: np.ndarray, ids, pad: float, side: int) -> np.ndarray:
    from PIL import Image

    if np.isnan(points).all():
        return np.zeros((side, side, 3), np.uint8)
    x0, y0, x1, y1 = _box(points, ids, pad, frame.shape[:2])
    return np.asarray(Image.fromarray(frame[y0:y1, x0:x1]).resize((side, side)))


def sheet(path: Path, title: str, videos: list[tuple[str, list[np.ndarray], np.ndarray]], side: int = 150) -> None:
    """Columns: each video's face and its mouth enlarged; rows: SHEET_TIMES moments spread over the clip."""
    from PIL import Image, ImageDraw

    n = min(len(v[1]) for v in videos)
    times = np.linspace(0.1 * n, 0.9 * n, SHEET_TIMES).astype(int)
    cols = 2 * len(videos)
    canvas = Image.new("RGB", (cols * side, SHEET_TIMES * side + 16), (20, 20, 20))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), f"{title}: " + " | ".join(f"{name} face, {name} mouth" for name, _, _ in videos), fill=(255, 255, 255))
    for row, t in enumerate(times):
        for k, (name, frames, points) in enumerate(videos):
            face = _crop(frames[t], points[t], None, 1.15, side)
            mouth = _crop(frames[t], points[t], MOUTH, 1.8, side)
            for j, tile in enumerate((face, mouth)):
                x, y = (2 * k + j) * side, 16 + row * side
                canvas.paste(Image.fromarray(tile), (x, y))
                draw.text((x + 3, y + 2), f"{name} {t / 25:.1f}s", fill=(255, 255, 0))
    canvas.save(path, quality=80)


def evaluate(pt, clip: Path, out: Path, tree: Path | None) -> dict:
    from PIL import Image

    real, real_points, real_frames = measures(clip)
    first = out / f"{clip.stem}.first.png"
    Image.fromarray(real_frames[0]).save(first)
    row: dict = {"clip": clip.stem, "frames": len(real_frames),
                 "real_p99_gap_change": round(p99_change(real["lip_gap"]), 4)}  # fmt: skip
    videos = [("real", real_frames, real_points)]
    runs = [(model, lambda model=model: generate_current(pt, first, clip, out, model)) for model in MODELS]
    if tree is not None:
        runs.append(("old", lambda: generate_baseline(tree, first, clip, out)))
    for name, make in runs:
        video = make()
        gen, points, frames = measures(video)
        row[name] = compare(real, gen)
        videos.append((name, frames, points))
        video.unlink(missing_ok=True)
    first.unlink(missing_ok=True)
    sheet(out / f"{clip.stem}.jpg", clip.stem, videos)
    return row


def summary(rows: list[dict], name: str) -> dict:
    keys = [k for k in rows[0][name] if k != "best_lag"]
    out = {f"median_{k}": round(float(np.nanmedian([r[name][k] for r in rows])), 3) for k in keys}
    out["best_lags"] = [r[name]["best_lag"] for r in rows]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="eval", choices=("eval", "fit"))
    parser.add_argument("--baseline", default=None, help="a git revision to run beside the working tree")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "real_speech")
    parser.add_argument("--only", nargs="*", help="clip names (stems) to run, default all")
    args = parser.parse_args()
    from portraittalk import PortraitTalk
    from portraittalk.engines.warp import WarpEngine

    args.out.mkdir(parents=True, exist_ok=True)
    tree = baseline_worktree(args.baseline) if args.baseline else None
    pt = PortraitTalk.from_pretrained(engine=WarpEngine.name)
    rows = []
    for clip in sorted((CLIPS / args.set).glob("*.mp4")):
        if args.only and clip.stem not in args.only:
            continue
        rows.append(evaluate(pt, clip, args.out, tree))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    report = {"set": args.set, "baseline": args.baseline, "clips": rows,
              "summary": {**{m: summary(rows, m) for m in MODELS},
                          **({"old": summary(rows, "old")} if tree else {}),
                          "median_real_p99_gap_change": round(float(np.median([r["real_p99_gap_change"] for r in rows])), 4)},
              "languages": sorted({r["clip"].split("_")[0] for r in rows})}  # fmt: skip
    (args.out / f"real_speech_{args.set}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
