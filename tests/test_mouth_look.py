"""The mouth interior takes the picture's look: teeth coloured by the relation measured on real speakers
(not olive on a warm photo, never green under green painted eye whites), a tinted monochrome photo's
interior in its own tone, a flat-shaded cartoon's interior flat-toned and without grain while a photo's
keeps its texture."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from portraittalk.face import mesh
from portraittalk.face.reference import analyse_reference
from portraittalk.media import load_image

from shared_inputs import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import mouth as bench  # noqa: E402  (the mouth benchmark's measures)
from test_mouth_interior import opened  # noqa: E402

TUNE = ROOT / "benchmarks" / "data" / "portraits" / "tune"
RELATION = json.loads((ROOT / "docs" / "measured" / "teeth_colour.json").read_text())["relation"]
LUMA = np.array([0.299, 0.587, 0.114])
GREY = 1.0 / 3.0


def greenness(rgb: np.ndarray) -> float:
    c = bench.chromaticity(np.asarray(rgb, np.float64))
    return float(c[1] - 0.5 * (c[0] + c[2]))


def render(image: np.ndarray, by: float = 0.09, noise: bool = False):
    """(reference, style, opened landmarks, frame): the photo's mouth opened ``by`` face heights and
    painted (with a unit grain field when ``noise``)."""
    from portraittalk.engines.warp.mouth import MouthStyle, paint_mouth

    ref = analyse_reference(image, "look", size=512)
    style = MouthStyle.of(ref)
    lm = opened(ref, by)
    field = np.random.default_rng(0).standard_normal(ref.image.shape[:2]).astype(np.float32) if noise else None
    frame = paint_mouth(ref.image.copy(), lm, float(mesh.face_height(ref.landmarks)), None, 0.0, style, field)
    return ref, style, lm, frame


def inside(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    return frame[bench.polygon(frame.shape, lm[bench.INNER], erode=2)].astype(np.float64)


def skin_mask(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    face = bench.polygon(image.shape, lm[bench.OVAL]) & ~bench.polygon(image.shape, lm[bench.OUTER])
    return face & ~bench.polygon(image.shape, lm[bench.EYES[0]]) & ~bench.polygon(image.shape, lm[bench.EYES[1]])


def skin_prediction(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """The teeth chromaticity the real speakers' relation predicts from the skin (the measured k)."""
    skin = np.median(image[skin_mask(image, lm)].astype(np.float64), axis=0)
    return GREY + RELATION["k_skin"] * (bench.chromaticity(skin) - GREY)


@pytest.fixture(scope="module")
def emma() -> np.ndarray:
    return load_image(TUNE / "photo_emma_watson.jpg")


def test_the_teeth_colour_is_the_relation_measured_on_real_speakers(emma):
    """The teeth's chromaticity is what the relation fitted on the real fit clips gives
    (docs/measured/teeth_colour.json): shares of the skin's and the eye whites' colour; the skin's
    alone where no eye whites show."""
    for cast in ((1.0, 1.0, 1.0), (1.1, 1.0, 0.75), (0.85, 0.95, 1.2)):
        ref = analyse_reference(np.clip(emma * np.array(cast), 0, 255).astype(np.uint8), "cast", size=512)
        lm = ref.landmarks.astype(np.float64)
        dark = ref.image.copy()
        for eye in bench.EYES:
            dark[bench.polygon(dark.shape, lm[eye])] = (30, 25, 22)
        skin = bench.chromaticity(np.median(ref.image[skin_mask(ref.image, lm)].astype(np.float64), axis=0)) - GREY
        white = bench.chromaticity(bench.eye_white(ref.image, lm)) - GREY
        a, b = RELATION["joint_skin_eye_whites"]
        for image, expected in ((ref.image, GREY + a * skin + b * white), (dark, GREY + RELATION["k_skin"] * skin)):
            style = render(image, 0.0)[1]
            assert np.abs(bench.chromaticity(style.teeth) - expected).max() < 0.004, (cast, style.teeth, expected)


