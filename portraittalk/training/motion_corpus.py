"""Real talking-head footage -> compact per-frame motion features (issue 21's training data).

``portraittalk preprocess`` writes what the image models need (crops, masks, contours, 2-D
landmarks); the motion models need something else and much smaller: per 25 fps frame the speech
(the project's log-mel, loudness, pitch), the head pose in three dimensions (from MediaPipe's depth)
and expression measures taken in the face's own frame, so that turning or nodding does not read as
a mouth or brow movement. Lengths are in face heights (the clip's median forehead-to-chin distance
in 3-D, which the jaw does not shorten), angles in degrees.

Conventions (image axes: x right, y down, z away from the camera):
roll > 0 turns the eye line clockwise on screen (as :func:`portraittalk.motion.geometry.head_transform`);
yaw > 0 turns the nose toward the image's right (the subject's left); pitch > 0 tips the chin down.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..face import mesh
from ..media.audio import Audio
from ..motion.acoustic import rms_envelope
from ..motion.features import audio_features

FPS = 25.0
VALIDATION_FRACTION = 0.10

# Landmarks fixed to the skull (not moved by the jaw, lips, brows or lids) that define the face frame.
_LEFT_RIGHT_PAIRS = ((263, 33), (362, 133), (454, 234), (356, 127))  # (subject's left, subject's right)
_SUBNASALE = 2
_RIGHT_BROW = (70, 63, 105, 66, 107)
_LEFT_BROW = (300, 293, 334, 296, 336)

# -- GRID -------------------------------------------------------------------------------------------
# A GRID file name spells its sentence: command, colour, preposition, letter, digit, adverb.
_GRID_WORDS = (
    {"b": "bin", "l": "lay", "p": "place", "s": "set"},
    {"b": "blue", "g": "green", "r": "red", "w": "white"},
    {"a": "at", "b": "by", "i": "in", "w": "with"},
    None,  # the letter itself
    {"z": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
     "8": "eight", "9": "nine"},
    {"a": "again", "n": "now", "p": "please", "s": "soon"},
)  # fmt: skip
_GRID_NAME = re.compile(r"^[blps][bgrw][abiw][a-z][z1-9][anps]$")
# Words whose first sound closes the lips (/b/, /p/; the letters "b" and "p" are said "bee", "pee").
BILABIAL_ONSET_WORDS = frozenset({"bin", "blue", "by", "place", "please", "b", "p"})


def grid_sentence(name: str) -> str:
    """The sentence a GRID clip name stands for, e.g. ``bbaf2n`` -> ``"bin blue at f two now"``."""
    stem = Path(name).stem.lower()
    if not _GRID_NAME.match(stem):
        raise ValueError(f"{name!r} is not a GRID clip name "
                         "(six letters: command, colour, preposition, letter, digit, adverb)")
    return " ".join(ch if words is None else words[ch] for ch, words in zip(stem, _GRID_WORDS))


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # frames at 25 fps (GRID alignments count 1000 units per frame)
    end: float


def read_alignment(path: Path) -> list[Word]:
    """A GRID ``.align`` file: one ``start end word`` line per word or ``sil`` (silence)."""
    words = []
    for line in Path(path).read_text().split("\n"):
        parts = line.split()
        if len(parts) == 3:
            words.append(Word(parts[2], int(parts[0]) / 1000.0, int(parts[1]) / 1000.0))
    return words


def validation_split(sentence: str) -> str:
    """``"validation"`` for about 10 % of sentences (by a hash of the text), else ``"train"``: every
    speaker's clip of one sentence falls on the same side."""
    digest = hashlib.sha1(sentence.strip().lower().encode()).digest()
    return "validation" if int.from_bytes(digest[:4], "big") / 2**32 < VALIDATION_FRACTION else "train"


# -- landmarks --------------------------------------------------------------------------------------
def track_landmarks(source: Path) -> np.ndarray:
    """(T, 478, 3) landmarks (x, y in pixels, MediaPipe's depth z in the same scale) of the largest face
    in each 25 fps frame of a video, NaN where there is none (the frames of ``portraittalk preprocess``)."""
    from ..face.landmarks import FaceMeshDetector
    from ..media import read_video
    from .preprocess import resample

    video = read_video(source)
    points = []
    with FaceMeshDetector(static=False, max_faces=1) as detector:
        for frame in resample(video, FPS, video.fps):
            faces = detector.all_faces(frame)
            if faces:
                points.append(np.concatenate([faces[0].points, faces[0].z[:, None]], axis=1))
            else:
                points.append(np.full((mesh.NUM_LANDMARKS, 3), np.nan, np.float32))
    return np.stack(points).astype(np.float32) if points else np.zeros((0, mesh.NUM_LANDMARKS, 3), np.float32)


