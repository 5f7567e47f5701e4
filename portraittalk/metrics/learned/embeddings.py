"""CLIP-T (prompt adherence) and DINO (subject consistency): mean cosine similarities of embeddings."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .common import as_tensor, quiet_transformers, unavailable


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

    def __init__(self, folder: Path, prompt: str, device: str = "cpu") -> None:
        import torch
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        super().__init__()
        self.device = device
        with quiet_transformers():
            self.model = CLIPModel.from_pretrained(str(folder), local_files_only=True).to(self.device).eval()
            self.processor = AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        tokens = tokenizer([prompt], padding=True, truncation=True, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            self.text = as_tensor(self.model.get_text_features(**tokens))[0].cpu().numpy()

    def update(self, gen, gt, gen_points, gt_points, sampled) -> None:
        import torch

        if not sampled:
            return
        pixels = self.processor(images=[gen], return_tensors="pt")["pixel_values"].to(self.device)
        with torch.inference_mode():
            emb = as_tensor(self.model.get_image_features(pixel_values=pixels))[0].cpu().numpy()
        self._add(emb, self.text)


class DinoMetric(_CosineMetric):
    name = "dino"

    def __init__(self, folder: Path, reference: Optional[np.ndarray], device: str = "cpu") -> None:
        from transformers import AutoConfig, AutoImageProcessor, AutoModel

        super().__init__()
        self.device = device
        with quiet_transformers():
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