def test_teeth_on_a_warm_photo_are_a_warm_white_not_olive(emma):
    """Under warm light (and with the eye whites hidden, as by sunglasses) the teeth keep the measured
    relation to the skin: near what it predicts, no greener than real teeth, brighter than the skin
    (dim yellow next to pink lips reads olive)."""
    warm = np.clip(emma * np.array([1.12, 1.0, 0.72]), 0, 255).astype(np.uint8)
    for name, image in (("warm", warm), ("warm, no eye whites", None)):
        if image is None:  # the eyes painted dark: the teeth come from the skin alone
            ref = analyse_reference(warm, "warm", size=512)
            image = ref.image.copy()
            lm = ref.landmarks.astype(np.float64)
            for eye in bench.EYES:
                image[bench.polygon(image.shape, lm[eye])] = (30, 25, 22)
        ref, style, lm, frame = render(image)
        photo_lm = ref.landmarks.astype(np.float64)
        predicted = skin_prediction(ref.image, photo_lm)
        teeth = bench.teeth_pixels(frame, lm)
        assert teeth is not None, name
        colour = teeth.mean(axis=0)
        spread = max(abs(v) for k in ("p10", "p90") for v in RELATION["teeth_minus_skin_prediction"][k])
        assert np.abs(bench.chromaticity(colour) - predicted).max() < 2 * spread + 0.01, (name, colour, predicted)
        assert greenness(colour) <= RELATION["teeth_greenness"]["p90"] + 0.015, (name, colour)
        skin = np.median(ref.image[bench.polygon(ref.image.shape, photo_lm[bench.OVAL])].astype(float), axis=0)
        low = RELATION["teeth_over_skin_luma"]["p10"]  # real teeth are at least about as bright as the skin
        assert style.teeth @ LUMA > low * skin @ LUMA and colour @ LUMA > 0.85 * low * skin @ LUMA, (name, colour, skin)


@pytest.mark.parametrize("paint", [(200, 238, 196), (196, 214, 252)], ids=["green", "blue"])
def test_painted_eye_whites_do_not_colour_the_teeth(emma, paint):
    """A painting's green- or blue-tinted eye whites are paint, not the light: the teeth stay near what
    the skin predicts and no greener than real teeth."""
    ref = analyse_reference(emma, "emma", size=512)
    image, lm = ref.image.copy(), ref.landmarks.astype(np.float64)
    for eye in bench.EYES:
        mask = bench.polygon(image.shape, lm[eye])
        bright = mask & (image @ LUMA > np.percentile(image[mask] @ LUMA, 40))
        image[bright] = paint
    white = bench.chromaticity(bench.eye_white(image, lm))
    assert np.abs(white - skin_prediction(image, lm)).max() > 0.05  # painted far from any light's white
    ref, style, lm, frame = render(image)
    predicted = skin_prediction(ref.image, ref.landmarks.astype(np.float64))
    assert greenness(style.teeth) <= RELATION["teeth_greenness"]["p90"] + 0.015, style.teeth
    assert np.abs(bench.chromaticity(style.teeth) - predicted).max() < 0.045, (style.teeth, predicted)
    teeth = bench.teeth_pixels(frame, lm)
    assert teeth is not None and greenness(teeth.mean(axis=0)) <= 0.01, teeth.mean(axis=0)


def test_a_green_tinted_picture_does_not_get_green_teeth(emma):
    """A picture tinted green all over (a painting's green shadows, a green-toned print in colour): the
    teeth take its cast only up to the greenest real teeth measured; light on a face is not green."""
    green = np.clip(emma * np.array([0.85, 1.12, 0.85]), 0, 255).astype(np.uint8)
    ref, style, lm, frame = render(green)
    assert greenness(bench.eye_white(ref.image, ref.landmarks.astype(np.float64))) > 0.03
    assert style.tone is None and greenness(style.teeth) <= RELATION["teeth_greenness"]["p90"] + 0.015, style.teeth
    teeth = bench.teeth_pixels(frame, lm)
    assert teeth is not None and greenness(teeth.mean(axis=0)) <= 0.015, teeth.mean(axis=0)


