"""Lip-sync and identity quality of `generate`, measured on the output video (not internal state).

For each (portrait, speech) case: generate, run MediaPipe on the decoded frames, and compare the
mouth aperture (inner-lip gap / face height) with the speech loudness envelope (RMS per frame).
Prints JSON per case and writes a contact sheet PNG per case to outputs/bench/.

    python benchmarks/lipsync.py [--engine warp] [--out outputs/bench]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "english_mbp": ("astronaut.png", "en_mbp.wav"),
    "long_pauses": ("astronaut.png", "pauses.wav"),
    "spanish": ("astronaut.png", "es_sentence.wav"),
    "second_voice": ("astronaut.png", "en_voice2.wav"),
    # A small (~110 px), soft face: MediaPipe reads ~0.02 aperture on its shut, smiling mouth.
    "second_portrait_spanish": ("man.jpg", "es_sentence.wav"),
}
BARS = {"pearson_r": 0.75, "max_abs_lag": 1, "loud_silent_ratio": 5.0, "identity_distance": 0.25}


def loudness_envelope(samples: np.ndarray, sr: int, fps: float, n: int) -> np.ndarray:
    """RMS of a 40 ms window centred on each frame. Written here on purpose rather than taken from
    the motion model's own features: the yardstick must not share code with what it measures."""
    half = int(0.02 * sr)
    centres = ((np.arange(n) + 0.5) / fps * sr).astype(int)
    return np.array([np.sqrt(np.mean(samples[max(c - half, 0) : c + half] ** 2) + 1e-12) for c in centres])


def best_lag_correlation(a: np.ndarray, b: np.ndarray, max_lag: int = 4) -> tuple[float, int]:
    """Pearson r of a[t] vs b[t - lag] at the lag that maximises it (positive lag: mouth after sound)."""
    best = (-1.0, 0)
    for lag in range(-max_lag, max_lag + 1):
        x = a[max(lag, 0) : len(a) + min(lag, 0)]
        y = b[max(-lag, 0) : len(b) + min(-lag, 0)]
        r = float(np.corrcoef(x, y)[0, 1])
        if r > best[0]:
            best = (r, lag)
    return best


def measure(video: Path, audio_path: Path, reference: Path) -> dict:
    from portraittalk.face.identity import descriptor_distance, identity_encoder
    from portraittalk.face.landmarks import FaceMeshDetector
    from portraittalk.face.mesh import mouth_aperture
    from portraittalk.face.reference import analyse_reference
    from portraittalk.media import load_audio, load_image, probe_video, read_video

    info = probe_video(video)
    audio = load_audio(audio_path)
    frames = [f for _, f in read_video(video)]
    with FaceMeshDetector(static=False) as det:
        faces = [det.all_faces(f) for f in frames]
    found = np.array([bool(f) for f in faces])
    pts = np.stack([f[0].points if f else np.full((478, 2), np.nan, np.float32) for f in faces])
    aperture = mouth_aperture(pts)
    env = loudness_envelope(audio.samples, audio.sample_rate, info.fps, len(frames))
    ok = found
    r, lag = best_lag_correlation(aperture[ok], env[ok])
    p95 = np.percentile(env, 95)
    loud, silent = env >= 0.5 * p95, env <= 0.05 * p95
    ratio = float(aperture[loud & ok].mean() / max(aperture[silent & ok].mean(), 1e-4)) if (silent & ok).any() else None
    enc = identity_encoder("dlib")
    ref = analyse_reference(load_image(reference), reference.name)
    ref_emb = enc.embed(ref.photo, ref.photo_landmarks)
    dists = [descriptor_distance(ref_emb, enc.embed(frames[i], pts[i])) for i in range(0, len(frames), 10) if found[i]]
    return {
        "frames": len(frames), "face_found_all": bool(found.all()), "pearson_r": round(r, 3), "best_lag": lag,
        "loud_silent_ratio": None if ratio is None else round(ratio, 2),
        "silent_frames": int(silent.sum()), "identity_distance_mean": round(float(np.mean(dists)), 3),
        "identity_distance_max": round(float(np.max(dists)), 3),
        "duration_video": round(info.duration, 3), "duration_audio": round(audio.duration, 3),
        "duration_ok": abs(info.duration - audio.duration) <= 1 / info.fps,
        "codecs": f"{info.video_codec}/{info.pixel_format}/{info.audio_codec}",
    }, frames, aperture, env  # fmt: skip


def contact_sheet(frames: list[np.ndarray], aperture: np.ndarray, path: Path, cols: int = 6) -> None:
    """The 3 most open, 3 most closed and 6 evenly spaced frames."""
    from PIL import Image

    order = np.argsort(np.nan_to_num(aperture, nan=0))
    picks = list(order[-3:][::-1]) + list(order[:3]) + list(np.linspace(0, len(frames) - 1, 6).astype(int))
    tiles = [Image.fromarray(frames[i]).resize((192, 192)) for i in picks]
    sheet = Image.new("RGB", (192 * cols, 192 * ((len(tiles) + cols - 1) // cols)))
    for k, tile in enumerate(tiles):
        sheet.paste(tile, ((k % cols) * 192, (k // cols) * 192))
    sheet.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="warp")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    args = parser.parse_args()
    from portraittalk import PortraitTalk

    args.out.mkdir(parents=True, exist_ok=True)
    pt = PortraitTalk.from_pretrained(engine=args.engine)
    report, passed = {}, True
    for case, (portrait, speech) in CASES.items():
        ref = ROOT / "assets" / "portraits" / portrait
        audio = ROOT / "assets" / "speech" / speech
        video = args.out / f"{case}.mp4"
        pt.generate([ref], audio, output=video, seed=0)
        m, frames, aperture, _ = measure(video, audio, ref)
        contact_sheet(frames, aperture, args.out / f"{case}.png")
        m["pass"] = bool(
            m["pearson_r"] >= BARS["pearson_r"] and abs(m["best_lag"]) <= BARS["max_abs_lag"]
            and (m["loud_silent_ratio"] is None or m["loud_silent_ratio"] >= BARS["loud_silent_ratio"])
            and m["identity_distance_max"] <= BARS["identity_distance"] and m["face_found_all"] and m["duration_ok"]
        )  # fmt: skip
        passed &= m["pass"]
        report[case] = m
    print(json.dumps({"engine": args.engine, "bars": BARS, "cases": report, "all_pass": passed}, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
