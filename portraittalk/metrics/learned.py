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

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Protocol

import numpy as np

from ..weights import component

FVD_CLIP = 16


class Metric(Protocol):
    name: str

    def update(self, gen: np.ndarray, gt: np.ndarray, gen_points: Optional[np.ndarray],
               gt_points: Optional[np.ndarray], sampled: bool) -> None: ...

    def result(self) -> dict: ...


def unavailable(reason: str) -> dict:
    return {"value": None, "available": False, "reason": reason}


def _missing(name: str) -> Optional[str]:
    c = component(name)
    if c.present:
        return None
    return f"{c.purpose}: weights not found in {c.path} (run `portraittalk weights download {name}`)"


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Loading a local folder needs no progress bars or load reports on the user's terminal."""
    from transformers.utils import logging

    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def build_metrics(prompt: Optional[str], reference: Optional[np.ndarray], video: Optional[Path] = None,
                  fps: float = 25.0, every_frame: bool = True) -> tuple[list[Metric], dict[str, dict]]:
    """The learned metrics that can run here, and an ``unavailable`` entry for each that cannot.

    ``video``/``fps``: the generated file (SyncNet reads its audio); ``every_frame``: whether each of
    its frames reaches ``update`` (not so when a lower-rate ground truth drives the alignment).
    """
    ready: list[Metric] = []
    skipped: dict[str, dict] = {}
    inception_missing = _missing("inception")
    if inception_missing:
        skipped["fid"] = unavailable(inception_missing)
        skipped["e_fid"] = unavailable(inception_missing)
    else:
        net = InceptionFeatures(component("inception").path)
        ready += [FrechetMetric("fid", net, face_crop=False), FrechetMetric("e_fid", net, face_crop=True)]
    if reason := _missing("i3d"):
        skipped["fvd"] = unavailable(reason)
    else:
        ready.append(FVDMetric(component("i3d").path / "i3d_torchscript.pt"))
    syncnet = component("syncnet").path
    if reason := _missing("syncnet"):
        skipped["syncnet"] = unavailable(reason)
    elif not (syncnet / "syncnet_v2.model").is_file():
        skipped["syncnet"] = unavailable(f"only LatentSync's StableSyncNet is in {syncnet}; SyncNet scoring needs "
                                         "syncnet_v2.model (joonson/syncnet_python)")  # fmt: skip
    elif video is None:
        skipped["syncnet"] = unavailable("SyncNet needs the generated video file (for its audio track)")
    elif not every_frame:
        skipped["syncnet"] = unavailable("SyncNet needs every frame of the generated video, and the alignment "
                                         "skips some (the ground truth has a lower frame rate)")  # fmt: skip
    else:
        from .syncnet import SyncNetMetric

        ready.append(SyncNetMetric(syncnet, video, fps))
    if reason := _missing("clip"):
        skipped["clip_t"] = unavailable(reason)
    elif not prompt:
        skipped["clip_t"] = unavailable("no prompt given (use --prompt); CLIP-T measures prompt adherence")
    else:
        ready.append(ClipTMetric(component("clip").path, prompt))
    if reason := _missing("dino"):
        skipped["dino"] = unavailable(reason)
    else:
        ready.append(DinoMetric(component("dino").path, reference))
    return ready, skipped


# --- Fréchet distance ------------------------------------------------------------------------

def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (n, D) feature sets (n ≥ 2 each).

    ``tr sqrt(Σa Σb)`` is computed exactly without ``scipy.linalg.sqrtm`` (slow and unstable on the
    rank-deficient covariances of short clips): with few samples it is the nuclear norm of
    ``Xa Xbᵀ / sqrt((na−1)(nb−1))`` (centred features), otherwise the square roots of the eigenvalues
    of ``Σa^½ Σb Σa^½``.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    xa, xb = a - a.mean(axis=0), b - b.mean(axis=0)
    na, nb, dim = len(a), len(b), a.shape[1]
    diff = a.mean(axis=0) - b.mean(axis=0)
    tr_a = float((xa * xa).sum()) / (na - 1)
    tr_b = float((xb * xb).sum()) / (nb - 1)
    if na * nb <= dim * dim:
        cross = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / np.sqrt((na - 1) * (nb - 1))
    else:
        sa, sb = xa.T @ xa / (na - 1), xb.T @ xb / (nb - 1)
        w, v = np.linalg.eigh(sa)
        root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ sb @ root), 0, None)).sum()
    return float(max(0.0, diff @ diff + tr_a + tr_b - 2.0 * cross))


