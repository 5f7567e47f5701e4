"""The weights registry: every downloadable model component, where it lives and how to get it.

Nothing is ever fetched implicitly: code that needs a component asks a :class:`Weights` folder
(``weights.present(name)`` / ``weights.require(name)``), which raises :class:`MissingWeightsError`
naming the command that fetches it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

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
    import_as: str = ""  # a public checkpoint that `weights download` imports into portraittalk/ (`weights import KIND`)
    import_path: str = ""  # the file or folder to import, relative to the component's folder

    @property
    def how(self) -> str:
        """How a user gets this component."""
        return self.how_to_get or f"run `portraittalk weights download {self.name}`"


COMPONENTS: tuple[Component, ...] = (
    Component("sd15", "sd15", "Stable Diffusion 1.5 base (IdentityNet backbone, VAE, CLIP text encoder)",
              "stable-diffusion-v1-5/stable-diffusion-v1-5",
              ("unet/config.json", "vae/config.json", "text_encoder/config.json", "tokenizer", "scheduler"),
              ("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
               "text_encoder/model.safetensors", "tokenizer/*", "scheduler/*", "*/config.json", "model_index.json"),
              "diffusion engine"),
    Component("portraittalk", "portraittalk", "PortraitTalk adapters: face projection, face K/V, AnimateNet (optional)",
              "", ("config.json", "identitynet.safetensors"), (), "diffusion engine",
              "import the public checkpoints with `portraittalk weights download ip-adapter-faceid controlnet-face` "
              "(or `portraittalk weights import ...`), or train them (docs/diffusion.md)"),
    Component("ip-adapter-faceid", "downloads/ip-adapter-faceid",
              "IP-Adapter-FaceID-Portrait (SD1.5): imported into portraittalk/ as IdentityNet's face adapter",
              "h94/IP-Adapter-FaceID", ("ip-adapter-faceid-portrait-v11_sd15.bin",),
              ("ip-adapter-faceid-portrait-v11_sd15.bin",), "diffusion engine (imported)",
              import_as="ip-adapter-faceid", import_path="ip-adapter-faceid-portrait-v11_sd15.bin"),
    Component("controlnet-face", "downloads/controlnet-mediapipe-face",
              "ControlNetMediaPipeFace (SD1.5, LAION-Face mesh): imported into portraittalk/ as AnimateNet",
              "CrucibleAI/ControlNetMediaPipeFace",
              ("diffusion_sd15/config.json", "diffusion_sd15/diffusion_pytorch_model.safetensors|"
               "diffusion_sd15/diffusion_pytorch_model.fp16.safetensors"),
              ("diffusion_sd15/config.json", "diffusion_sd15/*.safetensors"),
              "diffusion engine (imported)", import_as="controlnet", import_path="diffusion_sd15"),
    Component("audio2motion", "audio2motion", "audio-to-motion VAE (GeneFace++ style) checkpoint",
              "", ("config.json", "model.safetensors"), (), "audio -> motion (motion_model auto or learned)",
              "no public release yet: train it with `portraittalk train --stage audio2motion` (docs/training.md); "
              "without it the offline motion model is used"),
    Component("insightface", "insightface", "ArcFace face recogniser (buffalo_l / antelopev2 ONNX): identity tokens, "
              "identity metric", "public-data/insightface",
              ("models/buffalo_l/w600k_r50.onnx|models/antelopev2/glintr100.onnx",), ("models/buffalo_l/*",),
              "diffusion engine (IP-Adapter-FaceID needs it), metrics (dlib is the offline fallback)"),
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


def component(name: str) -> Component:
    for c in COMPONENTS:
        if c.name == name:
            return c
    names = ", ".join(c.name for c in COMPONENTS)
    raise MissingWeightsError(f"unknown weights component '{name}'; known: {names}.")


DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "weights"


@dataclass(frozen=True)
class Weights:
    """One weights folder. Passed down to everything that reads weights, so two generators with
    different folders in one process each see their own; nothing reads the environment but
    :meth:`resolve`, which the edges (CLI, app, ``PortraitTalk.from_pretrained``) call once."""

    root: Path

    @classmethod
    def resolve(cls, folder: Union[str, os.PathLike, None] = None) -> "Weights":
        """``folder``, else ``$PORTRAITTALK_WEIGHTS``, else the repository's ``weights/``."""
        chosen = folder if folder is not None else (os.environ.get(ENV_VAR) or DEFAULT_ROOT)
        return cls(Path(chosen).expanduser().resolve())

    def path(self, name: str) -> Path:
        """The component's folder (whether or not it is there)."""
        return self.root / component(name).folder

    def present(self, name: str) -> bool:
        path = self.path(name)
        return all(any((path / alt).exists() for alt in req.split("|")) for req in component(name).required_files)

    def missing_message(self, name: str) -> str:
        """What is missing, where it was expected, and how to get it."""
        c = component(name)
        return f"{c.purpose} is missing (expected in {self.path(name)}); {c.how}."

    def require(self, name: str) -> Path:
        """The component's folder, or a :class:`MissingWeightsError` that says how to get it."""
        if not self.present(name):
            raise MissingWeightsError(self.missing_message(name))
        return self.path(name)

    def status_rows(self) -> list[dict[str, str]]:
        """One row per component, for `portraittalk weights status` and the app's status panel."""
        return [{"name": c.name, "present": "yes" if self.present(c.name) else "no", "path": str(self.path(c.name)),
                 "purpose": c.purpose, "source": c.source or c.how_to_get, "used_by": c.used_by}
                for c in COMPONENTS]  # fmt: skip

    def download(self, name: str, token: Optional[str] = None) -> Path:
        """Fetch a component from its public repository with ``huggingface_hub``."""
        c = component(name)
        if not c.source:
            raise DownloadError(f"'{c.name}' has no public download; {c.how_to_get}.")
        try:
            from huggingface_hub import snapshot_download
        except ImportError:  # pragma: no cover - installed by make setup
            raise DownloadError("huggingface_hub is not installed; run `make setup`.") from None
        path = self.path(name)
        path.mkdir(parents=True, exist_ok=True)
        try:
            snapshot_download(repo_id=c.source, local_dir=str(path),
                              allow_patterns=list(c.allow_patterns) or None, token=token)  # fmt: skip
        except Exception as exc:  # network errors come in many types
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise DownloadError(
                f"could not download '{c.name}' from {c.source} ({reason}). Check the network, or copy the "
                f"files by hand into {path}."
            ) from None
        if not self.present(name):
            raise DownloadError(f"downloaded '{c.name}' but {path} still lacks {', '.join(c.required_files)}.")
        return path
