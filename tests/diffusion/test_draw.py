"""The structure condition in the LAION-Face style is pixel-exact against MediaPipe's own drawing
code run with the annotator's constants (the style CrucibleAI's ControlNet was trained on)."""
from __future__ import annotations

import numpy as np
import pytest


def annotator(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """The LAION-Face annotator's drawing, written independently from its published constants: MediaPipe's
    ``draw_landmarks`` on a BGR canvas, then the 4x4 pupils, then BGR -> RGB."""
    from mediapipe.framework.formats import landmark_pb2
    from mediapipe.python.solutions import drawing_utils, face_mesh

    spec = {}
    for edges, bgr in ((face_mesh.FACEMESH_FACE_OVAL, (10, 200, 10)), (face_mesh.FACEMESH_LEFT_EYE, (180, 200, 10)),
                       (face_mesh.FACEMESH_LEFT_EYEBROW, (180, 220, 10)), (face_mesh.FACEMESH_RIGHT_EYE, (10, 200, 180)),
                       (face_mesh.FACEMESH_RIGHT_EYEBROW, (10, 220, 180)), (face_mesh.FACEMESH_LIPS, (10, 180, 10))):
        for edge in edges:
            spec[edge] = drawing_utils.DrawingSpec(color=bgr, thickness=2, circle_radius=1)
    landmarks = landmark_pb2.NormalizedLandmarkList()
    for x, y in points / [width, height]:
        landmarks.landmark.add(x=x, y=y, z=0.0)
    canvas = np.zeros((height, width, 3), np.uint8)
    drawing_utils.draw_landmarks(canvas, landmarks, connections=spec.keys(), landmark_drawing_spec=None,
                                 connection_drawing_spec=spec)  # fmt: skip
    for index, bgr in ((468, (10, 200, 250)), (473, (250, 200, 10))):
        lm = landmarks.landmark[index]
        if 0 <= lm.x < 1.0 and 0 <= lm.y < 1.0:
            x, y = int(width * lm.x), int(height * lm.y)
            canvas[y - 2:y + 2, x - 2:x + 2, :] = bgr
    return canvas[:, :, ::-1]


@pytest.mark.parametrize("size", [(512, 512), (300, 200)])
def test_laion_face_style_is_pixel_exact(size, references):
    from portraittalk.face.draw import draw_condition

    width, height = size
    rng = np.random.default_rng(width)
    face = references[0].landmarks / references[0].size * [width, height]  # a real face mesh
    cases = [face, face + rng.normal(0, 3, face.shape),  # a real one, a jittered one
             rng.uniform(-0.05, 1.05, (478, 2)) * [width, height]]  # points off the canvas are not drawn
    for points in cases:
        ours = draw_condition(points.astype(np.float32), size, style="laion-face")
        assert ours.shape == (height, width, 3) and ours.dtype == np.uint8
        assert np.array_equal(ours, annotator(points.astype(np.float32), width, height))
    lips = draw_condition(face.astype(np.float32), size, style="laion-face")
    assert {tuple(c) for c in lips.reshape(-1, 3)} >= {(10, 180, 10), (10, 200, 10), (250, 200, 10)}  # lips, oval, pupil


def test_styles_differ_and_unknown_ones_are_refused(references):
    from portraittalk.face.draw import draw_condition

    points = references[0].landmarks * 8
    assert not np.array_equal(draw_condition(points, (512, 512)), draw_condition(points, (512, 512), style="laion-face"))
    with pytest.raises(ValueError, match="laion-face"):
        draw_condition(points, (512, 512), style="openpose")
