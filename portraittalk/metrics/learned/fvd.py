"""FVD: Fréchet distance of I3D features of 16-frame clips (StyleGAN-V's TorchScript I3D)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import unavailable
from .frechet import frechet_distance

FVD_CLIP = 16


class FVDMetric:
    name = "fvd"

    def __init__(self, path: Path, device: str = "cpu", size: int = 224) -> None:
        import torch

        self.device = device
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