def sepia(image: np.ndarray) -> np.ndarray:
    """A sepia print of ``image``: one brown hue, more saturated in the mid-tones."""
    grey = image.astype(np.float64) @ LUMA
    mid = np.sin(np.pi * grey / 255.0)
    tint = np.stack([1.0 + 0.16 * mid, np.ones_like(grey), 1.0 - 0.3 * mid], axis=-1)
    return np.clip(grey[..., None] * tint / (tint @ LUMA)[..., None], 0, 255).astype(np.uint8)


def test_a_sepia_photo_gets_an_interior_in_its_own_tone(emma):
    """A tinted monochrome photo's interior is in the photo's own tone at each brightness: not the
    orange of warm-white teeth, not a neutral grey."""
    ref, style, lm, frame = render(sepia(emma), noise=True)
    assert style.tone is not None
    drawn = inside(frame, lm)
    luma = drawn @ LUMA
    lit = drawn[(luma > 40) & (luma < 235)]
    assert len(lit) > 200
    own = sepia(np.repeat(np.clip(np.round(lit @ LUMA), 0, 255).astype(np.uint8)[:, None, None], 3, axis=2))[:, 0]
    assert np.abs(lit - own).max(axis=1).mean() < 3.0, np.abs(lit - own).max(axis=1).mean()  # the photo's tone
    assert (lit.max(axis=1) - lit.min(axis=1)).mean() > 8.0  # not neutral grey
    for name in ("photo_emma_watson.jpg", "bw_einstein.jpg", "photo_smile_teeth_biden.jpg"):  # colour and grey: none
        assert render(load_image(TUNE / name), 0.0)[1].tone is None, name


def flat_share(frame: np.ndarray, lm: np.ndarray) -> float:
    """The share of the opening (away from its edge) painted in flat tone: no gradient to speak of."""
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gradient = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    return float((gradient[bench.polygon(frame.shape, lm[bench.INNER], erode=3)] < 4).mean())


def test_a_flat_cartoon_gets_a_flat_interior_without_grain_and_a_photo_keeps_texture(emma):
    """A flat-shaded cartoon (told from its own pixels: much of its skin is one flat tone) gets an
    interior of flat tones and no grain, the teeth white, the cavity a deep shade of its lips; a photo
    keeps the real interior's texture and its grain."""
    ref, flat, lm, frame = render(load_image(TUNE / "cartoon_anime_bald_flat.png"), noise=True)
    assert flat.flat and flat_share(frame, lm) > 0.3, flat_share(frame, lm)
    drawn = inside(frame, lm)
    teeth, cavity = drawn[drawn @ LUMA > 225], drawn[drawn @ LUMA <= np.percentile(drawn @ LUMA, 30)]
    assert len(teeth) > 20 and (teeth.max(axis=1) - teeth.min(axis=1)).mean() < 20  # white (brighter than its skin)
    shade = np.median(cavity, axis=0) / flat.crease  # the crease between closed lips: the lips' colour, shaded
    assert (shade.max() - shade.min()) / shade.mean() < 0.2 and cavity.mean() < 0.5 * teeth.mean(), shade
    caricature = render(load_image(TUNE / "cartoon_caricature_man.jpg"), noise=True)[1]
    assert caricature.flat and caricature.grain < 0.5  # its strokes are no grain: none is added
    ref, real, lm, frame = render(emma, noise=True)
    assert not real.flat and flat_share(frame, lm) < 0.05, (real, flat_share(frame, lm))
    assert render(load_image(TUNE / "old_photo_woman_smoking_scratched.jpg"), 0.0)[1].grain > 2.0  # a grainy photo's
    blown = np.clip(emma * 1.8, 0, 255).astype(np.uint8)  # overexposed: much of its skin clipped flat white
    assert not render(blown, 0.0)[1].flat


def test_a_flat_interior_keeps_its_flat_tones_between_two_openings():
    """Between two real interiors' openings a flat-toned interior blends their shapes, not their tones:
    no ghost of a third tone where one shape's teeth lie over the other's cavity."""
    from portraittalk.engines.warp.exemplars import InteriorPicker, library

    tones = np.array([[0.3, 0.15, 0.15], [0.8, 0.5, 0.5], [1.0, 1.0, 1.0]], np.float32)
    picker = InteriorPicker(library(), tones=tones)
    for low, high in zip(picker.apertures[:-1], picker.apertures[1:]):
        colour = picker.interior(0.5 * (low + high))[..., :3]
        on_a_tone = np.abs(colour[:, :, None, :] - tones).max(axis=-1).min(axis=-1) < 0.05
        assert on_a_tone.mean() > 0.8, (low, high, on_a_tone.mean())  # the rest: the softened edges



