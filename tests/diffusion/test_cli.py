"""The command line: `weights make-tiny` writes a usable set; `generate --engine diffusion` renders with it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, weights: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny ops: one thread is faster on a shared CPU
    env.pop("PORTRAITTALK_WEIGHTS", None)
    return subprocess.run([sys.executable, "-m", "portraittalk", *args], capture_output=True, text=True,
                          timeout=400, cwd=ROOT, env=env)  # fmt: skip


def test_make_tiny_writes_the_registry_layout(tmp_path):
    result = _cli("weights", "make-tiny", str(tmp_path / "w"))
    assert result.returncode == 0, result.stderr
    env = {**os.environ, "PORTRAITTALK_WEIGHTS": str(tmp_path / "w")}
    status = subprocess.run([sys.executable, "-m", "portraittalk", "weights", "status"], capture_output=True,
                            text=True, cwd=ROOT, env=env, timeout=120)  # fmt: skip
    lines = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines()[1:] if line.startswith("  ") and
             line.split()[0] in ("sd15", "portraittalk", "audio2motion")}  # fmt: skip
    assert lines == {"sd15": "present", "portraittalk": "present", "audio2motion": "present"}, status.stdout


def test_generate_with_the_diffusion_engine(tiny_dir, tmp_path):
    from portraittalk.media import probe_video

    out = tmp_path / "x.mp4"
    result = _cli("generate", "--engine", "diffusion", "--weights", str(tiny_dir),
                  "--ref", str(ROOT / "assets/portraits/astronaut.png"), "--audio", str(ROOT / "assets/speech/en_mbp.wav"),
                  "--out", str(out), "--steps", "1", "--size", "128", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "engine: diffusion" in result.stdout + result.stderr
    info = probe_video(out)
    assert (info.width, info.height) == (128, 128) and info.audio_codec is not None
    assert abs(info.duration - 5.79) < 0.2 and info.frame_count == 145
