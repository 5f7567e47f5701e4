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


def oversize_png(path: Path) -> Path:
    """A real, valid 12000×12000 PNG (144 megapixels, over the package's limit) of one colour: 17 kB on
    disk, written in about a second; only its header is read before it is refused."""
    from PIL import Image

    Image.new("P", (12000, 12000), 0).save(path)
    return path


def speech_excerpt(path: Path, seconds: float) -> Path:
    """``seconds`` of real speech (from 1 s into :data:`SPEECH`), written as a wav."""
    import soundfile as sf

    samples, rate = sf.read(str(SPEECH), dtype="float32")
    sf.write(str(path), samples[rate : rate + round(seconds * rate)], rate)
    return path


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m portraittalk ...` as a user would."""
    return subprocess.run([sys.executable, "-m", "portraittalk", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)  # fmt: skip
