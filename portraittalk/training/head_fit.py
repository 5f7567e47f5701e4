"""Fit :mod:`portraittalk.motion.head`'s statistics on the real fit clips of the motion corpus.

    python -m portraittalk.training.head_fit [--corpus benchmarks/data/motion_corpus/fit.npz]

rewrites ``portraittalk/motion/head_params.json``. Only the fit clips (natural speakers) are used:
GRID's read sentences are nearly still and would teach a still head; clips/eval is never read.
Per channel: the time constant from the median speed of the clips (frame-to-frame change ÷ std), the emphasis
responses by least squares on the model's own causal responses, the pause ratio from how much less
the real head moves in pauses, and the amplitude so that the model's per-clip std on the clips' own
sound matches the real speakers' (medians over the 17 speakers, each once).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..motion.head import CHANNELS, PARAMS_FILE, HeadMotion, HeadParams

CORPUS = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "motion_corpus" / "fit.npz"
FPS = 25.0
FIELDS = ("roll", "pitch", "yaw", "dx", "dy", "scale", "brow_height", "gaze_x", "gaze_y")
RESPONSE_TAU_S = 0.12
SEEDS = 8
# The fit clips' one speaker with several clips (19 clips, 17 speakers): each speaker counts once in
# the medians, so a speaker with three clips does not pull the typical amplitude toward his own.
SPEAKERS = {"en_obama_edtalk": "obama", "en_obama_styletalk2": "obama", "en_obama_styletalk3": "obama"}


def load_clips(path: Path = CORPUS) -> list[dict[str, np.ndarray]]:
    """Each fit clip's channels (:data:`CHANNELS` order, NaN frames filled with the clip median),
    loudness (dBFS) and pitch (Hz)."""
    with np.load(path) as d:
        starts = d["clip_start"]
        clips = []
        for a, b, clip_id in zip(starts[:-1], starts[1:], d["clip_id"]):
            x = np.stack([d[f][a:b].astype(np.float64) for f in FIELDS], axis=1)
            x = np.where(np.isnan(x), np.nanmedian(x, axis=0), x)
            clips.append({"x": x - x.mean(axis=0), "loudness_db": d["loudness_db"][a:b].astype(np.float64),
                          "pitch_hz": d["pitch_hz"][a:b].astype(np.float64),
                          "speaker": SPEAKERS.get(str(clip_id), str(clip_id))})  # fmt: skip
    return clips


def change(x: np.ndarray) -> np.ndarray:
    """(C,) mean frame-to-frame change of ``x`` (T, C) smoothed over one frame (MediaPipe's jitter out)."""
    from ..motion.controls import smooth

    return np.abs(np.diff(smooth(x, 1.0), axis=0)).mean(axis=0)


def speed(x: np.ndarray) -> np.ndarray:
    """(C,) :func:`change` over the std: how fast a channel moves for its amplitude."""
    return change(x) / np.maximum(x.std(axis=0), 1e-12)


def speaker_median(clips: list[dict], values: list[np.ndarray]) -> np.ndarray:
    """(C,) the median over speakers of each speaker's median over its clips (``values``: one (C,) per
    clip, or per clip and seed in clip order repeated)."""
    per: dict[str, list[np.ndarray]] = {}
    for i, v in enumerate(values):
        per.setdefault(clips[i % len(clips)]["speaker"], []).append(v)
    return np.median([np.median(v, axis=0) for v in per.values()], axis=0)


def simulate(params: HeadParams, clip: dict, seed: int) -> np.ndarray:
    """(T, C) the model's channels on a clip's sound, dx/dy in face heights, unscaled by head_sway."""
    gen = HeadMotion(FPS, 1.0, seed=seed, params=params)
    out = gen.run(clip["loudness_db"], clip["pitch_hz"])
    return np.concatenate([out.head, out.brow[:, None], out.gaze], axis=1).astype(np.float64)


def fit(clips: list[dict]) -> tuple[HeadParams, dict]:
    c = len(CHANNELS)
    real_std = speaker_median(clips, [k["x"].std(axis=0) for k in clips])
    real_speed = speaker_median(clips, [speed(k["x"]) for k in clips])
    # Time constants: the two-pole process's speed (mean frame-to-frame change over std, after a
    # one-frame smoothing that takes out MediaPipe's jitter) matched per channel to the real speed.
    probe = np.geomspace(0.03, 3.0, 120)
    noise = np.random.default_rng(0).standard_normal(20000)
    speeds = []
    for tau in probe:
        a = np.exp(-1.0 / (tau * FPS))
        u = y = 0.0
        ys = np.empty(len(noise))
        for i, w in enumerate(noise):
            u = a * u + w
            y = a * y + (1 - a) * u
            ys[i] = y
        speeds.append(speed(ys[:, None])[0])
    tau_s = np.interp(real_speed, speeds[::-1], probe[::-1])  # speeds fall as tau grows
    # Emphasis responses: the model's unit responses (onset, pitch) regressed out of the real channels.
    unit = HeadParams(np.zeros(c), tau_s, 1.0, np.ones(c), np.zeros(c), RESPONSE_TAU_S)
    onset = np.concatenate([simulate(unit, k, 0)[:, 0] for k in clips])
    pitch_unit = replace(unit, onset_gain=np.zeros(c), pitch_gain=np.ones(c))
    rise = np.concatenate([simulate(pitch_unit, k, 0)[:, 0] for k in clips])
    # dx, dy come out of simulate in face heights as the corpus has them (face_height 1).
    real = np.concatenate([k["x"] for k in clips])
    design = np.stack([onset - onset.mean(), rise - rise.mean()], axis=1)
    coef, *_ = np.linalg.lstsq(design, real - real.mean(axis=0), rcond=None)
    # Pauses: frame-to-frame motion in quiet frames / in speech, median over clips.
    ratios = []
    for k in clips:
        level = k["loudness_db"] - k["loudness_db"].max() + 40.0
        quiet = level[1:] < 14.0
        if quiet.sum() > 10 and (~quiet).sum() > 10:
            step = np.abs(np.diff(k["x"], axis=0))
            ratios.append(np.median(step[quiet].mean(axis=0) / np.maximum(step[~quiet].mean(axis=0), 1e-12)))
    pause_ratio = float(np.clip(np.median(ratios), 0.3, 1.0))
    params = HeadParams(np.ones(c), tau_s, pause_ratio, coef[0], coef[1], RESPONSE_TAU_S)
    # Amplitudes: the model's median per-clip std on the clips' own sound = the real median.
    # ... and the median frame-to-frame change (smoothed over a frame) matched by the time constants.
    real_change = speaker_median(clips, [change(k["x"]) for k in clips])
    for _ in range(4):
        runs = [simulate(params, k, s) for s in range(SEEDS) for k in clips]
        sim = speaker_median(clips, [r.std(axis=0) for r in runs])
        sim_change = speaker_median(clips, [change(r) for r in runs])
        params = replace(params, sigma=params.sigma * real_std / np.maximum(sim, 1e-12),
                         tau_s=params.tau_s * np.clip(sim_change * real_std / np.maximum(real_change * sim, 1e-12),
                                                      0.5, 2.0))  # fmt: skip
    runs = [simulate(params, k, s) for s in range(SEEDS) for k in clips]
    sim = speaker_median(clips, [r.std(axis=0) for r in runs])
    report = {"clips": len(clips), "speakers": len({k["speaker"] for k in clips}),
              "real_std_per_clip_speaker_median": dict(zip(CHANNELS, real_std.round(5).tolist())),
              "model_std_per_clip_speaker_median": dict(zip(CHANNELS, sim.round(5).tolist())),
              "real_change_speaker_median": dict(zip(CHANNELS, real_change.round(5).tolist())),
              "model_change_speaker_median": dict(zip(CHANNELS, speaker_median(clips, [change(r) for r in runs]).round(5).tolist())),
              "pause_ratios_per_clip": np.round(ratios, 3).tolist()}  # fmt: skip
    return params, report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--out", type=Path, default=PARAMS_FILE)
    args = ap.parse_args(argv)
    params, report = fit(load_clips(args.corpus))
    args.out.write_text(json.dumps({"source": "benchmarks/data/motion_corpus/fit.npz (python -m "
                                    "portraittalk.training.head_fit)", "units": "channels " + ", ".join(CHANNELS)
                                    + "; degrees, face heights, eye widths", "params": params.as_json(),
                                    "fit": report}, indent=1) + "\n")  # fmt: skip
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
