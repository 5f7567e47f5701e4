"""The inside of the mouth from real mouths, and clean lips: the mouth benchmark's measures catch
today's defects and pass real mouths; the interiors ship in the package; a black-and-white photo keeps
a grey mouth; a blurred face gets a soft interior; a real portrait speaking real speech has no seam."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from portraittalk.face import mesh
from portraittalk.face.landmarks import FaceMeshDetector
from portraittalk.face.reference import analyse_reference
from portraittalk.media import load_image, read_video

from shared_inputs import PORTRAIT, ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import mouth as bench  # noqa: E402  (the mouth benchmark's measures)

REAL_CLIP = ROOT / "benchmarks" / "data" / "clips" / "fit" / "en_retalking_2_man_map.mp4"  # fit, never eval
TUNE = ROOT / "benchmarks" / "data" / "portraits" / "tune"


@pytest.fixture(scope="module")
def real():
    """A real speaker's frames and MediaPipe landmarks (a fit clip)."""
    frames = [f for _, f in read_video(REAL_CLIP)]
    with FaceMeshDetector(static=False) as det:
        lms = np.stack([det.detect(f).points.astype(np.float64) for f in frames])
    return frames, lms


def opened(ref, by: float) -> np.ndarray:
    """The photo's landmarks with the lower lip and the chin dropped ``by`` face heights in the middle
    (less toward the corners): a mouth opened as a jaw opens it."""
    from portraittalk.motion.geometry import LOWER_LIP_INNER_SET

    lm = ref.landmarks.astype(np.float64).copy()
    h = float(mesh.face_height(lm))
    corners = lm[[mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT]]
    lower_outer = bench.OUTER[11:]
    below = [i for i in range(468) if lm[i, 1] > lm[lower_outer, 1].max()]
    moved = sorted(set(LOWER_LIP_INNER_SET) | set(lower_outer) | set(below))
    across = (lm[moved, 0] - corners[:, 0].mean()) / (0.5 * abs(corners[0, 0] - corners[1, 0]))
    lm[moved, 1] += by * h * np.clip(1.0 - across**2, 0.0, 1.0) ** 0.5
    return lm


