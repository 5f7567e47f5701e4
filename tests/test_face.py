"""Face analysis on real photos: landmarks, several faces, crops, contour, masks, identity."""
from __future__ import annotations

import numpy as np
import pytest

from portraittalk.errors import NoFaceError
from portraittalk.face import mesh
from portraittalk.face.contour import head_contour
from portraittalk.face.crop import face_crop
from portraittalk.face.identity import DlibEncoder, descriptor_distance, identity_encoder
from portraittalk.face.landmarks import FaceMeshDetector
from portraittalk.face.reference import analyse_reference
from portraittalk.face.segmentation import person_mask
from portraittalk.media import load_image

from tiny_onnx import write_tiny_arcface, write_tiny_segmenter
from shared_inputs import PORTRAIT, SECOND_PORTRAIT


@pytest.fixture(scope="module")
def astronaut():
    return load_image(PORTRAIT)


@pytest.fixture(scope="module")
def detector():
    with FaceMeshDetector(static=True) as d:
        yield d


def test_landmarks_of_a_portrait(astronaut, detector):
    face = detector.detect(astronaut)
    assert face.points.shape == (478, 2) and face.faces_found == 1 and not face.notes
    # Anatomy sanity: eyes above the nose above the mouth above the chin; the face is where she is.
    y = face.points[:, 1]
    assert y[mesh.RIGHT_IRIS_CENTER] < y[mesh.NOSE_TIP] < y[mesh.UPPER_LIP_OUTER] < y[mesh.CHIN]
    x0, y0, x1, y1 = face.bbox
    assert 160 < x0 < 200 and 50 < y0 < 95 and 250 < x1 < 290 and 155 < y1 < 200


def test_no_face(detector):
    from skimage import data

    with pytest.raises(NoFaceError, match="no face found in 'coffee.png'"):
        detector.detect(data.coffee(), name="'coffee.png'")


def test_several_faces_use_the_largest_and_say_so(astronaut, detector):
    small = load_image(SECOND_PORTRAIT)[::2, ::2]
    canvas = np.full((600, 900, 3), 255, np.uint8)
    canvas[:512, :512] = astronaut
    canvas[300 : 300 + small.shape[0], 700 : 700 + small.shape[1]] = small[: 600 - 300, : 900 - 700]
    faces = detector.all_faces(canvas)
    assert len(faces) == 2
    face = detector.detect(canvas, name="the group photo")
    assert face.bbox[0] < 512 and "shows 2 faces; using the largest" in face.notes[0]
    other = detector.detect(canvas, face_index=1)
    assert other.bbox[0] > 650
    with pytest.raises(NoFaceError, match="face index 5 does not exist"):
        detector.detect(canvas, face_index=5)


def test_tiny_face_in_a_large_photo(astronaut, detector):
    import cv2

    face = cv2.resize(astronaut, (300, 300), interpolation=cv2.INTER_AREA)  # the face itself ~ 100 px
    canvas = np.full((1800, 2400, 3), 120, np.uint8)
    canvas[1100:1400, 1700:2000] = face
    found = detector.detect(canvas)
    assert 1700 < found.points[:, 0].mean() < 2000 and 1100 < found.points[:, 1].mean() < 1400


def test_sideways_photo_is_turned_upright(astronaut, detector):
    sideways = np.ascontiguousarray(np.rot90(astronaut, -1))
    upright, face = detector.detect_upright(sideways)
    assert "sideways" in face.notes[-1]
    assert face.points[mesh.FOREHEAD, 1] < face.points[mesh.CHIN, 1]


def test_crop_and_paste_back(astronaut, detector):
    face = detector.detect(astronaut)
    crop = face_crop(face.points, (512, 512), size=256, margin=0.5)
    img = crop.apply(astronaut)
    assert img.shape == (256, 256, 3)
    pts = crop.to_crop(face.points)
    assert np.allclose(crop.to_source(pts), face.points, atol=1e-3)
    # The nose tip lands where the transform says it does: compare with landmarks found on the crop.
    again = detector.detect(img)
    assert np.linalg.norm(again.points[mesh.NOSE_TIP] - pts[mesh.NOSE_TIP]) < 4
    pasted = crop.paste(astronaut, img)
    assert pasted.shape == astronaut.shape
    assert np.abs(pasted.astype(int) - astronaut).mean() < 3  # pasting the unchanged crop changes ~nothing


