"""`portraittalk train --stage causal-mouth`: fit the causal audio-to-mouth model shipped as
``portraittalk/motion/causal_mouth.npz`` (the "causal" motion model live streaming runs,
:mod:`portraittalk.motion.causal_mouth`).

Data: the motion corpus (``--data benchmarks/data/motion_corpus``, the default for the shipped
model): the project's 19 fit clips and GRID (speaker s1's 1,000 clips and 9 more speakers), per
frame the lip gap, mouth width and jaw drop in the face's own frame and the log-mel (stored
normalised per clip; ``mel_levels.npz`` beside it restores the raw log-mel the causal model reads).
A folder of ``*.mp4`` talking-head clips works too (measured here with MediaPipe, no offsets).
``benchmarks/data/clips/eval`` is never fitted on. Targets are standardised per clip (speakers
differ in how far they open; the shape over time is what is learned).

Timing: each source's sound/picture offset is the corpus's own model-free estimate (GRID s1 from
its /b p/ releases against the word alignments, the others from the lip-gap/loudness lag less
GRID's natural lead; one offset per source, GRID's other speakers take s1's), so the model keeps
real speakers' anticipation instead of learning each clip's delay.

Augmentation (other voices, rooms and microphones): speaking rate 0.85-1.15x, the spectrum shifted
by up to 3 mel bands, gain ±15 dB, a spectral tilt, background noise at 15-45 dB SNR.

Validation: GRID by sentence (the corpus's split) and three fit sources left out; ``--max-steps``
steps per network. Needs torch (fitting only; the package runs the model with numpy). Deterministic
(seeded, one thread). Writes RUN/causal_mouth.npz (copy it over the shipped file to use it) and
RUN/causal_mouth_report.json.

    portraittalk train --stage causal-mouth [--data benchmarks/data/motion_corpus] --output RUN [--max-steps STEPS]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import InputError
from ..motion.causal_mouth import KERNEL, LEVEL_FRAMES, LOOKAHEAD_FRAMES, MAX_DILATIONS, MODEL_FILE, network_input
from .mouth_fitting import MAX_LAG, export, lag_scan
from .trainer import TrainResult

# 8 channels, 400 steps and 3 members (seeds 0-2, their mean predicts): on the fit sources left out,
# median r with the real opening 0.49; 32 channels (1,000-1,500 steps, one member) 0.35-0.40; the
# log-mel against fixed statistics only (no running mean and spread): 0.43.
HIDDEN, DILATIONS, OUTPUTS = 8, MAX_DILATIONS, ("opening", "width", "chin")
TARGETS = ("lip_gap", "mouth_width", "jaw_drop")  # the corpus's measures behind OUTPUTS
LOSS_WEIGHTS = (1.0, 0.5, 0.5)
STEPS, WINDOW, BATCH, MEMBERS = 400, 64, 32, 3
# Of each batch from the fit clips (varied real speakers), the rest from GRID. GRID is what teaches
# the lips to shut for /b p/ (held-out GRID sentences: shut at 81 % of /b p/ word starts with half of
# each batch from GRID, 67 % with 20 %, 28 % with none) at a cost in r on the fit sources left out
# (0.42, 0.45, 0.49).
FIT_SHARE = 0.5
VALIDATION_SOURCES = ("fit_retalking", "fit_klobuchar", "fit_theresa_may")


# -- data -------------------------------------------------------------------------------------------
def source_offsets(manifest: dict) -> dict[str, float]:
    """Frames the picture lags the sound, per source (see the module docstring)."""
    sources = manifest["sources"]
    s1 = sources["grid_s1"]["offset_frames"]
    return {name: (s1 if name.startswith("grid_other") else float(np.clip(s["offset_frames"], -5, 5)))
            for name, s in sources.items()}  # fmt: skip


def load_corpus(folder: Path) -> list[dict]:
    """Every corpus clip: id, source, split, raw log-mel (T, 80), targets (T, 3) standardised per clip
    (NaN where no face), mouth_aperture (T,), loudness_db (T,), bilabial word starts (frames)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    levels_file = folder / "mel_levels.npz"
    if not levels_file.is_file():
        raise InputError(f"{levels_file} is missing: scripts/build_mouth_levels.py writes it from the corpus's sources.")
    from .motion_corpus import BILABIAL_ONSET_WORDS

    with np.load(levels_file) as lv:
        levels = {str(k): (m, s) for k, m, s in zip(lv["key"], lv["mean"], lv["std"])}
    offsets = source_offsets(manifest)
    files = {}
    for name in manifest["files"]:
        with np.load(folder / name) as d:  # each array read once (an NpzFile decompresses on every access)
            files[name] = {k: d[k] for k in d.files}
    clips = []
    for entry in manifest["clips"]:
        d = files[entry["file"]]
        a, b = entry["start"], entry["start"] + entry["frames"]
        mean, std = levels[f"{entry['file']}:{entry['id']}"]
        mel = d["mel"][a:b].astype(np.float32) * (std + 1e-5) + mean
        y = np.stack([d[k][a:b].astype(np.float64) for k in TARGETS], axis=1)
        y = (y - np.nanmean(y, axis=0)) / (np.nanstd(y, axis=0) + 1e-6)
        wc = d["word_clip"] == entry["index"]
        words = zip(d["word_text"][wc], d["word_start"][wc])
        bilabial = [float(start) for text, start in words if str(text) in BILABIAL_ONSET_WORDS]
        clips.append({"name": entry["id"], "source": entry["source"], "split": entry["split"],
                      "offset": offsets[entry["source"]], "mel": mel, "y": y.astype(np.float32),
                      "aperture": d["mouth_aperture"][a:b].astype(np.float64),
                      "width_change": relative(d["mouth_width"][a:b]),
                      "loudness_db": d["loudness_db"][a:b].astype(np.float64), "bilabial": bilabial})  # fmt: skip
    return clips


