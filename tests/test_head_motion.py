"""Head pose, brows, gaze and blinks from speech (motion.head), and the warp turning the face in 3-D."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from portraittalk.config import Controls, MotionConfig
from portraittalk.engines.warp.field import FaceWarper
from portraittalk.face import mesh
from portraittalk.face.landmarks import FaceMeshDetector
from portraittalk.face.reference import analyse_reference
from portraittalk.media import Audio, load_audio, load_image
from portraittalk.motion.controls import apply_controls, smooth
from portraittalk.motion.geometry import BROWS, IRISES, FaceRig
from portraittalk.motion.head import BROW, HeadMotion, head_drivers, speech_drivers
from portraittalk.motion.offline import audio_to_motion
from portraittalk.motion.track import PITCH, ROLL, YAW, MotionTrack
from portraittalk.training.head_fit import load_clips, speaker_median
from portraittalk.training.motion_corpus import head_angles

from shared_inputs import PORTRAIT, ROOT, SPEECH

HELDOUT_SPEECH = sorted((ROOT / "benchmarks" / "data" / "speech" / "heldout").glob("*.flac"))
HELDOUT_PORTRAITS = ROOT / "benchmarks" / "data" / "portraits" / "heldout"
FPS = 25.0


def _drivers(audio: Audio, seed: int = 0, config: MotionConfig = MotionConfig()):
    n = int(round(audio.duration * FPS))
    return head_drivers(audio, n, FPS, 1.0, config, seed)


@pytest.fixture(scope="module")
def heldout_motion():
    return [(path.name, _drivers(load_audio(path), seed)) for seed, path in enumerate(HELDOUT_SPEECH)]


def test_motion_on_heldout_speech_has_real_speakers_amplitudes(heldout_motion):
    """On speech never fitted on, the median per-clip std of roll, pitch, yaw and brow height is
    within 0.5-2x the real fit-clip speakers' (each of the 17 speakers once: 1.3, 2.0, 1.8 degrees,
    0.006 face heights), and the head never swings past what the warp renders well."""
    clips = load_clips()
    real = speaker_median(clips, [k["x"].std(axis=0) for k in clips])
    generated = {ROLL: np.median([m.head[:, ROLL].std() for _, m in heldout_motion]),
                 PITCH: np.median([m.head[:, PITCH].std() for _, m in heldout_motion]),
                 YAW: np.median([m.head[:, YAW].std() for _, m in heldout_motion]),
                 BROW: np.median([m.brow.std() for _, m in heldout_motion])}  # fmt: skip
    for channel, value in generated.items():
        assert 0.5 < value / real[channel] < 2.0, (channel, value, real[channel])
    for _, m in heldout_motion:
        assert np.abs(m.head[:, [ROLL, PITCH, YAW]]).max() < 15.0


def test_same_seed_same_motion_other_seed_other_motion():
    audio = load_audio(SPEECH)
    a, b, c = _drivers(audio, 3), _drivers(audio, 3), _drivers(audio, 4)
    for field in ("head", "brow", "gaze", "blink"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert np.abs(a.head - c.head).max(axis=0)[:3].min() > 0.5  # every angle differs by degrees
    assert np.abs(a.brow - c.brow).max() > 0.002


def test_silence_still_moves_but_less():
    """A speaker who pauses keeps moving (a still head reads as a photo), less than while speaking."""
    speech = load_audio(HELDOUT_SPEECH[0])
    silence = Audio.from_array(np.zeros(int(speech.duration * 16000), np.float32), 16000)
    speaking = np.mean([np.abs(np.diff(_drivers(speech, s).head[:, :3], axis=0)).mean() for s in range(4)])
    quiet = np.mean([np.abs(np.diff(_drivers(silence, s).head[:, :3], axis=0)).mean() for s in range(4)])
    assert 0.2 * speaking < quiet < 0.95 * speaking, (quiet, speaking)
    still = _drivers(silence, 0)
    assert still.head[:, :3].std(axis=0).min() > 0.3 and still.blink.max() == 1.0


def test_brows_rise_on_emphasis(heldout_motion):
    """Real speakers raise their brows just after the loudness rises (fit clips: r = +0.15 between
    the brows' fast part and the loudness onsets, lag 0-3 frames); so do the generated brows."""
    rs = []
    for name, m in heldout_motion:
        loudness, _ = speech_drivers(load_audio(HELDOUT_SPEECH[[p.name for p in HELDOUT_SPEECH].index(name)]),
                                     len(m.brow), FPS)  # fmt: skip
        level = np.clip((loudness - loudness.max() + 40.0) / 40.0, 0.0, 1.0)
        onset = np.clip(np.diff(smooth(level, 3.0), prepend=level[0]), 0.0, None)
        brow = m.brow - smooth(m.brow, 12.0)
        rs.append(max(np.corrcoef(brow[lag:], onset[: len(onset) - lag])[0, 1] for lag in range(4)))
    assert np.median(rs) > 0.1, rs


def test_blinks_at_the_configured_rate():
    audio = load_audio(HELDOUT_SPEECH[1])
    for interval in (2.0, 5.0):
        m = _drivers(audio, 0, MotionConfig(blink_interval_s=interval))
        starts = np.sum((m.blink[1:] > 0) & (m.blink[:-1] == 0)) + (m.blink[0] > 0)
        expected = audio.duration / interval
        assert 0.5 * expected < starts < 1.6 * expected + 1, (interval, starts, expected)


def test_steps_and_chunks_give_the_whole_clip_motion():
    """A live session steps the generator frame by frame or chunk by chunk: the same motion as the
    offline whole clip for the same seed (nothing looks ahead or at the whole clip)."""
    audio = load_audio(HELDOUT_SPEECH[2])
    n = int(round(audio.duration * FPS))
    loudness, pitch = speech_drivers(audio, n, FPS)
    whole = head_drivers(audio, n, FPS, 200.0, seed=7)
    gen = HeadMotion(FPS, 200.0, seed=7)
    steps = [gen.step(loudness[t], pitch[t]) for t in range(40)]
    chunk = gen.run(loudness[40:], pitch[40:])
    assert np.array_equal(np.stack([s.head for s in steps]), whole.head[:40])
    assert np.array_equal(chunk.head, whole.head[40:]) and np.array_equal(chunk.brow, whole.brow[40:])
    assert np.array_equal(chunk.blink, whole.blink[40:]) and np.array_equal(chunk.gaze, whole.gaze[40:])
    # Causal: the first 3 s do not change when the speech after them does.
    cut = head_drivers(Audio.from_array(audio.samples[: 4 * audio.sample_rate], audio.sample_rate), 75, FPS, 200.0,
                       seed=7)  # fmt: skip
    assert np.allclose(cut.head, whole.head[:75], atol=1e-4)


@pytest.fixture(scope="module")
def ref():
    return analyse_reference(load_image(PORTRAIT), "astronaut", size=256)


def test_the_track_carries_pose_brows_gaze_and_w2_scales_the_head(ref):
    audio = load_audio(SPEECH)
    track = audio_to_motion(audio, ref.landmarks, (ref.size, ref.size), config=MotionConfig(motion_model="acoustic"))
    assert track.head[:, [ROLL, PITCH, YAW]].std(axis=0).min() > 0.5
    rig = FaceRig(ref.landmarks)
    brows = np.concatenate(BROWS)
    lift = -(track.expression[:, brows] @ rig.frame.rot[:, 1]).mean(axis=1) / rig.frame.scale
    assert lift.std() > 0.002  # brows move (face heights)
    assert np.abs(track.expression[:, IRISES[0]]).max() > 0.1  # irises move with the gaze
    for w2, gain in ((0.0, 2.0), (0.5, 1.5), (2.0, 0.0), (3.0, 0.0)):  # head motion x clip(2 - w2, 0, 2)
        assert np.allclose(apply_controls(track, Controls(w2=w2), 0.04).head, gain * track.head)
    half = apply_controls(track, Controls(w2=1.5), 0.04).landmarks[:, mesh.NOSE_TIP]
    full = track.landmarks[:, mesh.NOSE_TIP]
    assert np.std(half[:, 0]) < 0.7 * np.std(full[:, 0])


def test_brow_rig_moves_brows_and_forehead_not_the_eyes(ref):
    rig = FaceRig(ref.landmarks)
    d = rig.brows(np.array([0.02]))[0] @ rig.frame.rot / rig.frame.scale  # face-local units
    brows = np.concatenate(BROWS)
    assert np.allclose(d[brows, 1], -0.02, atol=1e-3)
    assert np.abs(d[mesh.eye_points()]).max() < 0.003 and np.abs(d[[mesh.NOSE_TIP, mesh.CHIN]]).max() == 0.0
    assert -0.02 < d[mesh.FOREHEAD, 1] < -0.005  # the forehead follows, less


def _still_track(reference, head: np.ndarray) -> MotionTrack:
    n = len(head)
    z = np.zeros(n, np.float32)
    return MotionTrack(FPS, (reference.size, reference.size), reference.landmarks, np.zeros((n, 478, 2), np.float32),
                       head.astype(np.float32), z, z, z, reference.depth)  # fmt: skip


@pytest.fixture(scope="module")
def portraits():
    """A photo already turned (far cheek beyond the face oval, hair at the picture's edge, an open
    smile) and a frontal one."""
    names = ("old_photo_boy_glasses.jpg", "photo_yang_mi.jpg")
    return [analyse_reference(load_image(HELDOUT_PORTRAITS / name), name, size=256) for name in names]


def test_yaw_and_pitch_turn_the_face_and_leave_the_background(portraits):
    """+5 degrees of yaw swings the nose toward the image's right, pitch +5 (chin down) moves it
    down; MediaPipe reads the turn on the rendered frame with the right sign; pixels away from the
    head are the photo's own."""
    detector = FaceMeshDetector(static=True)
    for ref in portraits:
        head = np.zeros((5, 6))
        head[1, YAW], head[2, YAW], head[3, PITCH], head[4, PITCH] = 5.0, -5.0, 5.0, -5.0
        warper = FaceWarper(ref, _still_track(ref, head))
        nose = [warper.landmarks(t)[mesh.NOSE_TIP] for t in range(5)]
        assert np.allclose(warper.track.landmarks[:, mesh.NOSE_TIP], nose, atol=1e-3)  # the track's, on its depth
        h = warper.face_height
        assert nose[1][0] - nose[0][0] > 0.02 * h and nose[2][0] - nose[0][0] < -0.02 * h
        assert nose[3][1] - nose[0][1] > 0.005 * h and nose[4][1] - nose[0][1] < -0.005 * h
        frames = [warper.frame(t) for t in range(5)]
        angles = []
        for f in frames:
            face = detector.all_faces(f)[0]
            angles.append(head_angles(np.concatenate([face.points, face.z[:, None]], axis=1)))
        angles = np.array(angles) - angles[0]
        assert angles[1, 2] > 2.0 and angles[2, 2] < -2.0, angles  # yaw, as real speakers' is measured
        assert angles[3, 1] > 2.0 and angles[4, 1] < -2.0, angles  # pitch
        far = np.ones(frames[0].shape[:2], bool)
        x0, y0 = np.floor(ref.landmarks.min(axis=0) - 0.6 * h).astype(int)
        x1, y1 = np.ceil(ref.landmarks.max(axis=0) + 0.6 * h).astype(int)
        far[max(y0, 0) : y1, max(x0, 0) : x1] = False
        mask = ref.person_mask() < 0.05
        edge = np.zeros(far.shape, bool)
        edge[[0, -1]], edge[:, [0, -1]] = True, True
        ys, xs = np.nonzero(edge)  # the picture's edge where no face point is near (the hair there)
        gap = np.linalg.norm(np.stack([xs, ys], axis=1)[:, None] - ref.landmarks[None], axis=2).min(axis=1)
        edge[ys[gap < 0.5 * h], xs[gap < 0.5 * h]] = False
        for f in frames[1:]:
            assert np.array_equal(f[far & mask], ref.image[far & mask])
            assert np.array_equal(f[edge], frames[0][edge])  # hair at the picture's edge stretches, never streaks
    detector.close()


def test_a_turned_face_does_not_fold(portraits):
    """The backward map stays one-to-one (its Jacobian's determinant above 0.1: no fold, no tear)
    across the head and its border for turns beyond what the motion makes (8 degrees of yaw or pitch
    with 3 of roll; real speakers' std is 2-2.5), so ears, hair and the face border do not tear."""
    for ref in portraits:
        head = np.zeros((5, 6))
        head[:, ROLL] = 3.0
        head[0, YAW], head[1, YAW], head[2, PITCH], head[3, PITCH], head[4, [PITCH, YAW]] = 8.0, -8.0, 8.0, -8.0, 6.0
        warper = FaceWarper(ref, _still_track(ref, head))
        for t in range(5):
            full, _ = warper.backward_map(t)
            dx, dy = np.gradient(full[..., 0]), np.gradient(full[..., 1])
            det = (dx[1] * dy[0] - dx[0] * dy[1])[4:-4, 4:-4]  # the map's edge rows are held (resize), not folded
            assert det.min() > 0.1, (ref.name, t, det.min())


def test_a_saved_track_keeps_the_depth_its_face_turns_on(ref, tmp_path):
    """The track carries the reference's depth: its landmarks are where the warp draws the turned
    face (the artifact check reads them), and a saved track loads with the same landmarks."""
    track = audio_to_motion(load_audio(SPEECH), ref.landmarks, (ref.size, ref.size),
                            config=MotionConfig(motion_model="acoustic"), depth=ref.depth)  # fmt: skip
    loaded = MotionTrack.load(track.save(tmp_path / "track.npz"))
    assert loaded.depth is not None and np.allclose(loaded.landmarks, track.landmarks)
    warper = FaceWarper(ref, track)
    drawn = np.stack([warper.landmarks(t) for t in range(0, len(track), 10)])
    assert np.abs(drawn - track.landmarks[::10]).max() < 0.05
    flat = replace(track, depth=None).landmarks[::10]
    assert np.abs(flat - drawn)[:, mesh.NOSE_TIP].max() > 0.3  # the depth matters where the nose swings
