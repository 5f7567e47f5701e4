"""Clean lip boundaries: the mouth benchmark's lip-line measures (a seam or speckles between closed lips,
a step in a lip's edge) flag a drawing with those defects and pass a real speaker's frames; the warp
draws closed lips over a photo's closed lips with no dotted line between them, and over a photo's open
mouth with no teeth or staircase left beside its crease, and no crease where the line runs over skin."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from portraittalk.face.reference import analyse_reference
from portraittalk.media import load_image
from portraittalk.motion.geometry import LOWER_LIP_INNER_SET, UPPER_LIP_INNER_SET
from portraittalk.motion.track import MotionTrack

from shared_inputs import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import mouth as bench  # noqa: E402  (the mouth benchmark's measures)
from test_mouth_interior import real  # noqa: E402,F401  (the fixture: a real speaker's frames and landmarks)

TUNE = ROOT / "benchmarks" / "data" / "portraits" / "tune"
# Photos with closed lips whose lip line the warp dotted with the teeth and skin around it when it drew
# the lips closed (seam 89 and 39, speckle 14 and 24 before).
CLOSED_LIPS = ("photo_glasses_kaifu_lee.jpg", "old_photo_boy_scratched.jpg")
GAPS = (0.0, 0.15, 0.3, 0.5, 0.8)  # px between the drawn inner lips: closed, as a speaker's lips meet
# Open mouths (a photo's smile, a drawing's) whose opening, squeezed between lips drawn closed, left pixels
# of teeth beside the crease that its blur did not cover (seam 43 and 44 before).
OPEN_MOUTHS = ("photo_smile_teeth_lei_jun.jpg", "cartoon_caricature_roy.png")
SQUEEZED_SEAM = 25.0  # levels: the crease's own soft edge and the lips' grain stay under it; teeth beside it: 40+
SOFT_SEAM = 6.0  # levels: a blurred smile's squeezed teeth covered (under a crease as soft as the photo: 12)
SHADED = 8  # levels: a pixel of the skin beside a drawn mouth darkened more than this shows a line


def dotted_line(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Every other pixel along the line where closed lips meet a bright one: skin or teeth read in
    between them."""
    out = frame.copy()
    line = np.concatenate([lm[[78]], 0.5 * (lm[bench.UPPER] + lm[bench.LOWER]), lm[[308]]])
    xs = np.arange(int(line[:, 0].min()), int(line[:, 0].max()), 2)
    order = np.argsort(line[:, 0])
    ys = np.round(np.interp(xs, line[order, 0], line[order, 1])).astype(int)
    out[ys, xs] = (230, 225, 220)
    return out


def stepped(frame: np.ndarray, lm: np.ndarray, contour: list[int], by: int, at: float = 0.1) -> np.ndarray:
    """The lip's edge moved ``by`` px down from ``at`` of the mouth's width right of its middle on (to
    its corner; ``at`` < 0: left of the middle, to the other corner): a step in it."""
    out = frame.copy()
    points = lm[contour]
    x = int(round(points[:, 0].mean() + at * np.ptp(points[:, 0])))
    x, x1 = (x, int(points[:, 0].max())) if at >= 0 else (int(points[:, 0].min()), x)
    y0, y1 = int(points[:, 1].min()) - 12, int(points[:, 1].max()) + 12
    out[y0 + by : y1, x:x1] = frame[y0 : y1 - by, x:x1]
    return out


def test_a_dotted_lip_line_and_a_stepped_lip_edge_are_flagged_and_the_real_mouth_passes(real):
    frames, lms = real
    m = bench.measure(frames[0], lms[0], frames, lms)
    assert m["step"] < bench.BARS["step"] and m["speckle"] < bench.BARS["speckle"], m  # a real speaker
    steps = [bench.step(f, lm, frames[0], lms[0])["step"] for f, lm in zip(frames, lms)]
    assert max(steps) < bench.BARS["step"], max(steps)  # every frame of it, its lips' edges as they are
    gaps = np.linalg.norm(lms[:, 13] - lms[:, 14], axis=1) / np.linalg.norm(lms[:, 10] - lms[:, 152], axis=1)
    t = int(np.argmin(gaps))
    clean = bench.seam(frames[t], lms[t], frames[0], lms[0])
    dotted = bench.seam(dotted_line(frames[t], lms[t]), lms[t], frames[0], lms[0])
    assert clean["speckle"] < bench.BARS["speckle"] < dotted["speckle"], (clean, dotted)
    for k in (0, 30, 60):
        flagged = bench.step(stepped(frames[k], lms[k], bench.UPPER_OUTER, 4), lms[k], frames[0], lms[0])
        assert flagged["step"] > bench.BARS["step"], (k, flagged)
        x = lms[k][bench.UPPER_OUTER, 0].mean() + 0.1 * np.ptp(lms[k][bench.UPPER_OUTER, 0])
        assert abs(flagged["step_column"] - x) <= 2, (k, flagged, x)  # found where it is


