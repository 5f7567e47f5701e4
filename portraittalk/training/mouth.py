"""`portraittalk train --stage mouth`: fit the audio-to-mouth model shipped as
``portraittalk/motion/mouth_model.npz`` (the "fitted" motion model, :mod:`portraittalk.motion.mouth_model`).

Data: real talking-head clips, ``--data benchmarks/data/clips/fit`` for the shipped model (never
``clips/eval``). For each clip, MediaPipe (tracking mode) measures per frame the inner-lip gap, the
mouth's width and the nose-to-chin distance, all over the outer eye-corner distance, standardised
per clip (speakers differ in how far they open; the shape over time is what is learned). Inputs:
80-band log-mel at 50 Hz (``portraittalk.motion.features.log_mel``).

Training windows are read 0.85-1.15x as fast (sound and picture together) and their spectrum is
shifted by up to 3 mel bands (another voice): with 19 clips, this raised the out-of-fold (4 folds
by speaker) median r with the real opening from 0.18 to 0.28.

The clips' sound and picture are not all in sync (re-encoded sources): a first round of grouped
4-fold models predicts every clip out of fold, each clip's offset (within ±6 frames) is where its
prediction matches best, and the final model is fitted on the re-aligned clips. ``cross_validate``
also reports leave-one-speaker-out correlations. Needs torch (fitting only; the package runs the
model with numpy). Deterministic (seeded, one thread). Writes RUN/mouth_model.npz (copy it over the
shipped file to use it), RUN/mouth_report.json and RUN/landmarks/ (the clips' landmarks, reused).

    portraittalk train --stage mouth --data benchmarks/data/clips/fit --output RUN [--max-steps STEPS]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import InputError
from .mouth_fitting import MAX_LAG, export, lag_scan, speaker
from .trainer import TrainResult

# 8 channels and 3 members (seeds 0-2, their mean predicts): out of fold (4 folds by speaker, clips
# re-aligned) the median r with the real opening rose from 0.39 (one 32-channel network) to 0.46;
# 32 channels x 3 members gave 0.42, 16 x 3 0.45, 4 x 3 0.38, 16 x 5 0.45, 800 steps no more.
HIDDEN, DILATIONS, OUTPUTS = 8, (1, 2, 4), ("opening", "width", "chin")
LOSS_WEIGHTS = (1.0, 0.5, 0.5)
STEPS, WINDOW, BATCH = 400, 64, 32
MEMBERS = 3
AUGMENT = True  # speaking rate and voice (spectral shift) augmentation


def measure_clip(path: Path, cache: Path) -> dict:
    """Log-mel features and the per-frame mouth of one clip (landmarks cached)."""
    from portraittalk.face import mesh
    from portraittalk.face.landmarks_io import LandmarkTrack, extract_landmarks
    from portraittalk.media import load_audio
    from portraittalk.motion.features import audio_features

    cached = cache / f"{path.stem}.npz"
    if cached.is_file():
        track = LandmarkTrack.load(cached)
    else:
        track = extract_landmarks(path)
        track.save(cached)
    p = track.points.astype(np.float64)
    if np.isnan(p).any():
        raise InputError(f"{path.name}: a frame without a face; every clip the mouth model learns from must show one "
                         "on every frame")  # fmt: skip
    scale = np.linalg.norm(p[:, 33] - p[:, 263], axis=1)
    y = np.stack([np.linalg.norm(p[:, 13] - p[:, 14], axis=1) / scale, np.linalg.norm(p[:, 61] - p[:, 291], axis=1) / scale,
                  np.linalg.norm(p[:, 1] - p[:, 152], axis=1) / scale], axis=1)  # fmt: skip
    width = np.linalg.norm(p[:, 61] - p[:, 291], axis=1)
    mel = audio_features(load_audio(path).samples, "mel", len(p))
    return {"name": path.stem, "mel": mel.astype(np.float32), "y": ((y - y.mean(0)) / (y.std(0) + 1e-6)).astype(np.float32),
            "aperture": mesh.mouth_aperture(p.astype(np.float32)), "width_change": width / np.median(width) - 1.0,
            "chin_per_gap": float(np.polyfit(y[:, 0], y[:, 2], 1)[0])}  # fmt: skip


def network():
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Sequential(nn.Conv1d(80, HIDDEN, 3, padding=1), nn.GELU(approximate="tanh"),
                                     nn.Conv1d(HIDDEN, HIDDEN, 4, stride=2, padding=1), nn.GELU(approximate="tanh"))  # fmt: skip
            self.blocks = nn.ModuleList(nn.Conv1d(HIDDEN, HIDDEN, 3, padding=d, dilation=d) for d in DILATIONS)
            self.out = nn.Conv1d(HIDDEN, len(OUTPUTS), 1)
            self.drop = nn.Dropout(0.2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 80, 2T) -> (B, 3, T)
            h = self.inp(x)
            for block in self.blocks:
                h = h + nn.functional.gelu(block(self.drop(h)), approximate="tanh")
            return self.out(h)

    return Net()


def aligned(clip: dict, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """(mel (80, 2T'), targets (3, T')) with the picture moved ``lag`` frames against the sound."""
    mel, y = clip["mel"].T, clip["y"].T
    if lag > 0:
        y = y[:, lag:]
        mel = mel[:, : 2 * y.shape[1]]
    elif lag < 0:
        y = y[:, :lag]
        mel = mel[:, -2 * lag :]
    return mel, y


def fit(clips: list[dict], lags: dict[str, int], seed: int = 0, steps: int = STEPS):
    """One network fitted from ``seed``; ``net.last_loss`` is its final loss."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = network()
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-2)
    items = [aligned(c, lags.get(c["name"], 0)) for c in clips]
    items = [it for it in items if it[1].shape[1] > WINDOW]
    sizes = np.array([it[1].shape[1] for it in items], np.float64)
    weights = torch.tensor(LOSS_WEIGHTS)
    net.train()
    for _ in range(steps):
        xs, ys = [], []
        for k in rng.choice(len(items), BATCH, p=sizes / sizes.sum()):  # clips drawn by length
            mel, y = items[k]
            rate = float(rng.uniform(0.85, 1.15)) if AUGMENT else 1.0
            span = int(np.ceil(WINDOW * rate)) + 1
            if y.shape[1] <= span:
                rate, span = 1.0, WINDOW
            t0 = int(rng.integers(0, y.shape[1] - span))
            tv = t0 + np.arange(WINDOW) * rate  # video frames
            ta = t0 * 2 + np.arange(2 * WINDOW) * rate  # 50 Hz feature frames
            x = np.stack([np.interp(ta, np.arange(mel.shape[1]), band) for band in mel]).astype(np.float32)
            target = np.stack([np.interp(tv, np.arange(y.shape[1]), row) for row in y]).astype(np.float32)
            if AUGMENT:  # another voice: the spectrum shifted by up to 3 mel bands
                shift = int(rng.integers(-3, 4))
                x = np.roll(x, shift, axis=0)
                if shift > 0:
                    x[:shift] = x[shift : shift + 1]
                elif shift < 0:
                    x[shift:] = x[shift - 1 : shift]
            band = int(rng.integers(0, 70))
            x[band : band + int(rng.integers(0, 10))] = 0.0  # frequency masking
            x += rng.normal(0, 0.1, x.shape).astype(np.float32)
            xs.append(x)
            ys.append(target)
        x, y = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
        p = net(x)[:, :, 4:-4]
        y = y[:, :, 4:-4]
        mse = ((p - y) ** 2).mean(dim=(0, 2))
        pc, yc = p - p.mean(2, keepdim=True), y - y.mean(2, keepdim=True)
        r = (pc * yc).sum(2) / (pc.norm(dim=2) * yc.norm(dim=2) + 1e-6)
        loss = (mse * weights).sum() + ((1 - r).mean(0) * weights).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.last_loss = float(loss)
    return net.eval()


