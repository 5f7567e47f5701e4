"""`portraittalk landmarks INPUT --out track.npz [--preview preview.mp4]`."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("landmarks", help="478 MediaPipe landmarks per frame of an image or a video")
    p.add_argument("input", type=Path, help="an image or a video")
    p.add_argument("--out", type=Path, required=True, help="where to write the .npz track")
    p.add_argument("--preview", type=Path, help="also write an MP4 with the mesh drawn over the frames")
    p.add_argument("--face-index", type=int, default=0, help="which face when several are found (0 = largest)")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from ..face.landmarks_io import extract_landmarks

    track = extract_landmarks(args.input, face_index=args.face_index, preview=args.preview, progress=True)
    track.save(args.out)
    found = int(track.found.sum())
    rate = f"at {track.fps:g} fps" if track.fps else "(a still image)"
    print(f"wrote {args.out}: {len(track.found)} frame(s), face found in {found}, "
          f"{track.frame_size[0]}x{track.frame_size[1]} {rate}")  # fmt: skip
    if args.preview:
        print(f"wrote {args.preview}")
    return 0