def test_grain_is_no_step_and_the_photos_own_step_is_excused_where_it_is(real):
    """A grainy copy of the real speaker (8 levels of noise, new each frame: an old photo's) has no step; a step the
    photo has too is no step at the same place across the mouth, and still one elsewhere."""
    frames, lms = real
    rng = np.random.default_rng(0)
    grainy = [np.clip(f + rng.normal(0, 8.0, f.shape[:2])[..., None], 0, 255).astype(np.uint8) for f in frames[::4]]
    steps = [bench.step(f, lm, grainy[0], lms[0])["step"] for f, lm in zip(grainy, lms[::4])]
    assert max(steps) < bench.BARS["step"], max(steps)
    photo = stepped(frames[0], lms[0], bench.UPPER_OUTER, 4)
    own = bench.step(photo, lms[0], photo, lms[0])
    elsewhere = bench.step(stepped(frames[0], lms[0], bench.UPPER_OUTER, 4, at=-0.12), lms[0], photo, lms[0])
    assert own["step"] < bench.BARS["step"] < elsewhere["step"], (own, elsewhere)


def closing_track(ref, gaps: tuple[float, ...]) -> MotionTrack:
    """Frames whose lower inner lip is drawn ``gaps[t]`` px below the upper one: the lips closed."""
    lm = ref.landmarks.astype(np.float64)
    expression = np.zeros((len(gaps), 478, 2), np.float32)
    up, lo = list(UPPER_LIP_INNER_SET), list(LOWER_LIP_INNER_SET)
    for t, gap in enumerate(gaps):
        expression[t, lo, 1] = lm[up, 1] + gap - lm[lo, 1]
    still = np.zeros(len(gaps), np.float32)
    return MotionTrack(25.0, (ref.size, ref.size), ref.landmarks, expression, np.zeros((len(gaps), 6), np.float32),
                       still, still, still, ref.depth)  # fmt: skip


@pytest.mark.parametrize("name", CLOSED_LIPS)
def test_closed_lips_drawn_over_a_photos_closed_lips_meet_cleanly(name):
    """The warp alone (before any crease is painted over it) and the engine's frame: no bright seam, no
    speckles where the lips meet, no step in their edges."""
    from portraittalk.engines.warp import WarpRenderer
    from portraittalk.engines.warp.field import FaceWarper

    ref = analyse_reference(load_image(TUNE / name), name, size=512)
    photo_lm = ref.landmarks.astype(np.float64)
    track = closing_track(ref, GAPS)
    warper, renderer = FaceWarper(ref, track), WarpRenderer([ref], track)
    for t in range(len(GAPS)):
        lm = warper.landmarks(t)
        for frame in (warper.frame(t), renderer.frame(t)):
            lips = {**bench.seam(frame, lm, ref.image, photo_lm), **bench.step(frame, lm, ref.image, photo_lm)}
            assert all(lips[k] < bench.BARS[k] for k in ("seam", "speckle", "step")), (name, GAPS[t], lips)


@pytest.mark.parametrize("name", OPEN_MOUTHS)
def test_closed_lips_drawn_over_a_photos_open_mouth_meet_in_a_clean_crease(name):
    """The opening squeezed into a sliver takes whole pixels, in a staircase: the crease covers all of them,
    no teeth or dark step left beside it."""
    from portraittalk.engines.warp import WarpRenderer

    ref = analyse_reference(load_image(TUNE / name), name, size=512)
    photo_lm = ref.landmarks.astype(np.float64)
    renderer = WarpRenderer([ref], closing_track(ref, GAPS))
    for t in range(len(GAPS)):
        lm = renderer.sources[0].warper.landmarks(t)
        lips = bench.seam(renderer.frame(t), lm, ref.image, photo_lm)
        assert lips["seam"] < SQUEEZED_SEAM and lips["speckle"] < bench.BARS["speckle"], (name, GAPS[t], lips)


