"""Training tests: real talking clips rendered by the warp engine, preprocessed once per session by
the real CLI; the tiny random diffusion weights; no downloads."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from shared_inputs import ASSETS, PORTRAIT, SECOND_PORTRAIT, ROOT, ffmpeg

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
torch.set_num_threads(1)  # tiny models: on a shared 2-core box two threads wait on each other

CLIP_SECONDS = 2.4
SIZE = 128  # preprocessing crop side; the tiny models train at 64


@dataclass
class RenderedClip:
    path: Path
    landmarks: np.ndarray  # (T, 478, 2) where the warp engine put every landmark, output pixels
    mouth_open: np.ndarray  # (T,) the motion's jaw opening
    size: int


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> dict[str, RenderedClip]:
    """Two talking clips of two people (one re-timed to 30 fps), a corrupt file and a faceless video."""
    from portraittalk import PortraitTalk
    from portraittalk.media import load_audio
    from portraittalk.media.audio import Audio

    folder = tmp_path_factory.mktemp("videos")
    pt = PortraitTalk()
    clips = {}
    for name, portrait, speech in (("astronaut", PORTRAIT, "en_mbp.wav"), ("man", SECOND_PORTRAIT, "en_voice2.wav")):
        audio = load_audio(ASSETS / "speech" / speech)
        audio = Audio.from_array(audio.samples[: int(CLIP_SECONDS * audio.sample_rate)])
        out = folder / f"{name}.mp4"
        result = pt.generate([portrait], audio, size=256, output=out)
        clips[name] = RenderedClip(out, result.track.landmarks, result.track.mouth_open, 256)
    thirty = folder / "man_30fps.mp4"
    ffmpeg("-i", str(clips["man"].path), "-filter:v", "fps=30", "-c:a", "copy", str(thirty))
    clips["man"].path.unlink()
    clips["man"] = RenderedClip(thirty, clips["man"].landmarks, clips["man"].mouth_open, 256)
    (folder / "broken.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=frequency=300",
           "-t", "1", "-pix_fmt", "yuv420p", "-shortest", str(folder / "faceless.mp4"))  # fmt: skip
    (folder / "notes.txt").write_text("not a video: ignored\n")
    return clips


@pytest.fixture(scope="session")
def preprocessed(videos, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`portraittalk preprocess` on the videos, two workers, with prompts."""
    folder = next(iter(videos.values())).path.parent
    prompts = tmp_path_factory.mktemp("prompts") / "prompts.csv"
    prompts.write_text("video,prompt\nastronaut.mp4,an astronaut in a white suit\nman_30fps,a man with a beard\n")
    out = tmp_path_factory.mktemp("data") / "DATA"
    proc = subprocess.run([sys.executable, "-m", "portraittalk", "preprocess", str(folder), "--out", str(out),
                           "--prompts", str(prompts), "--workers", "2", "--size", str(SIZE), "--quiet"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


@pytest.fixture(scope="session")
def data_dir(preprocessed) -> Path:
    return preprocessed[0]


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    from portraittalk.engines.diffusion.tiny import make_tiny_weights

    return make_tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def base_without_adapters(tiny_weights, tmp_path_factory) -> Path:
    """A weights folder with only the base model: training must start from fresh adapters."""
    import os

    root = tmp_path_factory.mktemp("base_only")
    os.symlink(tiny_weights / "sd15", root / "sd15", target_is_directory=True)
    return root
