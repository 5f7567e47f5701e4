"""Metrics that need downloaded networks: FID, E-FID, FVD, SyncNet, CLIP-T, DINO.

Each one is an accumulator fed aligned frame pairs while the videos stream (so memory stays flat)
and reports ``{"value": ..., "available": True, ...}``; when its weights are missing (or its input,
e.g. a prompt for CLIP-T) it reports ``{"value": None, "available": False, "reason": "..."}``, never
a zero. Weights come only from the registry's folders (:mod:`portraittalk.weights`).

Choices worth knowing:

* **FID** uses the registry's Inception-v3 (``timm/inception_v3.tv_in1k``, torchvision's ImageNet
  weights), 2048-d pool features of every aligned frame. Published FIDs use the TF-ported
  ``pt_inception-2015-12-05`` weights, so absolute values are comparable between our runs only.
  One clip has far fewer than 2048 frames, so the covariances are rank-deficient and FID is biased
  upward; compare FIDs computed over the same number of frames.
* **E-FID** in EchoMimic is a Fréchet distance over 3DMM expression coefficients; we ship no 3DMM,
  so ours is the same Fréchet distance over Inception features of square face crops (landmark box,
  ×1.3): an expression-sensitive FID, not the published number.
* **FVD** follows StyleGAN-V: the I3D TorchScript gets uint8-range clips ``(B, 3, 16, H, W)`` with
  ``rescale=True, resize=True``; clips are consecutive, non-overlapping 16-frame windows.
* **CLIP-T** is the mean cosine similarity between the prompt's CLIP text embedding and sampled
  generated frames; **DINO** the mean cosine similarity of DINO CLS features between sampled
  generated frames and the reference portrait (or, without one, the aligned ground-truth frame).
* **SyncNet** (``syncnet_v2.model``) scores the generated video against its own audio track; its
  ``value`` is the confidence ("Sync-C"), ``distance`` is "Sync-D" (see :mod:`.syncnet`). LatentSync's
  StableSyncNet checkpoint is a different network and is not supported.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Protocol

import numpy as np

from ...weights import Weights, component
from .common import unavailable
from .embeddings import ClipTMetric, DinoMetric
from .frechet import FrechetMetric, InceptionFeatures, face_crop, frechet_distance
from .fvd import FVD_CLIP, FVDMetric

__all__ = ["ClipTMetric", "DinoMetric", "FVDMetric", "FVD_CLIP", "FrechetMetric", "InceptionFeatures", "Metric",
           "build_metrics", "face_crop", "frechet_distance", "unavailable"]


class Metric(Protocol):
    name: str

    def update(self, gen: np.ndarray, gt: np.ndarray, gen_points: Optional[np.ndarray],
               gt_points: Optional[np.ndarray], sampled: bool) -> None: ...

    def result(self) -> dict: ...


def build_metrics(prompt: Optional[str], reference: Optional[np.ndarray], video: Optional[Path] = None,
                  fps: float = 25.0, every_frame: bool = True, weights: Optional[Weights] = None,
                  device: str = "auto") -> tuple[list[Metric], dict[str, dict]]:  # fmt: skip
    """The learned metrics that can run with ``weights``, and an ``unavailable`` entry for each that cannot.

    ``video``/``fps``: the generated file (SyncNet reads its audio); ``every_frame``: whether each of
    its frames reaches ``update`` (not so when a lower-rate ground truth drives the alignment).
    """
    from ...runtime import resolve_device

    def missing(name: str) -> Optional[str]:
        if weights is not None and weights.present(name):
            return None
        where = f" in {weights.path(name)}" if weights is not None else " (no weights folder given)"
        return f"{component(name).purpose}: weights not found{where} (run `portraittalk weights download {name}`)"

    ready: list[Metric] = []
    skipped: dict[str, dict] = {}
    if any(missing(n) is None for n in ("inception", "i3d", "syncnet", "clip", "dino")):
        device = resolve_device(device)
    if reason := missing("inception"):
        skipped["fid"] = skipped["e_fid"] = unavailable(reason)
    else:
        net = InceptionFeatures(weights.path("inception"), device)
        ready += [FrechetMetric("fid", net, face_crop=False), FrechetMetric("e_fid", net, face_crop=True)]
    if reason := missing("i3d"):
        skipped["fvd"] = unavailable(reason)
    else:
        ready.append(FVDMetric(weights.path("i3d") / "i3d_torchscript.pt", device))
    if reason := missing("syncnet"):
        skipped["syncnet"] = unavailable(reason)
    elif not (weights.path("syncnet") / "syncnet_v2.model").is_file():
        skipped["syncnet"] = unavailable(f"only LatentSync's StableSyncNet is in {weights.path('syncnet')}; SyncNet "
                                         "scoring needs syncnet_v2.model (joonson/syncnet_python)")  # fmt: skip
    elif video is None:
        skipped["syncnet"] = unavailable("SyncNet needs the generated video file (for its audio track)")
    elif not every_frame:
        skipped["syncnet"] = unavailable("SyncNet needs every frame of the generated video, and the alignment "
                                         "skips some (the ground truth has a lower frame rate)")  # fmt: skip
    else:
        from .syncnet import SyncNetMetric

        ready.append(SyncNetMetric(weights.path("syncnet"), video, fps, device))
    if reason := missing("clip"):
        skipped["clip_t"] = unavailable(reason)
    elif not prompt:
        skipped["clip_t"] = unavailable("no prompt given (use --prompt); CLIP-T measures prompt adherence")
    else:
        ready.append(ClipTMetric(weights.path("clip"), prompt, device))
    if reason := missing("dino"):
        skipped["dino"] = unavailable(reason)
    else:
        ready.append(DinoMetric(weights.path("dino"), reference, device))
    return ready, skipped
