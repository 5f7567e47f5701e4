"""What several sub-commands share: the weights folder, read once here (the CLI's edge)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..weights import ENV_VAR, Weights


def add_weights_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, metavar="DIR",
                        help=f"weights folder (default: ${ENV_VAR}, else the repository's weights/)")  # fmt: skip


def weights_from(args: argparse.Namespace) -> Weights:
    return Weights.resolve(getattr(args, "weights", None))
