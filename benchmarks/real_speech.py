"""The generated mouth against a real speaker's: first frame + the clip's own sound -> generate ->
per-frame correlation of the generated and the real mouth opening and width.

For each real talking-head clip (``benchmarks/data/clips/eval``; never used for fitting), MediaPipe
measures the real mouth on the clip's frames and the generated mouth on the generated frames (the
inner-lip gap and the corner-to-corner width, over the outer eye-corner distance). Pearson r is
taken frame by frame at lag 0 (what a viewer sees) and, because the clips' own sound and picture
may be offset, also at the best lag within ±5 frames (reported with the lag). The loudness-only
baseline (``--motion-model acoustic``, the previous default) is run beside it, and the real mouth's
own correlation with loudness is given for scale. Writes JSON and a plot per clip:

    python benchmarks/real_speech.py [--set eval|fit] [--out outputs/real_speech]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import best_lag, landmarks_of, loudness_envelope, mouth_opening_width, pearson  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT / "benchmarks" / "data" / "clips"
MAX_LAG = 5
MODELS = ("fitted", "acoustic")  # the default, and the loudness-only baseline


def generated_mouth(pt, first: np.ndarray, clip: Path, model: str, out: Path) -> tuple[np.ndarray, np.ndarray]:
    from portraittalk.media import read_video

    video = out / f"{clip.stem}.{model}.mp4"
    pt.generate([first], clip, output=video, seed=0, motion_model=model)
    frames = [f for _, f in read_video(video)]
    video.unlink(missing_ok=True)
    return mouth_opening_width(landmarks_of(frames))


def evaluate(pt, clip: Path, out: Path) -> dict:
    from portraittalk.media import load_audio, read_video

    frames = [f for _, f in read_video(clip)]
    real_open, real_width = mouth_opening_width(landmarks_of(frames))
    audio = load_audio(clip)
    env = loudness_envelope(audio.samples, audio.sample_rate, 25.0, len(frames))
    row: dict = {"clip": clip.stem, "frames": len(frames), "real_open_vs_loudness": round(pearson(real_open, env), 3)}
    curves = {"real": real_open}
    for model in MODELS:
        gen_open, gen_width = generated_mouth(pt, frames[0], clip, model, out)
        n = min(len(gen_open), len(real_open))
        r_best, lag = best_lag(real_open[:n], gen_open[:n], MAX_LAG)
        row[model] = {"r_open": round(pearson(real_open[:n], gen_open[:n]), 3),
                      "r_width": round(pearson(real_width[:n], gen_width[:n]), 3),
                      "r_open_best_lag": round(r_best, 3), "lag": lag}  # fmt: skip
        curves[model] = gen_open
    _plot(curves, out / f"{clip.stem}.png", clip.stem)
    return row


def _plot(curves: dict[str, np.ndarray], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 3))
    for name, y in curves.items():
        z = (y - np.nanmean(y)) / max(float(np.nanstd(y)), 1e-9)
        ax.plot(np.arange(len(z)) / 25.0, z, label=name, lw=1.2 if name == "real" else 0.9)
    ax.set(title=f"{title}: mouth opening (standardised)", xlabel="s")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="eval", choices=("eval", "fit"))
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "real_speech")
    args = parser.parse_args()
    from portraittalk import PortraitTalk
    from portraittalk.engines.warp import WarpEngine

    args.out.mkdir(parents=True, exist_ok=True)
    pt = PortraitTalk.from_pretrained(engine=WarpEngine.name)
    rows = []
    for clip in sorted((CLIPS / args.set).glob("*.mp4")):
        rows.append(evaluate(pt, clip, args.out))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    summary = {model: {f"median_{k}": round(float(np.median([r[model][k] for r in rows])), 3)
                       for k in ("r_open", "r_width", "r_open_best_lag")} for model in MODELS}  # fmt: skip
    summary["median_real_open_vs_loudness"] = round(float(np.median([r["real_open_vs_loudness"] for r in rows])), 3)
    report = {"set": args.set, "clips": rows, "summary": summary,
              "languages": sorted({r["clip"].split("_")[0] for r in rows})}  # fmt: skip
    (args.out / f"real_speech_{args.set}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