class InceptionFeatures:
    """Inception-v3 2048-d pool features, weights from the registry's timm export (safetensors)."""

    def __init__(self, folder: Path) -> None:
        import torch
        from safetensors.torch import load_file

        self.device = _device()
        self.net = _inception_v3().eval()
        state = load_file(str(folder / "model.safetensors"))
        missing = {k for k in self.net.state_dict() if k not in state and not k.endswith("num_batches_tracked")}
        if missing:
            from ..errors import MissingWeightsError

            raise MissingWeightsError(f"{folder / 'model.safetensors'} is not an Inception-v3 checkpoint "
                                      f"({len(missing)} tensors missing, e.g. {sorted(missing)[0]}).")  # fmt: skip
        self.net.load_state_dict({k: v for k, v in state.items() if k in self.net.state_dict()}, strict=False)
        self.net.to(self.device)
        cfg = _read_json(folder / "config.json").get("pretrained_cfg", {})
        self.mean = torch.tensor(cfg.get("mean", (0.5, 0.5, 0.5))).view(1, 3, 1, 1)
        self.std = torch.tensor(cfg.get("std", (0.5, 0.5, 0.5))).view(1, 3, 1, 1)

    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False, antialias=True)
        with torch.inference_mode():
            feats = self.net(((x - self.mean) / self.std).to(self.device))
        return feats.cpu().numpy().astype(np.float64)


class FrechetMetric:
    """FID over whole frames, or E-FID over face crops (see the module docstring)."""

    def __init__(self, name: str, net: InceptionFeatures, face_crop: bool, batch: int = 16) -> None:
        self.name, self.net, self.face_crop, self.batch = name, net, face_crop, batch
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._gen: list[np.ndarray] = []
        self._gt: list[np.ndarray] = []
        self._skipped = 0

    def update(self, gen, gt, gen_points, gt_points, sampled) -> None:
        if self.face_crop:
            if gen_points is None or gt_points is None:
                self._skipped += 1
                return
            gen, gt = face_crop(gen, gen_points), face_crop(gt, gt_points)
        self._pending.append((gen, gt))
        if len(self._pending) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._gen.append(self.net([p[0] for p in self._pending]))
            self._gt.append(self.net([p[1] for p in self._pending]))
            self._pending = []

    def result(self) -> dict:
        self._flush()
        n = sum(len(f) for f in self._gen)
        if n < 2:
            return unavailable(f"needs at least 2 frames{' with a face' if self.face_crop else ''}, got {n}")
        value = frechet_distance(np.concatenate(self._gen), np.concatenate(self._gt))
        return {"value": value, "available": True, "frames": n, "pairs_without_face": self._skipped}


def face_crop(image: np.ndarray, points: np.ndarray, scale: float = 1.3) -> np.ndarray:
    """A square crop around the landmarks' box (edges replicated), as uint8 RGB."""
    import cv2

    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    side = max(x1 - x0, y1 - y0) * scale
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    m = np.array([[1, 0, side / 2 - cx], [0, 1, side / 2 - cy]], np.float32)
    n = max(int(round(side)), 8)
    return cv2.warpAffine(image, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


# --- FVD -------------------------------------------------------------------------------------

class FVDMetric:
    name = "fvd"

    def __init__(self, path: Path, size: int = 224) -> None:
        import torch

        self.device = _device()
        self.net = torch.jit.load(str(path), map_location=self.device).eval()
        self.size = size
        self._clip: list[tuple[np.ndarray, np.ndarray]] = []
        self._gen: list[np.ndarray] = []
        self._gt: list[np.ndarray] = []

    def update(self, gen, gt, gen_points, gt_points, sampled) -> None:
        import cv2

        small = (self.size, self.size)
        self._clip.append((cv2.resize(gen, small, interpolation=cv2.INTER_AREA),
                           cv2.resize(gt, small, interpolation=cv2.INTER_AREA)))  # fmt: skip
        if len(self._clip) == FVD_CLIP:
            self._gen.append(self._features([c[0] for c in self._clip]))
            self._gt.append(self._features([c[1] for c in self._clip]))
            self._clip = []

    def _features(self, frames: list[np.ndarray]) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2)[None].float().to(self.device)  # 1,3,T,H,W
        with torch.inference_mode():
            f = self.net(x, rescale=True, resize=True, return_features=True)
        return f.reshape(1, -1).cpu().numpy().astype(np.float64)

    def result(self) -> dict:
        if len(self._gen) < 2:
            return unavailable(f"needs at least {2 * FVD_CLIP} aligned frames (two {FVD_CLIP}-frame clips), "
                               f"got {len(self._gen) * FVD_CLIP + len(self._clip)}")  # fmt: skip
        value = frechet_distance(np.concatenate(self._gen), np.concatenate(self._gt))
        return {"value": value, "available": True, "clips": len(self._gen)}