def measure_clips(folder: Path) -> list[dict]:
    """Clips (``*.mp4``) measured as the corpus measures them (MediaPipe, face frame), one source
    each, no offset."""
    from ..media import load_audio
    from ..motion.causal_mouth import frame_log_mel
    from .motion_corpus import clip_features, track_landmarks

    paths = sorted(folder.glob("*.mp4"))
    clips = []
    for path in paths:
        points = track_landmarks(path)
        audio = load_audio(path)
        feats = clip_features(points, audio)
        y = np.stack([feats[k] for k in TARGETS], axis=1)
        y = (y - np.nanmean(y, axis=0)) / (np.nanstd(y, axis=0) + 1e-6)
        clips.append({"name": path.stem, "source": path.stem, "split": "fit", "offset": 0.0,
                      "mel": frame_log_mel(audio.resampled().samples, len(points)), "y": y.astype(np.float32),
                      "aperture": feats["mouth_aperture"].astype(np.float64),
                      "width_change": relative(feats["mouth_width"]), "loudness_db": feats["loudness_db"].astype(np.float64), "bilabial": []})  # fmt: skip
    return clips


def relative(width: np.ndarray) -> np.ndarray:
    """A mouth width as its relative change from the clip's median."""
    w = np.asarray(width, np.float64)
    return w / np.nanmedian(w) - 1.0


def aligned_targets(clip: dict) -> np.ndarray:
    """(T, 3) the targets moved by the source's offset: row t is the picture at t + offset."""
    y = clip["y"]
    t = np.arange(len(y)) + clip["offset"]
    ok = np.isfinite(y).all(axis=1)
    out = np.stack([np.interp(t, np.arange(len(y))[ok], y[ok, j]) for j in range(y.shape[1])], axis=1)
    out[(t < 0) | (t > len(y) - 1)] = np.nan
    near = np.interp(t, np.arange(len(y)), (~ok).astype(np.float64)) > 0
    out[near] = np.nan
    return out.astype(np.float32)


# -- network ----------------------------------------------------------------------------------------
def network(hidden: int = HIDDEN, dilations: tuple[int, ...] = DILATIONS):
    import torch
    from torch import nn

    class Net(nn.Module):
        """Causal: output t reads inputs up to t (the caller shifts it by LOOKAHEAD_FRAMES)."""

        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Conv1d(2 * 80, hidden, KERNEL)
            self.blocks = nn.ModuleList(nn.Conv1d(hidden, hidden, KERNEL, dilation=d) for d in dilations)
            self.out = nn.Conv1d(hidden, len(OUTPUTS), 1)
            self.drop = nn.Dropout(0.1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 160, T) -> (B, 3, T)
            pad = nn.functional.pad
            h = nn.functional.gelu(self.inp(pad(x, (KERNEL - 1, 0))), approximate="tanh")
            for block, d in zip(self.blocks, dilations):
                h = h + nn.functional.gelu(block(pad(self.drop(h), (d * (KERNEL - 1), 0))), approximate="tanh")
            return self.out(h)

    return Net()