def test_head_contour_is_a_coarse_outline(astronaut, detector):
    face = detector.detect(astronaut)
    mask = person_mask(astronaut)
    contour = head_contour(astronaut, face.points, mask)
    assert contour.shape == astronaut.shape[:2] and set(np.unique(contour)) <= {0, 255}
    on = contour > 0
    assert 0.01 < on.mean() < 0.15  # an outline, not a texture map
    # The face oval is on the map; the middle of the cheek (texture) is not.
    oval = face.points[mesh.face_oval_loop()].round().astype(int)
    assert on[oval[:, 1].clip(0, 511), oval[:, 0].clip(0, 511)].mean() > 0.8
    cheek = face.points[50].round().astype(int)
    assert not on[cheek[1] - 2 : cheek[1] + 3, cheek[0] - 2 : cheek[0] + 3].any()


def test_person_mask(astronaut, detector):
    mask = person_mask(astronaut)
    face = detector.detect(astronaut)
    nose = face.points[mesh.NOSE_TIP].round().astype(int)
    assert mask.shape == (512, 512) and mask[nose[1], nose[0]] > 0.9
    assert mask[20, 20] < 0.2  # the backdrop at the top-left corner


def test_identity_dlib_separates_people(astronaut):
    enc = identity_encoder("auto")
    assert isinstance(enc, DlibEncoder)
    a = analyse_reference(astronaut, "astronaut")
    shifted = analyse_reference(np.ascontiguousarray(astronaut[20:, 30:]), "astronaut, recropped")
    man = analyse_reference(load_image(SECOND_PORTRAIT), "man")
    ea, eb, em = a.identity(), shifted.identity(), man.identity()
    assert ea.backend == "dlib" and ea.dim == 128
    assert descriptor_distance(ea, eb) < 0.25
    assert descriptor_distance(ea, em) > 0.6


def test_identity_insightface_loads_from_weights(tmp_path, monkeypatch, astronaut):
    """The insightface backend loads an ArcFace-shaped ONNX model from weights/ (a tiny one we build)."""
    write_tiny_arcface(tmp_path / "insightface" / "models" / "buffalo_l" / "w600k_r50.onnx")
    from portraittalk.weights import Weights

    identity_encoder.cache_clear()
    try:
        enc = identity_encoder("auto", Weights(tmp_path))
        ref = analyse_reference(astronaut, "astronaut")
        emb = enc.embed(ref.photo, ref.photo_landmarks)
        assert emb.backend == "insightface" and emb.dim == 512
        assert np.linalg.norm(emb.vector) == pytest.approx(1.0, abs=1e-5)
    finally:
        identity_encoder.cache_clear()


def test_rembg_mask_loads_from_weights(tmp_path, astronaut):
    """With a model in weights/rembg, the person mask comes from rembg, offline; a broken file says so."""
    from portraittalk.errors import MissingWeightsError

    from portraittalk.weights import Weights

    write_tiny_segmenter(tmp_path / "rembg" / "u2net_human_seg.onnx")
    mask = person_mask(astronaut, weights=Weights(tmp_path))
    assert mask.shape == astronaut.shape[:2] and 0.0 <= mask.min() and mask.max() <= 1.0
    red = astronaut[..., 0].astype(np.float32)
    assert np.corrcoef(mask.ravel(), red.ravel())[0, 1] > 0.9  # it is this model's answer
    broken = tmp_path / "broken"
    write_tiny_segmenter(broken / "rembg" / "u2net_human_seg.onnx", garbage=True)
    with pytest.raises(MissingWeightsError, match="could not be loaded"):
        person_mask(astronaut, weights=Weights(broken))


def test_mediapipe_starts_without_matplotlib_and_tasks_and_both_still_work():
    """The landmark detector's import skips matplotlib and MediaPipe's Tasks API (0.6 s of every
    start-up), and whoever wants them afterwards gets the real ones, bound as mediapipe binds them."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from portraittalk.face.mediapipe_import import mediapipe\n"
            "mp = mediapipe()\n"
            "assert mp.solutions.face_mesh.FaceMesh\n"
            "assert not {'matplotlib', 'mediapipe.tasks.python'} & set(sys.modules), sorted(sys.modules)\n"
            "import matplotlib.pyplot as plt\n"
            "from mediapipe.python.solutions import drawing_utils\n"
            "assert drawing_utils.plt.figure is plt.figure and plt.figure.__module__ == 'matplotlib.pyplot'\n"
            "from mediapipe.tasks.python import vision\n"
            "assert mp.tasks.vision.FaceLandmarker is vision.FaceLandmarker and mp.tasks.BaseOptions\n"
            "print('ok')\n")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
