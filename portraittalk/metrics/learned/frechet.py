"""Fréchet distances of Inception-v3 features: FID over whole frames, E-FID over face crops."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import read_json, unavailable
from .inception import inception_v3


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

    def __init__(self, folder: Path, device: str = "cpu") -> None:
        import torch
        from safetensors.torch import load_file

        self.device = device
        self.net = inception_v3().eval()
        state = load_file(str(folder / "model.safetensors"))
        missing = {k for k in self.net.state_dict() if k not in state and not k.endswith("num_batches_tracked")}
        if missing:
            from ...errors import MissingWeightsError

            raise MissingWeightsError(f"{folder / 'model.safetensors'} is not an Inception-v3 checkpoint "
                                      f"({len(missing)} tensors missing, e.g. {sorted(missing)[0]}).")  # fmt: skip
        self.net.load_state_dict({k: v for k, v in state.items() if k in self.net.state_dict()}, strict=False)
        self.net.to(self.device)
        cfg = read_json(folder / "config.json").get("pretrained_cfg", {})
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
