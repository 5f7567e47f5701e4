"""`portraittalk eval --generated G.mp4 --ground-truth R.mp4 [--reference face.jpg] [--json out.json]
[--plot curves.png]`; with two folders, every pair of videos with the same file name."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

from ..errors import InputError
from .common import add_weights_argument, weights_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score a generated video against its ground truth (ADFD, LMD, PSNR, SSIM, ...)")
    p.add_argument("--generated", type=Path, required=True, help="generated video, or a folder of them")
    p.add_argument("--ground-truth", type=Path, required=True, help="ground-truth video, or a folder (same names)")
    p.add_argument("--reference", type=Path, help="reference portrait, for identity similarity and DINO")
    p.add_argument("--prompt", help="the text prompt used for generation, for CLIP-T")
    p.add_argument("--w1", type=float, default=1.0, help="ADFD weight of the spatial term S (default 1)")
    p.add_argument("--w2", type=float, default=1.0, help="ADFD weight of the motion term C (default 1)")
    p.add_argument("--max-length-mismatch", type=float, default=0.25,
                   help="refuse videos whose durations differ by more than this fraction (default 0.25)")
    p.add_argument("--samples", type=int, default=32,
                   help="frames used by identity, CLIP-T and DINO, spread over the clip (default 32)")
    p.add_argument("--no-learned", action="store_true", help="skip FID, E-FID, FVD, SyncNet, CLIP-T, DINO")
    add_weights_argument(p)
    p.add_argument("--json", type=Path, help="write every number (and per-frame curves) to this JSON file")
    p.add_argument("--plot", type=Path, help="write per-frame S, C and LMD curves to this PNG "
                   "(folder mode: a folder, one PNG per pair)")  # fmt: skip
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from ..metrics.evaluate import evaluate, evaluate_folders

    for name, value in (("--w1", args.w1), ("--w2", args.w2)):
        if value < 0:
            raise InputError(f"{name} must not be negative (got {value}).")
    if args.samples < 1:
        raise InputError(f"--samples must be at least 1 (got {args.samples}).")
    if not 0 <= args.max_length_mismatch < 1:
        raise InputError(f"--max-length-mismatch must be in [0, 1) (got {args.max_length_mismatch}).")
    options = dict(reference=args.reference, prompt=args.prompt, w1=args.w1, w2=args.w2,
                   max_length_mismatch=args.max_length_mismatch, samples=args.samples,
                   learned=not args.no_learned, weights=weights_from(args))  # fmt: skip
    gen_dir, gt_dir = args.generated.is_dir(), args.ground_truth.is_dir()
    if gen_dir != gt_dir:
        raise InputError("--generated and --ground-truth must both be videos or both be folders.")
    if not gen_dir:
        result = evaluate(args.generated, args.ground_truth, **options)
        print(format_result(result))
        if args.plot:
            plot_curves(result, args.plot)
            print(f"wrote {args.plot}")
        _write_json(args.json, result.to_dict())
        return 0
    folder = evaluate_folders(args.generated, args.ground_truth, **options)
    print(format_folder(folder))
    if args.plot:
        args.plot.mkdir(parents=True, exist_ok=True)
        for name, result in folder.results.items():
            plot_curves(result, args.plot / f"{Path(name).stem}.png")
        print(f"wrote {len(folder.results)} plot(s) to {args.plot}")
    _write_json(args.json, folder.to_dict())
    if folder.errors:
        print(f"error: {len(folder.errors)} of {len(folder.errors) + len(folder.results)} pair(s) could not be "
              f"evaluated ({', '.join(folder.errors)}).", file=sys.stderr)  # fmt: skip
        return 2
    return 0


def _write_json(path: Optional[Path], data: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, allow_nan=False))
    print(f"wrote {path}")


def _fmt(value: Optional[float], digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


LEARNED_LABELS = {"fid": "FID", "e_fid": "E-FID", "fvd": "FVD", "syncnet": "SyncNet", "clip_t": "CLIP-T",
                  "dino": "DINO"}  # fmt: skip


def format_result(result) -> str:
    """The human-readable table of one pair."""
    a, lmd = result.adfd, result.lmd

    def video(v) -> str:
        return f"{v.path.name}  ({v.frames} frames, {v.width}x{v.height} @ {v.fps:g} fps)"

    rows = [("generated", video(result.generated)), ("ground truth", video(result.ground_truth)),
            ("compared", f"{result.frames} frame pairs" + (f", {len(a.excluded_frames)} without a face (excluded)"
                                                         if a.excluded_frames else "")),
            ("ADFD", f"{a.adfd:.4f}  (S {a.spatial:.4f} x C {a.motion:.4f}, w1 {a.w1:g}, w2 {a.w2:g})"),
            ("LMD mouth", f"{lmd.mouth_px:.3f} px  ({lmd.mouth_norm:.4f} of face height)"),
            ("LMD face", f"{lmd.face_px:.3f} px  ({lmd.face_norm:.4f} of face height)"),
            ("PSNR", f"{result.psnr.mean():.2f} dB"), ("SSIM", f"{result.ssim.mean():.4f}")]  # fmt: skip
    ident = result.identity
    rows.append(("identity", f"{ident['value']:.4f} cosine ({ident['backend']}, {ident['frames']} frames)"
                 if ident["available"] else f"unavailable: {ident['reason']}"))  # fmt: skip
    for name, out in result.learned.items():
        rows.append((LEARNED_LABELS.get(name, name),
                     f"{out['value']:.4f}" if out["available"] else f"unavailable: {out['reason']}"))  # fmt: skip
    t = result.timings
    stages = sorted(((v, k) for k, v in t.items() if k != "total" and v >= 0.05), reverse=True)
    rows.append(("speed", f"{result.frames / max(t['total'], 1e-9):.1f} frame pairs/s ({t['total']:.1f} s: "
                 + ", ".join(f"{k} {v:.1f}" for v, k in stages) + ")"))  # fmt: skip
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def format_folder(folder) -> str:
    """One row per pair plus a mean row."""
    from ..metrics.evaluate import headline

    cols = [("adfd", "ADFD", 4), ("S", "S", 4), ("C", "C", 4), ("lmd_mouth_px", "LMDm px", 3),
            ("lmd_face_px", "LMDf px", 3), ("psnr", "PSNR", 2), ("ssim", "SSIM", 4), ("identity", "ID", 4)]  # fmt: skip
    names = list(folder.results) + list(folder.errors)
    width = max([len(n) for n in names] + [4])
    lines = [f"{'pair':<{width}}  " + "  ".join(f"{label:>8}" for _, label, _ in cols)]
    for name, result in folder.results.items():
        row = headline(result)
        lines.append(f"{name:<{width}}  " + "  ".join(f"{_fmt(row[k], d):>8}" for k, _, d in cols))
    summary = folder.summary()
    lines.append(f"{'mean':<{width}}  " + "  ".join(f"{_fmt(summary.get(k), d):>8}" for k, _, d in cols))
    lines += [f"{name}: failed: {msg}" for name, msg in folder.errors.items()]
    for label, missing in (("only in generated", folder.generated_only),
                           ("only in ground truth", folder.ground_truth_only)):  # fmt: skip
        if missing:
            lines.append(f"{label} (skipped): {', '.join(missing)}")
    return "\n".join(lines)


def plot_curves(result, path: Path) -> Path:
    """Per-frame S_t, C_t and mouth LMD (of face height) against time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = result.times
    fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    curves = [(result.adfd.spatial_curve, f"S_t (mean {result.adfd.spatial:.4f})"),
              (result.adfd.motion_curve, f"C_t (mean {result.adfd.motion:.4f})"),
              (result.lmd.mouth_curve_norm, f"mouth LMD / face height (mean {result.lmd.mouth_norm:.4f})")]  # fmt: skip
    for ax, (y, label) in zip(axes, curves):
        ax.plot(t, y, lw=1.2)
        ax.set_ylabel(label.split(" (")[0])
        ax.set_title(label, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"{result.generated.path.name} vs {result.ground_truth.path.name}: ADFD {result.adfd.adfd:.4f}")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
