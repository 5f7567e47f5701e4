"""The weights registry: every downloadable model component, where it lives and how to get it.

Nothing is ever fetched implicitly: code that needs a component checks :func:`is_present` and
raises :class:`MissingWeightsError` naming the command that fetches it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .errors import DownloadError, MissingWeightsError

ENV_VAR = "PORTRAITTALK_WEIGHTS"


@dataclass(frozen=True)
class Component:
    name: str
    folder: str  # relative to the weights folder
    purpose: str
    source: str  # Hugging Face repository id, or "" when no public copy exists
    required_files: tuple[str, ...]  # any one of each "a|b" alternative must exist
    allow_patterns: tuple[str, ...] = ()
    used_by: str = ""
    how_to_get: str = ""  # for components without a public source

    @property
    def path(self) -> Path:
        return self.path_in(None)

    @property
    def present(self) -> bool:
        return self.present_in(None)

    @property
    def how(self) -> str:
        """How a user gets this component."""
        return self.how_to_get or f"run `portraittalk weights download {self.name}`"

    def path_in(self, root: Optional[Path]) -> Path:
        """The component's folder under ``root`` (default: :func:`weights_dir`)."""
        return Path(root or weights_dir()).expanduser() / self.folder

    def present_in(self, root: Optional[Path]) -> bool:
        path = self.path_in(root)
        return all(any((path / alt).exists() for alt in req.split("|")) for req in self.required_files)


COMPONENTS: tuple[Component, ...] = (
    Component("sd15", "sd15", "Stable Diffusion 1.5 base (IdentityNet backbone, VAE, CLIP text encoder)",
              "stable-diffusion-v1-5/stable-diffusion-v1-5",
              ("unet/config.json", "vae/config.json", "text_encoder/config.json", "tokenizer", "scheduler"),
              ("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
               "text_encoder/model.safetensors", "tokenizer/*", "scheduler/*", "*/config.json", "model_index.json"),
              "diffusion engine"),
    Component("portraittalk", "portraittalk", "PortraitTalk adapters: face projection, face K/V, AnimateNet",
              "", ("config.json", "identitynet.safetensors", "animatenet"), (), "diffusion engine",
              "no public release yet: train them (training stages in docs/diffusion.md; a `portraittalk train` "
              "command is still to come), or `portraittalk weights make-tiny` for a random test set"),
    Component("audio2motion", "audio2motion", "audio-to-motion VAE (GeneFace++ style) checkpoint",
              "", ("config.json", "model.safetensors"), (), "diffusion engine (warp uses the offline model)",
              "no public release yet: train it (docs/diffusion.md); the warp engine uses the offline model"),
    Component("insightface", "insightface", "ArcFace face recogniser (identity tokens, identity metric)",
              "public-data/insightface", ("models/buffalo_l/w600k_r50.onnx|models/antelopev2/glintr100.onnx",),
              ("models/buffalo_l/*",), "diffusion engine, metrics (dlib is the offline fallback)"),
    Component("hubert", "hubert-large-ls960-ft", "HuBERT-large speech features (1024-d, 50 Hz)",
              "facebook/hubert-large-ls960-ft", ("config.json", "model.safetensors|pytorch_model.bin"),
              ("config.json", "*.safetensors", "preprocessor_config.json"), "audio-to-motion (log-mel otherwise)"),
    Component("rembg", "rembg", "U^2-Net human segmentation (sharper background masks)",
              "tomjackson2023/rembg", ("u2net_human_seg.onnx",), ("u2net_human_seg.onnx",),
              "face analysis (MediaPipe selfie segmentation otherwise)"),
    Component("inception", "metrics/inception", "Inception-v3 pool features for FID / E-FID",
              "timm/inception_v3.tv_in1k", ("model.safetensors",), ("*.safetensors", "config.json"), "metrics"),
    Component("i3d", "metrics/i3d", "I3D video features for FVD", "flateon/FVD-I3D-torchscript",
              ("i3d_torchscript.pt",), ("i3d_torchscript.pt",), "metrics"),
    Component("syncnet", "metrics/syncnet", "SyncNet audio-visual sync (confidence / distance)",
              "ByteDance/LatentSync", ("syncnet_v2.model|latentsync_syncnet.pt",), ("*syncnet*",), "metrics"),
    Component("clip", "metrics/clip-vit-base-patch32", "CLIP ViT-B/32 for CLIP-T (prompt adherence)",
              "openai/clip-vit-base-patch32", ("config.json", "model.safetensors|pytorch_model.bin"),
              ("*.json", "*.txt", "model.safetensors"), "metrics"),
    Component("dino", "metrics/dino-vits16", "DINO ViT-S/16 for subject consistency (DINO score)",
              "facebook/dino-vits16", ("config.json", "model.safetensors|pytorch_model.bin"),
              ("*.json", "model.safetensors"), "metrics"),
)  # fmt: skip


def weights_dir() -> Path:
    """``$PORTRAITTALK_WEIGHTS`` or the repository's ``weights/`` folder."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1] / "weights"


def component(name: str) -> Component:
    for c in COMPONENTS:
        if c.name == name:
            return c
    names = ", ".join(c.name for c in COMPONENTS)
    raise MissingWeightsError(f"unknown weights component '{name}'; known: {names}.")


def component_path(name: str) -> Path:
    return component(name).path


def is_present(name: str, root: Optional[Path] = None) -> bool:
    return component(name).present_in(root)


def missing_message(name: str, root: Optional[Path] = None) -> str:
    """What is missing, where it was expected, and how to get it."""
    c = component(name)
    return f"{c.purpose} is missing (expected in {c.path_in(root)}); {c.how}."


def require(name: str, root: Optional[Path] = None) -> Path:
    """The component's folder, or a :class:`MissingWeightsError` that says how to get it."""
    c = component(name)
    if not c.present_in(root):
        raise MissingWeightsError(missing_message(name, root))
    return c.path_in(root)


def status_rows() -> list[dict[str, str]]:
    """One row per component, for `portraittalk weights status` and the app's status panel."""
    return [{"name": c.name, "present": "yes" if c.present else "no", "path": str(c.path),
             "purpose": c.purpose, "source": c.source or c.how_to_get, "used_by": c.used_by}
            for c in COMPONENTS]  # fmt: skip


def download(name: str, token: Optional[str] = None) -> Path:
    """Fetch a component from its public repository with ``huggingface_hub``."""
    c = component(name)
    if not c.source:
        raise DownloadError(f"'{c.name}' has no public download; {c.how_to_get}.")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - installed by make setup
        raise DownloadError("huggingface_hub is not installed; run `make setup`.") from None
    c.path.mkdir(parents=True, exist_ok=True)
    try:
        snapshot_download(repo_id=c.source, local_dir=str(c.path),
                          allow_patterns=list(c.allow_patterns) or None, token=token)  # fmt: skip
    except Exception as exc:  # network errors come in many types
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DownloadError(
            f"could not download '{c.name}' from {c.source} ({reason}). Check the network, or copy the "
            f"files by hand into {c.path}."
        ) from None
    if not c.present:
        raise DownloadError(f"downloaded '{c.name}' but {c.path} still lacks {', '.join(c.required_files)}.")
    return c.path