def test_a_photo_that_shows_teeth_lends_their_white_to_the_interior():
    """Where the photo itself shows teeth, the interior's teeth are theirs in colour: opened wider than
    the photo, the teeth drawn are as coloured as the photo's own (the benchmark's measure of the
    photo's teeth, apart from the engine), and a photo of the same face with bluish teeth gets bluish ones."""
    from portraittalk.engines.warp.mouth import MouthStyle, paint_mouth, teeth_from

    image = load_image(TUNE / "photo_smile_teeth_biden.jpg")
    for tint in (np.array([1.0, 1.0, 1.0]), np.array([0.9, 0.97, 1.08])):  # as taken; teeth under cold light
        ref = analyse_reference(image, "biden", size=512)
        lm = ref.landmarks.astype(np.float64)
        mouth = bench.polygon(ref.image.shape, lm[bench.INNER], erode=1)
        ref.image[mouth] = np.clip(ref.image[mouth] * tint, 0, 255).astype(np.uint8)
        own = teeth_from([ref])
        assert own is not None
        photo = bench.photo_teeth(ref.image, lm)
        opened_lm = opened(ref, 0.06)
        frame = paint_mouth(ref.image.copy(), opened_lm, float(mesh.face_height(lm)), None, 0.0,
                            MouthStyle.of(ref, own))  # fmt: skip
        drawn = bench.teeth_colour(frame, opened_lm, photo)
        assert drawn["teeth_tint"] < 2.0 and abs(drawn["teeth_green"]) < 1.5, (tint, drawn)
        if tint[2] > 1:  # the cold-lit teeth are drawn cold, not in the colour the skin predicts
            predicted = paint_mouth(ref.image.copy(), opened_lm, float(mesh.face_height(lm)), None, 0.0,
                                    MouthStyle.of(ref))  # fmt: skip
            assert bench.teeth_colour(predicted, opened_lm, photo)["teeth_tint"] > drawn["teeth_tint"] + 1.0


@pytest.mark.parametrize("name", ["photo_glasses_beard_sundar_pichai.jpg", "photo_smile_teeth_tom_cruise.jpg",
                                  "photo_smile_teeth_lei_jun.jpg"])  # fmt: skip
def test_a_photos_own_teeth_ride_without_its_lips_and_at_their_own_length(name):
    """The photo's upper teeth lent to a wider mouth carry no lip: its lip-coloured corners (and a tongue)
    are left out of the strip, its teeth kept; the strip runs down to the teeth's own biting edge (Tom
    Cruise's are 0.052 face heights long: a 0.05 cap cut them short, with a hard edge), and no farther
    (Lei Jun's end well above his lower lip: below them is his mouth's dark, which must not ride along);
    it holds all the teeth the photo shows above that edge, the side teeth under a smile's corners too."""
    from portraittalk.engines.warp.mouth import teeth_from

    ref = analyse_reference(load_image(TUNE / name), "teeth", size=512)
    teeth = teeth_from([ref])
    assert teeth is not None
    colour, coverage = teeth.image[..., :3], teeth.image[..., 3]
    chroma = colour / np.maximum(colour.sum(axis=2, keepdims=True), 1.0)
    lip_coloured = chroma[..., 0] - chroma[..., 1] > 0.12
    assert lip_coloured.sum() > 100 and coverage[lip_coloured].mean() < 0.15, coverage[lip_coloured].mean()
    front_rows = slice(teeth.lead, None)  # under the lip's middle (above: the side teeth, and the lip itself)
    assert coverage[front_rows][colour[front_rows] @ LUMA > 170].mean() > 0.85
    lm = ref.landmarks.astype(np.float64)
    top, bottom = lm[mesh.UPPER_LIP_INNER, 1], lm[mesh.LOWER_LIP_INNER, 1]
    x0, x1 = lm[[78, 308], 0].min(), lm[[78, 308], 0].max()
    front = ref.image[:, int(x0 + 0.3 * (x1 - x0)) : int(x1 - 0.3 * (x1 - x0))].astype(np.float64) @ LUMA
    start = int(round(top + 0.12 * (bottom - top)))  # where the front teeth begin, under the lip's edge
    end = start + len(teeth.image) - teeth.lead
    rows = front[start:end].mean(axis=1)
    after = front[end : end + 2].mean()
    assert after < 0.75 * rows.max(), (len(teeth.image), rows.round(), after)  # it ends at the biting edge
    shown = bench.polygon(ref.image.shape, lm[bench.INNER]) & (ref.image @ LUMA > 170)
    shown[end:], shown[:, : int(x0)], shown[:, int(x1) :] = False, False, False
    held = shown[start - teeth.lead : end].sum() / max(shown.sum(), 1)
    assert held > 0.97, held  # the side teeth up to a smiling lip's corners too (no top edge of a strip there)


