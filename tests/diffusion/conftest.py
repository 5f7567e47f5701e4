"""Tiny models built on the CPU; no downloads."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
torch.set_num_threads(1)  # tiny ops: on a shared 2-core box two threads wait on each other (~15x slower)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """A complete tiny weight set written by `make_tiny_weights` (base saved with diffusers' save_pretrained)."""
    from portraittalk.engines.diffusion.tiny import make_tiny_weights

    return make_tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture()
def tiny_nets():
    """(plain UNet copy, IdentityNet, AnimateNet) with random, non-trivial adapter weights."""
    import copy

    from portraittalk.engines.diffusion.tiny import build_adapters, build_unet

    torch.manual_seed(0)
    unet = build_unet("tiny").eval()
    plain = copy.deepcopy(unet)
    identitynet, animatenet = build_adapters(unet, "tiny")
    return plain, identitynet.eval(), animatenet.eval()


def open_zero_convs(animatenet) -> None:
    """Give the zero convs values, as after some training, so AnimateNet has an effect."""
    with torch.no_grad():
        for name, p in animatenet.named_parameters():
            if "controlnet_down_blocks" in name or "controlnet_mid_block" in name or "conv_out" in name:
                p.normal_(0.0, 0.05)


def inputs(batch: int = 2, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"sample": torch.randn(batch, 4, 8, 8, generator=g), "timestep": torch.tensor(500),
            "text_embeds": torch.randn(batch, 77, 32, generator=g),
            "face_embeds": torch.randn(batch, 1, 128, generator=g),
            "structure": torch.rand(batch, 3, 64, 64, generator=g), "contour": torch.rand(batch, 1, 64, 64, generator=g),
            "previous_latent": torch.randn(batch, 4, 8, 8, generator=g)}  # fmt: skip


@pytest.fixture(scope="session")
def references():
    """Two real portraits analysed at the tiny model's resolution (64 px crops): what the warp
    engine (the stability method's first frames) needs."""
    from portraittalk.face.reference import analyse_reference
    from portraittalk.media import load_image

    from shared_inputs import PORTRAIT, SECOND_PORTRAIT

    return [analyse_reference(load_image(p), p.stem, size=64) for p in (PORTRAIT, SECOND_PORTRAIT)]


@dataclass
class StubReference:
    """What the engine reads from a Reference, without face analysis."""

    image: np.ndarray
    landmarks: np.ndarray
    vector: np.ndarray
    _contour: np.ndarray = field(default=None)

    def head_contour(self) -> np.ndarray:
        return self._contour

    def identity(self, backend: str = "auto"):
        from portraittalk.face.identity import IdentityEmbedding

        return IdentityEmbedding(self.vector, "dlib")


def stub_reference(seed: int = 0, size: int = 96) -> StubReference:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    landmarks = rng.uniform(size * 0.2, size * 0.8, (478, 2)).astype(np.float32)
    contour = np.zeros((size, size), np.uint8)
    contour[size // 4, :] = 255
    return StubReference(image, landmarks, rng.normal(size=128).astype(np.float32), contour)


def stub_track(reference: StubReference, frames: int = 3, size: tuple[int, int] = (80, 96)):
    from portraittalk.motion.track import MotionTrack

    sx, sy = size[0] / reference.image.shape[1], size[1] / reference.image.shape[0]
    base = reference.landmarks * np.array([sx, sy], np.float32)
    lm = np.stack([base + t for t in range(frames)]).astype(np.float32)
    z = np.zeros(frames, np.float32)
    return MotionTrack.from_landmarks(lm, 25.0, size, base, z, z, np.zeros((frames, 4), np.float32), z)