# -- head pose and expression -----------------------------------------------------------------------
def face_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The face's own axes and centre from skull-fixed landmarks of (..., 478, 3) points.

    Returns ``(axes, centre)``: axes (..., 3, 3) whose columns are the face's x (subject's right to
    left), y (forehead down to the nose) and z (x × y, into the head), and centre (..., 3) between
    the eyes' and temples' pairs.
    """
    p = np.asarray(points, np.float64)
    left = p[..., [a for a, _ in _LEFT_RIGHT_PAIRS], :].mean(axis=-2)
    right = p[..., [b for _, b in _LEFT_RIGHT_PAIRS], :].mean(axis=-2)
    x = _unit(left - right)
    down = p[..., _SUBNASALE, :] - p[..., mesh.FOREHEAD, :]
    y = _unit(down - np.sum(down * x, axis=-1, keepdims=True) * x)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1), 0.5 * (left + right)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def head_angles(points: np.ndarray) -> np.ndarray:
    """(..., 3) roll, pitch, yaw in degrees of (..., 478, 3) landmarks (signs in the module docstring)."""
    axes, _ = face_frame(points)
    x, y = axes[..., :, 0], axes[..., :, 1]
    roll = np.arctan2(x[..., 1], x[..., 0])
    pitch = np.arcsin(np.clip(y[..., 2], -1.0, 1.0))
    yaw = np.arcsin(np.clip(x[..., 2], -1.0, 1.0))
    return np.degrees(np.stack([roll, pitch, yaw], axis=-1))


def face_unit(points: np.ndarray) -> float:
    """A clip's length unit: the median forehead-to-chin distance in 3-D over its frames with a face."""
    p = np.asarray(points, np.float64)
    heights = np.linalg.norm(p[..., mesh.FOREHEAD, :] - p[..., mesh.CHIN, :], axis=-1)
    return float(np.nanmedian(heights))


def face_local(points: np.ndarray, unit: float) -> np.ndarray:
    """(..., 478, 3) landmarks in the face's own frame (centre at the origin), in units of ``unit``:
    the same expression gives the same numbers however the head is turned or placed."""
    axes, centre = face_frame(points)
    return np.einsum("...nk,...kj->...nj", np.asarray(points, np.float64) - centre[..., None, :], axes) / unit


def head_pose(points: np.ndarray, unit: float) -> dict[str, np.ndarray]:
    """Per frame: roll, pitch, yaw (degrees); dx, dy (the face centre's move from the clip's median
    position, in face heights); scale (the face's 3-D width ÷ its clip median)."""
    angles = head_angles(points)
    axes, centre = face_frame(points)
    p = np.asarray(points, np.float64)
    left = p[..., [a for a, _ in _LEFT_RIGHT_PAIRS], :].mean(axis=-2)
    right = p[..., [b for _, b in _LEFT_RIGHT_PAIRS], :].mean(axis=-2)
    width = np.linalg.norm(left - right, axis=-1)
    shift = (centre[..., :2] - np.nanmedian(centre[..., :2], axis=0)) / unit
    return {"roll": angles[..., 0], "pitch": angles[..., 1], "yaw": angles[..., 2],
            "dx": shift[..., 0], "dy": shift[..., 1], "scale": width / np.nanmedian(width)}  # fmt: skip


