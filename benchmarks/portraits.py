"""The default engine on real portraits: no broken faces, a mouth that opens on speech and closes in
pauses, the person kept (benchmarks/data: portraits/tune and portraits/heldout, real speech).

For each portrait of a set: generate with 8 s of real speech from the same set (round-robin over
its speech clips), then score the decoded video:

* ``face_found``: MediaPipe (tracking mode) finds a face on every frame;
* ``open_on_speech``: inner-lip gap / face height, its 90th percentile while someone speaks minus
  its median on the quietest fifth of the frames (the mouth follows what is said, not loudness, so
  the loudest frames need not be the most open);
* ``pause_aperture``: the median gap in pauses (>= 0.3 s of near-silence), which must be small;
* ``identity_mean`` / ``identity_max``: dlib distance of every 10th frame to the photo (same crop);
* ``quality``: the package's artifact check (``result.quality``: column, gaping mouth, teeth outside
  the lips, interior colour, pixels that should stay still).

A portrait with no detectable face must be refused with a clear error (``refused``). Writes a contact
sheet per portrait (reference + the 5 loudest frames + a pause frame), an overview per set and JSON:

    python benchmarks/portraits.py [--set tune|heldout|all] [--only NAME] [--out outputs/portraits]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import contact_sheet, landmarks_of, loudness_envelope  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
SECONDS = 8.0
BARS = {"open_on_speech": 0.02, "pause_aperture": 0.02, "identity_mean": 0.35}


def portraits(which: str) -> list[dict]:
    files = json.loads((DATA / "manifest.json").read_text())["files"]
    return [f for f in files if f["path"].startswith("portraits/") and (which == "all" or f["set"] == which)]


def speech_for(split: str, index: int):
    """The index-th speech clip of the set (round-robin), its first 8 s."""
    from portraittalk.media import Audio, load_audio

    clips = sorted((DATA / "speech" / split).glob("*.flac"))
    path = clips[index % len(clips)]
    audio = load_audio(path)
    return path.stem, Audio.from_array(audio.samples[: int(SECONDS * audio.sample_rate)], audio.sample_rate)


def pauses(env: np.ndarray, fps: float) -> np.ndarray:
    """Frames inside runs of near-silence at least 0.3 s long."""
    quiet = env <= 0.12 * np.percentile(env, 95)
    out = np.zeros_like(quiet)
    start = None
    for t, q in enumerate(np.append(quiet, False)):
        if q and start is None:
            start = t
        elif not q and start is not None:
            if t - start >= round(0.3 * fps):
                out[start + 2 : t - 1] = True  # away from the edges of the pause
            start = None
    return out


def score(pt, entry: dict, index: int, out: Path) -> dict:
    from portraittalk.errors import NoFaceError
    from portraittalk.face.identity import descriptor_distance, identity_encoder
    from portraittalk.face.mesh import mouth_aperture
    from portraittalk.media import read_video

    name = Path(entry["path"]).stem
    speech, audio = speech_for(entry["set"], index)
    video = out / f"{name}.mp4"
    started = time.perf_counter()
    try:
        result = pt.generate([DATA / entry["path"]], audio, output=video, seed=0)
    except NoFaceError as exc:
        return {"name": name, "speech": speech, "refused": str(exc), "pass": not entry.get("face_found_portraittalk", True)}
    took = time.perf_counter() - started
    frames = [f for _, f in read_video(video)]
    points = landmarks_of(frames)
    found = ~np.isnan(points[:, 0, 0])
    aperture = mouth_aperture(points)
    ref = pt.analyse([DATA / entry["path"]], 512, 0.9)[0]
    rest = float(ref.mouth_aperture)
    env = loudness_envelope(audio.samples, audio.sample_rate, result.fps, len(frames))
    speaking = env >= 0.25 * np.percentile(env, 95)
    quietest = env <= np.percentile(env, 20)
    quiet = pauses(env, result.fps)
    enc = identity_encoder("dlib")
    ref_emb = enc.embed(ref.image, ref.landmarks)
    dists = [descriptor_distance(ref_emb, enc.embed(frames[i], points[i])) for i in range(0, len(frames), 10) if found[i]]
    m = {
        "name": name, "kind": entry["kind"], "speech": speech, "frames": len(frames), "seconds": round(took, 1),
        "face_found": round(float(found.mean()), 3), "photo_aperture": round(rest, 4),
        "open_on_speech": round(float(np.nanpercentile(aperture[speaking & found], 90)
                                      - np.nanmedian(aperture[quietest & found])), 4)
        if (speaking & found).any() and (quietest & found).any() else None,
        "pause_aperture": round(float(np.nanmedian(aperture[quiet & found])), 4) if (quiet & found).any() else None,
        "identity_mean": round(float(np.mean(dists)), 3) if dists else None,
        "identity_max": round(float(np.max(dists)), 3) if dists else None,
        "quality_flagged": result.quality.flagged, "quality_warnings": result.quality.warnings,
        "quality_scores": result.quality.scores, "notes": result.notes[1:],
    }  # fmt: skip
    m["failures"] = failures(m)
    m["pass"] = not m["failures"]
    picks = [(ref.image, "photo")] + [(frames[i], f"loud t={i / result.fps:.1f}s") for i in loudest(env, found, 5)]
    if quiet.any():
        i = int(np.nonzero(quiet)[0][len(np.nonzero(quiet)[0]) // 2])
        picks.append((frames[i], f"pause t={i / result.fps:.1f}s"))
    box = mouth_box(ref.landmarks)
    tiles = picks + [(image[box], "") for image, _ in picks]  # a second row: the mouth, enlarged
    verdict = "PASS" if m["pass"] else "FAIL: " + "; ".join(m["failures"])
    contact_sheet(tiles, out / f"{name}.png", cols=len(picks), side=224, title=f"{name} ({speech})  {verdict}",
                  colour=(120, 255, 120) if m["pass"] else (255, 90, 90))  # fmt: skip
    video.unlink(missing_ok=True)  # the sheet and the JSON are what is kept
    return m


def loudest(env: np.ndarray, found: np.ndarray, k: int, fps: float = 25.0) -> list[int]:
    """The k loudest frames with a face, at least half a second apart, in time order."""
    picks: list[int] = []
    for i in np.argsort(-np.where(found, env, -1)):
        if all(abs(int(i) - j) >= fps / 2 for j in picks):
            picks.append(int(i))
        if len(picks) == k:
            break
    return sorted(picks)


def mouth_box(landmarks: np.ndarray) -> tuple[slice, slice]:
    """A square around the mouth and chin (0.7 face heights)."""
    from portraittalk.face import mesh

    h = float(mesh.face_height(landmarks))
    cx, cy = landmarks[[mesh.UPPER_LIP_OUTER, mesh.LOWER_LIP_OUTER]].mean(axis=0)
    x0, y0 = int(max(cx - 0.35 * h, 0)), int(max(cy - 0.25 * h, 0))
    side = int(0.7 * h)
    return slice(y0, y0 + side), slice(x0, x0 + side)


def failures(m: dict) -> list[str]:
    bad = []
    if m["face_found"] < 1.0:
        bad.append(f"face lost on {1 - m['face_found']:.0%} of frames")
    if m["open_on_speech"] is None or m["open_on_speech"] < BARS["open_on_speech"]:
        bad.append(f"mouth barely opens on speech ({m['open_on_speech']})")
    if m["pause_aperture"] is not None and m["pause_aperture"] > max(BARS["pause_aperture"], m["photo_aperture"] + 0.005):
        bad.append(f"mouth stays open in pauses ({m['pause_aperture']})")
    if m["identity_mean"] is None or m["identity_mean"] > BARS["identity_mean"]:
        bad.append(f"identity drifts (dlib {m['identity_mean']})")
    if m["quality_flagged"]:
        bad.append("artifact check: " + " / ".join(w.split(";")[0] for w in m["quality_warnings"]))
    return bad


def overview(results: list[dict], out: Path, split: str) -> None:
    from PIL import Image

    tiles = []
    for m in results:
        sheet = out / f"{m['name']}.png"
        if not sheet.exists():
            continue
        image = np.asarray(Image.open(sheet).convert("RGB"))
        top = 18
        tiles.append((image[top : top + 224, 224:448], ("ok " if m["pass"] else "FAIL ") + m["name"][:26]))
        tiles.append((image[top + 224 : top + 448, 224:448], ""))  # its mouth
    if tiles:
        contact_sheet(tiles, out / f"overview_{split}.png", cols=8, side=160, title=f"{split}: loudest frame of each")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="all", choices=("tune", "heldout", "all"))
    parser.add_argument("--only", help="portraits whose name contains this (several: comma-separated)")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "portraits")
    parser.add_argument("--motion-model", default=None, help="a MotionConfig.motion_model choice (default: the default)")
    args = parser.parse_args()
    from portraittalk import PortraitTalk
    from portraittalk.engines.warp import WarpEngine

    pt = PortraitTalk.from_pretrained(engine=WarpEngine.name)
    report = {"engine": WarpEngine.name, "seconds_of_speech": SECONDS, "bars": BARS, "sets": {}}
    for split in (("tune", "heldout") if args.set == "all" else (args.set,)):
        out = args.out / split
        out.mkdir(parents=True, exist_ok=True)
        entries = [e for e in portraits(split) if not args.only or any(o in e["path"] for o in args.only.split(","))]
        results = []
        for i, entry in enumerate(entries):
            if args.motion_model:
                pt.defaults = pt.defaults.updated(motion_model=args.motion_model)
            m = score(pt, entry, i, out)
            print(json.dumps({k: m.get(k) for k in ("name", "pass", "failures", "refused")}), file=sys.stderr, flush=True)
            results.append(m)
        overview(results, out, split)
        animated = [m for m in results if "refused" not in m]
        report["sets"][split] = {
            "portraits": len(results), "animated": len(animated), "passed": sum(m["pass"] for m in results),
            "refused_no_face": [m["name"] for m in results if "refused" in m],
            "failed": {m["name"]: m.get("failures") or m.get("refused") for m in results if not m["pass"]},
            "flagged_by_artifact_check": [m["name"] for m in animated if m["quality_flagged"]],
            "median_open_on_speech": _median(m["open_on_speech"] for m in animated),
            "median_pause_aperture": _median(m["pause_aperture"] for m in animated),
            "median_identity_mean": _median(m["identity_mean"] for m in animated),
            "portraits_detail": results,
        }  # fmt: skip
    (args.out / "portraits.json").write_text(json.dumps(report, indent=1))
    summary = {k: {kk: vv for kk, vv in v.items() if kk != "portraits_detail"} for k, v in report["sets"].items()}
    print(json.dumps(summary, indent=2))
    return 0 if all(s["passed"] == s["portraits"] for s in report["sets"].values()) else 1


def _median(values) -> float | None:
    v = [x for x in values if x is not None]
    return round(float(np.median(v)), 4) if v else None


if __name__ == "__main__":
    sys.exit(main())
