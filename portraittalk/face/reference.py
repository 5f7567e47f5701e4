"""A reference portrait, analysed once: upright photo, face crop, landmarks, and lazily its mask,
head contour and identity embedding."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..weights import Weights
from .crop import FaceCrop, face_crop
from .identity import IdentityEmbedding, identity_encoder
from .landmarks import FaceMeshDetector
from .mesh import mouth_aperture


@dataclass
class Reference:
    name: str
    photo: np.ndarray  # upright RGB photo
    crop: FaceCrop
    image: np.ndarray  # (S, S, 3) crop of the photo
    landmarks: np.ndarray  # (478, 2) in crop pixels
    photo_landmarks: np.ndarray  # (478, 2) in photo pixels
    notes: list[str] = field(default_factory=list)
    weights: Optional[Weights] = None  # where the rembg mask and ArcFace come from (None: offline only)
    depth: Optional[np.ndarray] = None  # (478,) MediaPipe's relative depth in crop pixels (the warp turns the face on it)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        return self.crop.size

    @property
    def mouth_aperture(self) -> float:
        return float(mouth_aperture(self.landmarks))

    def person_mask(self) -> np.ndarray:
        """(S, S) float32 in [0, 1], 1 = person."""
        if "mask" not in self._cache:
            from .segmentation import person_mask

            self._cache["mask"] = person_mask(self.image, weights=self.weights)
        return self._cache["mask"]

    def head_contour(self) -> np.ndarray:
        """(S, S) uint8 {0, 255} coarse head outline (the paper's identity/placement condition)."""
        if "contour" not in self._cache:
            from .contour import head_contour

            self._cache["contour"] = head_contour(self.image, self.landmarks, self.person_mask())
        return self._cache["contour"]

    def identity(self, backend: str = "auto") -> IdentityEmbedding:
        """The face-recognition embedding (computed on the full-resolution photo)."""
        key = f"identity:{backend}"
        if key not in self._cache:
            self._cache[key] = identity_encoder(backend, self.weights).embed(self.photo, self.photo_landmarks)
        return self._cache[key]


def analyse_reference(photo: np.ndarray, name: str, size: int = 512, margin: float = 0.9,
                      face_index: int = 0, detector: Optional[FaceMeshDetector] = None,
                      weights: Optional[Weights] = None) -> Reference:  # fmt: skip
    """Find the face (turning sideways photos upright), crop it square at ``size`` and map landmarks."""
    own = detector is None
    det = detector or FaceMeshDetector(static=True)
    try:
        photo, face = det.detect_upright(photo, face_index, name)
        crop = face_crop(face.points, face.image_size, size, margin)
        image = crop.apply(photo)
        # Landmarks on the crop itself are more precise than mapped ones for small faces.
        refined = det.all_faces(image)
        landmarks = refined[0].points if refined else crop.to_crop(face.points)
        depth = refined[0].z if refined else face.z * crop.scale
    finally:
        if own:
            det.close()
    return Reference(name, photo, crop, image, landmarks.astype(np.float32), face.points, list(face.notes),
                     weights, depth.astype(np.float32))  # fmt: skip
