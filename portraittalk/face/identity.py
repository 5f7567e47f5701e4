"""Identity embeddings behind one interface: insightface (ArcFace, from weights/) or dlib (offline).

Both take an RGB image and the face's MediaPipe landmarks (so no second face detector runs) and
return an :class:`IdentityEmbedding` that says which backend produced it.
"""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol

import numpy as np

from ..errors import MissingWeightsError
from ..weights import Weights
from . import mesh

# Same-person thresholds of each backend on its own distance.
DLIB_SAME_PERSON_DISTANCE = 0.6


@dataclass
class IdentityEmbedding:
    vector: np.ndarray  # (D,) float32
    backend: str  # "insightface" | "dlib"

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])


class IdentityEncoder(Protocol):
    name: str
    dim: int

    def embed(self, image: np.ndarray, landmarks: np.ndarray) -> IdentityEmbedding: ...


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """ArcFace's 5 keypoints (eye centres, nose tip, mouth corners) from MediaPipe's 478, image-left first."""
    right_eye = landmarks[mesh.RIGHT_IRIS_CENTER]
    left_eye = landmarks[mesh.LEFT_IRIS_CENTER]
    return np.stack([right_eye, left_eye, landmarks[mesh.NOSE_TIP],
                     landmarks[mesh.MOUTH_CORNER_RIGHT], landmarks[mesh.MOUTH_CORNER_LEFT]]).astype(np.float32)  # fmt: skip


class DlibEncoder:
    """dlib's ResNet face descriptor (128-d, Euclidean distance < 0.6 = same person).

    The model files come from the ``face-recognition-models`` package; we locate them without
    importing it (its ``__init__`` needs ``pkg_resources``).
    """

    name = "dlib"
    dim = 128

    def __init__(self) -> None:
        import dlib

        models = _face_recognition_models_dir()
        self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def embed(self, image: np.ndarray, landmarks: np.ndarray) -> IdentityEmbedding:
        import dlib

        # dlib's detector boxes run from the brows to just under the lips; derive one from MediaPipe.
        x0, y0 = landmarks.min(axis=0)
        x1, y1 = landmarks.max(axis=0)
        top = landmarks[[105, 334], 1].mean()  # brows
        rect = dlib.rectangle(int(x0), int(top), int(x1), int(y1))
        img = np.ascontiguousarray(image[..., :3])
        shape = self._shape(img, rect)
        vec = np.array(self._net.compute_face_descriptor(img, shape, num_jitters=1), dtype=np.float32)
        return IdentityEmbedding(vec, self.name)


class InsightFaceEncoder:
    """insightface's ArcFace recogniser (buffalo_l ``w600k_r50.onnx`` or antelopev2 ``glintr100.onnx``).

    The ONNX file in ``weights/`` runs in an onnxruntime CPU session of our own (insightface's model
    zoo, which may fetch models, is not involved); insightface's ``ArcFaceONNX`` wraps it for the
    exact preprocessing. Faces are aligned with insightface's ``norm_crop`` on the 5 keypoints taken
    from MediaPipe; the embedding is L2-normalised (IP-Adapter-FaceID's ``normed_embedding``).
    """

    name = "insightface"
    dim = 512

    def __init__(self, model_file: Path) -> None:
        import onnxruntime
        from insightface.model_zoo.arcface_onnx import ArcFaceONNX

        try:
            session = onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
            self._model = ArcFaceONNX(str(model_file), session=session)
        except Exception as exc:  # onnx / onnxruntime raise many types for a damaged file
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise MissingWeightsError(f"the ArcFace model {model_file} could not be loaded ({reason}); fetch it "
                                      "again with `portraittalk weights download insightface`.") from None  # fmt: skip
        if tuple(self._model.input_size) != (112, 112) or self._model.output_shape[-1] != self.dim:
            raise MissingWeightsError(f"{model_file} is not an ArcFace recogniser (it maps {self._model.input_size} "
                                      f"images to {self._model.output_shape[-1]} values, not 112x112 to 512).")  # fmt: skip

    def embed(self, image: np.ndarray, landmarks: np.ndarray) -> IdentityEmbedding:
        from insightface.utils.face_align import norm_crop

        bgr = np.ascontiguousarray(image[..., ::-1])
        aligned = norm_crop(bgr, five_points(landmarks), image_size=self._model.input_size[0])
        vec = self._model.get_feat(aligned).reshape(-1).astype(np.float32)
        return IdentityEmbedding(vec / max(float(np.linalg.norm(vec)), 1e-8), self.name)


def insightface_model_file(weights: Optional[Weights]) -> Path | None:
    """The recognition model in the ``insightface`` component, if one is there."""
    if weights is None:
        return None
    root = weights.path("insightface")
    for candidate in ("models/buffalo_l/w600k_r50.onnx", "models/antelopev2/glintr100.onnx"):
        if (root / candidate).is_file():
            return root / candidate
    return None


@functools.lru_cache(maxsize=4)
def identity_encoder(backend: str = "auto", weights: Optional[Weights] = None) -> IdentityEncoder:
    """``"auto"``: insightface when ``weights`` has it, else dlib (``weights=None``: dlib only)."""
    if backend == "insightface" or (backend == "auto" and weights is not None and weights.present("insightface")):
        model = insightface_model_file(weights)
        if model is None:
            raise MissingWeightsError(
                "the insightface recognition model is not in the weights folder; run "
                "`portraittalk weights download insightface` or use the dlib backend."
            )
        return InsightFaceEncoder(model)
    if backend not in ("auto", "dlib"):
        raise ValueError(f"unknown identity backend {backend!r}")
    return DlibEncoder()


def descriptor_distance(a: IdentityEmbedding, b: IdentityEmbedding) -> float:
    """Euclidean distance between two embeddings of the same backend."""
    if a.backend != b.backend:
        raise ValueError("embeddings from different backends cannot be compared")
    return float(np.linalg.norm(a.vector - b.vector))


def cosine_similarity(a: IdentityEmbedding, b: IdentityEmbedding) -> float:
    if a.backend != b.backend:
        raise ValueError("embeddings from different backends cannot be compared")
    return float(a.vector @ b.vector / max(np.linalg.norm(a.vector) * np.linalg.norm(b.vector), 1e-8))


def _face_recognition_models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError("the package face-recognition-models is not installed; run `make setup`.")
    return Path(list(spec.submodule_search_locations)[0]) / "models"
