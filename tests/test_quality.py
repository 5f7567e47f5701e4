"""The artifact check: clean renders pass; the broken renderings it exists for (a dark column from
the lips to the bottom of the frame, fangs, a red mouth in a black-and-white photo) are flagged."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from portraittalk.config import GenerateRequest, MotionConfig
from portraittalk.engines.warp import WarpEngine
from portraittalk.face import mesh
from portraittalk.face.reference import analyse_reference
from portraittalk.media import Audio, load_audio, load_image
from portraittalk.motion.controls import apply_controls
from portraittalk.motion.offline import audio_to_motion
from portraittalk.quality import ArtifactCheck
from portraittalk.quality.artifacts import TEETH_REACH

from shared_inputs import PORTRAIT, SPEECH

SIZE = 256


@pytest.fixture(scope="module")
def clean():
    """The astronaut speaking 2.5 s: the reference, the frames and where each face was drawn."""
    ref = analyse_reference(load_image(PORTRAIT), "astronaut", size=SIZE)
    audio = load_audio(SPEECH)
    audio = Audio.from_array(audio.samples[: int(2.5 * audio.sample_rate)])
    track = audio_to_motion(audio, ref.landmarks, (SIZE, SIZE))
    request = GenerateRequest()
    frames = list(WarpEngine().render([ref], track, request))
    drawn = apply_controls(track, request.controls, request.render.smoothing_s).landmarks
    return ref, frames, drawn


def verdict(ref, frames, drawn):
    check = ArtifactCheck(ref.image, ref.landmarks, still_background=True)
    for frame, lm in zip(frames, drawn):
        check.update(frame, lm)
    return check.result()


def test_a_clean_render_is_not_flagged(clean):
    q = verdict(*clean)
    assert not q.flagged and q.warnings == [], q
    # A head moving like a real speaker's (motion.head) moves the collar under the chin: a row or two.
    assert q.scores["column"] < 0.05 and q.scores["still_change"] < 0.02
    assert 0.0 < q.scores["cavity_area"] < 0.045  # the mouth opens, within a mouth's size


def _mouth(lm):
    return lm[[mesh.UPPER_LIP_OUTER, mesh.LOWER_LIP_OUTER]].mean(axis=0), float(mesh.face_height(lm))


def test_a_dark_column_from_the_lips_down_is_flagged(clean):
    ref, frames, drawn = clean
    broken = []
    for frame, lm in zip(frames, drawn):
        (cx, cy), h = _mouth(lm)
        f = frame.copy()
        f[int(cy) :, int(cx - 0.12 * h) : int(cx + 0.12 * h)] = (70, 30, 34)  # the old engine's cavity colour
        broken.append(f)
    q = verdict(ref, broken, drawn)
    assert q.flagged
    assert q.scores["column_frames"] == 1.0 and q.scores["still_change_frames"] == 1.0
    assert any("column below the mouth" in w for w in q.warnings)
    for w in q.warnings:  # one sentence each: what looks wrong, then what to try
        assert w[0].isupper() and w.endswith(".") and "; try " in w and w.count(".") == 1


def test_fangs_over_the_lower_lip_are_flagged(clean):
    """Two long canines hang from the upper lip: on every frame where they reach past the lower lip
    by more than the allowance, the check sees it (where the mouth is open wide they stay inside)."""
    ref, frames, drawn = clean
    check = ArtifactCheck(ref.image, ref.landmarks, still_background=True)
    past = []  # how far the tips hang below the lower lip, face heights
    for frame, lm in zip(frames, drawn):
        (cx, _), h = _mouth(lm)
        top = lm[mesh.UPPER_LIP_INNER, 1]
        f = frame.copy()
        for side in (-1, 1):
            x = cx + side * 0.08 * h
            tooth = np.array([[x - 0.02 * h, top], [x + 0.02 * h, top], [x, top + 0.17 * h]], np.int32)
            cv2.fillConvexPoly(f, tooth, (245, 245, 240))
        check.update(f, lm)
        past.append((top + 0.17 * h - lm[mesh.LOWER_LIP_OUTER, 1]) / h)
    far = np.array(past) > TEETH_REACH + 0.01
    reach = np.array(check.measures["teeth_reach"].values)
    assert far.mean() > 0.5 and (reach[far] > TEETH_REACH).all(), (np.array(past)[far], reach[far])
    q = check.result()
    assert q.flagged and any("teeth reach outside the lips" in w for w in q.warnings)
    assert q.scores["column"] < 0.05  # fangs are not a column (the head's motion changes a row or two)


def test_a_coloured_mouth_in_a_black_and_white_photo_is_flagged():
    grey = cv2.cvtColor(cv2.cvtColor(load_image(PORTRAIT), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    ref = analyse_reference(grey, "grey astronaut", size=SIZE)
    audio = load_audio(SPEECH)
    audio = Audio.from_array(audio.samples[: int(2.0 * audio.sample_rate)])
    track = audio_to_motion(audio, ref.landmarks, (SIZE, SIZE), config=MotionConfig(head_sway=0.0))
    frames = list(WarpEngine().render([ref], track, GenerateRequest()))
    drawn = apply_controls(track, GenerateRequest().controls, GenerateRequest().render.smoothing_s).landmarks
    q = verdict(ref, frames, drawn)
    assert not q.flagged, q
    # The engine keeps a black-and-white photo black and white, mouth included.
    stack = np.stack(frames).astype(int)
    assert np.abs(stack.max(axis=3) - stack.min(axis=3)).max() <= 3
    red = []
    for frame, lm in zip(frames, drawn):
        f = frame.copy()
        inner = np.round(lm[mesh.lips_inner_loop()]).astype(np.int32)
        mask = np.zeros(f.shape[:2], np.uint8)
        cv2.fillPoly(mask, [inner], 1)
        f[mask > 0] = (120, 30, 40)  # what the old engine drew
        red.append(f)
    q = verdict(ref, red, drawn)
    assert q.flagged and any("more colourful than the photo" in w for w in q.warnings)


@pytest.fixture(scope="module")
def biden_speaking():
    """A real tune-set portrait (a collar and tie under the chin) speaking 8 s of real speech with real
    head motion (roll, pitch and yaw on the photo's depth): the frames and where each face was drawn."""
    data = Path(__file__).resolve().parents[1] / "benchmarks" / "data"
    ref = analyse_reference(load_image(data / "portraits/tune/photo_smile_teeth_biden.jpg"), "biden", size=SIZE)
    audio = load_audio(data / "speech/tune/en_jfk_male.flac")
    audio = Audio.from_array(audio.samples[: 8 * audio.sample_rate], audio.sample_rate)
    track = audio_to_motion(audio, ref.landmarks, (SIZE, SIZE), depth=ref.depth, seed=0)
    request, engine = GenerateRequest(), WarpEngine()
    drawn = engine.drawn(track, request)
    frames = list(engine.frames([ref], drawn, request, lambda *_: None))
    return ref, frames, drawn.landmarks


def test_a_real_speakers_head_motion_is_not_flagged_and_a_column_on_it_is(biden_speaking):
    """The head turns and nods, moving the collar under the chin (compared in place with the photo, rows of
    the strip under the mouth change on about a tenth of the frames): the check follows the head there and
    around the mouth. A dark column from the lips down on the same moving head is still flagged."""
    ref, frames, drawn = biden_speaking
    h = float(mesh.face_height(ref.landmarks))
    chin = ref.landmarks[mesh.CHIN]
    moved = [np.abs(lm[mesh.CHIN] - chin).max() / h for lm in drawn]
    assert np.percentile(moved, 90) > 0.03  # the head moves the chin by several pixels
    q = verdict(ref, frames, drawn)
    assert not q.flagged and q.warnings == [], q
    broken = []
    for frame, lm in zip(frames, drawn):
        (cx, cy), fh = _mouth(lm)
        f = frame.copy()
        f[int(cy) :, int(cx - 0.25 * fh) : int(cx + 0.25 * fh)] = (70, 30, 34)  # the mouth stretched down
        broken.append(f)
    q = verdict(ref, broken, drawn)
    assert q.flagged and q.scores["column_frames"] == 1.0
    assert any("column below the mouth" in w for w in q.warnings)
    narrow = []  # the middle of the mouth only, dark on a dark suit: the rows the neck does not follow see it
    for frame, lm in zip(frames, drawn):
        (cx, cy), fh = _mouth(lm)
        f = frame.copy()
        f[int(cy) :, int(cx - 0.12 * fh) : int(cx + 0.12 * fh)] = (70, 30, 34)
        narrow.append(f)
    q = verdict(ref, narrow, drawn)
    assert q.flagged and q.scores["column_frames"] > 0.4


def test_fangs_on_a_moving_head_are_flagged(biden_speaking):
    """Canines hanging 0.08 face heights below the lower lip, drawn where the moving head put the mouth."""
    ref, frames, drawn = biden_speaking
    check = ArtifactCheck(ref.image, ref.landmarks, still_background=True)
    for frame, lm in zip(frames, drawn):
        (cx, _), h = _mouth(lm)
        bottom = lm[mesh.LOWER_LIP_OUTER, 1] + 0.08 * h
        f = frame.copy()
        for side in (-1, 1):
            x = cx + side * 0.08 * h
            tooth = np.array([[x - 0.02 * h, lm[mesh.UPPER_LIP_INNER, 1]], [x + 0.02 * h, lm[mesh.UPPER_LIP_INNER, 1]],
                              [x, bottom]], np.int32)  # fmt: skip
            cv2.fillConvexPoly(f, tooth, (245, 245, 240))
        check.update(f, lm)
    reach = np.array(check.measures["teeth_reach"].values)
    assert (reach > TEETH_REACH).mean() > 0.9, np.percentile(reach, [5, 50])
    assert check.result().flagged


def test_a_track_drawing_the_lips_farther_apart_than_a_mouth_opens_is_flagged(clean):
    """Whatever the interior looks like (real teeth and tongue are not dark enough to measure a gape by
    their area), lips drawn 0.18 face heights farther apart than the track's are a broken face; the
    clean render's widest opening stays under the bar."""
    ref, frames, drawn = clean
    assert verdict(*clean).scores["gape"] <= 0.14 + 0.02
    h = float(mesh.face_height(ref.landmarks))
    gaping = drawn.copy()
    lower = ref.landmarks[:, 1] > ref.landmarks[mesh.LOWER_LIP_INNER, 1] - 1
    gaping[:, lower, 1] += 0.18 * h
    q = verdict(ref, frames, gaping)
    assert q.scores["gape_frames"] == 1.0
    assert any("gapes wider than a mouth can open" in w for w in q.warnings)


def test_a_tooth_over_the_photos_fine_highlights_is_flagged_and_the_highlights_moved_are_not():
    """A chin with fine bright stubble (every other pixel 200 levels, on dark skin) under a dark open
    mouth: a still face (frames = the photo, its own landmarks) with teeth hanging over the chin. Teeth 15 levels brighter than
    the stubble's highlights are drawn teeth (flagged); teeth within a resampling's error of them
    (5 levels) are the photo's highlights a pixel off (not flagged)."""
    photo = load_image(PORTRAIT)
    ref = analyse_reference(photo, "astronaut", size=SIZE)
    lm = ref.landmarks.astype(np.float64)
    h = float(mesh.face_height(lm))
    (cx, _), _ = _mouth(lm)
    textured = ref.image.copy()
    chin = (slice(int(lm[mesh.LOWER_LIP_OUTER, 1]) + 1, int(lm[mesh.LOWER_LIP_OUTER, 1] + 0.15 * h)),
            slice(int(cx - 0.15 * h), int(cx + 0.15 * h)))  # fmt: skip
    block = textured[chin]
    block[:] = 90
    block[::2, ::2] = 200  # the stubble's highlights
    textured[chin] = block
    cv2.fillPoly(textured, [np.round(lm[mesh.lips_inner_loop()]).astype(np.int32)], (40, 30, 30))  # a dark mouth

    def reach(level: int):
        check = ArtifactCheck(textured, lm, still_background=True)
        for _ in range(4):
            f = textured.copy()
            for side in (-1, 1):  # canines from the upper lip to 0.1 face heights below the lower lip
                x = cx + side * 0.08 * h
                cv2.rectangle(f, (int(x - 0.02 * h), int(lm[mesh.UPPER_LIP_INNER, 1])),
                              (int(x + 0.02 * h), int(lm[mesh.LOWER_LIP_OUTER, 1] + 0.1 * h)), (level,) * 3, -1)  # fmt: skip
            check.update(f, lm)
        return check.result()

    drawn = reach(215)
    assert drawn.flagged and drawn.scores["teeth_reach"] > TEETH_REACH, drawn
    assert not reach(205).flagged