def fit_members(clips: list[dict], lags: dict[str, int], members: int = MEMBERS, steps: int = STEPS) -> list:
    return [fit(clips, lags, seed, steps) for seed in range(members)]


def predict(nets: list, clip: dict) -> np.ndarray:
    """The members' mean prediction, (T, 3)."""
    import torch

    with torch.no_grad():
        x = torch.from_numpy(clip["mel"].T[None])
        return np.mean([net(x)[0].numpy().T for net in nets], axis=0)


def best_offset(scan: np.ndarray) -> int:
    """The lag of the best match, when it beats no offset clearly (short clips scatter)."""
    best = int(np.argmax(scan))
    return best - MAX_LAG if scan[best] - scan[MAX_LAG] >= 0.05 else 0


def folds(clips: list[dict], k: int) -> list[list[str]]:
    groups = sorted({speaker(c["name"]) for c in clips})
    return [[c["name"] for c in clips if speaker(c["name"]) in groups[i::k]] for i in range(k)]


def out_of_fold(clips: list[dict], lags: dict[str, int], k: int, members: int = MEMBERS,
                steps: int = STEPS) -> dict[str, np.ndarray]:  # fmt: skip
    preds = {}
    for held in folds(clips, k):
        nets = fit_members([c for c in clips if c["name"] not in held], lags, members, steps)
        preds.update({c["name"]: predict(nets, c) for c in clips if c["name"] in held})
    return preds


