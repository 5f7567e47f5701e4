"""Shared fixtures: the project's assets and re-encodings of them made with imageio-ffmpeg's ffmpeg."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def talking_clip(media_dir) -> Path:
    """A real generated talking video (warp engine) with its audio: used by later-stage tests."""
    out = media_dir / "talking.mp4"
    result = run_cli("generate", "--ref", str(PORTRAIT), "--audio", str(SPEECH), "--out", str(out),
                     "--size", "256", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out
