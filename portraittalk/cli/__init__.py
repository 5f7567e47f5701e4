"""The ``portraittalk`` command. Thin: parses arguments and calls the package.

Each sub-command lives in its own module with ``register(subparsers)``; user errors print one
``error:`` line and exit 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Optional, Sequence

from ..errors import PortraitTalkError

COMMANDS = ("generate", "live", "batch", "eval", "landmarks", "weights", "preprocess", "train")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="portraittalk", description="Talking-face videos from portraits and speech.")
    parser.add_argument("--version", action="version", version=f"portraittalk {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        _silence_native_logs()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return int(args.run(args) or 0)
    except PortraitTalkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _silence_native_logs() -> None:
    """MediaPipe's C++ code logs TFLite and graph notes straight to file descriptor 2: noise to a
    user. Python keeps writing to the real stderr (a duplicate); only native writes are dropped."""
    try:
        sys.stderr.flush()
        python_stderr = os.fdopen(os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding, errors="replace")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = python_stderr
    except OSError:  # no usable stderr: nothing to protect
        pass