# --- CLIP-T and DINO -------------------------------------------------------------------------

class _CosineMetric:
    """Mean cosine similarity of embedded sampled frames against one target embedding per frame."""

    name = ""

    def __init__(self) -> None:
        self._values: list[float] = []

    def _add(self, a: np.ndarray, b: np.ndarray) -> None:
        self._values.append(float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)))

    def result(self) -> dict:
        if not self._values:
            return unavailable("no frames were sampled")
        return {"value": float(np.mean(self._values)), "available": True, "frames": len(self._values),
                "per_frame": self._values}  # fmt: skip


class ClipTMetric(_CosineMetric):
    name = "clip_t"

    def __init__(self, folder: Path, prompt: str) -> None:
        import torch
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        super().__init__()
        self.device = _device()
        with _quiet_transformers():
            self.model = CLIPModel.from_pretrained(str(folder), local_files_only=True).to(self.device).eval()
            self.processor = AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        tokens = tokenizer([prompt], padding=True, truncation=True, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            self.text = _as_tensor(self.model.get_text_features(**tokens))[0].cpu().numpy()

    def update(self, gen, gt, gen_points, gt_points, sampled) -> None:
        import torch

        if not sampled:
            return
        pixels = self.processor(images=[gen], return_tensors="pt")["pixel_values"].to(self.device)
        with torch.inference_mode():
            emb = _as_tensor(self.model.get_image_features(pixel_values=pixels))[0].cpu().numpy()
        self._add(emb, self.text)


class DinoMetric(_CosineMetric):
    name = "dino"

    def __init__(self, folder: Path, reference: Optional[np.ndarray]) -> None:
        from transformers import AutoConfig, AutoImageProcessor, AutoModel

        super().__init__()
        self.device = _device()
        with _quiet_transformers():
            # DINO checkpoints have no pooler; only the CLS token of the last layer is used
            vit = AutoConfig.from_pretrained(str(folder), local_files_only=True).model_type == "vit"
            kwargs = {"add_pooling_layer": False} if vit else {}
            self.model = AutoModel.from_pretrained(str(folder), local_files_only=True, **kwargs).to(self.device).eval()
            self.processor = AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)
        self.against = "reference" if reference is not None else "ground_truth"
        self._ref = self._embed(reference) if reference is not None else None

    def _embed(self, image: np.ndarray) -> np.ndarray:
        import torch

        pixels = self.processor(images=[image], return_tensors="pt")["pixel_values"].to(self.device)
        with torch.inference_mode():
            return self.model(pixel_values=pixels).last_hidden_state[0, 0].cpu().numpy()

    def update(self, gen, gt, gen_points, gt_points, sampled) -> None:
        if sampled:
            self._add(self._embed(gen), self._ref if self._ref is not None else self._embed(gt))

    def result(self) -> dict:
        out = super().result()
        return {**out, "against": self.against} if out["available"] else out


def _as_tensor(x):
    """transformers 5 may return a model output (its ``pooler_output``) where 4.x returned the tensor."""
    if hasattr(x, "shape"):
        return x
    pooled = getattr(x, "pooler_output", None)
    return pooled if pooled is not None else x[0]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# --- Inception-v3 (torchvision / timm layout, so their checkpoints load by name) ---------------

