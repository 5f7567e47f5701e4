"""`portraittalk weights import ...`: public checkpoints into the registry's ``portraittalk/`` component.

Everything is read and checked before anything is written; the new component is assembled in a
hidden folder next to ``portraittalk/`` (unchanged parts hard-linked, not copied) and renamed into
place at the end, so a bad file leaves the weights folder exactly as it was. What was imported is
recorded under ``"imported"`` in ``portraittalk/config.json`` (``weights status`` and the engine's
notes show it).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import torch

from ....errors import InputError
from ....weights import Weights
from .convert import check_controlnet_config, convert_faceid, split_ip_adapter
from .adapter_config import ADAPTER_FORMAT, read_adapter_config

COMPONENT = "portraittalk"
CONTROLNET_STYLE = "laion-face"  # the public MediaPipe-face ControlNet's annotator (face/draw.py)


def import_ip_adapter_faceid(path: Path, weights: Weights) -> dict:
    """IP-Adapter-FaceID (``faceid`` with its LoRA, or ``faceid-portrait``; ``.bin`` or ``.safetensors``)
    -> IdentityNet's face projection, face K/V and LoRA. Returns what was recorded."""
    path = Path(path)
    unet = _base_unet(weights)
    adapter = convert_faceid(split_ip_adapter(read_checkpoint(path), path.name), unet, path.name)
    record = {"source": path.name, "kind": "ip-adapter-faceid", "variant": adapter.variant,
              "tokens_per_face": adapter.tokens_per_face, "embedding": "ArcFace 512-d (insightface)",
              "lora_rank": adapter.lora_rank}  # fmt: skip
    from safetensors.torch import save_file

    with staged_component(weights, replaces=("identitynet.safetensors",)) as (folder, config):
        tensors = {k: v.detach().contiguous() for k, v in {**adapter.state, **adapter.lora}.items()}
        save_file(tensors, str(folder / "identitynet.safetensors"), metadata={"format": "pt"})
        config.update(face_projection=adapter.projection, identitynet_includes_unet=False)
        config["imported"]["identitynet"] = record
    return record


def import_controlnet(folder: Path, weights: Weights, conditioning_scale: float = 1.0) -> dict:
    """A diffusers ControlNet folder -> AnimateNet's structure branch (inert Eq. (2) parts), drawn in
    the LAION-Face style. Returns what was recorded."""
    from diffusers import ControlNetModel

    from ..models.animatenet import AnimateNet

    folder = Path(folder)
    unet = _base_unet(weights)
    config_file = folder / "config.json"
    if not config_file.is_file():
        hint = " (for CrucibleAI/ControlNetMediaPipeFace, give its diffusion_sd15/ folder)" if folder.is_dir() else ""
        raise InputError(f"{folder} is not a diffusers ControlNet folder: it has no config.json{hint}.")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{config_file} cannot be read as JSON ({exc}).") from None
    check_controlnet_config(config, unet.config, folder.name)
    if not 0.0 <= conditioning_scale <= 3.0:
        raise InputError(f"the conditioning scale must be between 0 and 3 (got {conditioning_scale:g}).")
    variant = _variant(folder)
    try:
        controlnet = ControlNetModel.from_pretrained(folder, local_files_only=True, variant=variant,
                                                     torch_dtype=_source_dtype(folder, variant))  # fmt: skip
    except (OSError, ValueError, RuntimeError) as exc:  # missing, truncated or mismatched weight files
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(f"cannot load the ControlNet in {folder} ({reason}); the weight file is missing, "
                         "truncated or does not match its config.json.") from None  # fmt: skip
    animatenet = AnimateNet.from_controlnet(controlnet, CONTROLNET_STYLE, conditioning_scale)
    record = {"source": f"{folder.parent.name}/{folder.name}", "kind": "controlnet", "drawing_style": CONTROLNET_STYLE,
              "conditioning_scale": conditioning_scale,
              "condition_attention": "untrained (w = 0): exactly the ControlNet; w1-w3 have no effect"}  # fmt: skip
    with staged_component(weights, replaces=("animatenet",)) as (stage, adapters):
        animatenet.save_pretrained(stage / "animatenet", safe_serialization=True)
        adapters["imported"]["animatenet"] = record
    return record


def read_checkpoint(path: Path) -> dict:
    """A plain-tensor state dict from ``.safetensors`` or a ``.bin`` pickle (``weights_only``)."""
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        if suffix in (".bin", ".pt", ".pth", ".ckpt"):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and safetensors raise many types for a damaged file
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if "weights only" in str(exc).lower() or "unpickl" in str(exc).lower():
            raise InputError(f"{path.name} holds Python objects besides tensors; only plain-tensor checkpoints are "
                             "read (nothing in it was run).") from None  # fmt: skip
        raise InputError(f"cannot read {path.name}: it is truncated or not a {suffix[1:]} checkpoint ({reason}).") from None
    raise InputError(f"{path.name}: expected a .bin or .safetensors checkpoint.")


@contextmanager
def staged_component(weights: Weights, replaces: tuple[str, ...]) -> Iterator[tuple[Path, dict]]:
    """Yield ``(stage folder, config dict)``: the stage already holds hard links to everything in
    ``portraittalk/`` except ``replaces`` and ``config.json``; on success the config is written and
    the stage replaces ``portraittalk/``; on any error the stage is removed and nothing changed."""
    final = weights.path(COMPONENT)
    config = read_adapter_config(final) if (final / "config.json").exists() else {"format": ADAPTER_FORMAT}
    config.setdefault("imported", {})
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.import-", dir=final.parent))
    try:
        if final.is_dir():
            for entry in final.iterdir():
                if entry.name not in (*replaces, "config.json"):
                    _link(entry, stage / entry.name)
        yield stage, config
        (stage / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}") if final.exists() else None
        if old is not None:
            final.rename(old)
        stage.rename(final)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _link(src: Path, dst: Path) -> None:
    """Hard-link a file or a tree (new files replace links, never write through them); copy if links fail."""
    def link_file(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    if src.is_dir():
        shutil.copytree(src, dst, copy_function=link_file)
    else:
        link_file(str(src), str(dst))


def _base_unet(weights: Weights) -> torch.nn.Module:
    """The base UNet's structure (on the meta device: names and shapes, no weights read)."""
    from diffusers import UNet2DConditionModel

    config = UNet2DConditionModel.load_config(weights.require("sd15") / "unet", local_files_only=True)
    with torch.device("meta"):
        return UNet2DConditionModel.from_config(config)


def _variant(folder: Path) -> Optional[str]:
    """``"fp16"`` when the folder holds only the half-precision file (``diffusion_pytorch_model.fp16.safetensors``)."""
    plain = any((folder / f"diffusion_pytorch_model.{ext}").is_file() for ext in ("safetensors", "bin"))
    return "fp16" if not plain and (folder / "diffusion_pytorch_model.fp16.safetensors").is_file() else None


def _source_dtype(folder: Path, variant: Optional[str]) -> torch.dtype:
    """The dtype the ControlNet was saved in (kept as it is: fp16 sources stay half the size)."""
    file = folder / ("diffusion_pytorch_model.fp16.safetensors" if variant else "diffusion_pytorch_model.safetensors")
    if file.is_file():
        from safetensors import safe_open

        try:
            with safe_open(str(file), "pt") as f:
                first = next(iter(f.keys()), None)
                stored = f.get_slice(first).get_dtype() if first else "F32"
        except Exception:  # a damaged file: from_pretrained says so in its own words
            return torch.float32
        return {"F16": torch.float16, "BF16": torch.bfloat16}.get(stored, torch.float32)
    return torch.float32
