"""Paths of the project's assets and helpers that run ffmpeg and the CLI, for the top-level tests."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
PORTRAIT = ASSETS / "portraits" / "astronaut.png"
SECOND_PORTRAIT = ASSETS / "portraits" / "man.jpg"
SPEECH = ASSETS / "speech" / "en_mbp.wav"
PAUSES = ASSETS / "speech" / "pauses.wav"


def ffmpeg(*args: str) -> None:
    from portraittalk.media.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", *args], check=True)


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m portraittalk ...` as a user would."""
    return subprocess.run([sys.executable, "-m", "portraittalk", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)  # fmt: skip