def _inception_v3():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Conv(nn.Module):
        def __init__(self, cin: int, cout: int, k, s=1, p=0) -> None:
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, s, p, bias=False)
            self.bn = nn.BatchNorm2d(cout, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    def pool3(x):
        return F.avg_pool2d(x, 3, 1, 1)

    class Block(nn.Module):
        """One Inception block: named branches (lists of convs, some ending in a parallel pair)."""

        def __init__(self, spec: dict[str, tuple], pooling: Optional[str], pool_conv: Optional[tuple]) -> None:
            super().__init__()
            self.paths: list[tuple[list[str], list[str]]] = []
            for prefix, layers in spec.items():
                serial, parallel = [], []
                for suffix, args in layers:
                    name = f"{prefix}{suffix}"
                    self.add_module(name, Conv(*args))
                    (parallel if suffix[-1:] in ("a", "b") and len(suffix) > 1 and suffix[-2].isdigit()
                     else serial).append(name)  # fmt: skip
                self.paths.append((serial, parallel))
            self.pooling = pooling
            if pool_conv is not None:
                self.branch_pool = Conv(*pool_conv)

        def forward(self, x):
            outs = []
            for serial, parallel in self.paths:
                y = x
                for name in serial:
                    y = getattr(self, name)(y)
                outs.append(torch.cat([getattr(self, n)(y) for n in parallel], 1) if parallel else y)
            if self.pooling == "avg":
                outs.append(self.branch_pool(pool3(x)))
            else:
                outs.append(F.max_pool2d(x, 3, 2))
            return torch.cat(outs, 1)

    def block_a(cin, pool):
        return Block({"branch1x1": [("", (cin, 64, 1))],
                      "branch5x5": [("_1", (cin, 48, 1)), ("_2", (48, 64, 5, 1, 2))],
                      "branch3x3dbl": [("_1", (cin, 64, 1)), ("_2", (64, 96, 3, 1, 1)), ("_3", (96, 96, 3, 1, 1))]},
                     "avg", (cin, pool, 1))  # fmt: skip

    def block_b(cin):
        return Block({"branch3x3": [("", (cin, 384, 3, 2))],
                      "branch3x3dbl": [("_1", (cin, 64, 1)), ("_2", (64, 96, 3, 1, 1)), ("_3", (96, 96, 3, 2))]},
                     "max", None)  # fmt: skip

    def block_c(cin, c7):
        h, v = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
        return Block({"branch1x1": [("", (cin, 192, 1))],
                      "branch7x7": [("_1", (cin, c7, 1)), ("_2", (c7, c7, *h)), ("_3", (c7, 192, *v))],
                      "branch7x7dbl": [("_1", (cin, c7, 1)), ("_2", (c7, c7, *v)), ("_3", (c7, c7, *h)),
                                       ("_4", (c7, c7, *v)), ("_5", (c7, 192, *h))]},
                     "avg", (cin, 192, 1))  # fmt: skip

    def block_d(cin):
        return Block({"branch3x3": [("_1", (cin, 192, 1)), ("_2", (192, 320, 3, 2))],
                      "branch7x7x3": [("_1", (cin, 192, 1)), ("_2", (192, 192, (1, 7), 1, (0, 3))),
                                      ("_3", (192, 192, (7, 1), 1, (3, 0))), ("_4", (192, 192, 3, 2))]},
                     "max", None)  # fmt: skip

    def block_e(cin):
        h, v = ((1, 3), 1, (0, 1)), ((3, 1), 1, (1, 0))
        return Block({"branch1x1": [("", (cin, 320, 1))],
                      "branch3x3": [("_1", (cin, 384, 1)), ("_2a", (384, 384, *h)), ("_2b", (384, 384, *v))],
                      "branch3x3dbl": [("_1", (cin, 448, 1)), ("_2", (448, 384, 3, 1, 1)),
                                       ("_3a", (384, 384, *h)), ("_3b", (384, 384, *v))]},
                     "avg", (cin, 192, 1))  # fmt: skip

    class InceptionV3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.Conv2d_1a_3x3 = Conv(3, 32, 3, 2)
            self.Conv2d_2a_3x3 = Conv(32, 32, 3)
            self.Conv2d_2b_3x3 = Conv(32, 64, 3, 1, 1)
            self.Conv2d_3b_1x1 = Conv(64, 80, 1)
            self.Conv2d_4a_3x3 = Conv(80, 192, 3)
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = block_a(192, 32), block_a(256, 64), block_a(288, 64)
            self.Mixed_6a = block_b(288)
            self.Mixed_6b, self.Mixed_6c = block_c(768, 128), block_c(768, 160)
            self.Mixed_6d, self.Mixed_6e = block_c(768, 160), block_c(768, 192)
            self.Mixed_7a, self.Mixed_7b, self.Mixed_7c = block_d(768), block_e(1280), block_e(2048)

        def forward(self, x):
            x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
            x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
            x = F.max_pool2d(x, 3, 2)
            for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
                x = getattr(self, f"Mixed_{name}")(x)
            return x.mean(dim=(2, 3))

    return InceptionV3()