def test_a_drawings_lips_closed_over_its_open_mouth_meet_in_its_ink():
    """A caricature drawn smiling, teeth showing, in black ink: lips drawn closed over it meet in a line
    of its ink (a drawn closed mouth), not in a pink band brighter than the ink around it (a seam)."""
    from portraittalk.engines.warp.mouth import MouthStyle, paint_mouth
    from portraittalk.motion.geometry import LOWER_LIP_INNER_SET, UPPER_LIP_INNER_SET

    ref = analyse_reference(load_image(TUNE / "cartoon_caricature_roy.png"), "roy", size=512)
    style = MouthStyle.of(ref)
    assert style.flat and style.ink is not None and style.ink @ LUMA < 60, style.ink
    lm = ref.landmarks.astype(np.float64)
    h = float(mesh.face_height(lm))
    closed = lm.copy()
    middle = 0.5 * (lm[UPPER_LIP_INNER_SET] + lm[LOWER_LIP_INNER_SET])
    closed[UPPER_LIP_INNER_SET], closed[LOWER_LIP_INNER_SET] = middle, middle
    frame = paint_mouth(ref.image.copy(), closed, h, None, float(ref.mouth_aperture) * h, style)
    line = bench.lip_line_ridge(frame, closed)
    assert bench.seam(frame, closed, ref.image, lm)["seam"] < bench.BARS["seam"], line
    x = np.round(middle[:, 0]).astype(int)
    y = np.round(middle[:, 1]).astype(int)
    assert np.median(frame[y, x] @ LUMA) < 80, frame[y, x]  # the line is ink-dark


def test_a_face_coloured_past_any_real_skin_does_not_get_orange_teeth():
    """The relation is measured on real skin and not carried past the most coloured skin of the fit
    clips: on Frida Kahlo's orange-painted face the teeth are between the painting's white and real
    teeth' colour, and painting her face yet more orange leaves them as they are."""
    photo = load_image(TUNE / "painting_frida_kahlo.jpg").astype(np.float64)
    luma = (photo @ LUMA)[..., None]
    teeth, skins = [], []
    for more in (1.0, 1.4):
        image = np.clip(luma + more * (photo - luma), 0, 255).astype(np.uint8)
        ref, style, lm, frame = render(image)
        photo_lm = ref.landmarks.astype(np.float64)
        skins.append(bench.chromaticity(np.median(ref.image[skin_mask(ref.image, photo_lm)].astype(float), axis=0)))
        white = bench.eye_white(ref.image, photo_lm)
        colour = bench.teeth_colour(frame, lm, white, eye_whites=True)
        assert colour["teeth_tint"] < bench.BARS["teeth_tint"] and colour["teeth_green"] < bench.BARS["teeth_green"], (more, colour)
        teeth.append(bench.chromaticity(style.teeth))
    assert np.linalg.norm(skins[1] - skins[0]) > 0.04, skins  # her skin much more orange
    assert np.abs(teeth[1] - teeth[0]).max() < 0.006, teeth  # her teeth not


