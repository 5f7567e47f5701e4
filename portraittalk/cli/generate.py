"""`portraittalk generate --ref A.jpg [--ref B.jpg ...] --audio speech.wav --out out.mp4 ...`.

Every setting flag is derived from :class:`portraittalk.config.GenerateRequest` (name, type, default,
bounds, help), so the CLI cannot drift from the package's defaults.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..config import FLAT, FlatSetting
from ..engines.registry import engine_choices
from .common import add_weights_argument, weights_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="make a talking video from portraits and speech",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Reference portraits + speech (+ a prompt) -> an MP4 of that person speaking.")  # fmt: skip
    p.add_argument("--ref", dest="refs", action="append", required=True, type=Path,
                   help="a reference portrait (repeat for several, up to 8)")
    p.add_argument("--audio", required=True, type=Path, help="speech: wav, mp3, flac, ogg, m4a or a video")
    p.add_argument("--out", required=True, type=Path, help="the MP4 to write")
    add_weights_argument(p)
    p.add_argument("--save-track", type=Path, help="also save the motion track (.npz)")
    p.add_argument("--track", type=Path, help="render this saved motion track (any controls) instead of analysing "
                   "the audio")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    settings = p.add_argument_group("settings (defaults from portraittalk.config)")
    for spec in FLAT.values():
        add_setting(settings, spec)
    p.set_defaults(run=_run)


def add_setting(group: argparse._ArgumentGroup, spec: FlatSetting) -> None:
    bounds = ""
    if spec.minimum is not None and spec.maximum is not None:
        lo, hi = (int(spec.minimum), int(spec.maximum)) if spec.type is int else (spec.minimum, spec.maximum)
        bounds = f", {lo}–{hi}"
    helptext = f"{spec.help} (default: {spec.default!r}{bounds})".replace("%", "%%")
    names = (spec.flag, *spec.aliases)
    if spec.type is bool:
        group.add_argument(*names, dest=spec.name, action=argparse.BooleanOptionalAction, default=None, help=helptext)
    else:
        choices = engine_choices() if spec.name == "engine" else spec.choices  # engine names: the registry's
        group.add_argument(*names, dest=spec.name, type=spec.type, choices=choices, default=None,
                           metavar=None if choices else spec.name.upper(), help=helptext)  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    from .. import PortraitTalk
    from ..config import GenerateRequest
    from ..motion.track import MotionTrack

    started = time.perf_counter()
    request = GenerateRequest.from_flat({name: getattr(args, name) for name in FLAT})
    pt = PortraitTalk(weights_from(args), request)
    bar = _ProgressBar(disabled=args.quiet)
    try:
        result = pt.generate(args.refs, args.audio, progress=bar, output=args.out,
                             track=MotionTrack.load(args.track) if args.track else None)  # fmt: skip
    finally:
        bar.close()
    print(_engine_line(pt, result.engine, result.engine_reason), file=sys.stderr)
    for note in result.notes:
        if not note.startswith("engine:"):
            print(note, file=sys.stderr)
    for warning in result.quality.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.save_track:
        print(f"motion track: {result.track.save(args.save_track)}")
    took = time.perf_counter() - started
    print(f"wrote {result.video_path} ({len(result.track)} frames, {result.audio.duration:.2f} s, "
          f"{took:.1f} s, {result.audio.duration / took:.1f}x real time)")  # fmt: skip
    return 0


def _engine_line(pt, engine: str, reason: str) -> str:
    """"engine: NAME", with the reason only when another engine could have run here: a user who
    never installed another engine is not told about it on every run (`weights status` says it)."""
    others = [name for name, (ok, _) in pt.engine_status().items() if ok and name != engine]
    return f"engine: {engine}" + (f" ({reason})" if others else "")


class _ProgressBar:
    """One tqdm bar per stage, driven by the pipeline's progress(stage, done, total) callback."""

    def __init__(self, disabled: bool) -> None:
        self.disabled = disabled
        self.stage = None
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.disabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, unit="step",
                            leave=False, file=sys.stderr)  # fmt: skip
        self.bar.update(done - self.bar.n)  # tqdm redraws at most ~10 times a second

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
