"""Person/background masks: MediaPipe selfie segmentation offline, rembg when its model is present."""
from __future__ import annotations

import functools
import threading

from typing import Optional

import numpy as np

from ..weights import Weights


def person_mask(image: np.ndarray, backend: str = "auto", weights: Optional[Weights] = None) -> np.ndarray:
    """A float32 (H, W) mask in [0, 1], 1 = person. ``backend``: "auto" (rembg when ``weights`` has
    it, else MediaPipe) | "mediapipe" | "rembg"."""
    if backend == "rembg" or (backend == "auto" and weights is not None and weights.present("rembg")):
        return _rembg_mask(image, weights)
    return _mediapipe_mask(image)


@functools.lru_cache(maxsize=1)
def _selfie_segmenter() -> tuple[object, threading.Lock]:
    """One MediaPipe graph for the process (building one costs more than running it); graphs are
    not thread-safe, hence the lock."""
    from .mediapipe_import import mediapipe

    return mediapipe().solutions.selfie_segmentation.SelfieSegmentation(model_selection=0), threading.Lock()


def _mediapipe_mask(image: np.ndarray) -> np.ndarray:
    seg, lock = _selfie_segmenter()
    with lock:
        result = seg.process(np.ascontiguousarray(image[..., :3]))
    return np.clip(result.segmentation_mask.astype(np.float32), 0.0, 1.0)


_REMBG_SESSIONS: dict[str, object] = {}


def _rembg_mask(image: np.ndarray, weights: Optional[Weights]) -> np.ndarray:
    """rembg's human-segmentation U^2-Net, loaded from the ``rembg`` component (never downloaded here)."""
    from ..errors import MissingWeightsError

    if weights is None or not weights.present("rembg"):
        raise MissingWeightsError(
            "the rembg model is not in the weights folder; run `portraittalk weights download rembg` "
            "or use the MediaPipe background mask."
        )
    model = str(weights.path("rembg") / "u2net_human_seg.onnx")
    if model not in _REMBG_SESSIONS:
        from rembg import new_session

        try:  # rembg's "custom" session opens exactly this file: no download, no checksum, no environment
            _REMBG_SESSIONS[model] = new_session("u2net_custom", model_path=model, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises many types for a bad file
            raise MissingWeightsError(
                f"the rembg model in {weights.path('rembg')} could not be loaded ({str(exc)[:160]}); fetch it again "
                "with `portraittalk weights download rembg`, or remove it to use the MediaPipe mask."
            ) from None
    from PIL import Image
    from rembg import remove

    mask = remove(Image.fromarray(image), session=_REMBG_SESSIONS[model], only_mask=True)
    return np.asarray(mask, dtype=np.float32) / 255.0