def expression_measures(local: np.ndarray) -> dict[str, np.ndarray]:
    """Per frame, from face-frame landmarks (:func:`face_local`), lengths in face heights:

    lip_gap (inner-lip gap, 0 = closed), mouth_width (corner to corner), jaw_drop (nose base to
    chin), mouth_corner_lift (corners above the lips' middle: smiles), brow_height (brows above the
    eye corners, both sides' mean), eye_open (lid gap ÷ eye width, both eyes' mean: blinks),
    gaze_x, gaze_y (irises' offset from the eye corners' middle ÷ eye width).
    """
    q = np.asarray(local, np.float64)[..., :2]

    def dist(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(q[..., a, :] - q[..., b, :], axis=-1)

    def eye_corners_y(outer: int, inner: int) -> np.ndarray:
        return 0.5 * (q[..., outer, 1] + q[..., inner, 1])

    brow_right = eye_corners_y(mesh.RIGHT_EYE_OUTER, mesh.RIGHT_EYE_INNER) - q[..., _RIGHT_BROW, 1].mean(axis=-1)
    brow_left = eye_corners_y(mesh.LEFT_EYE_OUTER, mesh.LEFT_EYE_INNER) - q[..., _LEFT_BROW, 1].mean(axis=-1)
    lips_middle = 0.5 * (q[..., mesh.UPPER_LIP_INNER, 1] + q[..., mesh.LOWER_LIP_INNER, 1])
    corners = 0.5 * (q[..., mesh.MOUTH_CORNER_LEFT, 1] + q[..., mesh.MOUTH_CORNER_RIGHT, 1])
    gaze = []
    for iris, outer, inner in ((mesh.RIGHT_IRIS_CENTER, mesh.RIGHT_EYE_OUTER, mesh.RIGHT_EYE_INNER),
                               (mesh.LEFT_IRIS_CENTER, mesh.LEFT_EYE_OUTER, mesh.LEFT_EYE_INNER)):  # fmt: skip
        middle = 0.5 * (q[..., outer, :] + q[..., inner, :])
        gaze.append((q[..., iris, :] - middle) / np.maximum(dist(outer, inner), 1e-9)[..., None])
    gaze_mean = 0.5 * (gaze[0] + gaze[1])
    return {
        "lip_gap": dist(mesh.UPPER_LIP_INNER, mesh.LOWER_LIP_INNER),
        "mouth_width": dist(mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT),
        "jaw_drop": q[..., mesh.CHIN, 1] - q[..., _SUBNASALE, 1],
        "mouth_corner_lift": lips_middle - corners,
        "brow_height": 0.5 * (brow_right + brow_left),
        "eye_open": mesh.eye_openness(q),
        "gaze_x": gaze_mean[..., 0],
        "gaze_y": gaze_mean[..., 1],
    }


# -- speech -----------------------------------------------------------------------------------------
PITCH_RANGE_HZ = (60.0, 400.0)
VOICING_THRESHOLD = 0.5  # normalised autocorrelation peak of a voiced frame
SILENCE_BELOW_PEAK = 0.03  # frames 30 dB under the clip's loudest are silent, voiced or not


def pitch_track(audio: Audio, n_frames: int, fps: float = FPS) -> np.ndarray:
    """(T,) fundamental frequency in Hz per video frame (0 where unvoiced or silent), from the peak
    of the normalised autocorrelation over 40 ms centred as :func:`rms_envelope`'s windows."""
    sr = audio.sample_rate
    window = int(round(0.04 * sr))
    lo, hi = int(sr / PITCH_RANGE_HZ[1]), int(sr / PITCH_RANGE_HZ[0])
    padded = np.pad(audio.samples.astype(np.float64), (window, window))
    centres = (np.arange(n_frames) * sr / fps + sr / fps / 2).astype(np.int64) + window
    frames = padded[np.clip(centres[:, None] + np.arange(-window // 2, window - window // 2)[None], 0, len(padded) - 1)]
    frames = (frames - frames.mean(axis=1, keepdims=True)) * np.hanning(window)
    spectrum = np.fft.rfft(frames, n=2 * window, axis=1)
    ac = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, : window]
    norm = ac / np.maximum(ac[:, :1], 1e-12)
    lag = lo + np.argmax(norm[:, lo : hi + 1], axis=1)
    peak = norm[np.arange(n_frames), lag]
    energy = np.sqrt(np.mean(frames**2, axis=1))
    voiced = (peak > VOICING_THRESHOLD) & (energy > max(SILENCE_BELOW_PEAK * float(energy.max()), 1e-5))
    return np.where(voiced, sr / lag, 0.0).astype(np.float32)


def speech_features(audio: Audio, n_frames: int) -> dict[str, np.ndarray]:
    """Per video frame: mel (80 bins, the project's normalised log-mel, its two 50 Hz frames averaged),
    loudness_db (RMS over 1.5 frames), pitch_hz (0 = unvoiced)."""
    mel = audio_features(audio.resampled().samples, "mel", n_frames).reshape(n_frames, 2, -1).mean(axis=1)
    rms = rms_envelope(audio, FPS, n_frames)
    return {"mel": mel, "loudness_db": 20.0 * np.log10(np.maximum(rms, 1e-5)), "pitch_hz": pitch_track(audio, n_frames)}


def clip_features(points: np.ndarray, audio: Optional[Audio]) -> dict[str, np.ndarray]:
    """Every per-frame feature of one clip from its (T, 478, 3) landmarks (NaN rows: no face) and sound.

    Frames without a face get NaN pose and expression; ``mouth_aperture`` is the project's 2-D image
    measure (:func:`portraittalk.face.mesh.mouth_aperture`), what the real-speech benchmark compares.
    """
    unit = face_unit(points)
    out = {"face_found": ~np.isnan(points[:, 0, 0])}
    out.update(head_pose(points, unit))
    out.update(expression_measures(face_local(points, unit)))
    out["mouth_aperture"] = mesh.mouth_aperture(points[..., :2])
    if audio is not None:
        out.update(speech_features(audio, len(points)))
    return out


# -- sound/picture timing, without any model --------------------------------------------------------
def bilabial_release_lags(lip_gap: np.ndarray, words: list[Word], search: int = 4, part: float = 0.2) -> np.ndarray:
    """For each word that starts with a lip closure (/b/, /p/): when the lips part, in frames after the
    word's aligned acoustic start. The closure ends at the gap's (last) minimum from ``search``
    frames before to 2 after the start; the lips have parted when the gap has risen by ``part`` of
    its rise over the next 6 frames (sub-frame, interpolated). Positive values: the picture parts
    the lips later than the sound releases them."""
    lags = []
    for word in words:
        if word.text not in BILABIAL_ONSET_WORDS:
            continue
        s = int(round(word.start))
        lo, hi = max(s - search, 0), min(s + 3, len(lip_gap))
        if hi - lo < 2 or np.isnan(lip_gap[lo:hi]).any():
            continue
        m = hi - 1 - int(np.argmin(lip_gap[lo:hi][::-1]))  # the closure's last frame
        after = lip_gap[m : m + 7]
        if len(after) < 3 or np.isnan(after).any() or after.max() - after[0] < 0.01:  # no clear opening
            continue
        threshold = after[0] + part * (after.max() - after[0])
        k = int(np.argmax(after >= threshold))
        t = m + k - 1 + (threshold - after[k - 1]) / (after[k] - after[k - 1])
        lags.append(t - word.start)
    return np.array(lags, np.float64)


def pooled_lag(signals: list[np.ndarray], references: list[np.ndarray], max_lag: int = 6) -> tuple[float, float]:
    """(lag, r): the shift in frames that best lines a source's signal (e.g. its lip gap) up with a
    reference (e.g. its loudness), pooled over its clips (each z-scored; products summed over all
    clips before taking the peak, refined by a parabola). Positive lag: the signal follows."""
    sums, counts = np.zeros(2 * max_lag + 1), np.zeros(2 * max_lag + 1)
    for sig, ref in zip(signals, references):
        ok = ~(np.isnan(sig) | np.isnan(ref))
        g = np.where(ok, (sig - np.nanmean(sig)) / (np.nanstd(sig) + 1e-9), 0.0)
        e = np.where(ok, (ref - np.nanmean(ref)) / (np.nanstd(ref) + 1e-9), 0.0)
        for i, lag in enumerate(range(-max_lag, max_lag + 1)):
            a, b = (g[lag:], e[: len(e) - lag]) if lag >= 0 else (g[:lag], e[-lag:])
            both = (ok[lag:] & ok[: len(ok) - lag]) if lag >= 0 else (ok[:lag] & ok[-lag:])
            sums[i] += float(np.sum(a * b))
            counts[i] += int(both.sum())
    r = sums / np.maximum(counts, 1)
    i = int(np.argmax(r))
    shift = 0.0
    if 0 < i < len(r) - 1:
        denom = r[i - 1] - 2 * r[i] + r[i + 1]
        shift = 0.5 * (r[i - 1] - r[i + 1]) / denom if denom < 0 else 0.0
    return float(i - max_lag + shift), float(r[i])


def lip_sound_lags(lip_gaps: list[np.ndarray], loudness: list[np.ndarray],
                   max_lag: int = 6) -> dict[str, tuple[float, float]]:  # fmt: skip
    """Two model-free views of a source's timing, pooled over its clips: ``level`` (lip gap against
    loudness) and ``onset`` (the lips' opening speed against the sound's rise, both rectified
    frame-to-frame changes). Each is (lag, r); they include speakers' natural lead of the lips."""
    opening = [np.maximum(np.diff(np.asarray(g, np.float64)), 0.0) for g in lip_gaps]
    rising = [np.maximum(np.diff(np.asarray(e, np.float64)), 0.0) for e in loudness]
    return {"level": pooled_lag(lip_gaps, loudness, max_lag), "onset": pooled_lag(opening, rising, max_lag)}