def train_mouth(data: Union[str, Path], output: Union[str, Path], max_steps: Optional[int] = None,
                progress: bool = True, members: int = MEMBERS, k_folds: int = 4,
                cross_validate: bool = False) -> TrainResult:  # fmt: skip
    """Fit the mouth model on the clips (``*.mp4``) in ``data`` and write it to ``output``/mouth_model.npz.

    ``max_steps``: optimiser steps of each network (default ``STEPS``); ``members`` networks (seeds
    0..members-1) average into the model; ``k_folds`` speaker folds find each clip's offset;
    ``cross_validate`` adds leave-one-speaker-out correlations to RUN/mouth_report.json."""
    import torch

    torch.set_num_threads(1)
    steps = STEPS if max_steps is None else max_steps
    if steps < 1:
        raise InputError("--max-steps must be at least 1.")
    started = time.perf_counter()
    run = Path(output)
    cache = run / "landmarks"
    cache.mkdir(parents=True, exist_ok=True)
    paths = sorted(Path(data).glob("*.mp4"))
    if not paths:
        raise InputError(f"no .mp4 clips in {data} (the mouth model learns from talking-head videos).")
    clips = [measure_clip(p, cache) for p in paths]
    say = (lambda text: print(text, file=sys.stderr)) if progress else (lambda text: None)  # noqa: E731
    say(f"{len(clips)} clips, {sum(len(c['y']) for c in clips)} frames")
    # 1. Each clip's sound-to-picture offset, from out-of-fold predictions.
    first = out_of_fold(clips, {}, k_folds, members, steps)
    lags = {c["name"]: best_offset(lag_scan(c["y"][:, 0], first[c["name"]][:, 0])) for c in clips}
    say(f"offsets (frames): {lags}")
    report: dict = {"clips": [c["name"] for c in clips], "offsets": lags}
    # 2. Optionally, how well it predicts speakers it has not seen.
    if cross_validate:
        held = out_of_fold(clips, lags, len({speaker(c["name"]) for c in clips}), members, steps)
        cv = {}
        for c in clips:
            scan = [lag_scan(c["y"][:, j], held[c["name"]][:, j]) for j in range(3)]
            cv[c["name"]] = {f"r_{name}": round(float(s[MAX_LAG + lags[c['name']]]), 3) for name, s in zip(OUTPUTS, scan)}
        report["leave_one_speaker_out"] = cv
        report["median_r"] = {n: round(float(np.median([v[f"r_{n}"] for v in cv.values()])), 3) for n in OUTPUTS}
    # 3. The final members on every clip, re-aligned.
    nets = fit_members(clips, lags, members, steps)
    # Predictions on unseen speech are tamer than on the fit clips: rescale by the out-of-fold spread.
    pred_std = np.concatenate([first[c["name"]] for c in clips]).std(axis=0)
    aperture = np.concatenate([c["aperture"] for c in clips])
    width = np.concatenate([c["width_change"] for c in clips])
    data_out = export(nets)
    # What torch predicts on the first clip with the exported (fp16) weights: the package's numpy
    # model must give the same (checked here, and by the tests).
    halves = []
    for i in range(members):
        half = network()
        half.load_state_dict({k[len(f"w.{i}."):]: torch.from_numpy(v.astype(np.float32)) for k, v in data_out.items()
                              if k.startswith(f"w.{i}.")})  # fmt: skip
        halves.append(half.eval())
    check = predict(halves, clips[0]).astype(np.float32)
    data_out.update(dilations=np.array(DILATIONS), outputs=np.array(OUTPUTS), prediction_std=pred_std.astype(np.float32),
                    opening_mean=np.float32(aperture.mean()), opening_std=np.float32(aperture.std()),
                    width_std=np.float32(width.std()), fit_clips=np.array(report["clips"]),
                    check_clip=np.array(clips[0]["name"]), check_prediction=check)  # fmt: skip
    out = run / "mouth_model.npz"
    np.savez_compressed(out, **data_out)
    from ..motion.mouth_model import MouthModel

    gap = float(np.abs(MouthModel.load(out).forward(clips[0]["mel"]) - check).max())
    if gap > 1e-3:
        raise RuntimeError(f"the numpy mouth model and torch disagree by {gap}")
    seconds = time.perf_counter() - started
    report.update(prediction_std=[round(float(v), 3) for v in pred_std], opening_mean=round(float(aperture.mean()), 4),
                  opening_std=round(float(aperture.std()), 4), width_std=round(float(width.std()), 4),
                  chin_per_gap_median=round(float(np.median([c["chin_per_gap"] for c in clips])), 3),
                  bytes=out.stat().st_size, seconds=round(seconds, 1))  # fmt: skip
    (run / "mouth_report.json").write_text(json.dumps(report, indent=1))
    return TrainResult(run, "mouth", steps, steps, nets[-1].last_loss, seconds)  # steps of each network
