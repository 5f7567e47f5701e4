"""`portraittalk generate --ref A.jpg [--ref B.jpg ...] --audio speech.wav --out out.mp4 ...`."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..config import Controls, DiffusionConfig, RenderConfig


def register(sub: argparse._SubParsersAction) -> None:
    r, d = RenderConfig(), DiffusionConfig()
    p = sub.add_parser("generate", help="make a talking video from portraits and speech")
    p.add_argument("--ref", dest="refs", action="append", required=True, type=Path,
                   help="a reference portrait (repeat for several, up to 8)")
    p.add_argument("--audio", required=True, type=Path, help="speech: wav, mp3, flac, ogg, m4a or a video")
    p.add_argument("--out", required=True, type=Path, help="the MP4 to write")
    p.add_argument("--engine", choices=("auto", "warp", "diffusion"), default="auto")
    p.add_argument("--weights", type=Path, help="weights folder (default: $PORTRAITTALK_WEIGHTS or ./weights)")
    p.add_argument("--prompt", default="", help="appearance edit, e.g. 'with grey hair, in a library'")
    p.add_argument("--negative-prompt", default="")
    p.add_argument("--size", type=int, default=r.size, help="output side in pixels (square face crop)")
    p.add_argument("--fps", type=float, default=r.fps)
    p.add_argument("--full-frame", action="store_true", help="paste the face back into the whole photo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--w1", type=float, default=1.0, help="structure: how strongly the lips follow the audio")
    p.add_argument("--w2", type=float, default=1.0, help="head placement: higher keeps the head stiller")
    p.add_argument("--w3", type=float, default=1.0, help="temporal smoothness")
    p.add_argument("--steps", type=int, default=d.steps, help="diffusion steps")
    p.add_argument("--guidance", type=float, default=d.guidance_scale, help="classifier-free guidance scale")
    p.add_argument("--identity-mode", choices=("concat", "blend"), default=d.identity_mode)
    p.add_argument("--face-index", type=int, default=0, help="which face when a photo shows several (0 = largest)")
    p.add_argument("--save-track", type=Path, help="also save the motion track (.npz)")
    p.add_argument("--track", type=Path, help="render this saved motion track instead of computing one")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .. import PortraitTalk
    from ..motion.track import MotionTrack

    started = time.perf_counter()
    pt = PortraitTalk.from_pretrained(weights_dir=args.weights, engine=args.engine)
    diffusion = replace(pt.config.diffusion, steps=args.steps, guidance_scale=args.guidance,
                        identity_mode=args.identity_mode)  # fmt: skip
    bar = _ProgressBar(disabled=args.quiet)
    try:
        result = pt.generate(
            args.refs, args.audio, prompt=args.prompt, negative_prompt=args.negative_prompt,
            controls=Controls(args.w1, args.w2, args.w3), seed=args.seed, progress=bar, output=args.out,
            size=args.size, fps=args.fps, full_frame=args.full_frame or None, diffusion=diffusion,
            face_index=args.face_index, track=MotionTrack.load(args.track) if args.track else None,
        )  # fmt: skip
    finally:
        bar.close()
    for note in result.notes:
        print(note, file=sys.stderr)
    if args.save_track:
        print(f"motion track: {result.track.save(args.save_track)}")
    took = time.perf_counter() - started
    print(f"wrote {result.video_path} ({len(result.track)} frames, {result.audio.duration:.2f} s, "
          f"{took:.1f} s, {result.audio.duration / took:.1f}x real time)")  # fmt: skip
    return 0


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