def side_teeth_depth(name: str, by: float) -> tuple[float, float]:
    """(front, side): how far down the opening (share of its height in each column) the teeth run from
    the upper lip in the middle fifth and, at their 90th percentile, in the outer thirds of the mouth,
    opened ``by`` face heights with the photo's own teeth lent."""
    from portraittalk.engines.warp.mouth import MouthStyle, paint_mouth, teeth_from

    ref = analyse_reference(load_image(TUNE / name), "smile", size=512)
    own = teeth_from([ref])
    lm, h = opened(ref, by), float(mesh.face_height(ref.landmarks))
    luma = paint_mouth(ref.image.copy(), lm, h, own, float(ref.mouth_aperture) * h, MouthStyle.of(ref, own)) @ LUMA
    inside = bench.polygon(luma.shape, lm[bench.INNER], erode=1)
    bright = luma > 0.6 * np.percentile(luma[inside], 97)
    left, right = lm[[78, 308], 0].min(), lm[[78, 308], 0].max()
    front, side = [], []
    for x in range(int(left) + 1, int(right)):
        ys = np.nonzero(inside[:, x])[0]
        if len(ys) < 6:
            continue
        run = bright[ys, x]
        share = (np.argmin(run) if not run.all() else len(run)) / len(ys)
        across = (x - left) / (right - left)
        (front if 0.4 < across < 0.6 else side if abs(across - 0.5) > 0.2 else []).append(share)
    return float(np.median(front)), float(np.percentile(side, 90))


@pytest.mark.parametrize("name", ["photo_smile_teeth_tom_cruise.jpg", "photo_smile_teeth_biden.jpg",
                                  "photo_smile_teeth_lei_jun.jpg"])  # fmt: skip
def test_a_wide_smiles_side_teeth_end_with_its_front_teeth(name):
    """Opened wider than the photo, a smile's upper teeth run along the arch to the corners and end
    about where its front teeth do, with the dark of the mouth below: no block of teeth hanging at the
    sides (a real speaker's side teeth, which in the narrow corner of its own mouth reach far down the
    opening, were once drawn there down to 0.6 of the opening)."""
    front, side = side_teeth_depth(name, 0.05)
    assert front > 0.1 and side < front + 0.14, (front, side)


def test_the_photos_teeth_keep_their_width_as_the_lips_stretch():
    """Teeth are rigid: the photo's teeth are drawn at their own width at the face's size, however wide
    the lips (they were once drawn at a share of the lips' width, stretched sideways as the lips were)."""
    from portraittalk.engines.warp.mouth import _draw_teeth, teeth_from

    ref = analyse_reference(load_image(TUNE / "photo_smile_teeth_tom_cruise.jpg"), "smile", size=512)
    teeth, h = teeth_from([ref]), float(mesh.face_height(ref.landmarks))
    widths = []
    for scale in (1.0, 1.3):
        layer = np.zeros((200, 500, 4), np.float32)
        _draw_teeth(layer, 60.0, 0.08 * h * scale, 250.0, teeth, h * scale)
        columns = np.nonzero(layer[..., 3].max(axis=0) > 0.05)[0]
        widths.append(columns.max() - columns.min() + 1)
    # The strip's own width but its lip-coloured ends (left out) and its sides' fade into the cavity.
    assert 0.8 * teeth.image.shape[1] < widths[0] <= teeth.image.shape[1], (widths, teeth.image.shape)
    assert abs(widths[1] - 1.3 * widths[0]) <= 3, widths  # the same teeth on a larger face


def test_the_interiors_grain_is_the_photos_noise_not_its_wrinkles():
    """Grace Hopper's face is lined, not noisy: her interior gets little grain (reading her wrinkles as
    8.5 levels of noise speckled her teeth); the same photo with 6 levels of noise added gets about 6."""
    photo = load_image(TUNE / "old_photo_grace_hopper.jpg")
    assert render(photo, 0.0)[1].grain < 3.0
    ref = analyse_reference(photo, "grace", size=512)  # the noise at the analysed size, as a photo's would be
    noisy = np.clip(ref.image + np.random.default_rng(0).normal(0.0, 6.0, ref.image.shape[:2])[..., None], 0, 255)
    grain = render(noisy.astype(np.uint8), 0.0)[1].grain
    assert 5.2 < grain < 7.2, grain