def drawn_mouth(ref) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """A flat drawing whose dark mouth, with a strip of teeth along the landmarks' lip line, holds only
    the right half of that line (a cartoon MediaPipe misreads): (drawing, landmarks, teeth xs, ys, the
    mouth's left edge)."""
    lm = ref.landmarks.astype(np.float64)
    line = np.concatenate([lm[[78]], 0.5 * (lm[bench.UPPER] + lm[bench.LOWER]), lm[[308]]])
    drawing = np.zeros_like(ref.image)
    drawing[:] = (95, 160, 105)  # its skin
    x0, x1 = int(line[:, 0].mean()), int(line[:, 0].max()) + 6
    drawing[int(line[:, 1].min()) - 6 : int(line[:, 1].max()) + 7, x0:x1] = 0
    xs = np.arange(x0 + 3, x1 - 3)
    ys = np.round(np.interp(xs, line[:, 0], line[:, 1])).astype(int)
    for dy in (-1, 0, 1):
        drawing[ys + dy, xs] = 235
    return drawing, lm, xs, ys, x0


def test_no_crease_where_the_line_runs_over_skin():
    """The crease covers the teeth inside the drawn mouth and draws no line across the skin beside it;
    a patch of skin inside the mouth (a drawn stroke the line leaves) does not break it."""
    from portraittalk.engines.warp.lipline import crease

    ref = analyse_reference(load_image(TUNE / OPEN_MOUTHS[0]), OPEN_MOUTHS[0], size=512)
    drawing, lm, xs, ys, x0 = drawn_mouth(ref)
    out = crease(drawing, lm, np.zeros(3, np.float32), 0.6)
    shaded = drawing[:, : x0 - 1].astype(int) - out[:, : x0 - 1]
    assert shaded.max() <= SHADED, ("a line drawn on the skin beside the mouth", shaded.max())
    assert out[ys, xs].astype(float).mean() < 80, out[ys, xs].mean()  # the teeth under it covered
    mid = slice(len(xs) // 3, len(xs) // 3 + 6)
    for dy in range(-4, 5):  # skin across the line, inside the mouth
        drawing[ys[mid] + dy, xs[mid]] = (95, 160, 105)
    out = crease(drawing, lm, np.zeros(3, np.float32), 0.6)
    assert out[ys[mid], xs[mid]].astype(float).max() < 80, out[ys[mid], xs[mid]]  # the crease runs on across it


def test_closed_lips_drawn_over_a_soft_photo_read_as_closed():
    """A blurred 1927 photo, its lips barely apart: drawn closed they meet in a soft line that MediaPipe
    reads as closed lips (a crease widened by its blur's sigmas to a dark band read 0.051 open, four
    times the photo's own 0.013; this one about twice). A blurred smile's teeth, squeezed between lips
    drawn closed, are still covered whole (a crease only as soft as the photo left a ridge of 12)."""
    from portraittalk.engines.warp import WarpRenderer
    from portraittalk.face.landmarks import FaceMeshDetector

    ref = analyse_reference(load_image(TUNE / "bw_solvay_1927_old_man_beard.jpg"), "solvay", size=512)
    renderer = WarpRenderer([ref], closing_track(ref, GAPS))
    with FaceMeshDetector(static=True) as detector:
        read = [detector.detect(renderer.frame(t)).points.astype(np.float64) for t in range(len(GAPS))]
    apertures = [float(np.linalg.norm(p[13] - p[14])) / bench.face_height(p) for p in read]
    assert np.median(apertures) < 3.0 * ref.mouth_aperture, (apertures, ref.mouth_aperture)
    smile = analyse_reference(load_image(TUNE / "lowres_degraded_glasses_smile.jpg"), "smile", size=512)
    renderer = WarpRenderer([smile], closing_track(smile, GAPS))
    for t in range(len(GAPS)):
        lips = bench.seam(renderer.frame(t), renderer.sources[0].warper.landmarks(t), smile.image,
                          smile.landmarks.astype(np.float64))  # fmt: skip
        assert lips["seam"] < SOFT_SEAM, (GAPS[t], lips)
