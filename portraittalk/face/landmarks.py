"""MediaPipe FaceMesh (0.10.21, refined: 478 points) for images and videos."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..errors import NoFaceError

log = logging.getLogger(__name__)
_ROTATIONS = (0, 1, 3, 2)  # k of np.rot90: try upright first, then the two quarter turns, then upside down


@dataclass
class FaceLandmarks:
    """478 landmarks of one face in image pixels (x, y), plus MediaPipe's relative depth z."""

    points: np.ndarray  # (478, 2) float32, pixels
    z: np.ndarray  # (478,) float32, relative depth in the same pixel scale
    image_size: tuple[int, int]  # (width, height)
    faces_found: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        x0, y0 = self.points.min(axis=0)
        x1, y1 = self.points.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


class FaceMeshDetector:
    """Finds faces and their 478 refined landmarks.

    ``static=True`` treats every call as an unrelated photo; ``static=False`` uses MediaPipe's
    tracking between consecutive video frames (faster and steadier). Small faces in large photos are
    found by running FaceMesh on overlapping, upscaled tiles.
    """

    def __init__(self, static: bool = True, max_faces: int = 4, min_confidence: float = 0.5) -> None:
        from .mediapipe_import import mediapipe

        mp = mediapipe()

        self.static = static
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static, max_num_faces=max_faces, refine_landmarks=True,
            min_detection_confidence=min_confidence, min_tracking_confidence=0.5,
        )  # fmt: skip
        self._strict = None

    def close(self) -> None:
        self._mesh.close()
        if self._strict is not None:
            self._strict.close()

    def __enter__(self) -> "FaceMeshDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def all_faces(self, image: np.ndarray) -> list[FaceLandmarks]:
        """Every face found, largest first; an empty list when there is none."""
        faces = self._mesh_faces(image)
        if not faces and self.static:
            faces = self._faces_via_detector(image)
        faces.sort(key=lambda f: _area(f.bbox), reverse=True)
        for f in faces:
            f.faces_found = len(faces)
        return faces

    def detect(self, image: np.ndarray, face_index: int = 0, name: str = "the image") -> FaceLandmarks:
        """The ``face_index``-th largest face (0 = largest). Raises :class:`NoFaceError`."""
        return _pick(self.all_faces(image), face_index, name)

    def detect_upright(self, image: np.ndarray, face_index: int = 0, name: str = "the image"
                       ) -> tuple[np.ndarray, FaceLandmarks]:  # fmt: skip
        """Like :meth:`detect`, but turns photos saved sideways or upside down upright first.

        Returns the (possibly rotated) image with its landmarks.
        """
        for k in _ROTATIONS:
            rotated = np.ascontiguousarray(np.rot90(image, k)) if k else image
            # Turned photos are searched with a stricter detector: texture seen sideways fools it.
            faces = self.all_faces(rotated) if k == 0 else self._mesh_faces(rotated, self._strict_mesh())
            if not faces:
                continue
            turn = _quarter_turns_to_upright(faces[min(face_index, len(faces) - 1)].points)
            if k == 0 and turn == 0:
                return image, _pick(faces, face_index, name)  # upright already: no second detection
            rotated = np.ascontiguousarray(np.rot90(rotated, turn)) if turn else rotated
            face = self.detect(rotated, face_index, name)
            if (k + turn) % 4:
                face.notes.append(f"{name} was sideways or upside down; it was turned upright.")
            return rotated, face
        return image, _pick([], face_index, name)  # raises NoFaceError

    def _strict_mesh(self):
        if self._strict is None:
            from .mediapipe_import import mediapipe

            self._strict = mediapipe().solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.7
            )
        return self._strict

    def _mesh_faces(self, image: np.ndarray, mesh=None) -> list[FaceLandmarks]:
        h, w = image.shape[:2]
        result = (mesh or self._mesh).process(np.ascontiguousarray(image[..., :3]))
        faces = []
        for lm in result.multi_face_landmarks or []:
            arr = np.array([(p.x * w, p.y * h, p.z * w) for p in lm.landmark], dtype=np.float32)
            faces.append(FaceLandmarks(arr[:, :2].copy(), arr[:, 2].copy(), (w, h)))
        return faces

    def _faces_via_detector(self, image: np.ndarray) -> list[FaceLandmarks]:
        """Small or distant faces: MediaPipe's full-range detector on overlapping tiles, then
        FaceMesh on an upscaled crop around each detection."""
        import cv2

        from .mediapipe_import import mediapipe

        mp = mediapipe()
        h, w = image.shape[:2]
        tile = int(min(max(h, w), 640))
        step = tile // 2
        faces: list[FaceLandmarks] = []
        with mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5) as det:
            for y0 in sorted({min(y, max(h - tile, 0)) for y in range(0, h, step)}):
                for x0 in sorted({min(x, max(w - tile, 0)) for x in range(0, w, step)}):
                    crop = np.ascontiguousarray(image[y0 : y0 + tile, x0 : x0 + tile])
                    th, tw = crop.shape[:2]
                    for d in det.process(crop).detections or []:
                        b = d.location_data.relative_bounding_box
                        cx, cy = x0 + (b.xmin + b.width / 2) * tw, y0 + (b.ymin + b.height / 2) * th
                        side = max(b.width * tw, b.height * th) * 2.2
                        if any(np.linalg.norm(f.points.mean(axis=0) - (cx, cy)) < 0.3 * _side(f) for f in faces):
                            continue
                        scale = 384.0 / side
                        m = np.array([[scale, 0, 192 - cx * scale], [0, scale, 192 - cy * scale]], np.float32)
                        patch = cv2.warpAffine(image, m, (384, 384), flags=cv2.INTER_CUBIC,
                                               borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
                        for face in self._mesh_faces(patch)[:1]:
                            face.points = ((face.points - m[:, 2]) / scale).astype(np.float32)
                            face.z = (face.z / scale).astype(np.float32)
                            face.image_size = (w, h)
                            faces.append(face)
        return faces


def _pick(faces: list[FaceLandmarks], face_index: int, name: str) -> FaceLandmarks:
    """One face of a largest-first list, with a note when there were several; NoFaceError if none."""
    if not faces:
        raise NoFaceError(f"no face found in {name}; use a photo where one face is clearly visible, facing the camera.")
    if face_index >= len(faces):
        raise NoFaceError(f"{name} has {len(faces)} face(s); face index {face_index} does not exist.")
    face = faces[face_index]
    if len(faces) > 1:
        which = "the largest" if face_index == 0 else f"face #{face_index + 1} by size"
        note = f"{name} shows {len(faces)} faces; using {which} (choose another with the face index option)."
        face.notes.append(note)
        log.warning(note)
    return face


def _side(face: FaceLandmarks) -> float:
    x0, y0, x1, y1 = face.bbox
    return max(x1 - x0, y1 - y0)


def _quarter_turns_to_upright(points: np.ndarray) -> int:
    """k for ``np.rot90(image, k)`` that makes the forehead-to-chin direction point down."""
    from .mesh import CHIN, FOREHEAD

    dx, dy = points[CHIN] - points[FOREHEAD]
    if abs(dy) >= abs(dx):
        return 0 if dy > 0 else 2
    return 3 if dx > 0 else 1


def _area(bbox: tuple[float, float, float, float]) -> float:
    return max(0.0, bbox[2] - bbox[0]) * max(0.0, bbox[3] - bbox[1])


def detect_landmarks(image: np.ndarray, face_index: int = 0, name: str = "the image") -> FaceLandmarks:
    """One-shot helper: landmarks of one face in a photo."""
    with FaceMeshDetector(static=True) as detector:
        return detector.detect(image, face_index, name)