def draw_todays_defects(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Today's drawn mouth: a flat grey-green strip with evenly spaced vertical lines under the upper
    lip, over a uniform dark cavity."""
    import cv2

    out = frame.copy()
    inside = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(lm[bench.INNER]).astype(np.int32)], 1)
    top, bottom = lm[bench.UPPER, 1].mean(), lm[bench.LOWER, 1].mean()
    rows = np.arange(frame.shape[0])[:, None]
    out[inside > 0] = (40, 38, 38)
    strip = (inside > 0) & (rows < top + 0.55 * (bottom - top))
    out[strip] = (150, 162, 148)
    x0, x1 = lm[[78, 308], 0].min(), lm[[78, 308], 0].max()
    for x in np.arange(x0, x1, (x1 - x0) / 9)[1:].round().astype(int):
        out[:, x][strip[:, x]] = (122, 132, 120)
    return out


def draw_bright_seam(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """A bright, jagged 1-px line where closed lips meet."""
    import cv2

    out = frame.copy()
    line = np.concatenate([lm[[78]], 0.5 * (lm[bench.UPPER] + lm[bench.LOWER]), lm[[308]]])
    jag = np.round(line).astype(np.int32) + np.array([[0, k % 2] for k in range(len(line))], np.int32)
    cv2.polylines(out, [jag], False, (235, 235, 235), 1, cv2.LINE_8)
    return out


def test_a_drawing_with_todays_defects_is_flagged_and_the_real_mouth_passes(real):
    frames, lms = real
    m = bench.measure(frames[0], lms[0], frames, lms)
    assert m["pass"], m  # the real speaker: clean teeth, no pattern, no seam, interior as sharp as the face
    widest = m["widest"]
    drawn = [draw_todays_defects(frames[t], lms[t]) for t in widest]
    white = bench.eye_white(frames[0], lms[0])
    colour = [bench.teeth_colour(f, lms[t], white) for f, t in zip(drawn, widest)]
    assert all(c["teeth_tint"] > bench.BARS["teeth_tint"] or c["teeth_green"] > bench.BARS["teeth_green"]
               for c in colour), colour  # fmt: skip
    assert all(bench.periodic(f, lms[t]) > bench.BARS["periodic"] for f, t in zip(drawn, widest))
    gaps = np.linalg.norm(lms[:, 13] - lms[:, 14], axis=1) / np.linalg.norm(lms[:, 10] - lms[:, 152], axis=1)
    t = int(np.argmin(gaps))
    clean = bench.seam(frames[t], lms[t], frames[0], lms[0])
    seamed = bench.seam(draw_bright_seam(frames[t], lms[t]), lms[t], frames[0], lms[0])
    assert clean["seam"] < bench.BARS["seam"] < seamed["seam"], (clean, seamed)


def test_the_interiors_ship_in_the_package_and_load_with_nothing_downloaded(tmp_path):
    from portraittalk.engines.warp import exemplars

    path = exemplars.LIBRARY
    assert path.is_file() and path.stat().st_size < 3_000_000
    assert Path(exemplars.__file__).parent in path.parents
    assert '"portraittalk.engines.warp" = ["data/*"]' in (ROOT / "pyproject.toml").read_text()  # in the wheel
    sources = (path.parent / "SOURCES.md").read_text()
    code = ("import socket\n"
            "def refuse(*a, **k): raise OSError('no network')\n"
            "socket.socket = refuse; socket.create_connection = refuse\n"
            "from portraittalk.engines.warp.exemplars import library\n"
            "lib = library()\n"
            "print(len(lib.interiors), lib.aperture.min(), lib.aperture.max(), *lib.speakers)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}).stdout.split()  # fmt: skip
    count, low, high, speakers = int(out[0]), float(out[1]), float(out[2]), out[3:]
    assert count >= 50 and low < 0.02 and high > 0.12, out
    for name in speakers:  # every shipped speaker's source and licence is written beside the data
        row = next(line for line in sources.splitlines() if line.startswith(f"| {name} |"))
        assert any(lic in row for lic in ("Apache-2.0", "MIT", "CC BY 4.0")), row


def test_the_interior_follows_the_opening():
    """A wide opening gets the interiors of real mouths opened about as wide (their blend changes
    continuously with the opening: no flicker from one frame to the next)."""
    from portraittalk.engines.warp.exemplars import InteriorPicker, library

    picker = InteriorPicker(library())
    for k, a in enumerate(picker.apertures):
        assert np.allclose(picker.interior(float(a)), picker.images[k])  # exactly an exemplar at its own opening
    for wanted in (0.03, 0.07, 0.11):
        i, j, w = picker.weights(wanted)
        assert picker.apertures[i] <= wanted <= picker.apertures[j] and 0 <= w <= 1
    steps = [picker.interior(a) for a in np.linspace(0.02, 0.12, 60)]
    assert max(float(np.abs(b - a).max()) for a, b in zip(steps, steps[1:])) < 0.35


@pytest.fixture(scope="module")
def astronaut():
    return analyse_reference(load_image(PORTRAIT), "astronaut", size=512)


def test_the_teeth_are_lit_like_the_photo():
    """The teeth take the photo's light: a colour photo's teeth are about the colour and brightness of
    its eye whites, and when the whole photo has a strong blue cast their colour moves with the eye
    whites'."""
    from portraittalk.engines.warp.mouth import MouthStyle, paint_mouth

    shift = []
    photo = load_image(TUNE / "photo_emma_watson.jpg")  # closed lips: the teeth measured are the interior's
    for cast in ((1.0, 1.0, 1.0), (0.8, 0.92, 1.2)):
        image = np.clip(photo * np.array(cast), 0, 255).astype(np.uint8)
        ref = analyse_reference(image, "cast", size=512)
        lm = opened(ref, 0.09)
        frame = paint_mouth(ref.image.copy(), lm, float(mesh.face_height(ref.landmarks)), None, 0.0, MouthStyle.of(ref))
        white = bench.eye_white(ref.image, ref.landmarks.astype(np.float64))
        colour = bench.teeth_colour(frame, lm, white)
        assert colour and colour["teeth_tint"] < bench.BARS["teeth_tint"], (cast, colour)
        assert colour["teeth_green"] < bench.BARS["teeth_green"] and bench.BARS["teeth_dim"] < colour["teeth_dim"] < 2.5, (cast, colour)
        teeth = bench.teeth_pixels(frame, lm).mean(axis=0)
        shift.append((bench.chromaticity(teeth)[2], bench.chromaticity(white)[2]))  # their blue share
    teeth_bluer, whites_bluer = shift[1][0] - shift[0][0], shift[1][1] - shift[0][1]
    assert teeth_bluer > 0.7 * whites_bluer > 0, shift  # the white balance follows the eye whites


def test_a_black_and_white_photo_gets_a_grey_interior(astronaut):
    import cv2

    from portraittalk.engines.warp.mouth import MouthStyle, paint_mouth

    grey = cv2.cvtColor(cv2.cvtColor(astronaut.image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    ref = analyse_reference(grey, "grey", size=512)
    lm = opened(ref, 0.1)
    frame = paint_mouth(ref.image.copy(), lm, float(mesh.face_height(ref.landmarks)), None, 0.0, MouthStyle.of(ref))
    drawn = np.abs(frame.astype(int) - ref.image).max(axis=2) > 10
    chroma = frame.max(axis=2).astype(int) - frame.min(axis=2)
    assert drawn.sum() > 300 and chroma[drawn].max() <= 1, chroma[drawn].max()


def test_a_blurred_face_gets_an_interior_and_an_edge_as_soft_as_the_face(astronaut):
    """A small photo blown up (its face soft) gets a soft interior whose edge along the lips is as soft
    as the face's edges; a sharp photo a sharp one."""
    import cv2

    from portraittalk.engines.warp.mouth import MouthStyle, paint_mouth

    small = cv2.resize(astronaut.image, (96, 96), interpolation=cv2.INTER_AREA)
    soft = cv2.resize(small, (512, 512), interpolation=cv2.INTER_CUBIC)
    for name, image in (("soft", soft), ("sharp", astronaut.image)):
        ref = analyse_reference(image, name, size=512)
        photo_lm = ref.landmarks.astype(np.float64)
        lm = opened(ref, 0.1)
        frame = paint_mouth(ref.image.copy(), lm, float(mesh.face_height(photo_lm)), None, 0.0, MouthStyle.of(ref))
        ratio = bench.sharpness(frame, lm, ref.image, photo_lm)
        assert ratio < bench.BARS["sharpness"], (name, ratio)
        if name == "soft":
            inner = bench.polygon(frame.shape, lm[bench.INNER]).astype(np.uint8)
            ring = (cv2.dilate(inner, np.ones((5, 5), np.uint8)) > 0) & ~bench.polygon(frame.shape, lm[bench.INNER], 2)
            face = bench.polygon(frame.shape, photo_lm[bench.OVAL]) & ~bench.polygon(frame.shape, photo_lm[bench.OUTER])
            gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in (frame, ref.image)]
            edge, own = bench.edge_blur(gray[0], ring), bench.edge_blur(gray[1], face)
            assert edge > 0.6 * own, (edge, own)  # the lips' edge as soft as the face's, not cut out


def test_a_half_open_mouth_shows_teeth_then_the_dark_cavity(astronaut):
    """Lips brought closer than the photo's smile still show the teeth under the upper lip and the dark
    of the cavity below them (the real mouths' proportions)."""
    from portraittalk.engines.warp.mouth import MouthStyle, paint_mouth

    style = MouthStyle.of(astronaut)
    lm = opened(astronaut, 0.03)
    frame = paint_mouth(astronaut.image.copy(), lm, float(mesh.face_height(lm)), None, 0.0, style)
    x = int(round(lm[[mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT], 0].mean()))
    top, bottom = lm[mesh.UPPER_LIP_INNER, 1], lm[mesh.LOWER_LIP_INNER, 1]
    column = frame[int(np.ceil(top)) : int(bottom), x].astype(float) @ [0.299, 0.587, 0.114]
    teeth = float(style.teeth @ [0.299, 0.587, 0.114])
    first_teeth = int(np.argmax(column > 0.6 * teeth))
    assert (column[: len(column) // 2] > 0.6 * teeth).any(), column  # teeth under the upper lip
    assert (column[first_teeth:] < 0.3 * teeth).any(), column  # then the cavity


def test_a_real_portrait_speaking_real_speech_has_clean_lips():
    """A real photo (closed lips; and one smiling with teeth) speaking real speech: no seam where the
    lips close, teeth lit like the photo, no periodic pattern, an interior no sharper than the face."""
    from portraittalk import PortraitTalk

    pt = PortraitTalk.from_pretrained(engine="warp")
    for k, name in enumerate(("photo_emma_watson.jpg", "photo_smile_teeth_biden.jpg")):
        ref, frames, lms, _ = bench.render(pt, TUNE / name, "tune", k, seconds=3.0)
        m = bench.measure(ref.image, ref.landmarks.astype(np.float64), frames, lms)
        judged = [k for k in ("seam", "teeth_tint", "teeth_green", "teeth_dim", "periodic", "sharpness") if k in m]
        assert "seam" in m and not [f for f in m["failures"] if f.split()[0] in judged], (name, m)


@pytest.mark.parametrize("by", [0.03, 0.06])
def test_the_photos_own_teeth_ride_under_the_upper_lip(by):
    """A photo that shows teeth lends them: opened wider, they stay tucked under the upper lip (the
    upper part of the opening) and the dark of the cavity shows below them."""
    from portraittalk.engines.warp.mouth import MouthStyle, paint_mouth, teeth_from

    ref = analyse_reference(load_image(TUNE / "photo_smile_teeth_biden.jpg"), "biden", size=512)
    teeth = teeth_from([ref])
    assert teeth is not None
    lm = opened(ref, by)
    frame = paint_mouth(ref.image.copy(), lm, float(mesh.face_height(lm)), teeth, 0.0, MouthStyle.of(ref))
    x = int(round(lm[[mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT], 0].mean()))
    top, bottom = lm[mesh.UPPER_LIP_INNER, 1], lm[mesh.LOWER_LIP_INNER, 1]
    column = frame[int(np.ceil(top)) : int(bottom), x].astype(float) @ [0.299, 0.587, 0.114]
    bright = np.nonzero(column[: int(0.85 * len(column))] > 0.8 * column.max())[0]  # not the lower lip
    assert bright[0] <= 2 and bright[-1] < 0.45 * len(column), column  # right under the lip, the upper part only
    assert (column[bright[-1] :] < 0.3 * column.max()).any(), column  # then the cavity


def test_a_seam_between_closed_lips_is_covered_and_the_photos_own_lips_are_left_alone():
    """Over a photo's closed lips the warp can pull a bright, jagged line of skin between them: it is
    covered (no seam by the measure), while a frame without one keeps the photo's own lips."""
    from portraittalk.engines.warp.mouth import MouthStyle, paint_mouth

    ref = analyse_reference(load_image(TUNE / "photo_emma_watson.jpg"), "emma", size=512)
    lm = ref.landmarks.astype(np.float64)
    h, style = float(mesh.face_height(lm)), MouthStyle.of(ref)
    seamed = draw_bright_seam(ref.image, lm)
    assert bench.seam(seamed, lm, ref.image, lm)["seam"] > bench.BARS["seam"]  # what the warp left
    covered = paint_mouth(seamed, lm, h, None, 0.0, style)
    assert bench.seam(covered, lm, ref.image, lm)["seam"] < bench.BARS["seam"]
    untouched = paint_mouth(ref.image, lm, h, None, 0.0, style).astype(int)
    assert np.abs(untouched - ref.image).max() <= 2  # the photo's own lips, their highlights too


def test_the_benchmarks_yardstick_is_the_photos_teeth_or_eye_whites_only_where_they_are_real(real):
    """The teeth are judged against the photo's own teeth only where what shows between its lips is
    teeth (a pink tongue is not), and against its eye whites only where they are as coloured as real
    speakers' (a real speaker's are; green paint is not)."""
    ref = analyse_reference(load_image(TUNE / "photo_smile_teeth_biden.jpg"), "biden", size=512)
    lm = ref.landmarks.astype(np.float64)
    teeth = bench.photo_teeth(ref.image, lm)
    assert teeth is not None and teeth.max() - teeth.min() < 30, teeth
    tongue = ref.image.copy()
    inside = bench.polygon(tongue.shape, lm[bench.INNER])
    ys = np.nonzero(inside)[0]
    shade = 0.5 + 0.7 * (ys - ys.min()) / max(ys.max() - ys.min(), 1)  # pink, lit from below
    tongue[inside] = np.clip(np.array([205.0, 112.0, 122.0]) * shade[:, None], 0, 255)
    assert bench.teeth_pixels(tongue, lm) is not None  # bright pixels show, as the tongue's highlight
    assert bench.photo_teeth(tongue, lm) is None
    frames, lms = real
    assert bench.like_real_eye_whites(bench.eye_white(frames[0], lms[0]))
    painted = frames[0].copy()
    luma = painted @ np.array([0.299, 0.587, 0.114])
    for eye in bench.EYES:
        mask = bench.polygon(painted.shape, lms[0][eye])
        painted[mask & (luma > np.percentile(luma[mask], 40))] = (190, 236, 190)  # the whites painted green
    assert not bench.like_real_eye_whites(bench.eye_white(painted, lms[0]))


def test_the_benchmark_judges_teeth_against_real_teeth_and_the_pictures_white_and_only_the_renders():
    """A few teeth blurred into lipstick are not the yardstick (pinker than any real teeth); teeth
    between a painting's white and real teeth' colour are right, teeth past its white are not; and a
    frame no wider open than the photo, which shows the photo's own mouth, is not judged."""
    ref = analyse_reference(load_image(TUNE / "photo_smile_teeth_biden.jpg"), "biden", size=512)
    lm = ref.landmarks.astype(np.float64)
    image = ref.image.astype(np.float64)
    opening = bench.polygon(image.shape, lm[bench.INNER])
    image[bench.polygon(image.shape, lm[bench.OUTER]) & ~opening] = (200, 60, 80)  # lipstick
    image[opening] *= (1.0, 0.72, 0.76)  # the teeth pink with it
    assert bench.photo_teeth(np.clip(image, 0, 255).astype(np.uint8), lm) is None
    real, yellow = bench.chromaticity(bench.REAL_TEETH), np.array([0.47, 0.34, 0.19])  # a varnished painting's white
    frame = ref.image.copy()
    for share, right in ((0.0, True), (0.5, True), (1.0, True), (1.5, False)):
        painted = frame.copy()
        ys = np.nonzero(opening)[0]
        shade = 1.0 - 0.5 * (ys - ys.min()) / max(ys.max() - ys.min(), 1)  # lit from above: one chromaticity
        painted[opening] = np.clip((real + share * (yellow - real)) * 500 * shade[:, None], 0, 255)
        m = bench.teeth_colour(painted, lm, yellow * 500, eye_whites=True)
        assert (m["teeth_tint"] < 1.0) == right and (m["teeth_tint"] > bench.BARS["teeth_tint"]) != right, (share, m)
    still = bench.measure(ref.image, lm, [ref.image] * 40, np.stack([lm] * 40))
    assert "teeth_tint" not in still and "periodic" in still, still  # the photo's own teeth: not the render's
    closed = analyse_reference(load_image(TUNE / "photo_emma_watson.jpg"), "emma", size=512)
    image, lm = closed.image.copy(), closed.landmarks.astype(np.float64)
    for eye in bench.EYES:
        mask = bench.polygon(image.shape, lm[eye])
        image[mask & (image @ np.array([0.299, 0.587, 0.114]) > np.percentile(image[mask] @ [0.299, 0.587, 0.114], 40))] = (236, 214, 150)
    frames, lms = [image] * 40, np.stack([lm] * 40)
    assert bench.measure(image, lm, frames, lms, made=True)["yardstick"] == "eye whites"  # a painter's white
    assert bench.measure(image, lm, frames, lms)["yardstick"] == "real teeth"  # a photo's: not the light
