"""Lip-sync, render fidelity and identity of `generate` on the project's own assets, measured on the
output video (MediaPipe on the decoded frames, not internal state).

For each (portrait, speech) case: the mouth MediaPipe sees must follow the mouth the motion track
asked for (``render_r``: how faithfully the engine draws the motion), open while someone speaks and
close in pauses, and the face must stay the photo's (dlib distance). Loudness correlation is
reported for reference only: the default (fitted) model follows what is said, not how loud it is,
as real speakers do (``benchmarks/real_speech.py`` judges the motion itself against real mouths).
Prints JSON and writes a contact sheet per case to outputs/bench/.

    python benchmarks/lipsync.py [--engine warp] [--out outputs/bench]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import contact_sheet, landmarks_of, loudness_envelope, pearson  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "english_mbp": ("astronaut.png", "en_mbp.wav"),
    "long_pauses": ("astronaut.png", "pauses.wav"),
    "spanish": ("astronaut.png", "es_sentence.wav"),
    "second_voice": ("astronaut.png", "en_voice2.wav"),
    "second_portrait_spanish": ("man.jpg", "es_sentence.wav"),  # a ~110 px, soft, smiling face
}
BARS = {"render_r": 0.85, "open_on_speech": 0.02, "pause_aperture": 0.02, "identity_distance": 0.3}


def measure(pt, video: Path, audio_path: Path, reference: Path, result) -> tuple[dict, list, np.ndarray]:
    from portraittalk.face.identity import descriptor_distance, identity_encoder
    from portraittalk.face.mesh import mouth_aperture
    from portraittalk.media import load_audio, probe_video, read_video

    info = probe_video(video)
    audio = load_audio(audio_path)
    frames = [f for _, f in read_video(video)]
    points = landmarks_of(frames)
    found = ~np.isnan(points[:, 0, 0])
    seen = mouth_aperture(points)
    wanted = mouth_aperture(result.drawn.landmarks)
    env = loudness_envelope(audio.samples, audio.sample_rate, info.fps, len(frames))
    speaking = env >= 0.25 * np.percentile(env, 95)
    quiet = env <= 0.05 * np.percentile(env, 95)
    ref = pt.analyse([reference], 512, 0.9)[0]
    enc = identity_encoder("dlib")
    ref_emb = enc.embed(ref.image, ref.landmarks)
    dists = [descriptor_distance(ref_emb, enc.embed(frames[i], points[i])) for i in range(0, len(frames), 10) if found[i]]
    n = min(len(seen), len(wanted))
    m = {
        "frames": len(frames), "face_found_all": bool(found.all()),
        "render_r": round(pearson(seen[:n], wanted[:n]), 3),
        "open_on_speech": round(float(np.nanpercentile(seen[speaking], 90) - np.nanmedian(seen[np.argsort(env)[: len(env) // 5]])), 4),
        "pause_aperture": round(float(np.nanmedian(seen[quiet])), 4) if quiet.any() else None,
        "photo_aperture": round(float(ref.mouth_aperture), 4),
        "loudness_r": round(pearson(seen, env), 3),
        "identity_distance_mean": round(float(np.mean(dists)), 3), "identity_distance_max": round(float(np.max(dists)), 3),
        "duration_ok": abs(info.duration - audio.duration) <= 1 / info.fps,
        "codecs": f"{info.video_codec}/{info.pixel_format}/{info.audio_codec}",
        "quality_flagged": result.quality.flagged,
    }  # fmt: skip
    return m, frames, seen


def main() -> int:
    from portraittalk.engines.warp import WarpEngine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default=WarpEngine.name)
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
        result = pt.generate([ref], audio, output=video, seed=0)
        m, frames, seen = measure(pt, video, audio, ref, result)
        order = np.argsort(np.nan_to_num(seen, nan=0))
        picks = list(order[-3:][::-1]) + list(order[:3]) + list(np.linspace(0, len(frames) - 1, 6).astype(int))
        contact_sheet([(frames[i], f"t={i / result.fps:.1f}s") for i in picks], args.out / f"{case}.png", title=case)
        m["pass"] = bool(
            m["render_r"] >= BARS["render_r"] and m["open_on_speech"] >= BARS["open_on_speech"]
            and (m["pause_aperture"] is None or m["pause_aperture"] <= max(BARS["pause_aperture"], m["photo_aperture"]))
            and m["identity_distance_max"] <= BARS["identity_distance"] and m["face_found_all"] and m["duration_ok"]
            and not m["quality_flagged"]
        )  # fmt: skip
        passed &= m["pass"]
        report[case] = m
    print(json.dumps({"engine": args.engine, "bars": BARS, "cases": report, "all_pass": passed}, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