def augment(mel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another voice, room and microphone: (T, 80) raw log-mel changed in place and returned."""
    shift = int(rng.integers(-3, 4))  # formants and pitch
    if shift:
        mel = np.roll(mel, shift, axis=1)
        if shift > 0:
            mel[:, :shift] = mel[:, shift : shift + 1]
        else:
            mel[:, shift:] = mel[:, shift - 1 : shift]
    mel = mel + rng.uniform(-1.5, 1.5) * np.log(10.0)  # gain ±15 dB
    mel = mel + rng.uniform(-0.7, 0.7) * np.linspace(-1, 1, mel.shape[1])[None]  # spectral tilt
    if rng.random() < 0.5:  # steady background noise, 15-45 dB under the window's loudest frame
        floor = mel.max() - rng.uniform(15, 45) * np.log(10.0) / 10.0
        noise = floor + rng.normal(0, 0.5, mel.shape)
        mel = np.logaddexp(mel, noise)
    return mel.astype(np.float32)


def batch(items: list[tuple[np.ndarray, np.ndarray]], weights: np.ndarray, rng: np.random.Generator,
          mel_mean: np.ndarray, mel_std: np.ndarray, size: int = BATCH) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(x (B, 160, W + L), y (B, 3, W)) windows: rate-changed, augmented, as the networks read them
    (the running mean over the clip's own past, as in inference)."""
    xs, ys = [], []
    span_in = WINDOW + LOOKAHEAD_FRAMES
    for k in rng.choice(len(items), size, p=weights):
        mel, y = items[k]
        rate = float(rng.uniform(0.85, 1.15))
        if len(y) <= int(np.ceil(span_in * rate)) + 1:
            rate = min(1.0, (len(y) - 2) / span_in)
        t0 = float(rng.uniform(0, len(y) - 1 - span_in * rate))
        past = min(LEVEL_FRAMES, int(t0 / rate))
        t = t0 + np.arange(-past, span_in) * rate
        x = np.stack([np.interp(t, np.arange(len(mel)), band) for band in mel.T], axis=1)
        target = np.stack([np.interp(t[past : past + WINDOW], np.arange(len(y)), row) for row in y.T])
        x = network_input(augment(x, rng), mel_mean, mel_std)[past:]
        xs.append(x.T)
        ys.append(target)
    return np.stack(xs).astype(np.float32), np.stack(ys).astype(np.float32)


def fit(clips: list[dict], mel_mean: np.ndarray, mel_std: np.ndarray, seed: int = 0, steps: int = STEPS,
        fit_share: float = FIT_SHARE):  # fmt: skip
    """One network fitted from ``seed``; ``net.last_loss`` is its final loss."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = network()
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps, pct_start=0.1)
    items, weights = [], []
    usable = [c for c in clips if len(c["y"]) > WINDOW + LOOKAHEAD_FRAMES + 2]
    is_fit = np.array([c["source"].startswith("fit") or c["split"] == "fit" for c in usable])
    for c in usable:
        y = aligned_targets(c)
        items.append((c["mel"], np.where(np.isfinite(y), y, np.nan)))
        weights.append(len(y))
    weights = np.array(weights, np.float64)
    if is_fit.any() and (~is_fit).any():  # each group its share, clips within it by length
        weights = np.where(is_fit, fit_share * weights / weights[is_fit].sum(),
                           (1 - fit_share) * weights / weights[~is_fit].sum())  # fmt: skip
    weights = weights / weights.sum()
    loss_weights = torch.tensor(LOSS_WEIGHTS).float()
    net.train()
    loss = torch.tensor(0.0)
    for _ in range(steps):
        x, y = batch(items, weights, rng, mel_mean, mel_std)
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        p = net(x)[:, :, LOOKAHEAD_FRAMES:]
        ok = torch.isfinite(y)
        y = torch.where(ok, y, torch.zeros_like(y))
        m = ok.float()
        n = m.sum(2).clamp(min=1)
        mse = (((p - y) ** 2) * m).sum(2) / n
        pm, ym = (p * m).sum(2, keepdim=True) / n[..., None], (y * m).sum(2, keepdim=True) / n[..., None]
        pc, yc = (p - pm) * m, (y - ym) * m
        r = (pc * yc).sum(2) / (pc.norm(dim=2) * yc.norm(dim=2) + 1e-6)
        loss = ((mse.mean(0) + (1 - r).mean(0)) * loss_weights).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.last_loss = float(loss.detach())
    return net.eval()


def predict(nets: list, clip: dict, mel_mean: np.ndarray, mel_std: np.ndarray) -> np.ndarray:
    """The members' mean prediction, (T, 3), frame k reading up to k + LOOKAHEAD_FRAMES."""
    import torch

    x = network_input(clip["mel"], mel_mean, mel_std)
    x = np.concatenate([x, np.repeat(x[-1:], LOOKAHEAD_FRAMES, axis=0)]).T[None].astype(np.float32)
    with torch.no_grad():
        return np.mean([net(torch.from_numpy(x))[0].numpy().T[LOOKAHEAD_FRAMES:] for net in nets], axis=0)


def scores(nets: list, clips: list[dict], mel_mean: np.ndarray, mel_std: np.ndarray) -> dict:
    """Per clip: r of the predicted opening with the real picture at lag 0 and the best lag."""
    out = {}
    for c in clips:
        scan = lag_scan(c["y"][:, 0].astype(np.float64), predict(nets, c, mel_mean, mel_std)[:, 0])
        best = int(np.nanargmax(scan))
        out[c["name"]] = {"r_open": round(float(scan[MAX_LAG]), 3), "r_best": round(float(scan[best]), 3),
                          "lag": best - MAX_LAG}  # fmt: skip
    return out


def rest_opening(clips: list[dict]) -> float:
    """The inner-lip gap (face heights) real speakers hold in pauses: the median over frames 30 dB or
    more under their clip's loudest, at least 0.3 s into the pause, fit clips and GRID."""
    values = []
    for c in clips:
        quiet = c["loudness_db"] < np.nanmax(c["loudness_db"]) - 30.0
        run = np.convolve(quiet.astype(float), np.ones(8), "full")[: len(quiet)] >= 8
        values.append(c["aperture"][run])
    values = np.concatenate(values)
    return float(np.nanmedian(values)) if np.isfinite(values).any() else 0.0


def train_causal_mouth(data: Union[str, Path], output: Union[str, Path], max_steps: Optional[int] = None,
                progress: bool = True, members: int = MEMBERS, validate: bool = True) -> TrainResult:  # fmt: skip
    """Fit the causal mouth model on ``data`` (the motion corpus, or a folder of ``*.mp4`` clips) and
    write it to ``output``/causal_mouth.npz; ``max_steps``: optimiser steps of each network (default
    ``STEPS``); ``members`` networks (seeds 0..members-1) average into the model; ``validate`` first
    fits on the training split and scores the held-out sources and GRID sentences."""
    import torch

    torch.set_num_threads(1)
    steps = STEPS if max_steps is None else max_steps
    if steps < 1:
        raise InputError("--max-steps must be at least 1.")
    started = time.perf_counter()
    run = Path(output)
    run.mkdir(parents=True, exist_ok=True)
    folder = Path(data)
    if (folder / "manifest.json").is_file():
        clips = load_corpus(folder)
    elif any(folder.glob("*.mp4")):
        clips = measure_clips(folder)
    else:
        raise InputError(f"{data} is neither the motion corpus (manifest.json) nor a folder of .mp4 clips.")
    say = (lambda text: print(text, file=sys.stderr)) if progress else (lambda text: None)  # noqa: E731
    say(f"{len(clips)} clips, {sum(len(c['y']) for c in clips)} frames")
    train_clips = [c for c in clips if c["split"] != "validation"]
    mel = np.concatenate([c["mel"] for c in train_clips])
    mel_mean, mel_std = mel.mean(axis=0), mel.std(axis=0) + 1e-3
    report: dict = {"clips": len(clips), "frames": int(sum(len(c["y"]) for c in clips)),
                    "offsets": {c["source"]: round(c["offset"], 2) for c in clips}, "steps": steps,
                    "lookahead_frames": LOOKAHEAD_FRAMES}  # fmt: skip
    held = [c for c in clips if c["split"] == "validation" or c["source"] in VALIDATION_SOURCES]
    pred_std = None
    if validate and held and len(held) < len(clips):
        nets = [fit([c for c in train_clips if c["source"] not in VALIDATION_SOURCES], mel_mean, mel_std, seed, steps)
                for seed in range(members)]  # fmt: skip
        val = scores(nets, held, mel_mean, mel_std)
        fit_held = [v["r_open"] for k, v in val.items() if not k.isalnum() or "_" in k]
        grid_held = [v["r_open"] for k, v in val.items() if k.isalnum() and "_" not in k]
        report["validation"] = {"fit_sources_left_out": {k: v for k, v in val.items() if "_" in k},
                                "median_r_open_fit_left_out": round(float(np.nanmedian(fit_held)), 3) if fit_held else None,
                                "median_r_open_grid_sentences": round(float(np.nanmedian(grid_held)), 3) if grid_held else None}  # fmt: skip
        say(f"validation: {report['validation']['median_r_open_fit_left_out']} (fit sources left out), "
            f"{report['validation']['median_r_open_grid_sentences']} (GRID sentences)")
        # Predictions on unseen speech are tamer than on the fit data: rescale by their spread there.
        pred_std = np.concatenate([predict(nets, c, mel_mean, mel_std) for c in held]).std(axis=0)
    nets = [fit(train_clips, mel_mean, mel_std, seed, steps) for seed in range(members)]
    if pred_std is None:
        pred_std = np.concatenate([predict(nets, c, mel_mean, mel_std) for c in train_clips]).std(axis=0)
    fit_clips = [c for c in clips if c["split"] == "fit"] or clips
    aperture = np.concatenate([c["aperture"] for c in fit_clips])
    aperture = aperture[np.isfinite(aperture)]
    data_out = export(nets)
    check_clip = fit_clips[0]  # what torch predicts with the exported (fp16) weights: numpy must agree
    halves = []
    for i in range(members):
        half = network()
        half.load_state_dict({k[len(f"w.{i}."):]: torch.from_numpy(v.astype(np.float32)) for k, v in data_out.items()
                              if k.startswith(f"w.{i}.")})  # fmt: skip
        halves.append(half.eval())
    width = np.concatenate([c["width_change"] for c in fit_clips])
    data_out.update(dilations=np.array(DILATIONS), outputs=np.array(OUTPUTS), mel_mean=mel_mean.astype(np.float32),
                    mel_std=mel_std.astype(np.float32), prediction_std=pred_std.astype(np.float32),
                    opening_mean=np.float32(aperture.mean()), opening_std=np.float32(aperture.std()),
                    rest_opening=np.float32(rest_opening(clips)), width_std=np.float32(np.nanstd(width)),
                    check_mel=check_clip["mel"][:250].astype(np.float32),
                    check_prediction=predict(halves, {"mel": check_clip["mel"][:250]}, mel_mean, mel_std).astype(np.float32))  # fmt: skip
    out = run / MODEL_FILE.name
    np.savez_compressed(out, **data_out)
    from ..motion.causal_mouth import CausalMouthModel

    gap = float(np.abs(CausalMouthModel.load(out).forward(data_out["check_mel"]) - data_out["check_prediction"]).max())
    if gap > 1e-3:
        raise RuntimeError(f"the numpy causal mouth model and torch disagree by {gap}")
    seconds = time.perf_counter() - started
    report.update(prediction_std=[round(float(v), 3) for v in pred_std], opening_mean=round(float(aperture.mean()), 4),
                  opening_std=round(float(aperture.std()), 4), rest_opening=round(float(data_out["rest_opening"]), 4),
                  bytes=out.stat().st_size, seconds=round(seconds, 1))  # fmt: skip
    (run / "causal_mouth_report.json").write_text(json.dumps(report, indent=1))
    return TrainResult(run, "causal-mouth", steps, steps, nets[-1].last_loss, seconds)  # steps of each network
