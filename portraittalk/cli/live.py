"""`portraittalk live --ref IMG [--audio FILE [--out video.mp4]]`: the portrait speaking live.

With ``--audio``, the recording is streamed into a live session in real time, in 20 ms chunks, as a
microphone would deliver it, and the measured latency is printed (``--out`` also writes the frames
received with their sound). Without it, the live page is served alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import FLAT
from .common import add_weights_argument, weights_from
from .generate import add_setting


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="the portrait speaks live: serve the live page, or stream a file in real time",
                       description="A portrait that speaks as the sound comes in. With --audio, stream a recording "
                       "in real time (as a microphone would) and print the latency; without it, serve the live "
                       "page.")  # fmt: skip
    p.add_argument("--ref", dest="refs", action="append", required=True, type=Path,
                   help="a reference portrait (repeat for several)")  # fmt: skip
    p.add_argument("--audio", type=Path, help="stream this recording in real time instead of serving the page")
    p.add_argument("--out", type=Path, help="with --audio: write the frames received, with their sound, to this MP4")
    p.add_argument("--chunk-ms", type=float, default=20.0,
                   help="with --audio: the chunk pushed at a time (default: 20)")
    p.add_argument("--no-pace", dest="paced", action="store_false",
                   help="with --audio: push as fast as the frames come, not in real time (measures throughput)")
    p.add_argument("--host", default="127.0.0.1", help="serving the page: the address to listen on")
    p.add_argument("--port", type=int, default=7861, help="serving the page: the port")
    add_weights_argument(p)
    settings = p.add_argument_group("settings (defaults from portraittalk.config)")
    for spec in FLAT.values():
        add_setting(settings, spec)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from ..config import GenerateRequest
    from ..errors import InputError

    request = GenerateRequest.from_flat({name: getattr(args, name) for name in FLAT})
    if args.audio is None:
        if args.out is not None:
            raise InputError("--out writes a streamed recording: give --audio too.")
        return _serve(args, request)
    if not 1.0 <= args.chunk_ms <= 1000.0:
        raise InputError(f"--chunk-ms must be between 1 and 1000 (got {args.chunk_ms:g}).")
    return _stream_file(args, request)


def _stream_file(args: argparse.Namespace, request) -> int:
    from .. import PortraitTalk
    from ..live.stream import stream
    from ..media import VideoWriter, load_audio

    pt = PortraitTalk(weights_from(args), request)
    audio = load_audio(args.audio, max_seconds=pt.limits.max_audio_seconds)
    with pt.live(args.refs) as session:
        print(f"live: {session.frame_size[0]}x{session.frame_size[1]} at {session.fps:g} fps, lookahead "
              f"{session.lookahead_s * 1000:.0f} ms; streaming {audio.duration:.1f} s of '{args.audio.name}' in "
              f"{args.chunk_ms:g} ms chunks{'' if args.paced else ' (not paced)'}", file=sys.stderr)  # fmt: skip
        if args.out is None:
            report = stream(session, audio.samples, args.chunk_ms / 1000, args.paced)
        else:
            with VideoWriter(args.out, session.fps, session.frame_size, audio) as writer:
                report = stream(session, audio.samples, args.chunk_ms / 1000, args.paced,
                                lambda frame: writer.write(frame.image))  # fmt: skip
            print(f"wrote {args.out} ({report.frames_out} frames)")
    print(report.summary())
    return 0


def _serve(args: argparse.Namespace, request) -> int:
    from ..ui.live import serve_live_page

    return serve_live_page(args.refs, request, weights_from(args), host=args.host, port=args.port)
